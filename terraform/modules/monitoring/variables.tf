variable "name" {
  description = "Name prefix of the topics, alarms and dashboard, e.g. \"halyard-dev\""
  type        = string
  nullable    = false
}

variable "environment" {
  description = "Environment dimension of the platform metrics (dev, staging, prod)"
  type        = string
  nullable    = false
}

variable "metrics_namespace" {
  description = "CloudWatch namespace of the platform's own metrics (the services' METRICS_NAMESPACE)"
  type        = string
  default     = "Halyard"
  nullable    = false
}

variable "kms_key_arn" {
  description = "KMS key encrypting the SNS topics (its policy must let CloudWatch use it)"
  type        = string
  nullable    = false
}

variable "critical_emails" {
  description = "Addresses paged by critical alarms (halt, missing heartbeat, 5xx, unhealthy hosts, database, market-data lag); e.g. the on-call pager's e-mail integration"
  type        = list(string)
  default     = []
  nullable    = false
}

variable "warning_emails" {
  description = "Addresses told about warnings (latency, ECS load, risk-reject rate, archive lag)"
  type        = list(string)
  default     = []
  nullable    = false
}

variable "alb_arn_suffix" {
  description = "ARN suffix of the ALB"
  type        = string
  nullable    = false
}

variable "target_group_arn_suffixes" {
  description = "Target group ARN suffixes by service"
  type        = map(string)
  nullable    = false
}

variable "cluster_name" {
  description = "ECS cluster name"
  type        = string
  nullable    = false
}

variable "ecs_service_names" {
  description = "ECS service names by service"
  type        = map(string)
  nullable    = false
}

variable "rds_instance_id" {
  description = "RDS instance identifier"
  type        = string
  nullable    = false
}

variable "thresholds" {
  description = "Alarm thresholds"
  type = object({
    alb_5xx_per_5min          = optional(number, 10)
    target_p99_seconds        = optional(number, 1.5)
    ecs_cpu_percent           = optional(number, 85)
    ecs_memory_percent        = optional(number, 85)
    rds_cpu_percent           = optional(number, 80)
    rds_free_storage_bytes    = optional(number, 5368709120)
    rds_connections           = optional(number, 80)
    risk_reject_ratio         = optional(number, 0.2)
    risk_reject_min_orders    = optional(number, 10)
    market_data_lag_seconds   = optional(number, 30)
    archive_lag_days          = optional(number, 2)
    heartbeat_missing_minutes = optional(number, 3)
  })
  default  = {}
  nullable = false
}

variable "tags" {
  description = "Extra tags for every resource"
  type        = map(string)
  default     = {}
  nullable    = false
}
