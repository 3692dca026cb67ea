provider "aws" {
  # null: taken from AWS_REGION / the profile, so no region is hard-coded here.
  region = var.aws_region

  default_tags {
    tags = {
      Project     = var.project
      Environment = var.environment
      ManagedBy   = "terraform"
    }
  }
}
