#!/usr/bin/env bash
# Every test of the project, with one pytest summary line at the end for CI.
# The assistant's own checks (data validation, test stories, NLU evaluation, action
# unit tests) run inside pytest (tests/bot/) so that one summary counts them all.
set -uo pipefail
cd "$(dirname "$0")/.."
export RASA_TELEMETRY_ENABLED=false
mkdir -p test-artifacts
echo "==> lint (ruff, mypy)"
make --no-print-directory lint || { echo "step 'lint' failed"; exit 1; }
if pg_isready -h 127.0.0.1 -p 5432 >/dev/null 2>&1; then
  export HOTLINE_TEST_POSTGRES_URL=${HOTLINE_TEST_POSTGRES_URL:-postgresql://postgres@127.0.0.1:5432/test}
  echo "==> PostgreSQL reachable: the database suite also runs on $HOTLINE_TEST_POSTGRES_URL"
else
  echo "==> PostgreSQL NOT reachable on 127.0.0.1:5432: the PostgreSQL suite is skipped"
fi
export HOTLINE_TEST_MODEL=$(scripts/train_if_changed.sh) || exit 1
exec .venv/bin/python -m pytest "$@"
