#!/usr/bin/env bash
# Run the one-shot database migration (`engine migrate`) of an environment as an ECS task, with
# the image about to be deployed, and fail unless it exits 0. Deploys run it after pushing the
# images and before `terraform apply` updates the services (expand/contract migrations keep the
# running version working). Concurrent runs are safe: the engine takes a Postgres advisory lock.
#
#   scripts/infra/run-migration.sh <image-tag>
#
# Needs: the AWS CLI with credentials for the environment, python3, and an initialised
# terraform/ working directory for that environment (its outputs name the cluster, the
# migration task definition, subnets and security group).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
TAG="${1:?usage: run-migration.sh <image-tag>}"
WORK="$(mktemp -d)"
trap 'rm -rf "${WORK}"' EXIT

terraform -chdir="${ROOT}/terraform" output -json >"${WORK}/outputs.json"
read -r CLUSTER FAMILY CONTAINER SUBNETS SGS IMAGE < <(python3 - "${WORK}/outputs.json" "${TAG}" <<'PY'
import json, sys
o = json.load(open(sys.argv[1]))
m = o["migration_task"]["value"]
image = f'{o["ecr_repository_urls"]["value"]["engine"]}:{sys.argv[2]}'
print(m["cluster"], m["task_definition"], m["container_name"], ",".join(m["subnet_ids"]),
      ",".join(m["security_group_ids"]), image)
PY
)

echo "migration: registering ${FAMILY} with ${IMAGE}"
aws ecs describe-task-definition --task-definition "${FAMILY}" --query taskDefinition --output json >"${WORK}/current.json"
python3 - "${WORK}/current.json" "${IMAGE}" "${CONTAINER}" >"${WORK}/next.json" <<'PY'
import json, sys
td = json.load(open(sys.argv[1]))
keep = ["family", "taskRoleArn", "executionRoleArn", "networkMode", "containerDefinitions", "volumes",
        "placementConstraints", "requiresCompatibilities", "cpu", "memory", "runtimePlatform",
        "ephemeralStorage", "pidMode", "ipcMode", "proxyConfiguration"]
nxt = {k: td[k] for k in keep if td.get(k) not in (None, [], {})}
for c in nxt["containerDefinitions"]:
    if c["name"] == sys.argv[3]:
        c["image"] = sys.argv[2]
print(json.dumps(nxt))
PY
TASK_DEF="$(aws ecs register-task-definition --cli-input-json "file://${WORK}/next.json" \
  --query taskDefinition.taskDefinitionArn --output text)"

echo "migration: running ${TASK_DEF##*/} on ${CLUSTER}"
TASK="$(aws ecs run-task --cluster "${CLUSTER}" --task-definition "${TASK_DEF}" --launch-type FARGATE \
  --started-by "migrate-${TAG:0:20}" \
  --network-configuration "awsvpcConfiguration={subnets=[${SUBNETS}],securityGroups=[${SGS}],assignPublicIp=DISABLED}" \
  --query 'tasks[0].taskArn' --output text)"
[[ -n "${TASK}" && "${TASK}" != "None" ]] || { echo "migration: run-task started nothing" >&2; exit 1; }

# tasks-stopped polls for 10 minutes; migrations that take longer need a second wait.
for _ in 1 2 3; do
  aws ecs wait tasks-stopped --cluster "${CLUSTER}" --tasks "${TASK}" && break
done
aws ecs describe-tasks --cluster "${CLUSTER}" --tasks "${TASK}" --output json >"${WORK}/task.json"
python3 - "${WORK}/task.json" "${CONTAINER}" <<'PY'
import json, sys
task = json.load(open(sys.argv[1]))["tasks"][0]
c = next(c for c in task["containers"] if c["name"] == sys.argv[2])
code = c.get("exitCode")
print(f"migration: {task.get('lastStatus')} exit={code} reason={c.get('reason') or task.get('stoppedReason')}")
sys.exit(0 if code == 0 else 1)
PY
