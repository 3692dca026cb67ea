# The services' environment variables come from deploy/settings.json, the one list of every
# variable each binary reads (docker-compose and `make demo` are checked against the same file
# by scripts/infra/check_settings.py). Here the manifest's `ecs` target of each setting becomes
# the task definition's environment (plain values) or secrets (injected by ECS from Secrets
# Manager when the manifest marks the value itself a secret). A setting names either a constant
# (`value`) or one of the values below (`from`); an unknown `from` fails the plan, and a `from`
# that is null here (a `when` setting whose condition is off) is left out of the task.

locals {
  settings = jsondecode(file("${path.root}/../deploy/settings.json"))

  # Ports and Service Connect names are the manifest's, so URLs and listeners cannot disagree.
  service_ports = { for svc, spec in local.settings.services : svc => spec.port }
  service_urls = {
    for svc, spec in local.settings.services : svc => "http://${spec.service_connect_dns_name}:${spec.port}"
    if spec.service_connect_dns_name != null
  }

  alpaca_endpoints = {
    paper = { base_url = "https://paper-api.alpaca.markets", stream_url = "wss://paper-api.alpaca.markets/stream" }
    live  = { base_url = "https://api.alpaca.markets", stream_url = "wss://api.alpaca.markets/stream" }
  }
  alpaca = var.engine_venue.kind == "alpaca" ? local.alpaca_endpoints[var.engine_venue.alpaca_trading] : null

  binance_endpoints = {
    testnet = { base_url = "https://testnet.binance.vision", ws_api_url = "wss://ws-api.testnet.binance.vision/ws-api/v3" }
    live    = { base_url = "https://api.binance.com", ws_api_url = "wss://ws-api.binance.com:443/ws-api/v3" }
  }
  binance = var.engine_venue.kind == "binance" ? local.binance_endpoints[var.engine_venue.binance_network] : null
  broker_secret_arn = (
    var.engine_venue.kind == "paper" ? null : module.secrets.broker_secret_arns[var.engine_venue.broker_account]
  )

  setting_values_common = {
    environment        = var.environment
    region             = local.region
    rust_log           = var.rust_log
    metrics_namespace  = local.metrics_namespace
    database_secret_id = local.db_secret_arn
    database_host      = module.rds.address
    database_port      = tostring(module.rds.port)
    database_name      = module.rds.database_name
    archive_bucket     = module.s3_archive.bucket_id
    # Inside the VPC through Service Connect (modules/service-connect), not through the ALB.
    engine_url       = local.service_urls.engine
    data_service_url = local.service_urls["data-service"]
    # Engine venue (what engine/src/configuration.rs reads today: one venue per deployment).
    venue              = var.engine_venue.kind
    alpaca_base_url    = try(local.alpaca.base_url, null)
    alpaca_stream_url  = try(local.alpaca.stream_url, null)
    alpaca_secret_id   = var.engine_venue.kind == "alpaca" ? local.broker_secret_arn : null
    binance_base_url   = try(local.binance.base_url, null)
    binance_ws_api_url = try(local.binance.ws_api_url, null)
    binance_secret_id  = var.engine_venue.kind == "binance" ? local.broker_secret_arn : null
    # Accounts with their own broker account (engine ACCOUNTS).
    accounts = length(var.engine_accounts) == 0 ? null : jsonencode({
      for name, a in var.engine_accounts : name => merge(
        { venue = a.venue, secret_id = module.secrets.broker_secret_arns[a.broker_account] },
        a.venue == "alpaca" ? { trading = a.alpaca_trading } : { network = a.binance_network },
      )
    })
    signal_hmac_secret_id = (
      var.engine_webhook_hmac_source == null ? null : module.secrets.webhook_secret_arns[var.engine_webhook_hmac_source]
    )
    # Data-service feeds.
    feeds                      = join(",", var.market_data.feeds)
    synthetic_symbols          = var.market_data.synthetic_symbols == null ? null : join(",", var.market_data.synthetic_symbols)
    synthetic_ticks_per_second = var.market_data.synthetic_ticks_per_second == null ? null : tostring(var.market_data.synthetic_ticks_per_second)
    binance_symbols            = var.market_data.binance_symbols == null ? null : join(",", var.market_data.binance_symbols)
    # Dashboard: injected by ECS from Secrets Manager (the value is a credential).
    engine_api_token_secret_arn = module.secrets.dashboard_engine_token_secret_arn
  }

  setting_values = {
    for svc, port in local.service_ports : svc => merge(local.setting_values_common, {
      listen_addr = "0.0.0.0:${port}"
    })
  }

  # Whether a conditional value (a manifest `when`) is set, from variables only: the values are
  # ARNs unknown until apply, and which variables a task gets must be known at plan time.
  setting_enabled = {
    alpaca_base_url            = var.engine_venue.kind == "alpaca"
    alpaca_stream_url          = var.engine_venue.kind == "alpaca"
    alpaca_secret_id           = var.engine_venue.kind == "alpaca"
    binance_base_url           = var.engine_venue.kind == "binance"
    binance_ws_api_url         = var.engine_venue.kind == "binance"
    binance_secret_id          = var.engine_venue.kind == "binance"
    accounts                   = length(var.engine_accounts) > 0
    signal_hmac_secret_id      = var.engine_webhook_hmac_source != null
    synthetic_symbols          = var.market_data.synthetic_symbols != null
    synthetic_ticks_per_second = var.market_data.synthetic_ticks_per_second != null
    binance_symbols            = var.market_data.binance_symbols != null
  }

  # service => [{ name, secret, value }] for every setting with an ECS target that is on. A
  # manifest `when` whose value has no entry in setting_enabled fails the plan here.
  ecs_settings = {
    for svc, spec in local.settings.services : svc => [
      for s in spec.settings : {
        name   = s.name
        secret = s.secret
        value  = try(s.ecs.value, null) != null ? s.ecs.value : local.setting_values[svc][s.ecs.from]
      } if try(s.ecs, null) != null && (try(s.ecs.when, null) == null ? true : local.setting_enabled[s.ecs.from])
    ]
  }

  service_environment = {
    for svc, list in local.ecs_settings : svc => { for s in list : s.name => s.value if !s.secret }
  }
  service_secrets = {
    for svc, list in local.ecs_settings : svc => { for s in list : s.name => s.value if s.secret }
  }
}
