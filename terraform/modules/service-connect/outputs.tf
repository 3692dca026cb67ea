output "namespace_arn" {
  description = "ARN of the Cloud Map HTTP namespace (service_connect_configuration.namespace of every service)"
  value       = aws_service_discovery_http_namespace.this.arn
}

output "namespace_name" {
  description = "Name of the namespace"
  value       = aws_service_discovery_http_namespace.this.name
}

output "paths" {
  description = "The allowed paths, \"<from>-to-<to>\" => { from, to, port }"
  value       = local.paths
}
