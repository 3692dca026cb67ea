# Service-to-service traffic inside the VPC: an AWS Cloud Map HTTP namespace for ECS Service
# Connect (each task gets a managed proxy; clients reach a server service by its short name,
# e.g. http://data-service:8081, balanced over its healthy tasks), and a security-group rule pair
# for each allowed path, so a task group accepts connections only from the services that call it.

resource "aws_service_discovery_http_namespace" "this" {
  name        = var.namespace_name
  description = "Service Connect namespace of ${var.namespace_name}"

  tags = var.tags
}

locals {
  paths = { for p in var.paths : "${p.from}-to-${p.to}" => p }
}

# Server side: the callee's task group lets the caller's group in on the callee's port only
# (Service Connect's proxy listens on the container port in awsvpc mode).
resource "aws_vpc_security_group_ingress_rule" "path" {
  for_each = local.paths

  security_group_id            = var.security_group_ids[each.value.to]
  description                  = "${each.value.to} port ${each.value.port} from the ${each.value.from} tasks"
  ip_protocol                  = "tcp"
  from_port                    = each.value.port
  to_port                      = each.value.port
  referenced_security_group_id = var.security_group_ids[each.value.from]
}

# Client side: the caller's task group may open connections to the callee's group on that port.
resource "aws_vpc_security_group_egress_rule" "path" {
  for_each = local.paths

  security_group_id            = var.security_group_ids[each.value.from]
  description                  = "To the ${each.value.to} tasks on port ${each.value.port}"
  ip_protocol                  = "tcp"
  from_port                    = each.value.port
  to_port                      = each.value.port
  referenced_security_group_id = var.security_group_ids[each.value.to]
}
