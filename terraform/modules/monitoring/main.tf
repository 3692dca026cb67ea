data "aws_caller_identity" "current" {}
data "aws_region" "current" {}

locals {
  topics = {
    critical = var.critical_emails
    warning  = var.warning_emails
  }

  subscriptions = merge([
    for topic, emails in local.topics : { for e in emails : "${topic}/${e}" => { topic = topic, email = e } }
  ]...)

  platform_dimensions = {
    engine       = { Service = "engine", Environment = var.environment }
    data_service = { Service = "data-service", Environment = var.environment }
  }

  alarm_prefix = "${var.name}-"
}

################################################################################
# SNS: who gets paged
################################################################################

resource "aws_sns_topic" "this" {
  for_each = local.topics

  name              = "${var.name}-${each.key}"
  display_name      = "Halyard ${var.environment} ${each.key}"
  kms_master_key_id = var.kms_key_arn

  tags = merge(var.tags, { Severity = each.key })
}

data "aws_iam_policy_document" "topic" {
  for_each = local.topics

  statement {
    sid       = "CloudWatchAlarms"
    actions   = ["sns:Publish"]
    resources = [aws_sns_topic.this[each.key].arn]

    principals {
      type        = "Service"
      identifiers = ["cloudwatch.amazonaws.com"]
    }

    condition {
      test     = "StringEquals"
      variable = "aws:SourceAccount"
      values   = [data.aws_caller_identity.current.account_id]
    }
  }

  statement {
    sid       = "DenyInsecureTransport"
    effect    = "Deny"
    actions   = ["sns:Publish"]
    resources = [aws_sns_topic.this[each.key].arn]

    principals {
      type        = "*"
      identifiers = ["*"]
    }

    condition {
      test     = "Bool"
      variable = "aws:SecureTransport"
      values   = ["false"]
    }
  }
}

resource "aws_sns_topic_policy" "this" {
  for_each = local.topics

  arn    = aws_sns_topic.this[each.key].arn
  policy = data.aws_iam_policy_document.topic[each.key].json
}

# E-mail subscriptions stay "pending confirmation" until the recipient clicks the link.
resource "aws_sns_topic_subscription" "email" {
  for_each = local.subscriptions

  topic_arn = aws_sns_topic.this[each.value.topic].arn
  protocol  = "email"
  endpoint  = each.value.email
}

################################################################################
# Platform metrics (namespace Halyard, dimensions Service and Environment)
################################################################################

resource "aws_cloudwatch_metric_alarm" "halt_active" {
  alarm_name          = "${local.alarm_prefix}engine-halt-active"
  alarm_description   = "Trading is halted (HaltActive = 1). Runbook: docs/deployment.md#halt-trading"
  namespace           = var.metrics_namespace
  metric_name         = "HaltActive"
  dimensions          = local.platform_dimensions.engine
  statistic           = "Maximum"
  period              = 60
  evaluation_periods  = 1
  comparison_operator = "GreaterThanOrEqualToThreshold"
  threshold           = 1
  treat_missing_data  = "notBreaching"
  alarm_actions       = [aws_sns_topic.this["critical"].arn]
  ok_actions          = [aws_sns_topic.this["critical"].arn]

  tags = var.tags
}

resource "aws_cloudwatch_metric_alarm" "engine_heartbeat" {
  alarm_name          = "${local.alarm_prefix}engine-heartbeat-missing"
  alarm_description   = "No EngineHeartbeat for ${var.thresholds.heartbeat_missing_minutes} minutes: the engine is down or cannot publish metrics"
  namespace           = var.metrics_namespace
  metric_name         = "EngineHeartbeat"
  dimensions          = local.platform_dimensions.engine
  statistic           = "Sum"
  period              = 60
  evaluation_periods  = var.thresholds.heartbeat_missing_minutes
  datapoints_to_alarm = var.thresholds.heartbeat_missing_minutes
  comparison_operator = "LessThanThreshold"
  threshold           = 1
  treat_missing_data  = "breaching"
  alarm_actions       = [aws_sns_topic.this["critical"].arn]
  ok_actions          = [aws_sns_topic.this["critical"].arn]

  tags = var.tags
}

resource "aws_cloudwatch_metric_alarm" "risk_reject_rate" {
  alarm_name          = "${local.alarm_prefix}engine-risk-reject-rate"
  alarm_description   = "More than ${var.thresholds.risk_reject_ratio * 100}% of orders rejected by the risk rules over 15 minutes (with at least ${var.thresholds.risk_reject_min_orders} orders)"
  evaluation_periods  = 1
  comparison_operator = "GreaterThanThreshold"
  threshold           = var.thresholds.risk_reject_ratio
  treat_missing_data  = "notBreaching"
  alarm_actions       = [aws_sns_topic.this["warning"].arn]
  ok_actions          = [aws_sns_topic.this["warning"].arn]

  metric_query {
    id          = "ratio"
    expression  = "IF(orders >= ${var.thresholds.risk_reject_min_orders}, rejects / orders, 0)"
    label       = "Risk-reject ratio"
    return_data = true
  }

  metric_query {
    id = "rejects"

    metric {
      namespace   = var.metrics_namespace
      metric_name = "RiskRejects"
      dimensions  = local.platform_dimensions.engine
      stat        = "Sum"
      period      = 900
    }
  }

  metric_query {
    id = "orders"

    metric {
      namespace   = var.metrics_namespace
      metric_name = "OrdersSubmitted"
      dimensions  = local.platform_dimensions.engine
      stat        = "Sum"
      period      = 900
    }
  }

  tags = var.tags
}

resource "aws_cloudwatch_metric_alarm" "market_data_lag" {
  alarm_name          = "${local.alarm_prefix}market-data-lag"
  alarm_description   = "Market data more than ${var.thresholds.market_data_lag_seconds}s behind for 3 minutes: strategies trade on stale prices"
  namespace           = var.metrics_namespace
  metric_name         = "MarketDataLagSeconds"
  dimensions          = local.platform_dimensions.data_service
  statistic           = "Maximum"
  period              = 60
  evaluation_periods  = 3
  comparison_operator = "GreaterThanThreshold"
  threshold           = var.thresholds.market_data_lag_seconds
  treat_missing_data  = "notBreaching"
  alarm_actions       = [aws_sns_topic.this["critical"].arn]
  ok_actions          = [aws_sns_topic.this["critical"].arn]

  tags = var.tags
}

resource "aws_cloudwatch_metric_alarm" "archive_lag" {
  alarm_name          = "${local.alarm_prefix}archive-lag"
  alarm_description   = "The S3 archive is more than ${var.thresholds.archive_lag_days} days behind"
  namespace           = var.metrics_namespace
  metric_name         = "ArchiveLagDays"
  dimensions          = local.platform_dimensions.data_service
  statistic           = "Maximum"
  period              = 3600
  evaluation_periods  = 1
  comparison_operator = "GreaterThanThreshold"
  threshold           = var.thresholds.archive_lag_days
  treat_missing_data  = "notBreaching"
  alarm_actions       = [aws_sns_topic.this["warning"].arn]
  ok_actions          = [aws_sns_topic.this["warning"].arn]

  tags = var.tags
}

################################################################################
# Load balancer
################################################################################

resource "aws_cloudwatch_metric_alarm" "alb_5xx" {
  alarm_name          = "${local.alarm_prefix}alb-5xx"
  alarm_description   = "More than ${var.thresholds.alb_5xx_per_5min} 5xx responses (ALB and targets) in 5 minutes"
  evaluation_periods  = 1
  comparison_operator = "GreaterThanThreshold"
  threshold           = var.thresholds.alb_5xx_per_5min
  treat_missing_data  = "notBreaching"
  alarm_actions       = [aws_sns_topic.this["critical"].arn]
  ok_actions          = [aws_sns_topic.this["critical"].arn]

  metric_query {
    id          = "total"
    expression  = "FILL(elb, 0) + FILL(target, 0)"
    label       = "5xx responses"
    return_data = true
  }

  metric_query {
    id = "elb"

    metric {
      namespace   = "AWS/ApplicationELB"
      metric_name = "HTTPCode_ELB_5XX_Count"
      dimensions  = { LoadBalancer = var.alb_arn_suffix }
      stat        = "Sum"
      period      = 300
    }
  }

  metric_query {
    id = "target"

    metric {
      namespace   = "AWS/ApplicationELB"
      metric_name = "HTTPCode_Target_5XX_Count"
      dimensions  = { LoadBalancer = var.alb_arn_suffix }
      stat        = "Sum"
      period      = 300
    }
  }

  tags = var.tags
}

resource "aws_cloudwatch_metric_alarm" "target_p99" {
  for_each = var.target_group_arn_suffixes

  alarm_name          = "${local.alarm_prefix}${each.key}-p99-latency"
  alarm_description   = "p99 response time of ${each.key} above ${var.thresholds.target_p99_seconds}s for 10 minutes"
  namespace           = "AWS/ApplicationELB"
  metric_name         = "TargetResponseTime"
  dimensions          = { LoadBalancer = var.alb_arn_suffix, TargetGroup = each.value }
  extended_statistic  = "p99"
  period              = 300
  evaluation_periods  = 2
  comparison_operator = "GreaterThanThreshold"
  threshold           = var.thresholds.target_p99_seconds
  treat_missing_data  = "notBreaching"
  alarm_actions       = [aws_sns_topic.this["warning"].arn]
  ok_actions          = [aws_sns_topic.this["warning"].arn]

  tags = var.tags
}

resource "aws_cloudwatch_metric_alarm" "unhealthy_hosts" {
  for_each = var.target_group_arn_suffixes

  alarm_name          = "${local.alarm_prefix}${each.key}-unhealthy-hosts"
  alarm_description   = "${each.key} has targets failing /readyz for 5 minutes"
  namespace           = "AWS/ApplicationELB"
  metric_name         = "UnHealthyHostCount"
  dimensions          = { LoadBalancer = var.alb_arn_suffix, TargetGroup = each.value }
  statistic           = "Maximum"
  period              = 60
  evaluation_periods  = 5
  comparison_operator = "GreaterThanThreshold"
  threshold           = 0
  treat_missing_data  = "notBreaching"
  alarm_actions       = [aws_sns_topic.this["critical"].arn]
  ok_actions          = [aws_sns_topic.this["critical"].arn]

  tags = var.tags
}

################################################################################
# ECS
################################################################################

resource "aws_cloudwatch_metric_alarm" "ecs_cpu" {
  for_each = var.ecs_service_names

  alarm_name          = "${local.alarm_prefix}${each.key}-cpu"
  alarm_description   = "${each.key} CPU above ${var.thresholds.ecs_cpu_percent}% for 15 minutes (autoscaling at its maximum?)"
  namespace           = "AWS/ECS"
  metric_name         = "CPUUtilization"
  dimensions          = { ClusterName = var.cluster_name, ServiceName = each.value }
  statistic           = "Average"
  period              = 300
  evaluation_periods  = 3
  comparison_operator = "GreaterThanThreshold"
  threshold           = var.thresholds.ecs_cpu_percent
  treat_missing_data  = "notBreaching"
  alarm_actions       = [aws_sns_topic.this["warning"].arn]
  ok_actions          = [aws_sns_topic.this["warning"].arn]

  tags = var.tags
}

resource "aws_cloudwatch_metric_alarm" "ecs_memory" {
  for_each = var.ecs_service_names

  alarm_name          = "${local.alarm_prefix}${each.key}-memory"
  alarm_description   = "${each.key} memory above ${var.thresholds.ecs_memory_percent}% for 15 minutes"
  namespace           = "AWS/ECS"
  metric_name         = "MemoryUtilization"
  dimensions          = { ClusterName = var.cluster_name, ServiceName = each.value }
  statistic           = "Average"
  period              = 300
  evaluation_periods  = 3
  comparison_operator = "GreaterThanThreshold"
  threshold           = var.thresholds.ecs_memory_percent
  treat_missing_data  = "notBreaching"
  alarm_actions       = [aws_sns_topic.this["warning"].arn]
  ok_actions          = [aws_sns_topic.this["warning"].arn]

  tags = var.tags
}

################################################################################
# RDS
################################################################################

resource "aws_cloudwatch_metric_alarm" "rds_cpu" {
  alarm_name          = "${local.alarm_prefix}rds-cpu"
  alarm_description   = "Database CPU above ${var.thresholds.rds_cpu_percent}% for 15 minutes"
  namespace           = "AWS/RDS"
  metric_name         = "CPUUtilization"
  dimensions          = { DBInstanceIdentifier = var.rds_instance_id }
  statistic           = "Average"
  period              = 300
  evaluation_periods  = 3
  comparison_operator = "GreaterThanThreshold"
  threshold           = var.thresholds.rds_cpu_percent
  treat_missing_data  = "notBreaching"
  alarm_actions       = [aws_sns_topic.this["critical"].arn]
  ok_actions          = [aws_sns_topic.this["critical"].arn]

  tags = var.tags
}

resource "aws_cloudwatch_metric_alarm" "rds_free_storage" {
  alarm_name          = "${local.alarm_prefix}rds-free-storage"
  alarm_description   = "Database free storage below ${floor(var.thresholds.rds_free_storage_bytes / 1073741824)} GiB"
  namespace           = "AWS/RDS"
  metric_name         = "FreeStorageSpace"
  dimensions          = { DBInstanceIdentifier = var.rds_instance_id }
  statistic           = "Minimum"
  period              = 300
  evaluation_periods  = 1
  comparison_operator = "LessThanThreshold"
  threshold           = var.thresholds.rds_free_storage_bytes
  treat_missing_data  = "notBreaching"
  alarm_actions       = [aws_sns_topic.this["critical"].arn]
  ok_actions          = [aws_sns_topic.this["critical"].arn]

  tags = var.tags
}

resource "aws_cloudwatch_metric_alarm" "rds_connections" {
  alarm_name          = "${local.alarm_prefix}rds-connections"
  alarm_description   = "More than ${var.thresholds.rds_connections} database connections for 10 minutes (pool leak or too many tasks)"
  namespace           = "AWS/RDS"
  metric_name         = "DatabaseConnections"
  dimensions          = { DBInstanceIdentifier = var.rds_instance_id }
  statistic           = "Maximum"
  period              = 300
  evaluation_periods  = 2
  comparison_operator = "GreaterThanThreshold"
  threshold           = var.thresholds.rds_connections
  treat_missing_data  = "notBreaching"
  alarm_actions       = [aws_sns_topic.this["critical"].arn]
  ok_actions          = [aws_sns_topic.this["critical"].arn]

  tags = var.tags
}

################################################################################
# Dashboard
################################################################################

locals {
  region = data.aws_region.current.name

  dashboard_widgets = [
    {
      type = "metric", x = 0, y = 0, width = 8, height = 6
      properties = {
        title  = "Trading: halt, heartbeat, orders, risk rejects"
        region = local.region
        stat   = "Sum"
        period = 60
        metrics = [
          [var.metrics_namespace, "HaltActive", "Service", "engine", "Environment", var.environment, { stat = "Maximum" }],
          [var.metrics_namespace, "EngineHeartbeat", "Service", "engine", "Environment", var.environment],
          [var.metrics_namespace, "OrdersSubmitted", "Service", "engine", "Environment", var.environment],
          [var.metrics_namespace, "RiskRejects", "Service", "engine", "Environment", var.environment],
        ]
      }
    },
    {
      type = "metric", x = 8, y = 0, width = 8, height = 6
      properties = {
        title  = "Data: market-data lag (s), archive lag (days)"
        region = local.region
        stat   = "Maximum"
        period = 60
        metrics = [
          [var.metrics_namespace, "MarketDataLagSeconds", "Service", "data-service", "Environment", var.environment],
          [var.metrics_namespace, "ArchiveLagDays", "Service", "data-service", "Environment", var.environment, { yAxis = "right" }],
        ]
      }
    },
    {
      type = "metric", x = 16, y = 0, width = 8, height = 6
      properties = {
        title  = "ALB: requests and 5xx"
        region = local.region
        stat   = "Sum"
        period = 60
        metrics = [
          ["AWS/ApplicationELB", "RequestCount", "LoadBalancer", var.alb_arn_suffix],
          ["AWS/ApplicationELB", "HTTPCode_ELB_5XX_Count", "LoadBalancer", var.alb_arn_suffix, { yAxis = "right" }],
          ["AWS/ApplicationELB", "HTTPCode_Target_5XX_Count", "LoadBalancer", var.alb_arn_suffix, { yAxis = "right" }],
        ]
      }
    },
    {
      type = "metric", x = 0, y = 6, width = 8, height = 6
      properties = {
        title   = "Target p99 latency (s)"
        region  = local.region
        stat    = "p99"
        period  = 60
        metrics = [for k, tg in var.target_group_arn_suffixes : ["AWS/ApplicationELB", "TargetResponseTime", "LoadBalancer", var.alb_arn_suffix, "TargetGroup", tg, { label = k }]]
      }
    },
    {
      type = "metric", x = 8, y = 6, width = 8, height = 6
      properties = {
        title  = "ECS CPU / memory (%)"
        region = local.region
        stat   = "Average"
        period = 60
        metrics = concat(
          [for k, s in var.ecs_service_names : ["AWS/ECS", "CPUUtilization", "ClusterName", var.cluster_name, "ServiceName", s, { label = "${k} cpu" }]],
          [for k, s in var.ecs_service_names : ["AWS/ECS", "MemoryUtilization", "ClusterName", var.cluster_name, "ServiceName", s, { label = "${k} memory" }]],
        )
      }
    },
    {
      type = "metric", x = 16, y = 6, width = 8, height = 6
      properties = {
        title  = "RDS: CPU, connections, free storage"
        region = local.region
        stat   = "Average"
        period = 60
        metrics = [
          ["AWS/RDS", "CPUUtilization", "DBInstanceIdentifier", var.rds_instance_id],
          ["AWS/RDS", "DatabaseConnections", "DBInstanceIdentifier", var.rds_instance_id],
          ["AWS/RDS", "FreeStorageSpace", "DBInstanceIdentifier", var.rds_instance_id, { yAxis = "right" }],
        ]
      }
    },
  ]
}

resource "aws_cloudwatch_dashboard" "this" {
  dashboard_name = var.name
  dashboard_body = jsonencode({ widgets = local.dashboard_widgets })
}
