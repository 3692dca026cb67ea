output "prefix" {
  description = "Name prefix of the secrets (the services' SECRETS_PREFIX)"
  value       = var.prefix
}

output "prefix_arn_pattern" {
  description = "ARN pattern matching every secret under the prefix, for IAM policies"
  value       = "arn:${data.aws_partition.current.partition}:secretsmanager:${data.aws_region.current.name}:${data.aws_caller_identity.current.account_id}:secret:${var.prefix}*"
}

output "broker_secret_arns" {
  description = "Broker credential secrets, by broker account name"
  value       = { for k, s in aws_secretsmanager_secret.broker : k => s.arn }
}

output "webhook_secret_arns" {
  description = "Webhook passphrase secrets, by webhook source"
  value       = { for k, s in aws_secretsmanager_secret.webhook : k => s.arn }
}

output "api_signing_key_secret_arn" {
  description = "ARN of the API signing key secret"
  value       = aws_secretsmanager_secret.api_signing_key.arn
}

output "dashboard_engine_token_secret_arn" {
  description = "ARN of the dashboard's engine API token secret (ENGINE_API_TOKEN, injected by ECS)"
  value       = aws_secretsmanager_secret.dashboard_engine_token.arn
}

output "all_secret_arns" {
  description = "Every secret this module manages"
  value = concat(
    [for s in aws_secretsmanager_secret.broker : s.arn],
    [for s in aws_secretsmanager_secret.webhook : s.arn],
    [aws_secretsmanager_secret.api_signing_key.arn, aws_secretsmanager_secret.dashboard_engine_token.arn],
  )
}
