"""Small queries on `terraform show -json` output, for scripts/infra-test.sh.

  plan_stats.py creates               < plan.json   number of resources the plan creates
  plan_stats.py missing STATE_LIST    < plan.json   planned creations absent from `terraform state list`
  plan_stats.py changes               < plan.json   "address (actions: attrs)" of planned updates, one a line
  plan_stats.py changes-summary       < plan.json   "N resources; attributes: a, b" (one line)
"""

import json
import sys


def managed_changes(plan: dict) -> list[dict]:
    return [rc for rc in plan.get("resource_changes", []) if rc.get("mode") == "managed"]


def main() -> None:
    cmd = sys.argv[1]
    plan = json.load(sys.stdin)
    changes = managed_changes(plan)
    if cmd == "creates":
        print(sum(1 for rc in changes if "create" in rc["change"]["actions"]))
    elif cmd == "missing":
        state = {line.strip() for line in open(sys.argv[2]) if line.strip()}
        for rc in changes:
            if "create" in rc["change"]["actions"] and rc["address"] not in state:
                print(rc["address"])
    elif cmd in ("changes", "changes-summary"):
        out, all_attrs = [], set()
        for rc in changes:
            actions = rc["change"]["actions"]
            if actions in (["no-op"], ["read"]):
                continue
            before = rc["change"].get("before") or {}
            after = rc["change"].get("after") or {}
            attrs = sorted(k for k in set(before) | set(after) if before.get(k) != after.get(k))
            all_attrs.update(attrs)
            out.append(f"{rc['address']} ({'/'.join(actions)}: {', '.join(attrs)})")
        if cmd == "changes":
            print("\n".join(out) if out else "none")
        else:
            print(f"{len(out)} resources; attributes: {', '.join(sorted(all_attrs)) or 'none'}")
    else:
        sys.exit(f"unknown command {cmd}")


if __name__ == "__main__":
    main()
