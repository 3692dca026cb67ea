output "arn" {
  description = "ARN of the load balancer"
  value       = aws_lb.this.arn
}

output "arn_suffix" {
  description = "ARN suffix of the load balancer (CloudWatch dimension LoadBalancer)"
  value       = aws_lb.this.arn_suffix
}

output "dns_name" {
  description = "DNS name of the load balancer"
  value       = aws_lb.this.dns_name
}

output "zone_id" {
  description = "Hosted zone of the load balancer, for alias records"
  value       = aws_lb.this.zone_id
}

output "security_group_id" {
  description = "Security group of the load balancer (allowed into the service tasks)"
  value       = aws_security_group.this.id
}

output "target_group_arns" {
  description = "Target group ARNs by service (available once the listener and its rules exist, as ECS requires)"
  value       = { for k, t in aws_lb_target_group.this : k => t.arn }

  depends_on = [aws_lb_listener.https, aws_lb_listener_rule.this]
}

output "target_group_arn_suffixes" {
  description = "Target group ARN suffixes by service (CloudWatch dimension TargetGroup)"
  value       = { for k, t in aws_lb_target_group.this : k => t.arn_suffix }
}

output "request_count_resource_labels" {
  description = "ALBRequestCountPerTarget resource labels by service"
  value       = { for k, t in aws_lb_target_group.this : k => "${aws_lb.this.arn_suffix}/${t.arn_suffix}" }
}

output "https_listener_arn" {
  description = "ARN of the HTTPS listener"
  value       = aws_lb_listener.https.arn
}

output "web_acl_arn" {
  description = "ARN of the WAF web ACL, null when WAF is disabled"
  value       = try(aws_wafv2_web_acl.this[0].arn, null)
}

output "certificate_arn" {
  description = "ARN of the certificate used by the HTTPS listener"
  value       = local.certificate_arn
}
