"""schemathesis hooks for scripts/fuzz.sh (loaded through SCHEMATHESIS_HOOKS=hooks).

Random bodies almost never get past authentication: a random strategy name is unknown (404), a
random passphrase wrong (401), a form without the session's CSRF token refused (403). So:
- webhook alerts (POST /api/v1/signals/tradingview): most generated bodies get the real strategy
  and passphrase (FUZZ_STRATEGY, FUZZ_PASSPHRASE), and most of those a real symbol, action,
  quantity, a fresh time and alert id, so they are stored and traded; the rest stay as
  generated. Each request is then signed as the engine requires (X-Halyard-Signature, HMAC-SHA256
  of the exact body with FUZZ_HMAC_SECRET), except one in eight, left unsigned on purpose.
- dashboard form posts: most get the session's CSRF token (FUZZ_CSRF), except /logout (it would
  end the session the rest of the run uses) and /login (its token comes with its own cookie).
Which variant a case gets is derived from the generated value itself (crc32), so a seed gives
the same run.
"""
import datetime
import hashlib
import hmac
import itertools
import json
import os
import zlib

import schemathesis

WEBHOOK = "/api/v1/signals/tradingview"
STRATEGY = os.environ.get("FUZZ_STRATEGY", "")
PASSPHRASE = os.environ.get("FUZZ_PASSPHRASE", "")
SYMBOLS = [s for s in os.environ.get("FUZZ_SYMBOLS", "").split(",") if s]
SECRET = os.environ.get("FUZZ_HMAC_SECRET", "").encode()
CSRF = os.environ.get("FUZZ_CSRF", "")
QUANTITIES = ["1", "0.5", 2, "0.00000001", "3.25"]
ACTIONS = ["buy", "sell", "exit"]
alert_ids = itertools.count(1)


def _path(ctx) -> str:
    return ctx.operation.path if ctx.operation is not None else ""


def _method(ctx) -> str:
    return ctx.operation.method.lower() if ctx.operation is not None else ""


def _variant(value, modulo: int) -> int:
    return zlib.crc32(repr(value).encode()) % modulo


def _webhook_body(body):
    if not isinstance(body, dict):
        return body
    variant = _variant(body, 8)
    if variant == 0:
        return body  # as generated: unknown strategies, wrong passphrases, odd shapes
    body = dict(body)
    body["strategy"] = STRATEGY
    body["passphrase"] = PASSPHRASE
    if variant >= 3:
        # A well-formed alert: stored, queued and traded by the strategy.
        body["ticker"] = SYMBOLS[variant % len(SYMBOLS)]
        body["action"] = ACTIONS[variant % len(ACTIONS)]
        body["quantity"] = QUANTITIES[variant % len(QUANTITIES)]
        body.pop("price", None)
        body["time"] = datetime.datetime.now(datetime.timezone.utc).isoformat()
        body["alert_id"] = f"fuzz-{next(alert_ids)}"
    return body


@schemathesis.hook
def map_body(ctx, body):
    path = _path(ctx)
    if path == WEBHOOK and STRATEGY:
        return _webhook_body(body)
    if (
        CSRF
        and isinstance(body, dict)
        and _method(ctx) == "post"
        and not path.startswith("/api/")
        and path not in ("/login", "/logout")
        and _variant(body, 4) != 0
    ):
        return {**body, "csrf": CSRF}
    return body


def _wire_bytes(body) -> bytes:
    """The bytes the requests transport sends for a JSON body (json.dumps, as requests does)."""
    if isinstance(body, bytes):
        return body
    if body is None:
        return b"null"
    return json.dumps(body, allow_nan=False).encode("utf-8")


@schemathesis.hook
def before_call(ctx, case, kwargs):
    if _path(ctx) != WEBHOOK or not SECRET:
        return
    try:
        raw = _wire_bytes(case.body)
    except (TypeError, ValueError):
        return  # not JSON: sent unsigned, refused with 401 or 400
    if _variant(raw, 8) == 7:
        return  # unsigned on purpose: must be 401
    signature = hmac.new(SECRET, raw, hashlib.sha256).hexdigest()
    headers = dict(case.headers or {})
    headers["X-Halyard-Signature"] = f"sha256={signature}"
    case.headers = headers
