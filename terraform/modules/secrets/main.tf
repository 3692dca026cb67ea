# Named application secrets. Values generated here never enter the Terraform state:
# an ephemeral random password is written through the write-only `secret_string_wo`.
# Bumping `generated_secrets_version` writes fresh values (rotation).

data "aws_caller_identity" "current" {}
data "aws_partition" "current" {}
data "aws_region" "current" {}

################################################################################
# Broker keys: containers only, the value comes from the broker
################################################################################

resource "aws_secretsmanager_secret" "broker" {
  #checkov:skip=CKV2_AWS_57:Broker API keys are issued by the broker; they are rotated by the operator (runbook), not by a Lambda.
  for_each = toset(var.broker_key_names)

  name                    = "${var.prefix}broker/${each.key}"
  description             = "Broker API credentials for ${each.key} (JSON), put by an operator"
  kms_key_id              = var.kms_key_arn
  recovery_window_in_days = var.recovery_window_in_days

  tags = var.tags
}

################################################################################
# The dashboard's engine API token: injected into the dashboard's container by ECS
################################################################################

resource "aws_secretsmanager_secret" "dashboard_engine_token" {
  #checkov:skip=CKV2_AWS_57:The token is issued by the engine (`engine token create --name dashboard`, only its hash is stored there) and put here by the operator; rotating it is that same operator step, not a Lambda.
  name                    = "${var.prefix}dashboard/engine-api-token"
  description             = "Engine API token the dashboard acts with (ENGINE_API_TOKEN), put by an operator"
  kms_key_id              = var.kms_key_arn
  recovery_window_in_days = var.recovery_window_in_days

  tags = var.tags
}

################################################################################
# Webhook passphrases
################################################################################

resource "aws_secretsmanager_secret" "webhook" {
  #checkov:skip=CKV2_AWS_57:The passphrase is also configured in the webhook sender (TradingView alerts), so rotation is a coordinated operator step (bump generated_secrets_version), not an automatic Lambda.
  for_each = toset(var.webhook_passphrase_names)

  name                    = "${var.prefix}webhook/${each.key}"
  description             = "Passphrase expected in ${each.key} webhook bodies"
  kms_key_id              = var.kms_key_arn
  recovery_window_in_days = var.recovery_window_in_days

  tags = var.tags
}

ephemeral "aws_secretsmanager_random_password" "webhook" {
  for_each = toset(var.webhook_passphrase_names)

  password_length     = 40
  exclude_punctuation = true
}

resource "aws_secretsmanager_secret_version" "webhook" {
  for_each = toset(var.webhook_passphrase_names)

  secret_id                = aws_secretsmanager_secret.webhook[each.key].id
  secret_string_wo         = ephemeral.aws_secretsmanager_random_password.webhook[each.key].random_password
  secret_string_wo_version = var.generated_secrets_version
}

################################################################################
# API signing key (HMAC key for the bearer tokens of the engine API)
################################################################################

resource "aws_secretsmanager_secret" "api_signing_key" {
  #checkov:skip=CKV2_AWS_57:Rotating the signing key invalidates every issued token, so it is an operator step (bump generated_secrets_version), not an automatic Lambda.
  name                    = "${var.prefix}api-signing-key"
  description             = "HMAC key signing the engine API bearer tokens"
  kms_key_id              = var.kms_key_arn
  recovery_window_in_days = var.recovery_window_in_days

  tags = var.tags
}

ephemeral "aws_secretsmanager_random_password" "api_signing_key" {
  password_length     = 64
  exclude_punctuation = true
}

resource "aws_secretsmanager_secret_version" "api_signing_key" {
  secret_id                = aws_secretsmanager_secret.api_signing_key.id
  secret_string_wo         = ephemeral.aws_secretsmanager_random_password.api_signing_key.random_password
  secret_string_wo_version = var.generated_secrets_version
}
