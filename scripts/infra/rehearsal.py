"""The deployment rehearsal: the platform run from its images exactly as ECS would run what
Terraform wrote, read back from moto after the dev apply (scripts/infra-test.sh calls this
right after the task-definition check, before the destroy).

What is taken from the emulator, nothing else:
- the task definitions (`ecs describe-task-definition`): each container's command, environment,
  secrets and health check; the secrets resolved from moto's Secrets Manager (`valueFrom`, with a
  JSON key when the ARN carries one) and injected as environment variables, as the ECS agent does;
- the ALB's HTTPS listener, its rules (path and host conditions, priorities) and its default
  action, and which ECS service each target group feeds (the services' `loadBalancers`);
- the operator's first-deploy steps of docs/deployment.md: `engine token create` run from the
  migrate task definition, its token put into the dashboard's ENGINE_API_TOKEN secret.

THE ADDRESS MAPPING (the only substitutions; printed at the start of every run). On one machine
the containers share the host's network, so what is an address in the VPC becomes a local port:
- the RDS endpoint and port (DATABASE_HOST, DATABASE_PORT) -> 127.0.0.1 and a local PostgreSQL
  (a role and database named as the RDS master secret and DATABASE_NAME say);
- each Service Connect URL http://<dns name>:<port> -> http://127.0.0.1:<that service's port>;
- each task's LISTEN_ADDR 0.0.0.0:<port> -> 127.0.0.1:<its own local port> (the second
  data-service task gets a port of its own);
- the image an ECR URL names (.../<service>:<tag>) -> localhost/halyard/<service>:<IMAGE_TAG>;
- what ECS itself gives a task, added: AWS_ENDPOINT_URL (moto) and dummy AWS keys in place of
  the task role's credentials, and HOSTNAME (the task's name).

Then, through a local router that applies the listener's rules (plain HTTP: TLS ends at the
ALB): every container's health check (the task definition's command, run from its image) exits
0 and every target answers its target group's health check path; a TradingView alert becomes an
order and a paper fill on the containerized engine, priced by the containerized data-service;
the containerized dashboard signs in and shows the position; a stream client on each of two
data-service containers receives every tick posted to the other, in order.

usage: rehearsal.py ENDPOINT REGION EMULATOR_DIR WORK_DIR
Environment: IMAGE_TAG (default dev), REHEARSAL_PG_PORT (default 54361), REHEARSAL_PORT_BASE
(default 18500). Needs root (buildah) and boto3 (.local/venv-moto).
"""

from __future__ import annotations

import asyncio
import base64
import datetime
import decimal
import http.client as httpclient
import json
import os
import re
import secrets
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

import boto3

ROOT = Path(__file__).resolve().parents[2]
TAG = os.environ.get("IMAGE_TAG", "dev")
PG_PORT = int(os.environ.get("REHEARSAL_PG_PORT", "54361"))
PORT_BASE = int(os.environ.get("REHEARSAL_PORT_BASE", "18500"))
SYMBOL = "BTCUSD"  # one of dev's synthetic_symbols (environments/dev.tfvars)
STREAM_SYMBOL = "RHSLUSD"  # posted by the rehearsal only
STREAM_TICKS = 40  # per data-service task


def say(message: str) -> None:
    print(f"[rehearsal {time.monotonic() - STARTED:5.0f}s] {message}", flush=True)


class Failed(Exception):
    pass


STARTED = time.monotonic()


################################################################################
# The emulator: task definitions, secrets, listener rules
################################################################################


class Emulator:
    def __init__(self, endpoint: str, region: str):
        session = boto3.session.Session(aws_access_key_id="test", aws_secret_access_key="test", region_name=region)
        self.endpoint = endpoint
        self.region = region
        self.ecs = session.client("ecs", endpoint_url=endpoint)
        self.sm = session.client("secretsmanager", endpoint_url=endpoint)
        self.elb = session.client("elbv2", endpoint_url=endpoint)

    def container(self, task_definition_arn: str) -> dict:
        td = self.ecs.describe_task_definition(taskDefinition=task_definition_arn)["taskDefinition"]
        containers = td["containerDefinitions"]
        if len(containers) != 1:
            raise Failed(f"{task_definition_arn}: {len(containers)} containers, the rehearsal runs one per task")
        return containers[0]

    def secret(self, value_from: str) -> str:
        parts = value_from.split(":")
        arn, json_key = ":".join(parts[:7]), (parts[7] if len(parts) > 7 else "")
        value = self.sm.get_secret_value(SecretId=arn).get("SecretString")
        if value is None:
            raise Failed(f"secret {arn} has no string value")
        if json_key:
            value = json.loads(value)[json_key]
        return value

    def routes(self, services: dict) -> tuple[list[dict], str, dict[str, str], dict[str, str]]:
        """The HTTPS listener's rules by priority, its default target group, each target group's
        service and health check path."""
        cluster = services["_cluster"]
        names = [v for k, v in services.items() if k != "_cluster"]
        tg_service: dict[str, str] = {}
        for described in self.ecs.describe_services(cluster=cluster, services=names)["services"]:
            for lb in described.get("loadBalancers", []):
                tg_service[lb["targetGroupArn"]] = lb["containerName"]
        health_path = {
            tg["TargetGroupArn"]: tg.get("HealthCheckPath", "/")
            for tg in self.elb.describe_target_groups()["TargetGroups"]
        }
        listeners = [
            listener
            for lb in self.elb.describe_load_balancers()["LoadBalancers"]
            for listener in self.elb.describe_listeners(LoadBalancerArn=lb["LoadBalancerArn"])["Listeners"]
            if listener["Protocol"] == "HTTPS"
        ]
        if len(listeners) != 1:
            raise Failed(f"expected one HTTPS listener, found {len(listeners)}")
        rules, default = [], None
        for rule in self.elb.describe_rules(ListenerArn=listeners[0]["ListenerArn"])["Rules"]:
            forward = [a for a in rule["Actions"] if a["Type"] == "forward"]
            if not forward:
                raise Failed(f"listener rule {rule['RuleArn']} does not forward (the router only forwards)")
            tg = forward[0]["TargetGroupArn"]
            if rule.get("IsDefault") or rule["Priority"] == "default":
                default = tg
                continue
            paths, hosts = [], []
            for condition in rule.get("Conditions", []):
                if condition["Field"] == "path-pattern":
                    paths += condition.get("PathPatternConfig", {}).get("Values") or condition.get("Values", [])
                elif condition["Field"] == "host-header":
                    hosts += condition.get("HostHeaderConfig", {}).get("Values") or condition.get("Values", [])
                else:
                    raise Failed(f"listener rule condition {condition['Field']} is not applied by the router")
            rules.append({"priority": int(rule["Priority"]), "paths": paths, "hosts": hosts, "target_group": tg})
        if default is None:
            default = listeners[0]["DefaultActions"][0]["TargetGroupArn"]
        rules.sort(key=lambda r: r["priority"])
        return rules, default, tg_service, health_path


################################################################################
# Containers (buildah, chroot isolation, the host's network)
################################################################################


def buildah(*args: str) -> str:
    done = subprocess.run(["buildah", *args], capture_output=True, text=True)
    if done.returncode != 0:
        raise Failed(f"buildah {' '.join(args)}: {done.stderr.strip()}")
    return done.stdout.strip()


class Containers:
    def __init__(self, logs: Path):
        self.logs = logs
        self.ids: list[str] = []
        self.running: list[subprocess.Popen] = []

    def new(self, image: str) -> str:
        cid = buildah("from", "--pull-never", image)
        self.ids.append(cid)
        return cid

    @staticmethod
    def argv(image: str, container: dict) -> list[str]:
        config = json.loads(buildah("inspect", "--type", "image", image))["Docker"]["config"]
        entrypoint = container.get("entryPoint") or config.get("Entrypoint") or []
        command = container.get("command") or config.get("Cmd") or []
        return list(entrypoint) + list(command)

    def run_args(self, cid: str, env: dict[str, str], argv: list[str]) -> list[str]:
        args = ["buildah", "run", "--isolation", "chroot"]
        for name, value in sorted(env.items()):
            args += ["--env", f"{name}={value}"]
        return args + [cid, "--", *argv]

    def run_once(self, image: str, env: dict[str, str], argv: list[str], log: str) -> str:
        cid = self.new(image)
        with open(self.logs / f"{log}.log", "w") as err:
            done = subprocess.run(self.run_args(cid, env, argv), stdout=subprocess.PIPE, stderr=err, text=True)
        if done.returncode != 0:
            tail = (self.logs / f"{log}.log").read_text().splitlines()[-10:]
            raise Failed(f"{log}: `{' '.join(argv)}` exited {done.returncode}:\n    " + "\n    ".join(tail))
        return done.stdout

    def start(self, image: str, env: dict[str, str], argv: list[str], log: str) -> subprocess.Popen:
        cid = self.new(image)
        out = open(self.logs / f"{log}.log", "w")
        process = subprocess.Popen(self.run_args(cid, env, argv), stdout=out, stderr=subprocess.STDOUT)
        self.running.append(process)
        return process

    def stop(self) -> None:
        for process in self.running:
            for pid in reversed(descendants(process.pid)):
                try:
                    os.kill(pid, signal.SIGTERM)
                except ProcessLookupError:
                    pass
        for process in self.running:
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                for pid in descendants(process.pid):
                    try:
                        os.kill(pid, signal.SIGKILL)
                    except ProcessLookupError:
                        pass
        for cid in self.ids:
            subprocess.run(["buildah", "rm", cid], capture_output=True)


def descendants(pid: int) -> list[int]:
    found = [pid]
    children = subprocess.run(["pgrep", "-P", str(pid)], capture_output=True, text=True).stdout.split()
    for child in children:
        found += descendants(int(child))
    return found


################################################################################
# The router: the ALB listener's rules in front of the local ports
################################################################################


def alb_pattern_match(pattern: str, value: str, case_sensitive: bool) -> bool:
    """ALB wildcards: `*` any run of characters, `?` one character (no character classes)."""
    regex = "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern)
    return re.fullmatch(regex, value, 0 if case_sensitive else re.IGNORECASE) is not None


class Router:
    def __init__(self, rules: list[dict], default: str, targets: dict[str, list[tuple[str, int]]], names: dict[str, str]):
        self.rules, self.default, self.targets, self.names = rules, default, targets, names
        self.turn: dict[str, int] = {}
        self.routed: dict[str, int] = {}

    def choose(self, path: str, host: str) -> str:
        for rule in self.rules:
            if rule["paths"] and not any(alb_pattern_match(p, path, True) for p in rule["paths"]):
                continue
            if rule["hosts"] and not any(alb_pattern_match(h, host.split(":")[0], False) for h in rule["hosts"]):
                continue
            return rule["target_group"]
        return self.default

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            head = await reader.readuntil(b"\r\n\r\n")
        except (asyncio.IncompleteReadError, asyncio.LimitOverrunError):
            writer.close()
            return
        lines = head.decode("latin-1").split("\r\n")
        method, target, _ = lines[0].split(" ", 2)
        headers = [line for line in lines[1:] if line]
        host = next((line.split(":", 1)[1].strip() for line in headers if line.lower().startswith("host:")), "")
        upgrade = any(line.lower().startswith("upgrade:") for line in headers)
        tg = self.choose(urllib.parse.urlsplit(target).path, host)
        service = self.names[tg]
        self.routed[service] = self.routed.get(service, 0) + 1
        hosts = self.targets[tg]
        n = self.turn.get(tg, 0)
        self.turn[tg] = n + 1
        address = hosts[n % len(hosts)]
        if not upgrade:
            # One request per connection, so every request is routed on its own path.
            headers = [line for line in headers if not line.lower().startswith("connection:")] + ["Connection: close"]
        forwarded = f"X-Forwarded-For: {writer.get_extra_info('peername')[0]}"
        head = "\r\n".join([lines[0], *headers, forwarded, "X-Forwarded-Proto: https", "", ""]).encode("latin-1")
        try:
            up_reader, up_writer = await asyncio.open_connection(*address)
        except OSError:
            writer.write(b"HTTP/1.1 502 Bad Gateway\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
            await writer.drain()
            writer.close()
            return
        up_writer.write(head)

        async def pipe(source: asyncio.StreamReader, sink: asyncio.StreamWriter) -> None:
            try:
                while chunk := await source.read(65536):
                    sink.write(chunk)
                    await sink.drain()
            except (ConnectionError, OSError):
                pass
            finally:
                try:
                    sink.close()
                except OSError:
                    pass

        await asyncio.gather(pipe(reader, up_writer), pipe(up_reader, writer))

    def serve_in_background(self, port: int) -> None:
        ready = threading.Event()

        def main() -> None:
            loop = asyncio.new_event_loop()
            server = loop.run_until_complete(asyncio.start_server(self.handle, "127.0.0.1", port))
            ready.set()
            loop.run_until_complete(server.serve_forever())

        threading.Thread(target=main, daemon=True).start()
        ready.wait(10)


################################################################################
# HTTP and WebSocket clients (stdlib)
################################################################################


def http(method: str, url: str, body=None, headers=None, timeout=10) -> tuple[int, bytes, dict]:
    data = None if body is None else (body if isinstance(body, bytes) else json.dumps(body).encode())
    request = urllib.request.Request(url, data=data, method=method, headers=headers or {})
    if body is not None and "content-type" not in {k.lower() for k in (headers or {})}:
        request.add_header("content-type", "application/json")
    try:
        with urllib.request.urlopen(request, timeout=timeout) as answer:
            return answer.status, answer.read(), dict(answer.headers)
    except urllib.error.HTTPError as error:
        return error.code, error.read(), dict(error.headers)
    except (urllib.error.URLError, OSError):
        return 0, b"", {}


def wait_until(what: str, check, seconds: float = 60):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.5)
    raise Failed(f"{what}: not within {seconds:.0f} s")


class WebSocket:
    """A minimal RFC 6455 client: text frames from the server, close on exit."""

    def __init__(self, host: str, port: int, path: str):
        self.sock = socket.create_connection((host, port), timeout=10)
        key = base64.b64encode(os.urandom(16)).decode()
        self.sock.sendall(
            (f"GET {path} HTTP/1.1\r\nHost: {host}:{port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
             f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n").encode()
        )
        self.buffer = b""
        while b"\r\n\r\n" not in self.buffer:
            chunk = self.sock.recv(4096)
            if not chunk:
                raise Failed(f"stream {host}:{port}{path}: closed during the handshake")
            self.buffer += chunk
        head, self.buffer = self.buffer.split(b"\r\n\r\n", 1)
        if not head.startswith(b"HTTP/1.1 101"):
            raise Failed(f"stream {host}:{port}{path}: {head.splitlines()[0].decode()}")

    def _read(self, n: int) -> bytes:
        while len(self.buffer) < n:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise Failed("stream closed")
            self.buffer += chunk
        data, self.buffer = self.buffer[:n], self.buffer[n:]
        return data

    def message(self) -> str | None:
        first, second = self._read(2)
        opcode, length = first & 0x0F, second & 0x7F
        if length == 126:
            length = int.from_bytes(self._read(2), "big")
        elif length == 127:
            length = int.from_bytes(self._read(8), "big")
        payload = self._read(length)
        if opcode == 0x8:
            raise Failed("stream closed by the server")
        return payload.decode() if opcode == 0x1 else None

    def close(self) -> None:
        try:
            self.sock.sendall(bytes([0x88, 0x80]) + os.urandom(4))
        except OSError:
            pass
        self.sock.close()


################################################################################
# The rehearsal
################################################################################


def rehearse(endpoint: str, region: str, emu: Path, work: Path) -> None:
    logs = work / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    aws = Emulator(endpoint, region)
    task_definitions = json.loads((emu / "task-definitions.json").read_text())
    services = json.loads((emu / "services.json").read_text())
    containers = {key: aws.container(arn) for key, arn in task_definitions.items()}
    for needed in ("engine", "data-service", "dashboard", "migrate"):
        if needed not in containers:
            raise Failed(f"no {needed} task definition in the terraform output")

    # The address mapping.
    manifest = json.loads((ROOT / "deploy" / "settings.json").read_text())["services"]
    ports = {"engine": PORT_BASE + 80, "data-service": PORT_BASE + 81, "data-service-2": PORT_BASE + 82, "dashboard": PORT_BASE + 30}
    service_connect = {
        f"http://{spec['service_connect_dns_name']}:{spec['port']}": f"http://127.0.0.1:{ports[svc]}"
        for svc, spec in manifest.items()
        if spec.get("service_connect_dns_name")
    }
    rds = {e["name"]: e["value"] for e in containers["engine"]["environment"]}
    mapping_lines = [
        f"DATABASE_HOST {rds['DATABASE_HOST']} -> 127.0.0.1",
        f"DATABASE_PORT {rds['DATABASE_PORT']} -> {PG_PORT}",
        *(f"Service Connect {k} -> {v}" for k, v in service_connect.items()),
        *(f"LISTEN_ADDR of {k} -> 127.0.0.1:{v}" for k, v in ports.items()),
        f"images <ecr>/<service>:<tag> -> localhost/halyard/<service>:{TAG}",
        f"added: AWS_ENDPOINT_URL={endpoint}, AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY=test (the task role), HOSTNAME=<task>",
    ]
    say("address mapping (the only substitutions):\n    " + "\n    ".join(mapping_lines))

    def image_of(container: dict) -> str:
        repository = container["image"].rsplit("/", 1)[-1].split(":")[0].split("@")[0]
        return f"localhost/halyard/{repository}:{TAG}"

    def environment(container: dict, task: str, port: int) -> dict[str, str]:
        env = {}
        for entry in container.get("environment", []):
            name, value = entry["name"], entry["value"]
            if name == "DATABASE_HOST" and value == rds["DATABASE_HOST"]:
                value = "127.0.0.1"
            elif name == "DATABASE_PORT" and value == rds["DATABASE_PORT"]:
                value = str(PG_PORT)
            elif name == "LISTEN_ADDR":
                value = f"127.0.0.1:{port}"
            else:
                for url, local in service_connect.items():
                    if value == url or value.startswith(url + "/"):
                        value = local + value[len(url):]
            env[name] = value
        for entry in container.get("secrets", []):
            env[entry["name"]] = aws.secret(entry["valueFrom"])
        env.update(AWS_ENDPOINT_URL=endpoint, AWS_ACCESS_KEY_ID="test", AWS_SECRET_ACCESS_KEY="test", HOSTNAME=task)
        leftovers = [f"{k}={v}" for k, v in env.items() if rds["DATABASE_HOST"] in v or any(
            spec.get("service_connect_dns_name") and f"//{spec['service_connect_dns_name']}:" in v for spec in manifest.values())]
        if leftovers:
            raise Failed(f"{task}: an address the mapping does not cover: {leftovers}")
        return env

    # A local PostgreSQL in the RDS instance's place: the master user and database Terraform named.
    pg_dir = work / "pg"
    url = subprocess.run(["bash", str(ROOT / "scripts/pg-local.sh"), "start", str(pg_dir), str(PG_PORT), "fast"],
                         check=True, capture_output=True, text=True).stdout.strip().splitlines()[-1]
    master = json.loads(aws.secret(rds["DATABASE_SECRET_ID"]))
    database = rds["DATABASE_NAME"]
    psql = ["psql", "-v", "ON_ERROR_STOP=1", "-q", url]
    role = master["username"].replace('"', '""')
    quiet = {**os.environ, "PGOPTIONS": "-c client_min_messages=warning"}
    subprocess.run([*psql, "-c", f'drop database if exists "{database}" with (force)'], check=True, env=quiet)
    subprocess.run([*psql, "-c", f'do $$ begin if not exists (select from pg_roles where rolname = \'{role}\') then '
                    f'create role "{role}" login superuser; end if; end $$'], check=True)
    subprocess.run([*psql, "-c", f'create database "{database}" owner "{role}"'], check=True)
    say(f"PostgreSQL in the RDS endpoint's place: role {master['username']}, database {database} (port {PG_PORT})")

    box = Containers(logs)
    try:
        run(aws, box, containers, services, image_of, environment, ports, logs)
    finally:
        box.stop()
        subprocess.run(["bash", str(ROOT / "scripts/pg-local.sh"), "stop", str(pg_dir)], capture_output=True)


def run(aws, box, containers, services, image_of, environment, ports, logs) -> None:
    engine_image = image_of(containers["engine"])

    # The first deploy's one-off tasks (docs/deployment.md): migrate, then the dashboard's token.
    migrate_env = environment(containers["migrate"], "migrate", ports["engine"])
    box.run_once(image_of(containers["migrate"]), migrate_env, box.argv(engine_image, containers["migrate"]), "migrate")
    say(f"migrate task: `{' '.join(box.argv(engine_image, containers['migrate']))}` from {image_of(containers['migrate'])} ok")
    token_argv = [*box.argv(engine_image, {"command": []})[:1], "token", "create", "--name"]
    dashboard_token = box.run_once(engine_image, migrate_env, token_argv + ["dashboard"], "token-dashboard").strip()
    operator_token = box.run_once(engine_image, migrate_env, token_argv + ["rehearsal-operator"], "token-operator").strip()
    token_secret = next(s["valueFrom"] for s in containers["dashboard"]["secrets"] if s["name"] == "ENGINE_API_TOKEN")
    aws.sm.put_secret_value(SecretId=":".join(token_secret.split(":")[:7]), SecretString=dashboard_token)
    say("engine token create (migrate task definition, command overridden): the dashboard's token put into its secret")

    # The services, in dependency order; the data-service twice (two tasks of one service).
    tasks = [("data-service", "data-service"), ("data-service-2", "data-service"), ("engine", "engine"), ("dashboard", "dashboard")]
    envs = {}
    for task, key in tasks:
        container = containers[key]
        image = image_of(container)
        envs[task] = environment(container, task, ports[task])
        argv = box.argv(image, container)
        process = box.start(image, envs[task], argv, f"serve-{task}")
        def healthy(process=process, task=task) -> bool:
            if process.poll() is not None:
                tail = (logs / f"serve-{task}.log").read_text().splitlines()[-15:]
                raise Failed(f"{task} exited {process.poll()}:\n    " + "\n    ".join(tail))
            return http("GET", f"http://127.0.0.1:{ports[task]}/healthz")[0] == 200

        wait_until(f"{task} /healthz", healthy, 90)
        command = container.get("healthCheck", {}).get("command") or []
        if not command or command[0] != "CMD":
            raise Failed(f"{key} task definition: health check {command!r} is not an exec CMD")
        box.run_once(image, envs[task], command[1:], f"healthcheck-{task}")
        say(f"{task}: `{' '.join(argv)}` from {image} is up; the task definition's health check `{' '.join(command[1:])}` exits 0")

    # The router in front, with the listener's rules.
    rules, default, tg_service, health_path = aws.routes(services)
    targets = {tg: [("127.0.0.1", ports[s])] + ([("127.0.0.1", ports["data-service-2"])] if s == "data-service" else [])
               for tg, s in tg_service.items()}
    router_port = PORT_BASE + 1
    router = Router(rules, default, targets, tg_service)
    router.serve_in_background(router_port)
    shown = [f"{r['priority']}: path {r['paths']} host {r['hosts'] or 'any'} -> {tg_service[r['target_group']]}" for r in rules]
    say("router on 127.0.0.1:%d with the HTTPS listener's rules:\n    %s\n    default -> %s"
        % (router_port, "\n    ".join(shown), tg_service[default]))
    for tg, hosts in targets.items():
        for host, port in hosts:
            status = http("GET", f"http://{host}:{port}{health_path[tg]}")[0]
            if status != 200:
                raise Failed(f"{tg_service[tg]} at {port}: target group health check {health_path[tg]} answered {status}")
    say("every target answers its target group's health check path: " + ", ".join(sorted({f"{tg_service[t]} {health_path[t]}" for t in targets})))

    alb = f"http://127.0.0.1:{router_port}"
    bearer = {"authorization": f"Bearer {operator_token}"}

    # A TradingView alert becomes an order and a paper fill on live prices.
    passphrase = "rehearsal-" + secrets.token_hex(6)
    strategy = {"name": "rehearsal-tv", "kind": "signal_follower", "params": {"quantity": "1"}, "account": "rehearsal",
                "symbols": [SYMBOL], "bar_seconds": 60, "passphrase": passphrase, "enabled": True}
    status, body, _ = http("POST", f"{alb}/api/v1/strategies", strategy, bearer)
    if status not in (200, 201):
        raise Failed(f"POST /api/v1/strategies answered {status}: {body[:300]!r}")
    wait_until(f"a {SYMBOL} price from the data-service through the router",
               lambda: (lambda r: r[0] == 200 and json.loads(r[1]))(http("GET", f"{alb}/api/v1/market/prices/{SYMBOL}?limit=1")))
    alert = {"passphrase": passphrase, "strategy": "rehearsal-tv", "ticker": SYMBOL, "action": "buy", "quantity": "1",
             "alert_id": "rehearsal-1", "time": datetime.datetime.now(datetime.timezone.utc).isoformat()}
    status, body, _ = http("POST", f"{alb}/api/v1/signals/tradingview", alert)
    if status not in (200, 201, 202):
        raise Failed(f"POST /api/v1/signals/tradingview answered {status}: {body[:300]!r}")

    def filled():
        status, body, _ = http("GET", f"{alb}/api/v1/orders?account=rehearsal", headers=bearer)
        orders = json.loads(body) if status == 200 else []
        orders = orders.get("orders", orders) if isinstance(orders, dict) else orders
        return orders if orders and all(o.get("status") == "filled" for o in orders) else None

    orders = wait_until("the alert's order filled", filled, 60)
    if len(orders) != 1:
        raise Failed(f"one alert made {len(orders)} orders")
    status, body, _ = http("GET", f"{alb}/api/v1/positions?account=rehearsal", headers=bearer)
    positions = [p for p in json.loads(body) if p["symbol"] == SYMBOL and p["strategy"] == "rehearsal-tv"]
    if len(positions) != 1 or decimal.Decimal(str(positions[0]["qty"])) != 1:
        raise Failed(f"position after the fill: {positions}")
    say(f"alert -> order {orders[0].get('order_id', orders[0].get('id'))} filled -> position {SYMBOL} {positions[0]['qty']} @ {positions[0].get('avg_price')}")

    # The dashboard signs in (a trader created by its one-off `user create`) and shows the position.
    password = "rehearsal-" + secrets.token_hex(8)
    dashboard_image = image_of(containers["dashboard"])
    user_argv = [*box.argv(dashboard_image, {"command": []})[:1], "user", "create", "--username", "rehearsal", "--role", "trader"]
    box.run_once(dashboard_image, {**envs["dashboard"], "DASHBOARD_PASSWORD": password}, user_argv, "user-create")
    shown = dashboard_shows_position(alb, "rehearsal", password, "rehearsal", "rehearsal-tv", SYMBOL)
    say(f"dashboard through the router: signed in as rehearsal (trader); the overview's positions table shows {shown}")

    # One stream client on each data-service task; ticks posted to the other one.
    clients = {t: WebSocket("127.0.0.1", ports[t], f"/api/v1/market/stream?symbols={STREAM_SYMBOL}") for t in ("data-service", "data-service-2")}
    time.sleep(1)  # both subscribed before the first tick
    now = int(time.time() * 1000)
    sent = {}
    for n, task in enumerate(("data-service", "data-service-2")):
        ticks = [{"symbol": STREAM_SYMBOL, "ts": now + n * STREAM_TICKS + i, "price": f"{100 + n}.{i:02d}", "size": "1"} for i in range(STREAM_TICKS)]
        status, body, _ = http("POST", f"http://127.0.0.1:{ports[task]}/api/v1/market/ticks", ticks)
        if status != 200:
            raise Failed(f"POST ticks to {task} answered {status}: {body[:200]!r}")
        sent[task] = [t["price"] for t in ticks]
    for task, client in clients.items():
        got: dict[str, list[str]] = {"data-service": [], "data-service-2": []}
        deadline = time.monotonic() + 20
        while sum(map(len, got.values())) < 2 * STREAM_TICKS and time.monotonic() < deadline:
            text = client.message()
            if text is None:
                continue
            message = json.loads(text)
            if message.get("type") == "lagged":
                raise Failed(f"stream on {task}: lagged {message}")
            for tick in message.get("ticks", [message] if "price" in message else []):
                price = decimal.Decimal(str(tick["price"]))
                origin = "data-service" if price < 101 else "data-service-2"
                got[origin].append(price)
        client.close()
        for origin, prices in got.items():
            if prices != [decimal.Decimal(p) for p in sent[origin]]:
                raise Failed(f"stream client on {task}: ticks posted to {origin} arrived as {[str(p) for p in prices[:5]]}... "
                             f"({len(prices)} of {STREAM_TICKS})")
    say(f"stream: a client on each data-service task received all {2 * STREAM_TICKS} ticks, those posted to the other task included, in order")
    say("requests routed by the listener rules: " + ", ".join(f"{k} {v}" for k, v in sorted(router.routed.items())))


def dashboard_shows_position(alb: str, username: str, password: str, account: str, strategy: str, symbol: str) -> str:
    """Signs in through the router as a browser would (the login form's CSRF cookie and field,
    then the session cookie; the cookies are Secure, so they are sent by hand over the plain
    HTTP hop behind the TLS-ending ALB) and finds the position's row in the overview's table."""
    address = urllib.parse.urlsplit(alb)
    cookies: dict[str, str] = {}

    def request(method: str, path: str, form: dict | None = None) -> tuple[int, str, dict]:
        connection = httpclient.HTTPConnection(address.hostname, address.port, timeout=15)
        headers = {"cookie": "; ".join(f"{k}={v}" for k, v in cookies.items())} if cookies else {}
        body = None
        if form is not None:
            body = urllib.parse.urlencode(form)
            headers["content-type"] = "application/x-www-form-urlencoded"
        connection.request(method, path, body=body, headers=headers)
        answer = connection.getresponse()
        text = answer.read().decode("utf-8", "replace")
        for header, value in answer.getheaders():
            if header.lower() == "set-cookie":
                name, _, rest = value.partition("=")
                cookies[name.strip()] = rest.split(";", 1)[0]
        connection.close()
        return answer.status, text, dict(answer.getheaders())

    status, page, _ = request("GET", "/login")
    csrf = re.search(r'name="csrf" value="([^"]+)"', page)
    if status != 200 or not csrf:
        raise Failed(f"dashboard: GET /login answered {status} without a CSRF field")
    status, _, headers = request("POST", "/login", {"csrf": csrf.group(1), "username": username, "password": password})
    if status not in (302, 303) or headers.get("location", headers.get("Location")) != "/":
        raise Failed(f"dashboard: sign-in answered {status} (expected a redirect to /)")

    def row() -> str | None:
        status, page, _ = request("GET", "/")
        if status != 200:
            raise Failed(f"dashboard: GET / after sign-in answered {status}")
        table = re.search(r'<table id="positions">(.*?)</table>', re.sub(r"<!--.*?-->", "", page), re.S)
        if not table:
            return None
        for cells in re.findall(r"<tr>(.*?)</tr>", table.group(1), re.S):
            values = [re.sub(r"<[^>]+>", "", c).strip() for c in re.findall(r"<td[^>]*>(.*?)</td>", cells, re.S)]
            if values[:3] == [account, strategy, symbol] and decimal.Decimal(values[3]) == 1:
                return " ".join(values[:5])
        return None

    return wait_until("the position on the dashboard's overview", row, 30)



def main(argv: list[str]) -> int:
    endpoint, region, emu, work = argv
    try:
        rehearse(endpoint, region, Path(emu), Path(work))
    except Failed as error:
        print(f"rehearsal: FAILED: {error}", flush=True)
        return 1
    print(f"rehearsal: ok in {time.monotonic() - STARTED:.0f}s", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
