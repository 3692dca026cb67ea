################################################################################
# Identity
################################################################################

variable "name_prefix" {
  description = "Environment name prefix, e.g. \"halyard-dev\"; resources are named <name_prefix>-<service>"
  type        = string
  nullable    = false
}

variable "service" {
  description = "Short service name, also the container name, e.g. \"engine\""
  type        = string
  nullable    = false

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{1,30}$", var.service))
    error_message = "service must be lower-case letters, digits and dashes."
  }
}

variable "cluster_arn" {
  description = "ARN of the ECS cluster"
  type        = string
  nullable    = false
}

################################################################################
# Task
################################################################################

variable "image" {
  description = "Full image reference, <repository url>:<tag>"
  type        = string
  nullable    = false
}

variable "command" {
  description = "Container command (arguments to the image ENTRYPOINT); null keeps the image CMD"
  type        = list(string)
  default     = null
}

variable "container_port" {
  description = "Port the service listens on (LISTEN_ADDR)"
  type        = number
  nullable    = false
}

variable "cpu" {
  description = "Fargate task CPU units (256, 512, 1024, 2048, 4096)"
  type        = number
  default     = 512
  nullable    = false

  validation {
    condition     = contains([256, 512, 1024, 2048, 4096, 8192, 16384], var.cpu)
    error_message = "cpu must be a Fargate CPU size."
  }
}

variable "memory" {
  description = "Fargate task memory in MiB (must suit cpu)"
  type        = number
  default     = 1024
  nullable    = false
}

variable "cpu_architecture" {
  description = "X86_64 or ARM64; must match the image"
  type        = string
  default     = "X86_64"
  nullable    = false

  validation {
    condition     = contains(["X86_64", "ARM64"], var.cpu_architecture)
    error_message = "cpu_architecture must be X86_64 or ARM64."
  }
}

variable "environment" {
  description = "Plain environment variables of the container"
  type        = map(string)
  default     = {}
  nullable    = false
}

variable "secrets" {
  description = "Environment variables injected from Secrets Manager at task start: name => valueFrom (secret ARN, optionally \":json-key::\" suffixed). The execution role may read exactly these secrets"
  type        = map(string)
  default     = {}
  nullable    = false
}

variable "healthcheck_command" {
  description = "Container HEALTHCHECK command (exec form); the runtime image has no shell tools, so it is a subcommand of the binary"
  type        = list(string)
  default     = null
}

variable "readonly_root_filesystem" {
  description = "Mount the container root filesystem read-only (a writable /tmp volume is always mounted)"
  type        = bool
  default     = true
  nullable    = false
}

variable "task_policy_statements" {
  description = "Least-privilege IAM statements of the task role (what the application itself may call)"
  type = list(object({
    sid       = string
    actions   = list(string)
    resources = list(string)
    conditions = optional(list(object({
      test     = string
      variable = string
      values   = list(string)
    })), [])
  }))
  default  = []
  nullable = false
}

variable "kms_key_arn" {
  description = "KMS key of the log group and of the injected secrets"
  type        = string
  nullable    = false
}

variable "log_retention_days" {
  description = "Retention of the service log group, in days"
  type        = number
  default     = 365
  nullable    = false
}

variable "one_off_tasks" {
  description = "Extra task definitions sharing this service's image, roles, network and log group, run with `aws ecs run-task` (e.g. migrate = [\"migrate\"])"
  type = map(object({
    command = list(string)
    cpu     = optional(number)
    memory  = optional(number)
  }))
  default  = {}
  nullable = false
}

################################################################################
# Network
################################################################################

variable "vpc_id" {
  description = "VPC of the tasks"
  type        = string
  nullable    = false
}

variable "subnet_ids" {
  description = "Private subnets of the tasks (no public IP is assigned)"
  type        = list(string)
  nullable    = false
}

variable "database_security_group_id" {
  description = "Security group of the database; the tasks may open PostgreSQL (5432) connections to it and nowhere else"
  type        = string
  nullable    = false
}

variable "service_connect" {
  description = "ECS Service Connect: the Cloud Map namespace ARN the service joins as a client, and dns_name to also serve at http://<dns_name>:<container_port> to the namespace (null: a client only); null leaves Service Connect off"
  type = object({
    namespace_arn = string
    dns_name      = optional(string)
  })
  default = null

  validation {
    condition     = var.service_connect == null ? true : var.service_connect.dns_name == null ? true : can(regex("^[a-z0-9][a-z0-9.-]{0,126}$", var.service_connect.dns_name))
    error_message = "service_connect.dns_name must be a DNS name (lower-case letters, digits, dots, dashes)."
  }
}

variable "load_balancer" {
  description = "ALB wiring: its security group (allowed in on container_port), the target group, and the ALBRequestCountPerTarget resource label; null for a service without ALB"
  type = object({
    security_group_id = string
    target_group_arn  = string
    resource_label    = string
  })
  default = null
}

################################################################################
# Service and scaling
################################################################################

variable "autoscaling" {
  description = "Task count range and the target-tracking targets (CPU %, ALB requests per target per minute)"
  type = object({
    min                 = number
    max                 = number
    cpu_target          = optional(number, 70)
    requests_per_target = optional(number, 1000)
  })
  default  = { min = 1, max = 2 }
  nullable = false

  validation {
    condition     = var.autoscaling.min >= 0 && var.autoscaling.max >= var.autoscaling.min && var.autoscaling.max >= 1
    error_message = "autoscaling needs 0 <= min <= max and max >= 1."
  }
}

variable "health_check_grace_period_seconds" {
  description = "Seconds the ALB health checks are ignored after a task starts (migrations are not run here, so this only covers start-up)"
  type        = number
  default     = 60
  nullable    = false
}

variable "enable_execute_command" {
  description = "Allow `aws ecs execute-command` into the tasks (debugging only)"
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
