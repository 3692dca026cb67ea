#!/usr/bin/env bash
# Infrastructure checks, run by `make test` (and CI):
#   1. terraform fmt -check -recursive (terraform/, environments/)
#   2. terraform init + validate of the root configuration, and a plan of every environment's
#      tfvars against the emulator (variable validation, per-environment conditionals)
#   3. checkov (Terraform, Dockerfiles, GitHub workflows): zero failed checks; every deliberate
#      exception is a `#checkov:skip=<id>:<reason>` beside the resource; then the workflows'
#      own lint (scripts/lint-workflows.sh: actionlint with shellcheck, every action pinned to a
#      commit SHA)
#   4. terraform apply of the dev environment against moto on loopback, every planned resource
#      created; the task definitions and services read back and checked against
#      deploy/settings.json (scripts/infra/check_task_definitions.py); then terraform destroy,
#      the state left empty
# Before those, the settings manifest deploy/settings.json is checked, and docker-compose and
# scripts/demo.sh against it (scripts/infra/check_settings.py).
#
# Offline machines: when /opt/tf-plugins exists, a CLI config under .local/ points the provider
# installation at that filesystem mirror; elsewhere the same commands use the registry.
# Installs what it needs under .local/ (git-ignored): venv-moto, venv-checkov, terraform/.
# Verbose output goes to .local/infra-test/logs/; progress lines go to stdout.
#
#   5. between the two, the deployment rehearsal: the three images built (scripts/images.sh with
#      the test build's binaries) and run from moto's task definitions (scripts/infra/rehearsal.py)
#
# Environment: INFRA_TEST_SKIP="checkov workflows emulator rehearsal destroy" skips stages (for
# quick local loops only; skipping destroy leaves the applied emulator up for rehearsal.py).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
LOCAL="${ROOT}/.local"
WORK="${LOCAL}/infra-test"
LOGS="${WORK}/logs"
CHECKOV_VERSION="3.3.30"
ENVIRONMENTS=(dev staging prod)
EMULATOR_ENV="dev"
EMULATOR_REGION="us-east-1"
SKIP=" ${INFRA_TEST_SKIP:-} "

START=$(date +%s)
STAGE="setup"
STARTED_MOTO=0
declare -a SUMMARY=()

say() { printf '[infra-test %4ss] %s\n' "$(($(date +%s) - START))" "$*"; }

fail() {
  say "FAILED in stage '${STAGE}': $*"
  exit 1
}

# Run a command with its output in a log file; on failure show the log's tail.
run_logged() {
  local log="$1"
  shift
  if ! "$@" >>"${log}" 2>&1; then
    say "command failed: $* (log: ${log#"${ROOT}"/})"
    tail -n 40 "${log}" | sed 's/^/    /'
    return 1
  fi
}

cleanup() {
  local rc=$?
  if [[ "${STARTED_MOTO}" == 1 && "${SKIP}" != *" destroy "* ]]; then
    "${ROOT}/scripts/moto-server.sh" stop >/dev/null 2>&1 || true
  fi
  if [[ ${rc} -ne 0 ]]; then
    say "infra-test: FAILED (stage ${STAGE}, exit ${rc}) after $(($(date +%s) - START))s; logs in ${LOGS#"${ROOT}"/}"
  fi
  exit "${rc}"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

rm -rf "${WORK}"
mkdir -p "${LOGS}" "${LOCAL}/terraform"

################################################################################
# Tools
################################################################################
STAGE="tools"
command -v terraform >/dev/null || fail "terraform is not on PATH (>= 1.11 needed)"
say "terraform $(terraform version -json 2>/dev/null | python3 -c 'import json,sys; print(json.load(sys.stdin)["terraform_version"])')"

if [[ -d /opt/tf-plugins ]]; then
  # Offline machine: providers come from the filesystem mirror only.
  cat >"${LOCAL}/terraform/cli.tfrc" <<'EOF'
provider_installation {
  filesystem_mirror {
    path    = "/opt/tf-plugins"
    include = ["registry.terraform.io/hashicorp/*"]
  }
  direct {
    exclude = ["registry.terraform.io/hashicorp/*"]
  }
}
EOF
  export TF_CLI_CONFIG_FILE="${LOCAL}/terraform/cli.tfrc"
  say "providers from the filesystem mirror /opt/tf-plugins"
else
  # Online: the registry, with a download cache. An absent TF_CLI_CONFIG_FILE only warns; drop it.
  if [[ -n "${TF_CLI_CONFIG_FILE:-}" && ! -f "${TF_CLI_CONFIG_FILE}" ]]; then unset TF_CLI_CONFIG_FILE; fi
  mkdir -p "${LOCAL}/terraform/plugin-cache"
  export TF_PLUGIN_CACHE_DIR="${LOCAL}/terraform/plugin-cache"
  say "providers from the registry (cache ${TF_PLUGIN_CACHE_DIR#"${ROOT}"/})"
fi
export TF_IN_AUTOMATION=1 TF_INPUT=0 CHECKPOINT_DISABLE=1

pick_python() { if command -v python3.11 >/dev/null 2>&1; then echo python3.11; else echo python3; fi; }

if [[ "${SKIP}" != *" checkov "* ]]; then
  CHECKOV="${LOCAL}/venv-checkov/bin/checkov"
  if ! [[ -x "${CHECKOV}" ]] || ! "${LOCAL}/venv-checkov/bin/python" -c \
    "import importlib.metadata as m, sys; sys.exit(m.version('checkov') != '${CHECKOV_VERSION}')" 2>/dev/null; then
    say "installing checkov ${CHECKOV_VERSION} into .local/venv-checkov"
    "$(pick_python)" -m venv "${LOCAL}/venv-checkov"
    run_logged "${LOGS}/pip-checkov.log" "${LOCAL}/venv-checkov/bin/pip" install --quiet "checkov==${CHECKOV_VERSION}" ||
      fail "pip install checkov"
  fi
fi

################################################################################
# 1. Format
################################################################################
STAGE="fmt"
if ! terraform fmt -check -recursive -diff "${ROOT}/terraform" "${ROOT}/environments" >"${LOGS}/fmt.log" 2>&1; then
  sed 's/^/    /' "${LOGS}/fmt.log" | head -n 60
  fail "terraform fmt -check: run 'terraform fmt -recursive terraform environments'"
fi
say "fmt: ok"
SUMMARY+=("fmt ok")

################################################################################
# 2. Init + validate (the root configuration is shared by every environment)
################################################################################
STAGE="validate"
for env in "${ENVIRONMENTS[@]}"; do
  [[ -f "${ROOT}/environments/${env}.tfvars" ]] || fail "missing environments/${env}.tfvars"
  [[ -f "${ROOT}/environments/${env}.backend.hcl" ]] || fail "missing environments/${env}.backend.hcl"
  grep -Eq '^[[:space:]]*use_lockfile[[:space:]]*=[[:space:]]*true' "${ROOT}/environments/${env}.backend.hcl" ||
    fail "environments/${env}.backend.hcl must enable state locking (use_lockfile = true)"
done
# TF_DATA_DIR keeps .terraform/ out of the work tree; the committed lock file is only read.
export TF_DATA_DIR="${WORK}/data-validate"
run_logged "${LOGS}/validate.log" terraform -chdir="${ROOT}/terraform" init -backend=false -lockfile=readonly -input=false ||
  fail "terraform init (a provider missing from .terraform.lock.hcl? run 'terraform providers lock')"
run_logged "${LOGS}/validate.log" terraform -chdir="${ROOT}/terraform" validate -no-color || fail "terraform validate"
for m in "${ROOT}"/terraform/modules/*/; do
  for f in main.tf variables.tf outputs.tf versions.tf README.md; do
    [[ -f "${m}${f}" ]] || fail "module $(basename "${m}") has no ${f}"
  done
done
python3 "${ROOT}/scripts/infra/module_docs.py" --check || fail "module README tables out of date"
say "validate: ok (root configuration, $(find "${ROOT}/terraform/modules" -mindepth 1 -maxdepth 1 -type d | wc -l) modules)"
SUMMARY+=("validate ok")

STAGE="settings"
python3 "${ROOT}/scripts/infra/check_settings.py" >"${LOGS}/settings.log" 2>&1 ||
  { sed 's/^/    /' "${LOGS}/settings.log"; fail "settings differ from deploy/settings.json"; }
say "settings: $(tail -n 1 "${LOGS}/settings.log" | sed 's/^check_settings: //')"
SUMMARY+=("settings ok")

################################################################################
# 3. checkov
################################################################################
STAGE="checkov"
if [[ "${SKIP}" != *" checkov "* ]]; then
  checkov_args=(--quiet --compact --skip-download --framework terraform dockerfile github_actions -d terraform)
  for d in engine data-service dashboard .github/workflows; do
    [[ -d "${ROOT}/${d}" ]] && checkov_args+=(-d "${d}")
  done
  set +e
  (cd "${ROOT}" && "${CHECKOV}" "${checkov_args[@]}" -o cli -o json --output-file-path "${LOGS}") \
    >"${LOGS}/checkov.log" 2>&1
  checkov_rc=$?
  set -e
  checkov_summary="$(python3 - "${LOGS}/results_json.json" <<'PY'
import json, sys
try:
    data = json.load(open(sys.argv[1]))
except Exception as exc:  # no report: checkov itself failed
    print(f"ERROR no report ({exc})")
    sys.exit(0)
reports = data if isinstance(data, list) else [data]
passed = failed = skipped = parse_errors = 0
lines = []
for r in reports:
    s = r.get("summary", {})
    passed += s.get("passed", 0); failed += s.get("failed", 0); skipped += s.get("skipped", 0)
    parse_errors += s.get("parsing_errors", 0)
    for c in r.get("results", {}).get("failed_checks", []):
        lines.append(f"    {c['check_id']} {c['resource']} ({c['file_path']}:{c['file_line_range'][0]})  {c['check_name']}")
print(f"passed={passed} failed={failed + parse_errors} skipped={skipped}" + (f" (parsing errors: {parse_errors})" if parse_errors else ""))
print("\n".join(lines))
PY
)"
  counts="$(head -n1 <<<"${checkov_summary}")"
  if [[ "${counts}" == ERROR* ]] || ! grep -q 'failed=0 ' <<<"${counts} "; then
    tail -n +2 <<<"${checkov_summary}"
    tail -n 20 "${LOGS}/checkov.log" | sed 's/^/    /'
    fail "checkov: ${counts} (rc ${checkov_rc}; report ${LOGS#"${ROOT}"/}/results_cli.txt)"
  fi
  say "checkov: ${counts}"
  SUMMARY+=("checkov ${counts}")
else
  say "checkov: skipped (INFRA_TEST_SKIP)"
fi

STAGE="workflows"
if [[ "${SKIP}" != *" workflows "* ]]; then
  bash "${ROOT}/scripts/lint-workflows.sh" >"${LOGS}/workflows.log" 2>&1 || {
    tail -n 40 "${LOGS}/workflows.log" | sed 's/^/    /'
    fail "workflow lint (scripts/lint-workflows.sh; log ${LOGS#"${ROOT}"/}/workflows.log)"
  }
  say "workflows: $(tail -n 1 "${LOGS}/workflows.log" | sed 's/^\[workflows\] //')"
  SUMMARY+=("workflows clean")
else
  say "workflows: skipped (INFRA_TEST_SKIP)"
fi

################################################################################
# 4. Emulator: plan every environment, apply + destroy dev
################################################################################
STAGE="emulator"
if [[ "${SKIP}" == *" emulator "* ]]; then
  say "emulator: skipped (INFRA_TEST_SKIP)"
  say "infra-test: OK in $(($(date +%s) - START))s: ${SUMMARY[*]}"
  exit 0
fi

# A copy of the root configuration plus an override file: local state under .local/, the
# provider pointed at moto. The real backend configuration is never touched.
EMU="${WORK}/emulator"
export MOTO_STATE_DIR="${WORK}/moto"
export TF_DATA_DIR="${EMU}/data"
export AWS_ACCESS_KEY_ID=test AWS_SECRET_ACCESS_KEY=test AWS_REGION="${EMULATOR_REGION}"
unset AWS_PROFILE AWS_SESSION_TOKEN AWS_ENDPOINT_URL
tf() { terraform -chdir="${EMU}/root" "$@"; }

emulator_up() {
  "${ROOT}/scripts/moto-server.sh" start >"${LOGS}/moto-start.log" 2>&1 ||
    { cat "${LOGS}/moto-start.log"; fail "moto did not start"; }
  STARTED_MOTO=1
  MOTO_URL="$("${ROOT}/scripts/moto-server.sh" url)"
  say "moto at ${MOTO_URL}"
  rm -rf "${EMU}"
  mkdir -p "${EMU}"
  cp -R "${ROOT}/terraform" "${EMU}/root"
  cp -R "${ROOT}/deploy" "${EMU}/deploy" # the settings manifest, read as ../deploy/settings.json
  rm -rf "${EMU}/root/.terraform"
  python3 "${ROOT}/scripts/infra/emulator_override.py" "${MOTO_URL}" "${EMULATOR_REGION}" "${EMU}/terraform.tfstate" \
    >"${EMU}/root/zz_emulator_override.tf"
  run_logged "${LOGS}/emulator-init.log" tf init -input=false -lockfile=readonly -no-color || fail "terraform init (emulator)"
}

emulator_down() {
  "${ROOT}/scripts/moto-server.sh" stop >/dev/null 2>&1 || true
  STARTED_MOTO=0
}

say "starting moto"
emulator_up

var_args() { echo "-var-file=${ROOT}/environments/$1.tfvars -var image_tag=infra-test"; }

# Plans of the other environments first, while the state is empty.
for env in "${ENVIRONMENTS[@]}"; do
  [[ "${env}" == "${EMULATOR_ENV}" ]] && continue
  # shellcheck disable=SC2046
  run_logged "${LOGS}/plan-${env}.log" tf plan -input=false -no-color -lock=false $(var_args "${env}") -out="${EMU}/${env}.plan" ||
    fail "terraform plan of ${env}"
  n="$(tf show -json "${EMU}/${env}.plan" | python3 "${ROOT}/scripts/infra/plan_stats.py" creates)"
  say "plan ${env}: ok (${n} resources to create)"
  SUMMARY+=("plan-${env} ${n}")
done

# Every environment trades paper; the live venues' settings (broker secret lookup, endpoints,
# validations) are planned too, on dev's variables with its broker account.
for venue in 'alpaca:{kind="alpaca",broker_account="paper",alpaca_trading="paper"}' \
  'binance:{kind="binance",broker_account="paper",binance_network="testnet"}'; do
  # shellcheck disable=SC2046
  run_logged "${LOGS}/plan-venue-${venue%%:*}.log" tf plan -input=false -no-color -lock=false $(var_args "${EMULATOR_ENV}") \
    -var "engine_venue=${venue#*:}" -out="${EMU}/venue-${venue%%:*}.plan" ||
    fail "terraform plan of ${EMULATOR_ENV} with engine_venue ${venue#*:}"
  say "plan ${EMULATOR_ENV} with the ${venue%%:*} venue: ok"
  SUMMARY+=("plan-${venue%%:*} ok")
done
# Two accounts with their own broker accounts beside the paper default (engine ACCOUNTS).
accounts='{us={venue="alpaca",broker_account="paper"},crypto={venue="binance",broker_account="paper",binance_network="live"}}'
# shellcheck disable=SC2046
run_logged "${LOGS}/plan-accounts.log" tf plan -input=false -no-color -lock=false $(var_args "${EMULATOR_ENV}") \
  -var "engine_accounts=${accounts}" -out="${EMU}/accounts.plan" ||
  fail "terraform plan of ${EMULATOR_ENV} with engine_accounts ${accounts}"
tf show -json "${EMU}/accounts.plan" | python3 -c '
import json, sys
# The output is only partly known at plan time (the secrets ARNs are not): read its change.
accounts = json.load(sys.stdin)["output_changes"]["engine_accounts"]["after"]
venues = {name: a["venue"] for name, a in (accounts or {}).items()}
assert venues == {"us": "alpaca", "crypto": "binance", "*": "paper"}, venues
' || fail "the engine_accounts output of the accounts plan is not us=alpaca, crypto=binance, *=paper"
say "plan ${EMULATOR_ENV} with two broker accounts: ok (engine_accounts output: us alpaca, crypto binance, * paper)"
SUMMARY+=("plan-accounts ok")

STAGE="apply"
plan_and_apply() {
  # shellcheck disable=SC2046
  run_logged "${LOGS}/plan-${EMULATOR_ENV}.log" tf plan -input=false -no-color $(var_args "${EMULATOR_ENV}") -out="${EMU}/${EMULATOR_ENV}.plan" ||
    fail "terraform plan of ${EMULATOR_ENV}"
  tf show -json "${EMU}/${EMULATOR_ENV}.plan" >"${EMU}/${EMULATOR_ENV}.plan.json"
  planned="$(python3 "${ROOT}/scripts/infra/plan_stats.py" creates <"${EMU}/${EMULATOR_ENV}.plan.json")"
  say "apply ${EMULATOR_ENV}: ${planned} resources planned"
  apply_start=$(date +%s)
  : >"${LOGS}/apply-${EMULATOR_ENV}.log"
  run_logged "${LOGS}/apply-${EMULATOR_ENV}.log" tf apply -input=false -no-color -auto-approve "${EMU}/${EMULATOR_ENV}.plan"
}

if ! plan_and_apply; then
  # Under CPU load the provider occasionally re-sends a request moto already executed (its answer
  # was lost); moto then answers the retry as a duplicate (a security-group rule, a WAF web ACL). Only that known
  # emulator flake earns one more attempt, on a fresh emulator; any other failure is final.
  if grep -Eq 'InvalidPermission.Duplicate|WafV2DuplicateItem' "${LOGS}/apply-${EMULATOR_ENV}.log"; then
    cp "${LOGS}/apply-${EMULATOR_ENV}.log" "${LOGS}/apply-${EMULATOR_ENV}.attempt1.log"
    say "apply ${EMULATOR_ENV}: moto answered a re-sent request as a duplicate (emulator flake); once more on a fresh emulator"
    emulator_down
    emulator_up
    plan_and_apply || fail "terraform apply of ${EMULATOR_ENV} against moto"
  else
    fail "terraform apply of ${EMULATOR_ENV} against moto"
  fi
fi
tf state list >"${EMU}/state-after-apply.txt"
applied="$(grep -vc '^data\.\|\.data\.' "${EMU}/state-after-apply.txt" || true)"
missing="$(python3 "${ROOT}/scripts/infra/plan_stats.py" missing "${EMU}/state-after-apply.txt" <"${EMU}/${EMULATOR_ENV}.plan.json")"
if [[ -n "${missing}" ]]; then
  sed 's/^/    not in state: /' <<<"${missing}"
  fail "apply finished but not every planned resource is in the state"
fi
grep -Eq 'Apply complete! Resources: [0-9]+ added' "${LOGS}/apply-${EMULATOR_ENV}.log" || fail "no 'Apply complete' line"
say "apply ${EMULATOR_ENV}: ok, ${applied}/${planned} resources created in $(($(date +%s) - apply_start))s"
SUMMARY+=("apply ${applied}/${planned}")

# The task definitions as ECS stores them, against deploy/settings.json: a required setting or
# an unconditional ECS setting missing, a variable no binary reads, a credential as plain
# environment, or Service Connect not publishing the manifest's names fails the run.
STAGE="task-definitions"
tf output -json task_definitions >"${EMU}/task-definitions.json"
tf output -json service_names |
  python3 -c 'import json,sys; d=json.load(sys.stdin); d["_cluster"]=sys.argv[1]; print(json.dumps(d))' \
    "$(tf output -raw cluster_name)" >"${EMU}/services.json"
"${LOCAL}/venv-moto/bin/python" "${ROOT}/scripts/infra/check_task_definitions.py" "${MOTO_URL}" "${EMULATOR_REGION}" \
  "${EMU}/task-definitions.json" "${EMU}/services.json" >"${LOGS}/task-definitions.log" 2>&1 ||
  { sed 's/^/    /' "${LOGS}/task-definitions.log"; fail "task definitions read back from moto differ from deploy/settings.json"; }
say "task definitions: $(tail -n 1 "${LOGS}/task-definitions.log" | sed 's/^check_task_definitions: //')"
SUMMARY+=("task-definitions ok")

# Drift right after apply is informational: moto does not round-trip a few attributes
# (RDS parameter-group parameters, performance_insights_*); see docs/deployment.md.
set +e
# shellcheck disable=SC2046
tf plan -input=false -no-color -detailed-exitcode $(var_args "${EMULATOR_ENV}") -out="${EMU}/drift.plan" >"${LOGS}/plan-after-apply.log" 2>&1
drift_rc=$?
set -e
if [[ ${drift_rc} -eq 1 ]]; then
  fail "terraform plan after apply errored (log ${LOGS#"${ROOT}"/}/plan-after-apply.log)"
elif [[ ${drift_rc} -eq 2 ]]; then
  tf show -json "${EMU}/drift.plan" >"${EMU}/drift.plan.json"
  python3 "${ROOT}/scripts/infra/plan_stats.py" changes <"${EMU}/drift.plan.json" >"${LOGS}/drift.txt"
  drift="$(python3 "${ROOT}/scripts/infra/plan_stats.py" changes-summary <"${EMU}/drift.plan.json")"
  say "re-plan after apply (informational, moto round-trip gaps): ${drift}; details in ${LOGS#"${ROOT}"/}/drift.txt"
else
  say "re-plan after apply: no changes"
fi

# The deployment rehearsal: the three images built from their Dockerfiles (with the binaries the
# test build compiled; `make images` compiles them inside the build), then run as ECS would run
# what was just applied: scripts/infra/rehearsal.py reads the task definitions, secrets and
# listener rules back from moto and drives a signal to a position through them.
STAGE="rehearsal"
if [[ "${SKIP}" != *" rehearsal "* ]]; then
  images_start=$(date +%s)
  run_logged "${LOGS}/images.log" env IMAGES_BINARIES=prebuilt bash "${ROOT}/scripts/images.sh" ||
    fail "the images did not build or failed their checks"
  grep -E '^\[images\] (engine|data-service|dashboard) +[0-9.]+ MB' "${LOGS}/images.log" | sed 's/^\[images\]/    image/'
  say "images: built and checked in $(($(date +%s) - images_start))s (log ${LOGS#"${ROOT}"/}/images.log)"
  as_root=()
  [[ "$(id -u)" -eq 0 ]] || as_root=(sudo -E env "PATH=${PATH}")
  set +e
  "${as_root[@]}" "${LOCAL}/venv-moto/bin/python" "${ROOT}/scripts/infra/rehearsal.py" "${MOTO_URL}" "${EMULATOR_REGION}" \
    "${EMU}" "${WORK}/rehearsal" 2>&1 | tee "${LOGS}/rehearsal.log" | sed 's/^/    /'
  rehearsal_rc=${PIPESTATUS[0]}
  set -e
  [[ ${rehearsal_rc} -eq 0 ]] || fail "the deployment rehearsal failed (container logs in ${WORK#"${ROOT}"/}/rehearsal/logs/)"
  say "$(tail -n 1 "${LOGS}/rehearsal.log")"
  SUMMARY+=("rehearsal ok")
fi

if [[ "${SKIP}" == *" destroy "* ]]; then
  # For local loops on the rehearsal only: the applied emulator stays up for rehearsal.py.
  STARTED_MOTO=0
  say "destroy skipped (INFRA_TEST_SKIP); moto stays up at ${MOTO_URL}: rerun with"
  say "  ${LOCAL#"${ROOT}"/}/venv-moto/bin/python scripts/infra/rehearsal.py ${MOTO_URL} ${EMULATOR_REGION} ${EMU#"${ROOT}"/} ${WORK#"${ROOT}"/}/rehearsal"
  exit 0
fi

STAGE="destroy"
destroy_start=$(date +%s)
destroy_log="${LOGS}/destroy-${EMULATOR_ENV}.log"
destroy_note=""
: >"${destroy_log}"
# shellcheck disable=SC2046
if ! run_logged "${destroy_log}" tf destroy -input=false -no-color -auto-approve $(var_args "${EMULATOR_ENV}"); then
  # The destroy-side twin of the apply flake above: the provider re-sends a delete that moto had
  # already executed (its answer was lost), and moto answers that the thing is not there: a
  # security-group rule revoke by id (InvalidPermission.NotFound, where AWS says
  # InvalidSecurityGroupRuleId.NotFound and the provider takes it as deleted), a scaling policy
  # ("No scaling policy found"). Only when every error is such a not-found answer to a delete
  # does the destroy run once more: its refresh drops what is gone, and the state must still end
  # empty. Any other failure (a dependency violation, ...) is final.
  if python3 "${ROOT}/scripts/infra/destroy_flake.py" "${destroy_log}"; then
    mv "${destroy_log}" "${LOGS}/destroy-${EMULATOR_ENV}.attempt1.log"
    say "destroy ${EMULATOR_ENV}: moto answered a re-sent delete as not found (emulator flake); destroying the rest"
    destroy_note=" (second attempt after the not-found flake; first log destroy-${EMULATOR_ENV}.attempt1.log)"
    # shellcheck disable=SC2046
    run_logged "${destroy_log}" tf destroy -input=false -no-color -auto-approve $(var_args "${EMULATOR_ENV}") ||
      fail "terraform destroy of ${EMULATOR_ENV} against moto"
  else
    fail "terraform destroy of ${EMULATOR_ENV} against moto"
  fi
fi
left="$(tf state list | grep -vc '^data\.\|\.data\.' || true)"
[[ "${left}" == 0 ]] || { tf state list | sed 's/^/    left: /'; fail "${left} resources left in the state after destroy"; }
destroyed="$(cat "${LOGS}"/destroy-"${EMULATOR_ENV}"*.log | grep -c ': Destruction complete after' || true)"
say "destroy ${EMULATOR_ENV}: ok, ${destroyed} resources destroyed in $(($(date +%s) - destroy_start))s${destroy_note}"
SUMMARY+=("destroy ${destroyed}")

STAGE="done"
say "infra-test: OK in $(($(date +%s) - START))s: ${SUMMARY[*]}"
