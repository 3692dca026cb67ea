variable "prefix" {
  description = "Name prefix of every secret, ending in \"/\" (the services' SECRETS_PREFIX), e.g. \"halyard/dev/\""
  type        = string
  nullable    = false

  validation {
    condition     = can(regex("^[A-Za-z0-9/_+=.@-]+/$", var.prefix))
    error_message = "prefix must consist of secret-name characters and end with \"/\"."
  }
}

variable "kms_key_arn" {
  description = "KMS key encrypting the secrets"
  type        = string
  nullable    = false
}

variable "broker_key_names" {
  description = "One secret per broker account, <prefix>broker/<name>; the values (API key/secret JSON) are issued by the broker and put by an operator (see docs/deployment.md)"
  type        = list(string)
  default     = []
  nullable    = false
}

variable "webhook_passphrase_names" {
  description = "One generated passphrase per webhook source, <prefix>webhook/<name>"
  type        = list(string)
  default     = ["tradingview"]
  nullable    = false
}

variable "generated_secrets_version" {
  description = "Version of the generated secrets (webhook passphrases, API signing key); increment it to rotate them all on the next apply"
  type        = number
  default     = 1
  nullable    = false
}

variable "recovery_window_in_days" {
  description = "Days a deleted secret can be restored; 0 deletes at once (dev, so a destroyed environment can be recreated with the same names)"
  type        = number
  default     = 30
  nullable    = false

  validation {
    condition     = var.recovery_window_in_days == 0 || (var.recovery_window_in_days >= 7 && var.recovery_window_in_days <= 30)
    error_message = "recovery_window_in_days must be 0 or between 7 and 30."
  }
}

variable "tags" {
  description = "Extra tags for every resource"
  type        = map(string)
  default     = {}
  nullable    = false
}
