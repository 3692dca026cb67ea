"""Read the task definitions back from the AWS API (moto after the dev apply) and check them
against deploy/settings.json.

Fails when, in a task definition's container:
- a setting the manifest marks required (or `deployed`: the binary's default only suits a laptop,
  e.g. DATA_SERVICE_URL) for that service is in neither environment nor secrets, or no member of
  a one_of group is (e.g. DATABASE_URL / DATABASE_SECRET_ID);
- a setting with an unconditional ECS target (no `when`) is missing, or its constant differs;
- a variable is present with an empty value (e.g. a Terraform value that came out null);
- a variable is set that the manifest does not list for that binary, or lists without an ECS
  target (a setting Terraform must not invent);
- a value the manifest marks secret is plain environment, or a non-secret is injected as a secret;
- an injected secret's valueFrom is not a secret that exists in Secrets Manager;
and, for the services, when Service Connect as read back does not publish the manifest's name
and port (the URLs the other services are given).

Usage (scripts/infra-test.sh, boto3 from .local/venv-moto):
  python check_task_definitions.py ENDPOINT_URL REGION TASK_DEFINITIONS_JSON SERVICES_JSON
TASK_DEFINITIONS_JSON is `terraform output -json task_definitions` ({key: arn}); keys are the
manifest's services, or one-off tasks of the engine image (migrate, backtest). SERVICES_JSON is
`terraform output -json service_names` plus the cluster name under "_cluster".
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import boto3

sys.path.insert(0, str(Path(__file__).resolve().parent))
from check_settings import load  # noqa: E402  (same manifest reader)

ONE_OFF_IMAGE = {"migrate": "engine", "backtest": "engine"}


def check_container(svc: str, container: dict, manifest: dict, secret_exists) -> list[str]:
    where = f"{svc} task definition"
    settings = {s["name"]: s for s in manifest["services"][svc]["settings"]}
    env = {e["name"]: e.get("value") for e in container.get("environment", [])}
    secrets = {s["name"]: s.get("valueFrom") for s in container.get("secrets", [])}
    errors: list[str] = []
    # A variable in the task with no value is as missing as one that is left out: the binary
    # sees an empty string (or the provider drops it), never what the manifest names.
    for name in sorted(n for n, v in env.items() if v in (None, "")):
        errors.append(f"{where}: {name} is in the task definition with an empty value")
    env = {n: v for n, v in env.items() if v not in (None, "")}
    present = set(env) | set(secrets)
    for name in sorted(set(env) & set(secrets)):
        errors.append(f"{where}: {name} is both environment and secret")
    groups: dict[str, list[str]] = {}
    for name, s in settings.items():
        if s.get("one_of"):
            groups.setdefault(s["one_of"], []).append(name)
        ecs = s.get("ecs")
        if s["required"] and name not in present:
            errors.append(f"{where}: required setting {name} is missing (the binary will not start)")
        elif s.get("deployed") and name not in present:
            errors.append(f"{where}: required setting {name} is missing (the binary would fall back to {s['default']!r})")
        elif ecs is not None and "when" not in ecs and name not in present:
            errors.append(f"{where}: {name} is missing (deploy/settings.json sets it in ECS unconditionally)")
        if ecs is not None and "value" in ecs and name in env and env[name] != ecs["value"]:
            errors.append(f"{where}: {name}={env[name]!r}, deploy/settings.json says {ecs['value']!r}")
    for group, members in groups.items():
        if not present & set(members):
            errors.append(f"{where}: none of {', '.join(members)} is set (one is required)")
    for name in sorted(present):
        s = settings.get(name)
        if s is None:
            errors.append(f"{where}: sets {name}, which the {svc} binary does not read (not in deploy/settings.json)")
            continue
        if s.get("ecs") is None:
            errors.append(f"{where}: sets {name}, which deploy/settings.json gives no ECS target")
        if s["secret"] and name in env:
            errors.append(f"{where}: {name} is a credential but plain environment (must be an ECS secret)")
        if not s["secret"] and name in secrets:
            errors.append(f"{where}: {name} is injected as a secret but deploy/settings.json says it is not one")
    for name, value_from in sorted(secrets.items()):
        arn = ":".join((value_from or "").split(":")[:7])
        if not secret_exists(arn):
            errors.append(f"{where}: secret {name} comes from {value_from!r}, which is not a Secrets Manager secret")
    return errors


def check_service_connect(svc: str, service: dict, manifest: dict) -> list[str]:
    spec = manifest["services"][svc]
    primary = [d for d in service.get("deployments", []) if d.get("status") == "PRIMARY"]
    sc = (primary[0] if primary else {}).get("serviceConnectConfiguration") or {}
    where = f"{svc} ECS service"
    if not sc.get("enabled"):
        return [f"{where}: Service Connect is not enabled"]
    aliases = [
        (alias.get("dnsName"), alias.get("port"))
        for entry in sc.get("services", [])
        for alias in entry.get("clientAliases", [])
    ]
    want = [] if spec.get("service_connect_dns_name") is None else [(spec["service_connect_dns_name"], spec["port"])]
    if aliases != want:
        return [f"{where}: Service Connect publishes {aliases}, deploy/settings.json says {want}"]
    return []


def main(argv: list[str]) -> int:
    endpoint, region, task_definitions_path, services_path = argv
    manifest = load()
    session = boto3.session.Session(aws_access_key_id="test", aws_secret_access_key="test", region_name=region)
    ecs = session.client("ecs", endpoint_url=endpoint)
    sm = session.client("secretsmanager", endpoint_url=endpoint)

    def secret_exists(arn: str) -> bool:
        try:
            sm.describe_secret(SecretId=arn)
            return True
        except sm.exceptions.ResourceNotFoundException:
            return False

    task_definitions = json.loads(Path(task_definitions_path).read_text())
    errors: list[str] = []
    counts = []
    for key, arn in sorted(task_definitions.items()):
        svc = ONE_OFF_IMAGE.get(key, key)
        if svc not in manifest["services"]:
            errors.append(f"task definition {key}: no service {svc} in deploy/settings.json")
            continue
        td = ecs.describe_task_definition(taskDefinition=arn)["taskDefinition"]
        containers = [c for c in td["containerDefinitions"] if c["name"] == svc]
        if len(containers) != 1:
            errors.append(f"task definition {key}: expected one container named {svc}")
            continue
        c = containers[0]
        errors += check_container(svc, c, manifest, secret_exists)
        counts.append(f"{key} {len(c.get('environment', []))}+{len(c.get('secrets', []))}")

    services = json.loads(Path(services_path).read_text())
    cluster = services.pop("_cluster")
    described = ecs.describe_services(cluster=cluster, services=list(services.values()))["services"]
    by_name = {s["serviceName"]: s for s in described}
    for svc, name in sorted(services.items()):
        if name not in by_name:
            errors.append(f"ECS service {name} not found")
            continue
        errors += check_service_connect(svc, by_name[name], manifest)

    if errors:
        print("\n".join(f"    {e}" for e in errors))
        print(f"check_task_definitions: {len(errors)} problem(s)")
        return 1
    print(f"check_task_definitions: ok (environment+secrets: {', '.join(counts)}; Service Connect of {len(services)} services)")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
