# Dev: one NAT gateway, single-AZ database without deletion protection, short log retention.
# Apply from terraform/: terraform apply -var-file=../environments/dev.tfvars
# (TF_VAR_image_tag=<git sha> is set by the deploy pipeline; see docs/deployment.md.)
environment      = "dev"
vpc_cidr         = "10.40.0.0/16"
nat_gateway_mode = "single"

domain_name     = "dev.halyard.example.com"
certificate_arn = null # request one for domain_name
route53_zone_id = null # set to have the certificate validated and the alias record created

waf = {
  enabled = true
}

services = {
  engine         = { cpu = 512, memory = 1024, min = 1, max = 2 }
  "data-service" = { cpu = 512, memory = 1024, min = 1, max = 2 }
  dashboard      = { cpu = 256, memory = 512, min = 1, max = 2 }
}

rust_log           = "info,engine=debug,data_service=debug"
log_retention_days = 14

database = {
  instance_class        = "db.t4g.micro"
  allocated_storage     = 20
  max_allocated_storage = 50
  multi_az              = false
  backup_retention_days = 7
  deletion_protection   = false
  skip_final_snapshot   = true
  apply_immediately     = true
}

broker_accounts = ["paper"]
webhook_sources = ["tradingview"]

# The engine's venue as engine/src/configuration.rs reads it today: one venue per deployment
# (per-account venues are issue 16). Alpaca: { kind = "alpaca", broker_account = "paper",
# alpaca_trading = "paper" } (ALPACA_BASE_URL and ALPACA_STREAM_URL follow alpaca_trading).
# Binance Spot: { kind = "binance", broker_account = "paper", binance_network = "testnet" }.
engine_venue = { kind = "paper" }

# Data-service feeds (FEEDS). Synthetic prices keep paper trading alive without a venue feed.
market_data = {
  feeds             = ["synthetic"]
  synthetic_symbols = ["BTCUSD", "ETHUSD", "AAPL"]
}

alarm_emails = {
  critical = ["halyard-oncall@example.com"]
  warning  = ["halyard-dev@example.com"]
}

github = {
  repository           = "halyard-trading/halyard"
  environment          = "dev"
  create_oidc_provider = true
}

terraform_state_bucket = "halyard-terraform-state"
