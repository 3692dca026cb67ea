# Staging: production-shaped (NAT per AZ, Multi-AZ database) at smaller sizes.
# Apply from terraform/: terraform apply -var-file=../environments/staging.tfvars
environment      = "staging"
vpc_cidr         = "10.41.0.0/16"
nat_gateway_mode = "per_az"

domain_name     = "staging.halyard.example.com"
certificate_arn = null
route53_zone_id = null

waf = {
  enabled = true
}

services = {
  engine         = { cpu = 512, memory = 1024, min = 2, max = 3 }
  "data-service" = { cpu = 512, memory = 1024, min = 2, max = 3 }
  dashboard      = { cpu = 256, memory = 512, min = 1, max = 2 }
}

rust_log           = "info"
log_retention_days = 90

database = {
  instance_class        = "db.t4g.small"
  allocated_storage     = 50
  max_allocated_storage = 200
  multi_az              = true
  backup_retention_days = 14
  deletion_protection   = true
  skip_final_snapshot   = false
}

broker_accounts = ["paper"]
webhook_sources = ["tradingview"]

# The engine's venue as engine/src/configuration.rs reads it today: one venue per deployment
# (per-account venues are issue 16). Alpaca's paper environment with the "paper" keys:
# { kind = "alpaca", broker_account = "paper", alpaca_trading = "paper" }.
engine_venue = { kind = "paper" }

# Data-service feeds (FEEDS): Binance's public trade streams. Each feed runs on the one
# data-service task holding its lease (feed_lease); the others take over if that task dies.
market_data = {
  feeds           = ["binance"]
  binance_symbols = ["BTCUSDT", "ETHUSDT"]
}

alarm_emails = {
  critical = ["halyard-oncall@example.com"]
  warning  = ["halyard-dev@example.com"]
}

github = {
  repository = "halyard-trading/halyard"
  # The OIDC provider is per account; dev created it when both share an account.
  environment          = "staging"
  create_oidc_provider = false
}

terraform_state_bucket = "halyard-terraform-state"
