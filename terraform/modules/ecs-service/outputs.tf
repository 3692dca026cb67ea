output "service_name" {
  description = "Name of the ECS service (CloudWatch dimension ServiceName)"
  value       = aws_ecs_service.this.name
}

output "service_arn" {
  description = "ARN of the ECS service"
  value       = aws_ecs_service.this.id
}

output "task_definition_arn" {
  description = "ARN (with revision) of the service task definition"
  value       = aws_ecs_task_definition.this.arn
}

output "one_off_task_definitions" {
  description = "One-off task definitions by name: family and ARN (run with `aws ecs run-task --task-definition <family>`)"
  value       = { for k, t in aws_ecs_task_definition.one_off : k => { family = t.family, arn = t.arn } }
}

output "security_group_id" {
  description = "Security group of the tasks (give it to RDS and to one-off run-task calls)"
  value       = aws_security_group.this.id
}

output "task_role_arn" {
  description = "IAM role assumed by the application"
  value       = aws_iam_role.task.arn
}

output "execution_role_arn" {
  description = "IAM role used by the ECS agent (image pull, logs, secret injection)"
  value       = aws_iam_role.execution.arn
}

output "log_group_name" {
  description = "CloudWatch log group of the containers"
  value       = aws_cloudwatch_log_group.this.name
}
