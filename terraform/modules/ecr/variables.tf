variable "name_prefix" {
  description = "Repository name prefix, e.g. \"halyard-dev\" gives halyard-dev/engine"
  type        = string
  nullable    = false
}

variable "repositories" {
  description = "Names of the image repositories, one per service"
  type        = list(string)
  default     = ["engine", "data-service", "dashboard"]
  nullable    = false
}

variable "kms_key_arn" {
  description = "KMS key encrypting the images"
  type        = string
  nullable    = false
}

variable "keep_tagged_images" {
  description = "Number of tagged images kept per repository (older ones are expired); keep enough to roll back"
  type        = number
  default     = 30
  nullable    = false
}

variable "untagged_expiry_days" {
  description = "Days after which untagged images (build leftovers) are expired"
  type        = number
  default     = 7
  nullable    = false
}

variable "force_delete" {
  description = "Allow `terraform destroy` to delete repositories that still hold images (dev only)"
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
