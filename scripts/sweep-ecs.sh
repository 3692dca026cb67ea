#!/usr/bin/env bash
# Splits a backtest parameter sweep across ECS Fargate tasks: one `aws ecs run-task` of the
# engine's `backtest` task definition per shard, each running
#   engine backtest <your arguments> --shard-index i --shard-count N --store-prefix P
# so every shard writes sweep-shard-i-of-N.csv under the run's prefix in the archive bucket.
#
#   scripts/sweep-ecs.sh --shards 4 [--env dev] [--dry-run] -- \
#       --source postgres --symbol BTCUSD --from 2026-10-01 --to 2026-11-01 \
#       --strategy sma_cross --params fast=5..50:5,slow=20..200:10 --quantity 1
#
# The cluster, task definition, subnets and security groups come from `terraform output
# backtest_task` of the environment (run from the repository root after `terraform apply`).
# --dry-run prints the run-task requests instead of sending them.
set -euo pipefail

shards=""
env_name="dev"
dry_run=false
while [[ $# -gt 0 ]]; do
  case "$1" in
    --shards) shards="$2"; shift 2 ;;
    --env) env_name="$2"; shift 2 ;;
    --dry-run) dry_run=true; shift ;;
    --) shift; break ;;
    *) echo "unknown option $1 (arguments for the backtest go after --)" >&2; exit 2 ;;
  esac
done
if ! [[ "$shards" =~ ^[1-9][0-9]*$ ]]; then
  echo "--shards N (a positive number) is required" >&2
  exit 2
fi
if [[ $# -eq 0 ]]; then
  echo "give the backtest's arguments after --" >&2
  exit 2
fi
for arg in "$@"; do
  case "$arg" in
    --shard-index|--shard-count|--store-prefix|--out) echo "$arg is set per shard by this script" >&2; exit 2 ;;
  esac
done
command -v jq >/dev/null || { echo "jq is required" >&2; exit 2; }

if [[ -n "${BACKTEST_TASK_JSON:-}" ]]; then
  task="$BACKTEST_TASK_JSON"
else
  task="$(cd terraform && terraform workspace select "$env_name" >/dev/null 2>&1 || true; terraform output -json backtest_task)"
fi
run_id="sweep-$(date -u +%H%M%S)-$RANDOM"
prefix="backtest-results/$(date -u +%Y/%m/%d)/$run_id/"

for ((i = 0; i < shards; i++)); do
  command_json="$(jq -cn --args '["backtest"] + $ARGS.positional' -- "$@" \
    --shard-index "$i" --shard-count "$shards" --store-prefix "$prefix")"
  overrides="$(jq -cn --arg name "$(jq -r .container_name <<<"$task")" --argjson command "$command_json" \
    '{containerOverrides: [{name: $name, command: $command}]}')"
  network="$(jq -c '{awsvpcConfiguration: {subnets: .subnet_ids, securityGroups: .security_group_ids, assignPublicIp: "DISABLED"}}' <<<"$task")"
  request=(aws ecs run-task --cluster "$(jq -r .cluster <<<"$task")" --task-definition "$(jq -r .task_definition <<<"$task")"
    --launch-type FARGATE --count 1 --started-by "$run_id" --network-configuration "$network" --overrides "$overrides")
  if $dry_run; then
    printf '%q ' "${request[@]}"
    echo
  else
    "${request[@]}" --query 'tasks[0].taskArn' --output text
  fi
done
echo "shards write to $prefix in the archive bucket (sweep-shard-<i>-of-$shards.csv)" >&2
