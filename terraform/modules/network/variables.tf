variable "name" {
  description = "Name prefix for every resource, e.g. \"halyard-dev\""
  type        = string
  nullable    = false
}

variable "cidr_block" {
  description = "IPv4 CIDR of the VPC; split into one public and one private subnet per availability zone"
  type        = string
  default     = "10.40.0.0/16"
  nullable    = false

  validation {
    condition     = can(cidrnetmask(var.cidr_block)) && tonumber(split("/", var.cidr_block)[1]) <= 20
    error_message = "cidr_block must be a valid IPv4 CIDR of /20 or larger."
  }
}

variable "az_count" {
  description = "Number of availability zones to spread the subnets over"
  type        = number
  default     = 2
  nullable    = false

  validation {
    condition     = var.az_count >= 2 && var.az_count <= 3
    error_message = "az_count must be 2 or 3 (the ALB and Multi-AZ RDS need at least two)."
  }
}

variable "nat_gateway_mode" {
  description = "\"single\": one NAT gateway shared by all private subnets (cheap, dev); \"per_az\": one per availability zone (no cross-AZ dependency, prod)"
  type        = string
  default     = "per_az"
  nullable    = false

  validation {
    condition     = contains(["single", "per_az"], var.nat_gateway_mode)
    error_message = "nat_gateway_mode must be \"single\" or \"per_az\"."
  }
}

variable "flow_log_retention_days" {
  description = "Retention of the VPC flow log group, in days"
  type        = number
  default     = 365
  nullable    = false
}

variable "kms_key_arn" {
  description = "KMS key that encrypts the flow log group"
  type        = string
  nullable    = false
}

variable "tags" {
  description = "Extra tags for every resource"
  type        = map(string)
  default     = {}
  nullable    = false
}
