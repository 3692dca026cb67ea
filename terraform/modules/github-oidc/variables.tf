variable "name" {
  description = "Name prefix of the roles, e.g. \"halyard-dev\"; the deploy role may manage IAM roles and policies under this prefix only"
  type        = string
  nullable    = false
}

variable "github_repository" {
  description = "GitHub repository allowed to assume the roles, \"owner/name\""
  type        = string
  nullable    = false

  validation {
    condition     = can(regex("^[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+$", var.github_repository))
    error_message = "github_repository must look like \"owner/name\"."
  }
}

variable "github_environment" {
  description = "GitHub Actions environment whose jobs may assume the deploy role (prod's has required reviewers)"
  type        = string
  nullable    = false
}

variable "create_oidc_provider" {
  description = "Create the account's token.actions.githubusercontent.com OIDC provider; false when another stack (or environment in the same account) already did"
  type        = bool
  default     = true
  nullable    = false
}

variable "terraform_state_bucket" {
  description = "Bucket holding the Terraform state (both roles need it); null skips the state statements"
  type        = string
  default     = null
}

variable "terraform_state_key_prefix" {
  description = "Key prefix of this environment's state objects in terraform_state_bucket"
  type        = string
  default     = "halyard/"
  nullable    = false
}


variable "tags" {
  description = "Extra tags for every resource"
  type        = map(string)
  default     = {}
  nullable    = false
}
