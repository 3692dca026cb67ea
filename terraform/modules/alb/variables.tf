variable "name" {
  description = "Name of the load balancer and prefix of its companions, e.g. \"halyard-dev\" (at most 24 characters)"
  type        = string
  nullable    = false

  validation {
    condition     = length(var.name) <= 24
    error_message = "name must be at most 24 characters (target group names add a suffix within AWS's 32)."
  }
}

variable "vpc_id" {
  description = "VPC of the load balancer and its targets"
  type        = string
  nullable    = false
}

variable "target_security_group_ids" {
  description = "Task security group of every service in services, by service name; the ALB may only send to these groups, each on its service's port"
  type        = map(string)
  nullable    = false
}

variable "public_subnet_ids" {
  description = "Public subnets (two or more availability zones) of the load balancer"
  type        = list(string)
  nullable    = false
}

variable "ingress_cidrs" {
  description = "Client CIDRs allowed to reach the listeners"
  type        = list(string)
  default     = ["0.0.0.0/0"]
  nullable    = false
}

variable "domain_name" {
  description = "Public host name of the platform, e.g. \"halyard.example.com\"; used for the ACM certificate when certificate_arn is null"
  type        = string
  nullable    = false
}

variable "certificate_arn" {
  description = "ACM certificate of the HTTPS listener; null requests one for domain_name (DNS-validated when route53_zone_id is set, otherwise validate it by hand)"
  type        = string
  default     = null
}

variable "route53_zone_id" {
  description = "Hosted zone of domain_name; when set, the certificate validation records and an alias record to the ALB are created"
  type        = string
  default     = null
}

variable "ssl_policy" {
  description = "TLS policy of the HTTPS listener"
  type        = string
  default     = "ELBSecurityPolicy-TLS13-1-2-2021-06"
  nullable    = false
}

variable "services" {
  description = "Targets behind the ALB by service name: port, path patterns routed to it (lowest priority number wins) and whether it takes the default route"
  type = map(object({
    port          = number
    path_patterns = optional(list(string), [])
    priority      = optional(number)
    default       = optional(bool, false)
  }))
  nullable = false

  validation {
    condition     = length([for s in values(var.services) : s if s.default]) == 1
    error_message = "Exactly one service must take the default route."
  }

  validation {
    condition     = alltrue([for s in values(var.services) : s.default || (length(s.path_patterns) > 0 && s.priority != null)])
    error_message = "Every non-default service needs path_patterns and a priority."
  }
}

variable "health_check_path" {
  description = "Health-check path of every target group (200 when the database is reachable and the schema current)"
  type        = string
  default     = "/readyz"
  nullable    = false
}

variable "access_logs_bucket" {
  description = "Bucket receiving the ALB access logs (SSE-S3)"
  type        = string
  nullable    = false
}

variable "access_logs_prefix" {
  description = "Key prefix of the access logs"
  type        = string
  default     = "alb"
  nullable    = false
}

variable "deletion_protection" {
  description = "Protect the load balancer from deletion"
  type        = bool
  default     = true
  nullable    = false
}

variable "waf" {
  description = "Web ACL in front of the ALB: AWS managed rule groups, a per-IP rate limit, and on webhook_path_prefix only the webhook_source_cidrs (TradingView's published addresses) are allowed"
  type = object({
    enabled              = optional(bool, true)
    rate_limit_per_5min  = optional(number, 2000)
    webhook_path_prefix  = optional(string, "/api/v1/signals/tradingview")
    webhook_source_cidrs = optional(list(string), ["52.89.214.238/32", "34.212.75.30/32", "54.218.53.128/32", "52.32.178.7/32"])
    log_retention_days   = optional(number, 365)
  })
  default  = {}
  nullable = false
}

variable "kms_key_arn" {
  description = "KMS key of the WAF log group"
  type        = string
  nullable    = false
}

variable "tags" {
  description = "Extra tags for every resource"
  type        = map(string)
  default     = {}
  nullable    = false
}
