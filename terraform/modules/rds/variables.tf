variable "name" {
  description = "Identifier of the DB instance and prefix of its companions, e.g. \"halyard-dev\""
  type        = string
  nullable    = false
}

variable "vpc_id" {
  description = "VPC the database lives in"
  type        = string
  nullable    = false
}

variable "subnet_ids" {
  description = "Private subnets (two or more availability zones) for the DB subnet group"
  type        = list(string)
  nullable    = false

  validation {
    condition     = length(var.subnet_ids) >= 2
    error_message = "RDS needs subnets in at least two availability zones."
  }
}

variable "allowed_security_group_ids" {
  description = "Security groups (the ECS tasks) allowed to connect on the PostgreSQL port; nothing else is"
  type        = map(string)
  nullable    = false
}

variable "kms_key_arn" {
  description = "KMS key encrypting storage, Performance Insights and the managed master password secret"
  type        = string
  nullable    = false
}

variable "database_name" {
  description = "Name of the application database"
  type        = string
  default     = "halyard"
  nullable    = false
}

variable "master_username" {
  description = "Master user name; its password is generated and rotated by RDS in Secrets Manager"
  type        = string
  default     = "halyard"
  nullable    = false
}

variable "engine_version" {
  description = "PostgreSQL major (or major.minor) version"
  type        = string
  default     = "16"
  nullable    = false

  validation {
    condition     = can(regex("^16(\\.[0-9]+)?$", var.engine_version))
    error_message = "Halyard targets PostgreSQL 16."
  }
}

variable "instance" {
  description = "Size, availability and protection of the instance; these are the values that differ per environment"
  type = object({
    instance_class          = optional(string, "db.t4g.micro")
    allocated_storage       = optional(number, 20)
    max_allocated_storage   = optional(number, 100)
    multi_az                = optional(bool, true)
    backup_retention_days   = optional(number, 30)
    deletion_protection     = optional(bool, true)
    skip_final_snapshot     = optional(bool, false)
    performance_insights    = optional(bool, true)
    monitoring_interval     = optional(number, 60)
    log_min_duration_ms     = optional(number, 500)
    apply_immediately       = optional(bool, false)
    preferred_backup_window = optional(string, "03:00-04:00")
    maintenance_window      = optional(string, "sun:04:30-sun:05:30")
  })
  default  = {}
  nullable = false

  validation {
    condition     = var.instance.backup_retention_days >= 1 && var.instance.backup_retention_days <= 35
    error_message = "backup_retention_days must be between 1 and 35."
  }

  validation {
    condition     = contains([0, 1, 5, 10, 15, 30, 60], var.instance.monitoring_interval)
    error_message = "monitoring_interval must be one of 0, 1, 5, 10, 15, 30, 60."
  }
}

variable "log_retention_days" {
  description = "Retention of the exported PostgreSQL logs, in days"
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
