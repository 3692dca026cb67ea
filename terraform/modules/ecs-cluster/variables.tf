variable "name" {
  description = "Cluster name, e.g. \"halyard-dev\""
  type        = string
  nullable    = false
}

variable "container_insights" {
  description = "Container Insights level: \"enabled\" or \"enhanced\""
  type        = string
  default     = "enabled"
  nullable    = false

  validation {
    condition     = contains(["enabled", "enhanced"], var.container_insights)
    error_message = "container_insights must be \"enabled\" or \"enhanced\"."
  }
}

variable "kms_key_arn" {
  description = "KMS key encrypting the ECS Exec session log group"
  type        = string
  nullable    = false
}

variable "log_retention_days" {
  description = "Retention of the ECS Exec audit log group, in days"
  type        = number
  default     = 365
  nullable    = false
}

variable "tags" {
  description = "Extra tags for every resource"
  type        = map(string)
  default     = {}
  nullable    = false
}
