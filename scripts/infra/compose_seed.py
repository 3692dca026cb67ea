"""Seed the moto emulator of docker-compose.yml with what Terraform creates in AWS:
the archive bucket and the named secrets under SECRETS_PREFIX (local, non-secret values).

Usage: python compose_seed.py ENDPOINT_URL [MARKER_FILE]   (waits for the endpoint first)
"""

import json
import sys
import time
import urllib.request

import boto3

ENDPOINT = sys.argv[1]
MARKER = sys.argv[2] if len(sys.argv) > 2 else None
REGION = "us-east-1"
PREFIX = "halyard/local/"
BUCKET = "halyard-local-archive"
SECRETS = {
    f"{PREFIX}broker/paper": json.dumps({"api_key": "paper-key", "api_secret": "paper-secret"}),
    f"{PREFIX}webhook/tradingview": "local-webhook-passphrase",
    f"{PREFIX}api-signing-key": "local-api-signing-key-not-for-production-use-0123456789",
}

for _ in range(150):
    try:
        urllib.request.urlopen(f"{ENDPOINT}/moto-api/data.json", timeout=2).read()
        break
    except Exception:
        time.sleep(0.2)
else:
    sys.exit(f"moto did not answer on {ENDPOINT}")

kw = dict(endpoint_url=ENDPOINT, region_name=REGION, aws_access_key_id="test", aws_secret_access_key="test")
boto3.client("s3", **kw).create_bucket(Bucket=BUCKET)
sm = boto3.client("secretsmanager", **kw)
for name, value in SECRETS.items():
    sm.create_secret(Name=name, SecretString=value)
print(f"seeded s3://{BUCKET} and {len(SECRETS)} secrets under {PREFIX}", flush=True)
if MARKER:
    open(MARKER, "w").close()
