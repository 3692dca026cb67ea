"""Signal load for scripts/chaos.sh: signed TradingView alerts sent to two engines.

usage: load.py OUT.tsv COUNT RATE URL_A URL_B

Alerts come in pairs for the same strategy and symbol, one to each engine, so both engines
hold orders of one position at the same moment and the same trade fills them (the first fills
of each position race); the pairs cycle over every strategy and symbol. Sent at RATE alerts a second (one thread per in-flight request,
so a slow or dead engine does not slow the schedule). An alert whose engine refuses the
connection or times out is sent once to the other engine, as a redundant sender would; the
same alert_id makes a second delivery a duplicate. Writes one line per alert:
`alert_id <tab> final status (0 = no answer) <tab> engine index`. Reads CHAOS_STRATEGIES (comma-separated;
they share CHAOS_PASSPHRASE, ), CHAOS_SYMBOLS and CHAOS_HMAC_SECRET from the environment.
"""
import datetime
import hashlib
import hmac
import json
import os
import sys
import threading
import time
import urllib.error
import urllib.request

STRATEGIES = os.environ["CHAOS_STRATEGIES"].split(",")
PASSPHRASE = os.environ["CHAOS_PASSPHRASE"]
SYMBOLS = os.environ["CHAOS_SYMBOLS"].split(",")
SECRET = os.environ["CHAOS_HMAC_SECRET"].encode()
ACTIONS = ["buy", "buy", "sell", "exit"]


def send(url: str, body: bytes) -> int:
    signature = hmac.new(SECRET, body, hashlib.sha256).hexdigest()
    request = urllib.request.Request(
        f"{url}/api/v1/signals/tradingview",
        data=body,
        headers={"content-type": "application/json", "x-halyard-signature": f"sha256={signature}"},
        method="POST",
    )
    try:
        with urllib.request.urlopen(request, timeout=5) as answer:
            return answer.status
    except urllib.error.HTTPError as error:
        return error.code
    except (urllib.error.URLError, OSError, TimeoutError):
        return 0


def main() -> None:
    out, count, rate, urls = sys.argv[1], int(sys.argv[2]), float(sys.argv[3]), sys.argv[4:6]
    results = {}
    lock = threading.Lock()

    def deliver(n: int) -> None:
        alert_id = f"chaos-{n}"
        keys = len(STRATEGIES) * len(SYMBOLS)
        key = (n // 2) % keys
        body = json.dumps(
            {
                "passphrase": PASSPHRASE,
                "strategy": STRATEGIES[key % len(STRATEGIES)],
                "ticker": SYMBOLS[key // len(STRATEGIES)],
                "action": ACTIONS[(n // 2 // keys) % len(ACTIONS)],
                "quantity": "1",
                "alert_id": alert_id,
                "time": datetime.datetime.now(datetime.timezone.utc).isoformat(),
            }
        ).encode()
        target = n % 2
        status = send(urls[target], body)
        if status == 0 or status >= 500:
            target = 1 - target
            status = send(urls[target], body)
        with lock:
            results[alert_id] = (status, target)

    threads = []
    start = time.monotonic()
    for n in range(count):
        delay = start + n / rate - time.monotonic()
        if delay > 0:
            time.sleep(delay)
        thread = threading.Thread(target=deliver, args=(n,))
        thread.start()
        threads.append(thread)
    for thread in threads:
        thread.join()
    with open(out, "w") as f:
        for alert_id, (status, target) in sorted(results.items()):
            f.write(f"{alert_id}\t{status}\t{target}\n")
    codes = {}
    for status, _ in results.values():
        codes[status] = codes.get(status, 0) + 1
    print(f"[chaos] load: {count} alerts in {time.monotonic() - start:.1f}s; answers {dict(sorted(codes.items()))}",
          file=sys.stderr)


if __name__ == "__main__":
    main()
