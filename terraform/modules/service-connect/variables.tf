variable "namespace_name" {
  description = "Name of the Cloud Map HTTP namespace the services join, e.g. \"halyard-dev\" (no DNS zone is created: Service Connect resolves names in its proxy)"
  type        = string
  nullable    = false

  validation {
    condition     = can(regex("^[a-z0-9][a-z0-9-]{0,62}$", var.namespace_name))
    error_message = "namespace_name must be lower-case letters, digits and dashes (at most 63 characters)."
  }
}

variable "security_group_ids" {
  description = "Task security group of every service named in paths, by service name"
  type        = map(string)
  nullable    = false
}

variable "paths" {
  description = "Allowed service-to-service connections: from (caller), to (callee) and the callee's port; nothing else is opened between the task groups"
  type = list(object({
    from = string
    to   = string
    port = number
  }))
  nullable = false

  validation {
    condition     = alltrue([for p in var.paths : p.from != p.to && p.port >= 1 && p.port <= 65535])
    error_message = "each path joins two different services on a port between 1 and 65535."
  }

  validation {
    condition     = length(distinct([for p in var.paths : "${p.from}-to-${p.to}"])) == length(var.paths)
    error_message = "each (from, to) pair may appear once."
  }
}

variable "tags" {
  description = "Extra tags for every resource"
  type        = map(string)
  default     = {}
  nullable    = false
}
