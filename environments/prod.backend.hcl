# S3 state of the prod environment, locked with S3 conditional writes (use_lockfile, Terraform >= 1.10;
# no DynamoDB table needed). The region comes from AWS_REGION. Create the bucket once, with versioning
# and encryption, before the first init (docs/deployment.md, "Bootstrap").
# terraform -chdir=terraform init -backend-config=../environments/prod.backend.hcl
bucket       = "halyard-terraform-state"
key          = "halyard/prod/terraform.tfstate"
encrypt      = true
use_lockfile = true
