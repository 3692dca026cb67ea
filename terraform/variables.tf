################################################################################
# Environment
################################################################################

variable "environment" {
  description = "Environment name; also HALYARD_ENVIRONMENT of the services"
  type        = string
  nullable    = false

  validation {
    condition     = contains(["dev", "staging", "prod"], var.environment)
    error_message = "environment must be dev, staging or prod."
  }
}

variable "project" {
  description = "Project name, prefix of every resource name"
  type        = string
  default     = "halyard"
  nullable    = false
}

variable "aws_region" {
  description = "Region to deploy to; null takes it from AWS_REGION or the AWS profile"
  type        = string
  default     = null
}

variable "image_tag" {
  description = "Image tag deployed for every service: the git SHA the pipeline built and pushed (TF_VAR_image_tag)"
  type        = string
  nullable    = false

  validation {
    condition     = can(regex("^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$", var.image_tag))
    error_message = "image_tag must be a valid Docker tag."
  }
}

################################################################################
# Network and edge
################################################################################

variable "vpc_cidr" {
  description = "IPv4 CIDR of the VPC"
  type        = string
  default     = "10.40.0.0/16"
  nullable    = false
}

variable "nat_gateway_mode" {
  description = "\"single\" NAT gateway (dev) or one \"per_az\" (staging, prod)"
  type        = string
  default     = "per_az"
  nullable    = false
}

variable "domain_name" {
  description = "Public host name of the platform (certificate, dashboard and API URL)"
  type        = string
  nullable    = false
}

variable "certificate_arn" {
  description = "Existing ACM certificate for domain_name; null requests one"
  type        = string
  default     = null
}

variable "route53_zone_id" {
  description = "Hosted zone of domain_name; when set, certificate validation and the alias record are managed here"
  type        = string
  default     = null
}

variable "alb_ingress_cidrs" {
  description = "Client CIDRs allowed to reach the load balancer"
  type        = list(string)
  default     = ["0.0.0.0/0"]
  nullable    = false
}

variable "waf" {
  description = "WAF settings of the ALB (see modules/alb): enabled, per-IP rate limit, webhook path and its allowed sources"
  type = object({
    enabled              = optional(bool, true)
    rate_limit_per_5min  = optional(number, 2000)
    webhook_path_prefix  = optional(string, "/api/v1/signals/tradingview")
    webhook_source_cidrs = optional(list(string), ["52.89.214.238/32", "34.212.75.30/32", "54.218.53.128/32", "52.32.178.7/32"])
  })
  default  = {}
  nullable = false
}

################################################################################
# Services
################################################################################

variable "services" {
  description = "Fargate size and task-count range per service (engine, data-service, dashboard); strategy leases in Postgres let any engine task own any strategy"
  type = map(object({
    cpu    = optional(number, 512)
    memory = optional(number, 1024)
    min    = optional(number, 1)
    max    = optional(number, 2)
  }))
  default  = {}
  nullable = false

  validation {
    condition     = alltrue([for k in keys(var.services) : contains(["engine", "data-service", "dashboard"], k)])
    error_message = "services keys must be engine, data-service or dashboard."
  }
}

variable "rust_log" {
  description = "RUST_LOG filter of the services"
  type        = string
  default     = "info"
  nullable    = false
}

variable "log_retention_days" {
  description = "Retention of every log group (services, flow logs, WAF, RDS, ECS Exec), in days"
  type        = number
  default     = 365
  nullable    = false

  validation {
    condition     = contains([1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653], var.log_retention_days)
    error_message = "log_retention_days must be a value CloudWatch Logs accepts."
  }
}

################################################################################
# Database
################################################################################

variable "database" {
  description = "RDS instance settings that differ per environment (see modules/rds `instance`)"
  type = object({
    instance_class        = optional(string, "db.t4g.small")
    allocated_storage     = optional(number, 20)
    max_allocated_storage = optional(number, 100)
    multi_az              = optional(bool, true)
    backup_retention_days = optional(number, 30)
    deletion_protection   = optional(bool, true)
    skip_final_snapshot   = optional(bool, false)
    performance_insights  = optional(bool, true)
    monitoring_interval   = optional(number, 60)
    apply_immediately     = optional(bool, false)
  })
  default  = {}
  nullable = false
}

################################################################################
# Secrets
################################################################################

variable "broker_accounts" {
  description = "Broker accounts whose API credentials are kept in Secrets Manager (values put by an operator)"
  type        = list(string)
  default     = []
  nullable    = false
}

variable "webhook_sources" {
  description = "Webhook senders, each with a generated passphrase"
  type        = list(string)
  default     = ["tradingview"]
  nullable    = false
}

variable "engine_venue" {
  description = "Where the engine sends orders, as engine/src/configuration.rs reads it today (one venue per deployment; per-account venues are issue 16): kind \"paper\" (VENUE=paper, fills against live ticks), \"alpaca\" or \"binance\" (Binance Spot) with broker_account (one of broker_accounts: its secret holds the keys, {\"key_id\", \"secret_key\"} for Alpaca or {\"api_key\", \"secret_key\"} for Binance, put by an operator before the apply). alpaca_trading \"paper\" or \"live\" sets ALPACA_BASE_URL and ALPACA_STREAM_URL together; binance_network \"testnet\" or \"live\" sets BINANCE_BASE_URL and BINANCE_WS_API_URL together, so keys, REST and stream always point at the same environment"
  type = object({
    kind            = optional(string, "paper")
    broker_account  = optional(string)
    alpaca_trading  = optional(string, "paper")
    binance_network = optional(string, "testnet")
  })
  default  = {}
  nullable = false

  validation {
    condition     = contains(["paper", "alpaca", "binance"], var.engine_venue.kind)
    error_message = "engine_venue.kind must be paper, alpaca or binance."
  }

  validation {
    condition     = contains(["paper", "live"], var.engine_venue.alpaca_trading)
    error_message = "engine_venue.alpaca_trading must be paper (paper-api.alpaca.markets) or live (api.alpaca.markets)."
  }

  validation {
    condition     = contains(["testnet", "live"], var.engine_venue.binance_network)
    error_message = "engine_venue.binance_network must be testnet (testnet.binance.vision) or live (api.binance.com)."
  }

  validation {
    condition     = var.engine_venue.kind == "paper" || contains(var.broker_accounts, coalesce(var.engine_venue.broker_account, "-"))
    error_message = "engine_venue.kind = alpaca or binance needs broker_account, one of broker_accounts (its secret holds the venue's keys)."
  }

  validation {
    condition     = var.engine_venue.kind != "paper" || var.engine_venue.broker_account == null
    error_message = "engine_venue.broker_account is only used with kind = alpaca or binance."
  }
}

variable "engine_accounts" {
  description = "Trading accounts with their own broker account, beside engine_venue (where every other account trades): account name => { venue = \"alpaca\" or \"binance\", broker_account (one of broker_accounts: its secret holds the venue's keys), alpaca_trading (\"paper\"/\"live\") or binance_network (\"testnet\"/\"live\") }. Becomes the engine's ACCOUNTS; shown by the engine_accounts output and the dashboard's Accounts table"
  type = map(object({
    venue           = string
    broker_account  = string
    alpaca_trading  = optional(string, "paper")
    binance_network = optional(string, "testnet")
  }))
  default  = {}
  nullable = false

  validation {
    condition     = alltrue([for name, a in var.engine_accounts : can(regex("^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$", name))])
    error_message = "engine_accounts names must be 1 to 64 letters, digits, '.', '_' or '-'."
  }

  validation {
    condition     = alltrue([for a in values(var.engine_accounts) : contains(["alpaca", "binance"], a.venue)])
    error_message = "engine_accounts venue must be alpaca or binance (paper is engine_venue's default)."
  }

  validation {
    condition     = alltrue([for a in values(var.engine_accounts) : contains(var.broker_accounts, a.broker_account)])
    error_message = "engine_accounts broker_account must be one of broker_accounts (its secret holds the venue's keys)."
  }

  validation {
    condition = alltrue([for a in values(var.engine_accounts) :
    contains(["paper", "live"], a.alpaca_trading) && contains(["testnet", "live"], a.binance_network)])
    error_message = "engine_accounts alpaca_trading must be paper or live; binance_network must be testnet or live."
  }
}

variable "market_data" {
  description = "The data-service's feeds (FEEDS: synthetic, binance, or none) and their symbols (SYNTHETIC_SYMBOLS, SYNTHETIC_TICKS_PER_SECOND, BINANCE_SYMBOLS; null keeps the binary's default)"
  type = object({
    feeds                      = list(string)
    synthetic_symbols          = optional(list(string))
    synthetic_ticks_per_second = optional(number)
    binance_symbols            = optional(list(string))
  })
  default  = { feeds = ["none"] }
  nullable = false

  validation {
    condition     = length(var.market_data.feeds) > 0 && alltrue([for f in var.market_data.feeds : contains(["synthetic", "binance", "none"], f)])
    error_message = "market_data.feeds must list synthetic, binance, or just none."
  }

  validation {
    condition     = !contains(var.market_data.feeds, "none") || length(var.market_data.feeds) == 1
    error_message = "market_data.feeds: none cannot be combined with a feed."
  }

  validation {
    condition = alltrue([
      for list in [var.market_data.synthetic_symbols, var.market_data.binance_symbols] :
      list == null ? true : length(list) > 0 && alltrue([for s in list : can(regex("^[A-Za-z0-9._/:-]{1,32}$", s))])
    ])
    error_message = "market_data symbols must be non-empty lists of symbols (letters, digits, . _ / : -)."
  }

  validation {
    condition     = var.market_data.synthetic_ticks_per_second == null ? true : var.market_data.synthetic_ticks_per_second >= 1 && var.market_data.synthetic_ticks_per_second <= 1000000
    error_message = "market_data.synthetic_ticks_per_second must be between 1 and 1000000."
  }
}

variable "engine_webhook_hmac_source" {
  description = "Webhook source (one of webhook_sources) whose generated secret must sign every webhook body (SIGNAL_HMAC_SECRET_ID, header X-Halyard-Signature). TradingView cannot sign its alerts: keep null when it sends them (its per-strategy passphrase is checked instead)"
  type        = string
  default     = null

  validation {
    condition     = var.engine_webhook_hmac_source == null || can(regex("^[a-z0-9-]+$", var.engine_webhook_hmac_source))
    error_message = "engine_webhook_hmac_source must be null or a webhook source name listed in webhook_sources."
  }
}

variable "generated_secrets_version" {
  description = "Increment to rotate the generated secrets (webhook passphrases, API signing key) on the next apply"
  type        = number
  default     = 1
  nullable    = false
}

################################################################################
# Alarms and CI
################################################################################

variable "alarm_emails" {
  description = "Who the alarms notify: critical (pages on-call) and warning"
  type = object({
    critical = optional(list(string), [])
    warning  = optional(list(string), [])
  })
  default  = {}
  nullable = false
}

variable "github" {
  description = "GitHub Actions OIDC deploy roles: repository \"owner/name\", the GitHub environment allowed to deploy, whether to create the account's OIDC provider; null skips the roles"
  type = object({
    repository           = string
    environment          = string
    create_oidc_provider = optional(bool, true)
  })
  default = null
}

variable "terraform_state_bucket" {
  description = "Bucket of the Terraform state, granted to the GitHub roles; null when the roles get it elsewhere"
  type        = string
  default     = null
}
