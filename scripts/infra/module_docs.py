"""Inputs/outputs tables of the Terraform modules' READMEs (a small terraform-docs).

Each terraform/modules/<m>/README.md holds hand-written prose and, between the markers
<!-- BEGIN_TF_DOCS --> and <!-- END_TF_DOCS -->, tables generated from variables.tf and
outputs.tf. The parser relies on `terraform fmt` layout (block attributes indented by two).

  python3 scripts/infra/module_docs.py          rewrite the tables
  python3 scripts/infra/module_docs.py --check  exit 1 when a table is out of date (infra-test)
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
BEGIN, END = "<!-- BEGIN_TF_DOCS -->", "<!-- END_TF_DOCS -->"
HEADER = re.compile(r'^(variable|output) "([^"]+)" \{\s*$')
ATTR = re.compile(r"^  ([a-z_]+)\s*=\s*(.*)$")
NESTED = re.compile(r"^  [a-z_]+ \{\s*$")


def blocks(path: Path) -> list[tuple[str, dict[str, str]]]:
    """(name, {attribute: raw text}) of each top-level variable/output block."""
    out: list[tuple[str, dict[str, str]]] = []
    lines = path.read_text().splitlines() if path.exists() else []
    i = 0
    while i < len(lines):
        m = HEADER.match(lines[i])
        i += 1
        if not m:
            continue
        attrs: dict[str, str] = {}
        current: str | None = None
        while i < len(lines) and lines[i] != "}":
            line = lines[i]
            i += 1
            if NESTED.match(line):  # validation {...}: skip to its end
                while i < len(lines) and lines[i] != "  }":
                    i += 1
                i += 1
                current = None
                continue
            a = ATTR.match(line)
            if a:
                current = a.group(1)
                attrs[current] = a.group(2)
            elif current and line.strip():
                attrs[current] += "\n" + line
        i += 1
        out.append((m.group(2), attrs))
    return out


def one_line(text: str) -> str:
    text = re.sub(r"\s*#[^\n\"]*$", "", text, flags=re.M)  # trailing comments
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    text = lines[0] if lines else ""
    for prev, line in zip(lines, lines[1:]):
        joins = prev.endswith(("{", "(", "[", ",")) or line.startswith(("}", ")", "]"))
        text += (" " if joins else ", ") + line
    text = re.sub(r"\s+", " ", text).strip()
    text = re.sub(r"\(\{ ", "({", text)
    text = re.sub(r" \}\)", "})", text)
    return text


def unquote(text: str) -> str:
    text = one_line(text)
    if text.startswith('"') and text.endswith('"'):
        text = text[1:-1].replace('\\"', '"')
    return text


def cell(text: str) -> str:
    return text.replace("|", "\\|").replace("<", "&lt;").replace(">", "&gt;")


def tables(module: Path) -> str:
    rows = ["## Inputs", "", "| Name | Description | Type | Default | Required |", "|---|---|---|---|:---:|"]
    for name, a in blocks(module / "variables.tf"):
        required = "default" not in a
        default = "n/a" if required else f"`{cell(one_line(a['default']))}`"
        rows.append(
            f"| `{name}` | {cell(unquote(a.get('description', '')))} | `{cell(one_line(a.get('type', 'any')))}` "
            f"| {default} | {'yes' if required else 'no'} |"
        )
    rows += ["", "## Outputs", "", "| Name | Description |", "|---|---|"]
    for name, a in blocks(module / "outputs.tf"):
        rows.append(f"| `{name}` | {cell(unquote(a.get('description', '')))} |")
    return "\n".join(rows)


def main() -> int:
    check = "--check" in sys.argv[1:]
    stale = []
    for module in sorted((ROOT / "terraform" / "modules").iterdir()):
        readme = module / "README.md"
        if not module.is_dir() or not readme.exists():
            continue
        text = readme.read_text()
        if BEGIN not in text or END not in text:
            stale.append(f"{readme.relative_to(ROOT)} (no {BEGIN} ... {END} markers)")
            continue
        head, rest = text.split(BEGIN, 1)
        _, tail = rest.split(END, 1)
        new = f"{head}{BEGIN}\n{tables(module)}\n{END}{tail}"
        if new != text:
            stale.append(str(readme.relative_to(ROOT)))
            if not check:
                readme.write_text(new)
    if check and stale:
        print("out of date (run python3 scripts/infra/module_docs.py):\n  " + "\n  ".join(stale))
        return 1
    if not check and stale:
        print("updated:\n  " + "\n  ".join(stale))
    return 0


if __name__ == "__main__":
    sys.exit(main())
