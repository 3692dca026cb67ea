variable "bucket_name" {
  description = "Globally unique name of the log bucket"
  type        = string
  nullable    = false
}

variable "expiration_days" {
  description = "Days after which log objects (ALB access logs, S3 server access logs) are deleted"
  type        = number
  default     = 90
  nullable    = false

  validation {
    condition     = var.expiration_days >= 1
    error_message = "expiration_days must be at least 1."
  }
}

variable "s3_access_log_source_buckets" {
  description = "Names of the buckets whose S3 server access logs are delivered here (each under s3-access/<name>/)"
  type        = list(string)
  default     = []
  nullable    = false
}

variable "force_destroy" {
  description = "Allow `terraform destroy` to delete a non-empty bucket (dev only)"
  type        = bool
  default     = false
  nullable    = false
}

variable "tags" {
  description = "Extra tags for every resource"
  type        = map(string)
  default     = {}
  nullable    = false
}
