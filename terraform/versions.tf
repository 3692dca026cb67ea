terraform {
  # 1.11: write-only attributes (generated secrets never enter the state).
  required_version = "~> 1.11"

  required_providers {
    aws = {
      source  = "hashicorp/aws"
      version = "~> 5.100"
    }
  }

  # Partial configuration: the bucket, key and locking come from
  # environments/<env>.backend.hcl (terraform init -backend-config=...).
  backend "s3" {}
}
