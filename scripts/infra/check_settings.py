"""Check the services' settings everywhere against deploy/settings.json (stdlib only).

deploy/settings.json lists every environment variable each binary reads and what it is in each
target. Terraform builds the task definitions from it (terraform/settings.tf); this script keeps
the other targets from drifting:

- the manifest itself: every setting has name/required/secret, names are unique per service,
  a required or `deployed` setting (or a one_of group) has a value in every target (in ECS an
  unconditional one), a secret value never has
  a plain constant in the ECS target, every `from`/`when` is well-formed;
- docker-compose: deploy/compose/<service>.env is exactly what the manifest's `compose` targets
  give (`--write` regenerates it), and docker-compose.yml passes the app containers their
  settings only through those files (no `environment:` on them or on any x- extension), the
  local dashboard token registered by the `dashboard-token` service is the manifest's value;
- `make demo`: scripts/demo.sh starts each service with the array <service>_env=(...) whose
  names are exactly the manifest's `demo` targets, and constants equal the manifest's value.

  python3 scripts/infra/check_settings.py           check (exit 1 naming every difference)
  python3 scripts/infra/check_settings.py --write   rewrite deploy/compose/*.env, then check
"""

from __future__ import annotations

import json
import re
import shlex
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
MANIFEST = ROOT / "deploy" / "settings.json"
COMPOSE = ROOT / "docker-compose.yml"
COMPOSE_ENV_DIR = ROOT / "deploy" / "compose"
DEMO = ROOT / "scripts" / "demo.sh"
NAME = re.compile(r"^[A-Z][A-Z0-9_]*$")
# Compose services running each binary; migrate runs the engine image's `migrate`.
COMPOSE_SERVICES = {"engine": "engine", "migrate": "engine", "data-service": "data-service", "dashboard": "dashboard"}
TARGETS = ("ecs", "compose", "demo")


def load(path: Path = MANIFEST) -> dict:
    try:
        return json.loads(path.read_text())
    except (OSError, json.JSONDecodeError) as exc:
        sys.exit(f"check_settings: cannot read {path}: {exc}")


def check_manifest(manifest: dict) -> list[str]:
    errors: list[str] = []
    secrets = manifest.get("secrets", {})
    services = manifest.get("services")
    if not isinstance(services, dict) or not services:
        return ["manifest: no services"]
    for svc, spec in services.items():
        where = f"manifest {svc}"
        if not isinstance(spec.get("port"), int):
            errors.append(f"{where}: port must be an integer")
        settings = spec.get("settings")
        if not isinstance(settings, list) or not settings:
            errors.append(f"{where}: settings must be a non-empty list")
            continue
        seen: set[str] = set()
        groups: dict[str, list[dict]] = {}
        for s in settings:
            name = s.get("name")
            if not isinstance(name, str) or not NAME.match(name):
                errors.append(f"{where}: bad setting name {name!r}")
                continue
            if name in seen:
                errors.append(f"{where}: {name} listed twice")
            seen.add(name)
            for field in ("required", "secret"):
                if not isinstance(s.get(field), bool):
                    errors.append(f"{where}: {name}.{field} must be true or false")
            if "deployed" in s and not isinstance(s["deployed"], bool):
                errors.append(f"{where}: {name}.deployed must be true or false")
            ref = s.get("secrets_manager")
            if ref is not None and ref not in secrets:
                errors.append(f"{where}: {name}.secrets_manager {ref!r} is not in the manifest's secrets")
            if s.get("secret") and s.get("required") and ref is None:
                errors.append(f"{where}: {name} is a required secret but names no secrets_manager secret")
            for target in TARGETS:
                t = s.get(target)
                if t is None:
                    continue
                if not isinstance(t, dict) or (("value" in t) == ("from" in t)):
                    errors.append(f"{where}: {name}.{target} must have exactly one of value or from")
                    continue
                if "value" in t and not isinstance(t["value"], str):
                    errors.append(f"{where}: {name}.{target}.value must be a string")
                if target == "ecs" and s.get("secret") and "value" in t:
                    errors.append(f"{where}: {name} is a secret: its ECS target must come from Secrets Manager, not a constant")
                if target == "ecs" and "when" in t and (s.get("required") or s.get("deployed")):
                    kind = "required" if s.get("required") else "needed wherever it is deployed"
                    errors.append(f"{where}: {name} is {kind}, so its ECS target cannot be conditional (when)")
            if s.get("required") or s.get("deployed"):
                kind = "required" if s.get("required") else "needed wherever it is deployed (deployed)"
                for target in TARGETS:
                    if s.get(target) is None:
                        errors.append(f"{where}: {name} is {kind} but has no {target} target")
            if s.get("one_of"):
                groups.setdefault(s["one_of"], []).append(s)
        for group, members in groups.items():
            for target in TARGETS:
                if not any(m.get(target) is not None and "when" not in m.get(target, {}) for m in members):
                    errors.append(f"{where}: one_of group {group!r} has no unconditional {target} target")
    return errors


def compose_env(manifest: dict, svc: str) -> str:
    lines = [
        f"# Generated from deploy/settings.json by scripts/infra/check_settings.py --write: do not edit.",
        f"# The {svc} container's settings in docker-compose.yml (local only: the credentials are public).",
    ]
    for s in manifest["services"][svc]["settings"]:
        t = s.get("compose")
        if t is not None:
            lines.append(f"{s['name']}={t['value']}")
    return "\n".join(lines) + "\n"


def write_compose_env(manifest: dict) -> None:
    COMPOSE_ENV_DIR.mkdir(parents=True, exist_ok=True)
    for svc in manifest["services"]:
        (COMPOSE_ENV_DIR / f"{svc}.env").write_text(compose_env(manifest, svc))


def compose_blocks(text: str) -> tuple[dict[str, list[str]], list[list[str]]]:
    """The lines of each service under `services:` and of each top-level x- extension.

    A reader for the layout of this repository's docker-compose.yml (two-space indents), not YAML
    in general: enough to see which keys a service has and what its env_file lists.
    """
    services: dict[str, list[str]] = {}
    extensions: list[list[str]] = []
    top = None
    current: list[str] | None = None
    for line in text.splitlines():
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        if not line.startswith(" "):
            top = line.split(":", 1)[0]
            current = None
            if top.startswith("x-"):
                current = []
                extensions.append(current)
            continue
        if top == "services" and re.match(r"^  [A-Za-z0-9_.-]+:\s*$", line):
            current = services.setdefault(line.strip()[:-1], [])
            continue
        if current is not None:
            current.append(line)
    return services, extensions


def check_compose(manifest: dict) -> list[str]:
    errors: list[str] = []
    for svc in manifest["services"]:
        path = COMPOSE_ENV_DIR / f"{svc}.env"
        want = compose_env(manifest, svc)
        have = path.read_text() if path.exists() else None
        if have != want:
            errors.append(f"{path.relative_to(ROOT)} differs from deploy/settings.json (run scripts/infra/check_settings.py --write)")
    text = COMPOSE.read_text()
    services, extensions = compose_blocks(text)
    for ext in extensions:
        if any(re.match(r"^\s+environment:", line) for line in ext):
            errors.append("docker-compose.yml: an x- extension sets environment; app settings belong in deploy/compose/*.env")
    for name, svc in COMPOSE_SERVICES.items():
        lines = services.get(name)
        if lines is None:
            errors.append(f"docker-compose.yml: no service {name}")
            continue
        keys = [line.strip().split(":", 1)[0] for line in lines if re.match(r"^    [A-Za-z_<][^ ]*:", line)]
        if "environment" in keys:
            errors.append(f"docker-compose.yml: service {name} sets environment; its settings must come from deploy/compose/{svc}.env only")
        env_files: list[str] = []
        in_env_file = False
        for line in lines:
            if re.match(r"^    env_file:", line):
                in_env_file = True
                inline = line.split(":", 1)[1].strip()
                if inline:
                    env_files.append(inline.strip("'\"[]"))
                continue
            if in_env_file and re.match(r"^      - ", line):
                env_files.append(line.strip()[2:].strip("'\""))
                continue
            in_env_file = False
        if env_files != [f"deploy/compose/{svc}.env"]:
            errors.append(f"docker-compose.yml: service {name} must have env_file: [deploy/compose/{svc}.env] (has {env_files})")
    token = next((s for s in manifest["services"]["dashboard"]["settings"] if s["name"] == "ENGINE_API_TOKEN"), None)
    if token and token.get("compose"):
        registered = "\n".join(services.get("dashboard-token", []))
        if f"convert_to('{token['compose']['value']}'" not in registered:
            errors.append("docker-compose.yml: the dashboard-token service does not register the manifest's compose ENGINE_API_TOKEN")
    return errors


def demo_arrays(text: str) -> dict[str, list[str]]:
    """<name>_env=( ... ) arrays of scripts/demo.sh: their words as the shell would split them."""
    arrays: dict[str, list[str]] = {}
    for m in re.finditer(r"^([a-z_]+)_env=\((.*?)\)\s*$", text, re.S | re.M):
        body = "\n".join(line.split(" #", 1)[0] for line in m.group(2).splitlines())
        arrays[m.group(1)] = shlex.split(body, comments=True, posix=True)
    return arrays


def check_demo(manifest: dict) -> list[str]:
    errors: list[str] = []
    text = DEMO.read_text()
    arrays = demo_arrays(text)
    for svc, spec in manifest["services"].items():
        var = svc.replace("-", "_")
        words = arrays.get(var)
        if words is None:
            errors.append(f"scripts/demo.sh: no {var}_env=(...) array for the {svc}")
            continue
        if not re.search(rf'env "\${{{var}_env\[@\]}}" target/debug/{svc} serve', text):
            errors.append(f"scripts/demo.sh: the {svc} is not started with env \"${{{var}_env[@]}}\" target/debug/{svc} serve")
        have: dict[str, str] = {}
        for w in words:
            name, sep, value = w.partition("=")
            if not sep or not NAME.match(name):
                errors.append(f"scripts/demo.sh: {var}_env has {w!r}, not NAME=value")
                continue
            have[name] = value
        want = {s["name"]: s["demo"] for s in spec["settings"] if s.get("demo") is not None}
        for name in sorted(set(want) - set(have)):
            errors.append(f"scripts/demo.sh: {var}_env lacks {name} (deploy/settings.json has a demo target)")
        for name in sorted(set(have) - set(want)):
            errors.append(f"scripts/demo.sh: {var}_env sets {name}, which deploy/settings.json has no demo target for")
        for name, t in want.items():
            if name in have and "value" in t and have[name] != t["value"]:
                errors.append(f"scripts/demo.sh: {var}_env sets {name}={have[name]!r}, deploy/settings.json says {t['value']!r}")
    return errors


def main(argv: list[str]) -> int:
    manifest = load()
    errors = check_manifest(manifest)
    if errors:
        print("\n".join(f"  {e}" for e in errors))
        print(f"check_settings: {len(errors)} problem(s) in deploy/settings.json")
        return 1
    if "--write" in argv:
        write_compose_env(manifest)
    errors = check_compose(manifest) + check_demo(manifest)
    if errors:
        print("\n".join(f"  {e}" for e in errors))
        print(f"check_settings: {len(errors)} difference(s) from deploy/settings.json")
        return 1
    counts = ", ".join(f"{svc} {len(spec['settings'])}" for svc, spec in manifest["services"].items())
    print(f"check_settings: ok (settings per service: {counts}; compose env files and demo.sh match)")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
