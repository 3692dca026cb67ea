"""Exit 0 when a failed `terraform destroy` log shows only the emulator's re-sent-delete flake.

Under CPU load the AWS provider now and then re-sends a delete whose first answer it lost; moto
has already executed it and answers that the thing does not exist. The provider ignores AWS's own
not-found codes on delete, but moto's differ (InvalidPermission.NotFound for a security-group rule
id, where AWS says InvalidSecurityGroupRuleId.NotFound; a ValidationException "No scaling policy
found"). This script says whether every error in the log is such an answer to a delete, so
scripts/infra-test.sh may run the destroy once more; anything else (a dependency violation, a
timeout, a provider error) exits 1 and the failure stands.

  python3 destroy_flake.py DESTROY_LOG
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

NOT_FOUND = re.compile(
    r"InvalidPermission\.NotFound|InvalidSecurityGroupRuleId\.NotFound|No scaling policy found|"
    r"No scalable target found|ResourceNotFoundException"
)


def errors(text: str) -> list[str]:
    """Each `Error: ...` block of a -no-color terraform log, up to the next blank-line gap."""
    blocks: list[str] = []
    current: list[str] | None = None
    for line in text.splitlines():
        if line.startswith("Error: "):
            if current is not None:
                blocks.append("\n".join(current))
            current = [line]
        elif current is not None:
            if line.strip() == "" and len(current) > 1 and current[-1].strip() == "":
                blocks.append("\n".join(current))
                current = None
            else:
                current.append(line)
    if current is not None:
        blocks.append("\n".join(current))
    return blocks


def main(argv: list[str]) -> int:
    found = errors(Path(argv[0]).read_text(errors="replace"))
    if not found:
        return 1
    for block in found:
        if not block.startswith("Error: deleting ") or not NOT_FOUND.search(" ".join(block.split())):
            return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
