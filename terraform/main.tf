data "aws_caller_identity" "current" {}
data "aws_partition" "current" {}
data "aws_region" "current" {}

locals {
  name       = "${var.project}-${var.environment}"
  account_id = data.aws_caller_identity.current.account_id
  partition  = data.aws_partition.current.partition
  region     = data.aws_region.current.name
  is_dev     = var.environment == "dev"

  metrics_namespace = "Halyard"
  secrets_prefix    = "${var.project}/${var.environment}/"

  archive_bucket_name = "${local.name}-archive-${local.account_id}-${local.region}"

  tags = { Project = var.project, Environment = var.environment }

  # Services, their ports and how the ALB routes to them (lowest priority number wins).
  service_defaults = {
    # Ports are deploy/settings.json's (terraform/settings.tf), the same the services' LISTEN_ADDR uses.
    engine         = { port = local.service_ports.engine, path_patterns = ["/api/v1/*"], priority = 20, default = false }
    "data-service" = { port = local.service_ports["data-service"], path_patterns = ["/api/v1/market/*"], priority = 10, default = false }
    dashboard      = { port = local.service_ports.dashboard, path_patterns = [], priority = null, default = true }
  }

  service_sizes = {
    for k in keys(local.service_defaults) : k => merge(
      { cpu = 512, memory = 1024, min = 1, max = 2 },
      try(var.services[k], {}),
    )
  }

  db_secret_arn = module.rds.master_user_secret_arn

  # The services' environment and secrets: terraform/settings.tf, from deploy/settings.json.

  # IAM statements shared by every service: read the database secret, publish metrics.
  read_db_secret = {
    sid       = "ReadDatabaseSecret"
    actions   = ["secretsmanager:GetSecretValue", "secretsmanager:DescribeSecret"]
    resources = [local.db_secret_arn]
  }
  decrypt_via = {
    sid       = "UseEnvironmentKeyThroughServices"
    actions   = ["kms:Decrypt", "kms:GenerateDataKey"]
    resources = [aws_kms_key.this.arn]
    conditions = [{
      test     = "StringEquals"
      variable = "kms:ViaService"
      values   = ["secretsmanager.${local.region}.amazonaws.com", "s3.${local.region}.amazonaws.com"]
    }]
  }
  put_metrics = {
    sid       = "PublishPlatformMetrics"
    actions   = ["cloudwatch:PutMetricData"]
    resources = ["*"] # PutMetricData has no resource; the namespace condition scopes it
    conditions = [{
      test     = "StringEquals"
      variable = "cloudwatch:namespace"
      values   = [local.metrics_namespace]
    }]
  }

  archive_statements = {
    for svc, prefixes in {
      engine         = ["backtest-results/", "reports/"]
      "data-service" = ["market-data/"]
      } : svc => [
      {
        sid        = "ListArchivePrefixes"
        actions    = ["s3:ListBucket"]
        resources  = [module.s3_archive.bucket_arn]
        conditions = [{ test = "StringLike", variable = "s3:prefix", values = [for p in prefixes : "${p}*"] }]
      },
      {
        sid       = "ReadWriteArchivePrefixes"
        actions   = ["s3:GetObject", "s3:PutObject", "s3:DeleteObject", "s3:AbortMultipartUpload"]
        resources = [for p in prefixes : "${module.s3_archive.bucket_arn}/${p}*"]
      },
    ]
  }
}

################################################################################
# Network, storage, secrets
################################################################################

module "network" {
  source = "./modules/network"

  name                    = local.name
  cidr_block              = var.vpc_cidr
  nat_gateway_mode        = var.nat_gateway_mode
  kms_key_arn             = aws_kms_key.this.arn
  flow_log_retention_days = var.log_retention_days
  tags                    = local.tags
}

module "log_bucket" {
  source = "./modules/log-bucket"

  bucket_name                  = "${local.name}-logs-${local.account_id}-${local.region}"
  expiration_days              = var.log_retention_days
  s3_access_log_source_buckets = [local.archive_bucket_name]
  force_destroy                = local.is_dev
  tags                         = local.tags
}

module "s3_archive" {
  source = "./modules/s3-archive"

  bucket_name       = local.archive_bucket_name
  kms_key_arn       = aws_kms_key.this.arn
  access_log_bucket = module.log_bucket.bucket_id
  access_log_prefix = module.log_bucket.s3_access_prefix
  force_destroy     = local.is_dev
  tags              = local.tags
}

module "secrets" {
  source = "./modules/secrets"

  prefix                    = local.secrets_prefix
  kms_key_arn               = aws_kms_key.this.arn
  broker_key_names          = var.broker_accounts
  webhook_passphrase_names  = var.webhook_sources
  generated_secrets_version = var.generated_secrets_version
  recovery_window_in_days   = local.is_dev ? 0 : 30
  tags                      = local.tags
}

module "ecr" {
  source = "./modules/ecr"

  name_prefix  = local.name
  kms_key_arn  = aws_kms_key.this.arn
  force_delete = local.is_dev
  tags         = local.tags
}

################################################################################
# Database
################################################################################

module "rds" {
  source = "./modules/rds"

  name               = local.name
  vpc_id             = module.network.vpc_id
  subnet_ids         = module.network.private_subnet_ids
  kms_key_arn        = aws_kms_key.this.arn
  instance           = var.database
  log_retention_days = var.log_retention_days
  allowed_security_group_ids = {
    engine         = module.engine.security_group_id
    "data-service" = module.data_service.security_group_id
    dashboard      = module.dashboard.security_group_id
  }
  tags = local.tags
}

################################################################################
# Edge: ALB, WAF, certificate
################################################################################

module "alb" {
  source = "./modules/alb"

  name   = local.name
  vpc_id = module.network.vpc_id
  target_security_group_ids = {
    engine         = module.engine.security_group_id
    "data-service" = module.data_service.security_group_id
    dashboard      = module.dashboard.security_group_id
  }
  public_subnet_ids   = module.network.public_subnet_ids
  ingress_cidrs       = var.alb_ingress_cidrs
  domain_name         = var.domain_name
  certificate_arn     = var.certificate_arn
  route53_zone_id     = var.route53_zone_id
  services            = local.service_defaults
  access_logs_bucket  = module.log_bucket.bucket_id
  access_logs_prefix  = module.log_bucket.alb_prefix
  deletion_protection = !local.is_dev
  waf                 = merge(var.waf, { log_retention_days = var.log_retention_days })
  kms_key_arn         = aws_kms_key.this.arn
  tags                = local.tags
}

################################################################################
# ECS: cluster and the three services
################################################################################

module "ecs_cluster" {
  source = "./modules/ecs-cluster"

  name               = local.name
  kms_key_arn        = aws_kms_key.this.arn
  log_retention_days = var.log_retention_days
  tags               = local.tags
}

module "engine" {
  source = "./modules/ecs-service"

  name_prefix         = local.name
  service             = "engine"
  cluster_arn         = module.ecs_cluster.cluster_arn
  image               = "${module.ecr.repository_urls["engine"]}:${var.image_tag}"
  container_port      = local.service_defaults.engine.port
  cpu                 = local.service_sizes.engine.cpu
  memory              = local.service_sizes.engine.memory
  healthcheck_command = ["/usr/local/bin/engine", "healthcheck"]
  # Named secrets are read by the engine itself (ids in the environment, values fetched with the
  # task role, re-read on rotation), not injected at task start, so a rotation needs no restart.
  environment = local.service_environment.engine
  secrets     = local.service_secrets.engine
  task_policy_statements = concat(
    [
      merge(local.read_db_secret, {
        sid       = "ReadDatabaseAndPlatformSecrets"
        resources = [local.db_secret_arn, module.secrets.prefix_arn_pattern]
      }),
      local.decrypt_via,
      local.put_metrics,
    ],
    local.archive_statements.engine,
  )
  # Run by deploys before the services are updated, and by backtest sweeps (command overridden per shard).
  one_off_tasks = {
    migrate  = { command = ["migrate"] }
    backtest = { command = ["backtest"], cpu = 2048, memory = 4096 }
  }
  vpc_id                     = module.network.vpc_id
  subnet_ids                 = module.network.private_subnet_ids
  database_security_group_id = module.rds.security_group_id
  service_connect            = { namespace_arn = module.service_connect.namespace_arn, dns_name = local.settings.services.engine.service_connect_dns_name }
  load_balancer = {
    security_group_id = module.alb.security_group_id
    target_group_arn  = module.alb.target_group_arns["engine"]
    resource_label    = module.alb.request_count_resource_labels["engine"]
  }
  autoscaling        = { min = local.service_sizes.engine.min, max = local.service_sizes.engine.max }
  kms_key_arn        = aws_kms_key.this.arn
  log_retention_days = var.log_retention_days
  tags               = local.tags
}

module "data_service" {
  source = "./modules/ecs-service"

  name_prefix         = local.name
  service             = "data-service"
  cluster_arn         = module.ecs_cluster.cluster_arn
  image               = "${module.ecr.repository_urls["data-service"]}:${var.image_tag}"
  container_port      = local.service_defaults["data-service"].port
  cpu                 = local.service_sizes["data-service"].cpu
  memory              = local.service_sizes["data-service"].memory
  healthcheck_command = ["/usr/local/bin/data-service", "healthcheck"]
  environment         = local.service_environment["data-service"]
  secrets             = local.service_secrets["data-service"]
  task_policy_statements = concat(
    [local.read_db_secret, local.decrypt_via, local.put_metrics],
    local.archive_statements["data-service"],
  )
  vpc_id                     = module.network.vpc_id
  subnet_ids                 = module.network.private_subnet_ids
  database_security_group_id = module.rds.security_group_id
  service_connect            = { namespace_arn = module.service_connect.namespace_arn, dns_name = local.settings.services["data-service"].service_connect_dns_name }
  load_balancer = {
    security_group_id = module.alb.security_group_id
    target_group_arn  = module.alb.target_group_arns["data-service"]
    resource_label    = module.alb.request_count_resource_labels["data-service"]
  }
  autoscaling        = { min = local.service_sizes["data-service"].min, max = local.service_sizes["data-service"].max }
  kms_key_arn        = aws_kms_key.this.arn
  log_retention_days = var.log_retention_days
  tags               = local.tags
}

module "dashboard" {
  source = "./modules/ecs-service"

  name_prefix         = local.name
  service             = "dashboard"
  cluster_arn         = module.ecs_cluster.cluster_arn
  image               = "${module.ecr.repository_urls["dashboard"]}:${var.image_tag}"
  container_port      = local.service_defaults.dashboard.port
  cpu                 = local.service_sizes.dashboard.cpu
  memory              = local.service_sizes.dashboard.memory
  healthcheck_command = ["/usr/local/bin/dashboard", "healthcheck"]
  # ENGINE_URL and DATA_SERVICE_URL are the Service Connect names inside the VPC; ENGINE_API_TOKEN
  # is injected by ECS from Secrets Manager (the execution role may read exactly that secret).
  environment                = local.service_environment.dashboard
  secrets                    = local.service_secrets.dashboard
  task_policy_statements     = [local.read_db_secret, local.decrypt_via, local.put_metrics]
  vpc_id                     = module.network.vpc_id
  subnet_ids                 = module.network.private_subnet_ids
  database_security_group_id = module.rds.security_group_id
  service_connect            = { namespace_arn = module.service_connect.namespace_arn, dns_name = local.settings.services.dashboard.service_connect_dns_name }
  load_balancer = {
    security_group_id = module.alb.security_group_id
    target_group_arn  = module.alb.target_group_arns["dashboard"]
    resource_label    = module.alb.request_count_resource_labels["dashboard"]
  }
  autoscaling        = { min = local.service_sizes.dashboard.min, max = local.service_sizes.dashboard.max }
  kms_key_arn        = aws_kms_key.this.arn
  log_retention_days = var.log_retention_days
  tags               = local.tags
}

################################################################################
# Service-to-service wiring inside the VPC (ECS Service Connect + exact security-group paths)
################################################################################

module "service_connect" {
  source = "./modules/service-connect"

  namespace_name = local.name
  security_group_ids = {
    engine         = module.engine.security_group_id
    "data-service" = module.data_service.security_group_id
    dashboard      = module.dashboard.security_group_id
  }
  # Who calls whom: the dashboard reads the engine's API and the data-service's quotes and
  # stream; the engine reads the data-service's ticks and prices. Nothing calls the dashboard
  # except the ALB.
  paths = [
    { from = "dashboard", to = "engine", port = local.service_ports.engine },
    { from = "dashboard", to = "data-service", port = local.service_ports["data-service"] },
    { from = "engine", to = "data-service", port = local.service_ports["data-service"] },
  ]
  tags = local.tags
}

################################################################################
# Monitoring
################################################################################

module "monitoring" {
  source = "./modules/monitoring"

  name                      = local.name
  environment               = var.environment
  metrics_namespace         = local.metrics_namespace
  kms_key_arn               = aws_kms_key.this.arn
  critical_emails           = var.alarm_emails.critical
  warning_emails            = var.alarm_emails.warning
  alb_arn_suffix            = module.alb.arn_suffix
  cluster_name              = module.ecs_cluster.cluster_name
  rds_instance_id           = module.rds.instance_identifier
  target_group_arn_suffixes = module.alb.target_group_arn_suffixes
  ecs_service_names = {
    engine         = module.engine.service_name
    "data-service" = module.data_service.service_name
    dashboard      = module.dashboard.service_name
  }
  tags = local.tags
}

################################################################################
# CI/CD: GitHub Actions OIDC roles
################################################################################

module "github_oidc" {
  source = "./modules/github-oidc"
  count  = var.github == null ? 0 : 1

  name                       = local.name
  github_repository          = var.github.repository
  github_environment         = var.github.environment
  create_oidc_provider       = var.github.create_oidc_provider
  terraform_state_bucket     = var.terraform_state_bucket
  terraform_state_key_prefix = "${var.project}/${var.environment}/"
  tags                       = local.tags
}
