output "deploy_role_arn" {
  description = "Role assumed by the deploy jobs (the GitHub environment variable AWS_DEPLOY_ROLE_ARN)"
  value       = aws_iam_role.deploy.arn
}

output "plan_role_arn" {
  description = "Role assumed by pull-request plan jobs (AWS_PLAN_ROLE_ARN)"
  value       = aws_iam_role.plan.arn
}

output "oidc_provider_arn" {
  description = "ARN of the GitHub OIDC provider"
  value       = local.provider_arn
}
