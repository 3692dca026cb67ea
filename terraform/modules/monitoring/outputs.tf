output "critical_topic_arn" {
  description = "SNS topic of the critical alarms (pages on-call)"
  value       = aws_sns_topic.this["critical"].arn
}

output "warning_topic_arn" {
  description = "SNS topic of the warning alarms"
  value       = aws_sns_topic.this["warning"].arn
}

output "alarm_names" {
  description = "Names of every alarm this module manages"
  value = concat(
    [
      aws_cloudwatch_metric_alarm.halt_active.alarm_name,
      aws_cloudwatch_metric_alarm.engine_heartbeat.alarm_name,
      aws_cloudwatch_metric_alarm.risk_reject_rate.alarm_name,
      aws_cloudwatch_metric_alarm.market_data_lag.alarm_name,
      aws_cloudwatch_metric_alarm.archive_lag.alarm_name,
      aws_cloudwatch_metric_alarm.alb_5xx.alarm_name,
      aws_cloudwatch_metric_alarm.rds_cpu.alarm_name,
      aws_cloudwatch_metric_alarm.rds_free_storage.alarm_name,
      aws_cloudwatch_metric_alarm.rds_connections.alarm_name,
    ],
    [for a in aws_cloudwatch_metric_alarm.target_p99 : a.alarm_name],
    [for a in aws_cloudwatch_metric_alarm.unhealthy_hosts : a.alarm_name],
    [for a in aws_cloudwatch_metric_alarm.ecs_cpu : a.alarm_name],
    [for a in aws_cloudwatch_metric_alarm.ecs_memory : a.alarm_name],
  )
}

output "dashboard_name" {
  description = "Name of the CloudWatch dashboard"
  value       = aws_cloudwatch_dashboard.this.dashboard_name
}
