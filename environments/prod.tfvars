# Prod: NAT per AZ, Multi-AZ database with 30-day backups and deletion protection, one-year logs.
# Apply from terraform/: terraform apply -var-file=../environments/prod.tfvars
environment      = "prod"
vpc_cidr         = "10.42.0.0/16"
nat_gateway_mode = "per_az"

domain_name     = "halyard.example.com"
certificate_arn = null
route53_zone_id = null

waf = {
  enabled             = true
  rate_limit_per_5min = 2000
}

services = {
  engine         = { cpu = 1024, memory = 2048, min = 2, max = 6 }
  "data-service" = { cpu = 1024, memory = 2048, min = 2, max = 4 }
  dashboard      = { cpu = 512, memory = 1024, min = 2, max = 4 }
}

rust_log           = "info"
log_retention_days = 365

database = {
  instance_class        = "db.m7g.large"
  allocated_storage     = 100
  max_allocated_storage = 1000
  multi_az              = true
  backup_retention_days = 30
  deletion_protection   = true
  skip_final_snapshot   = false
}

broker_accounts = ["live"]
webhook_sources = ["tradingview"]

# The engine's venue as engine/src/configuration.rs reads it today: one venue per deployment
# (per-account venues are issue 16). Live trading, once the "live" secret holds the keys:
# { kind = "alpaca", broker_account = "live", alpaca_trading = "live" }.
engine_venue = { kind = "paper" }

# Data-service feeds (FEEDS): Binance's public trade streams. Each feed runs on the one
# data-service task holding its lease (feed_lease); the others take over if that task dies.
market_data = {
  feeds           = ["binance"]
  binance_symbols = ["BTCUSDT", "ETHUSDT"]
}

alarm_emails = {
  critical = ["halyard-oncall@example.com"]
  warning  = ["halyard-team@example.com"]
}

github = {
  repository           = "halyard-trading/halyard"
  environment          = "production"
  create_oidc_provider = true
}

terraform_state_bucket = "halyard-terraform-state"
