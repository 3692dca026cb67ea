#!/usr/bin/env bash
# A local AWS emulator (moto's HTTP server) on loopback, shared by the Terraform
# emulator test (scripts/infra-test.sh) and the Rust AWS tests (S3, Secrets
# Manager, CloudWatch).
#
#   scripts/moto-server.sh start    install moto if missing, start it, wait until it answers
#   scripts/moto-server.sh stop     stop the server started by `start`
#   scripts/moto-server.sh url      print its URL (http://127.0.0.1:PORT); exit 1 if not running
#   scripts/moto-server.sh status   print "running <url>" or "stopped"
#   scripts/moto-server.sh reset    wipe all emulated state (POST /moto-api/reset)
#
# Environment:
#   MOTO_PORT      port to listen on (default: a free port picked at start)
#   MOTO_STATE_DIR where the pid/port/log files live (default: <repo>/.local/moto)
#   PYTHON         interpreter used to create the venv (default: python3.11, else python3)
#
# Clients reach it with AWS_ENDPOINT_URL=$(scripts/moto-server.sh url), any
# access key/secret (e.g. "test"/"test") and a region; use path-style S3.
# moto answers as account 123456789012.
#
# Gaps bridged (see scripts/infra/moto_server.py and docs/deployment.md):
#   - MOTO_IAM_LOAD_MANAGED_POLICIES=true so AWS-managed IAM policies exist;
#   - Application Auto Scaling ListTagsForResource/TagResource/UntagResource.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
MOTO_VERSION="5.2.5"
VENV="${ROOT}/.local/venv-moto"
STATE_DIR="${MOTO_STATE_DIR:-${ROOT}/.local/moto}"
PID_FILE="${STATE_DIR}/moto.pid"
PORT_FILE="${STATE_DIR}/moto.port"
LOG_FILE="${STATE_DIR}/moto.log"
HOST="127.0.0.1"

log() { printf 'moto-server: %s\n' "$*" >&2; }

pick_python() {
  if [[ -n "${PYTHON:-}" ]]; then echo "${PYTHON}"; return; fi
  if command -v python3.11 >/dev/null 2>&1; then echo python3.11; else echo python3; fi
}

ensure_venv() {
  if [[ -x "${VENV}/bin/python" ]] &&
    "${VENV}/bin/python" -c "import moto, sys; sys.exit(0 if moto.__version__ == '${MOTO_VERSION}' else 1)" 2>/dev/null; then
    return
  fi
  log "installing moto[server]==${MOTO_VERSION} into ${VENV#"${ROOT}"/}"
  mkdir -p "${STATE_DIR}"
  "$(pick_python)" -m venv "${VENV}"
  "${VENV}/bin/pip" install --quiet "moto[server]==${MOTO_VERSION}" >"${STATE_DIR}/pip-install.log" 2>&1 || {
    log "pip install failed, see ${STATE_DIR}/pip-install.log"
    tail -n 20 "${STATE_DIR}/pip-install.log" >&2
    exit 1
  }
}

running_pid() {
  [[ -f "${PID_FILE}" ]] || return 1
  local pid
  pid="$(cat "${PID_FILE}")"
  [[ -n "${pid}" ]] && kill -0 "${pid}" 2>/dev/null || return 1
  echo "${pid}"
}

url() {
  running_pid >/dev/null || return 1
  echo "http://${HOST}:$(cat "${PORT_FILE}")"
}

free_port() {
  "${VENV}/bin/python" - <<'PY'
import socket
s = socket.socket()
s.bind(("127.0.0.1", 0))
print(s.getsockname()[1])
s.close()
PY
}

answers() {
  "${VENV}/bin/python" - "$1" <<'PY'
import sys, urllib.request
try:
    urllib.request.urlopen(sys.argv[1] + "/moto-api/data.json", timeout=2).read()
except Exception:
    sys.exit(1)
PY
}

start() {
  if running_pid >/dev/null; then
    log "already running at $(url)"
    url
    return
  fi
  ensure_venv
  mkdir -p "${STATE_DIR}"
  local port="${MOTO_PORT:-}"
  [[ -n "${port}" ]] || port="$(free_port)"
  echo "${port}" >"${PORT_FILE}"
  # setsid (where available): its own session, so a Ctrl-C in the calling shell does not kill
  # it half-way; `stop` ends it (and only it) by pid.
  local detach=()
  command -v setsid >/dev/null 2>&1 && detach=(setsid)
  MOTO_IAM_LOAD_MANAGED_POLICIES=true \
    ${detach[@]+"${detach[@]}"} "${VENV}/bin/python" "${ROOT}/scripts/infra/moto_server.py" -H "${HOST}" -p "${port}" \
    >"${LOG_FILE}" 2>&1 </dev/null &
  echo $! >"${PID_FILE}"
  local base="http://${HOST}:${port}"
  for _ in $(seq 1 150); do
    if answers "${base}"; then
      log "listening on ${base} (pid $(cat "${PID_FILE}"), log ${LOG_FILE#"${ROOT}"/})"
      echo "${base}"
      return
    fi
    if ! running_pid >/dev/null; then
      log "moto exited during start-up; last log lines:"
      tail -n 20 "${LOG_FILE}" >&2
      rm -f "${PID_FILE}"
      exit 1
    fi
    sleep 0.2
  done
  log "moto did not answer on ${base} within 30 s"
  stop
  exit 1
}

stop() {
  local pid
  if pid="$(running_pid)"; then
    kill "${pid}" 2>/dev/null || true
    for _ in $(seq 1 50); do
      kill -0 "${pid}" 2>/dev/null || break
      sleep 0.1
    done
    kill -9 "${pid}" 2>/dev/null || true
    log "stopped (pid ${pid})"
  fi
  rm -f "${PID_FILE}"
}

case "${1:-}" in
  start) start ;;
  stop) stop ;;
  url) url ;;
  status) if u="$(url)"; then echo "running ${u}"; else echo "stopped"; fi ;;
  reset)
    u="$(url)" || { log "not running"; exit 1; }
    "${VENV}/bin/python" -c "import sys, urllib.request; urllib.request.urlopen(urllib.request.Request(sys.argv[1] + '/moto-api/reset', method='POST')).read()" "${u}"
    ;;
  *)
    echo "usage: $0 start|stop|url|status|reset" >&2
    exit 2
    ;;
esac
