output "environment" {
  description = "Environment name"
  value       = var.environment
}

output "image_tag" {
  description = "Image tag the services run (pull-request plans reuse it so they show only infrastructure changes)"
  value       = var.image_tag
}

output "region" {
  description = "Region of the deployment"
  value       = local.region
}

output "alb_dns_name" {
  description = "DNS name of the load balancer (point domain_name at it when route53_zone_id is not managed here)"
  value       = module.alb.dns_name
}

output "url" {
  description = "Public URL of the platform"
  value       = "https://${var.domain_name}"
}

output "ecr_repository_urls" {
  description = "Image repositories by service"
  value       = module.ecr.repository_urls
}

output "cluster_name" {
  description = "ECS cluster"
  value       = module.ecs_cluster.cluster_name
}

output "service_names" {
  description = "ECS services by service"
  value = {
    engine         = module.engine.service_name
    "data-service" = module.data_service.service_name
    dashboard      = module.dashboard.service_name
  }
}

output "task_definitions" {
  description = "Task definition ARNs (with revision) by service, and of the one-off engine tasks (read back by scripts/infra/check_task_definitions.py)"
  value = {
    engine         = module.engine.task_definition_arn
    "data-service" = module.data_service.task_definition_arn
    dashboard      = module.dashboard.task_definition_arn
    migrate        = module.engine.one_off_task_definitions["migrate"].arn
    backtest       = module.engine.one_off_task_definitions["backtest"].arn
  }
}

output "service_connect" {
  description = "Service Connect namespace and the service-to-service paths its security-group rules allow"
  value = {
    namespace = module.service_connect.namespace_name
    urls      = local.service_urls
    paths     = module.service_connect.paths
  }
}

output "migration_task" {
  description = "What a deploy needs to run the one-shot migration: `aws ecs run-task` with this family, subnets and security group (scripts/infra/run-migration.sh)"
  value = {
    cluster            = module.ecs_cluster.cluster_name
    task_definition    = module.engine.one_off_task_definitions["migrate"].family
    container_name     = "engine"
    subnet_ids         = module.network.private_subnet_ids
    security_group_ids = [module.engine.security_group_id]
  }
}

output "backtest_task" {
  description = "ECS RunTask settings of backtest sweep shards (override the container command per shard)"
  value = {
    cluster            = module.ecs_cluster.cluster_name
    task_definition    = module.engine.one_off_task_definitions["backtest"].family
    container_name     = "engine"
    subnet_ids         = module.network.private_subnet_ids
    security_group_ids = [module.engine.security_group_id]
  }
}

output "archive_bucket" {
  description = "S3 archive bucket (ARCHIVE_BUCKET)"
  value       = module.s3_archive.bucket_id
}

output "log_bucket" {
  description = "Bucket of the ALB and S3 access logs"
  value       = module.log_bucket.bucket_id
}

output "database" {
  description = "Database endpoint and the secret holding its RDS-managed credentials"
  value = {
    address        = module.rds.address
    port           = module.rds.port
    name           = module.rds.database_name
    instance_id    = module.rds.instance_identifier
    credentials_id = module.rds.master_user_secret_arn
  }
}

output "secrets_prefix" {
  description = "Prefix of the named secrets (SECRETS_PREFIX)"
  value       = local.secrets_prefix
}

output "secret_arns" {
  description = "Named secrets: broker credentials, webhook passphrases, API signing key"
  value = {
    broker          = module.secrets.broker_secret_arns
    webhook         = module.secrets.webhook_secret_arns
    api_signing_key = module.secrets.api_signing_key_secret_arn
  }
}

output "alarm_topics" {
  description = "SNS topics of the alarms"
  value = {
    critical = module.monitoring.critical_topic_arn
    warning  = module.monitoring.warning_topic_arn
  }
}

output "dashboard_name" {
  description = "CloudWatch dashboard"
  value       = module.monitoring.dashboard_name
}

output "github_role_arns" {
  description = "Roles for GitHub Actions (set as the GitHub environment's AWS_DEPLOY_ROLE_ARN / AWS_PLAN_ROLE_ARN variables)"
  value = try({
    deploy = module.github_oidc[0].deploy_role_arn
    plan   = module.github_oidc[0].plan_role_arn
  }, null)
}

output "kms_key_arn" {
  description = "The environment's KMS key"
  value       = aws_kms_key.this.arn
}

output "engine_accounts" {
  description = "The engine's trading accounts and where each trades: every entry of engine_accounts (its venue, environment and the broker secret holding its keys), and \"*\", every other account, at engine_venue"
  value = merge(
    {
      for name, a in var.engine_accounts : name => {
        venue         = a.venue
        environment   = a.venue == "alpaca" ? a.alpaca_trading : a.binance_network
        broker_secret = module.secrets.broker_secret_arns[a.broker_account]
      }
    },
    {
      "*" = {
        venue         = var.engine_venue.kind
        environment   = var.engine_venue.kind == "alpaca" ? var.engine_venue.alpaca_trading : (var.engine_venue.kind == "binance" ? var.engine_venue.binance_network : "paper")
        broker_secret = local.broker_secret_arn
      }
    },
  )
}
