variable "bucket_name" {
  description = "Globally unique name of the archive bucket"
  type        = string
  nullable    = false
}

variable "kms_key_arn" {
  description = "KMS key for default SSE-KMS encryption"
  type        = string
  nullable    = false
}

variable "access_log_bucket" {
  description = "Bucket receiving this bucket's S3 server access logs"
  type        = string
  nullable    = false
}

variable "access_log_prefix" {
  description = "Key prefix of the server access logs in access_log_bucket; the logs go to <prefix><bucket_name>/"
  type        = string
  default     = "s3-access/"
  nullable    = false
}

variable "lifecycle_rules" {
  description = "Lifecycle of the archive: backtest results move to Glacier, application logs expire"
  type = object({
    backtest_results_glacier_days = optional(number, 90)
    logs_expiration_days          = optional(number, 30)
    noncurrent_expiration_days    = optional(number, 90)
  })
  default  = {}
  nullable = false
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
