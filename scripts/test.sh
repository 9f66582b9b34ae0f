#!/usr/bin/env bash
# The test command (README "Run the tests"). Runs the suites against both databases:
#   unit + flows on SQLite and on PostgreSQL, the sandboxes' contract tests, integration + e2e on PostgreSQL,
#   and the e2e smoke on SQLite (the demo's path). Needs Redis on 127.0.0.1:6379 (database 11 is ours) and
#   PostgreSQL on 127.0.0.1:5432 with trust auth for user postgres. A run that collects no test fails (pytest exit 5 is not success).
set -uo pipefail
cd "$(dirname "$0")/.."
PYTHON="${PYTHON:-python}"
status=0

run() {
  local label="$1" db="$2"; shift 2
  echo "=== $label (database: $db) ==="
  RETAIL_SYNC_TEST_DB="$db" "$PYTHON" -m pytest -p no:cacheprovider "$@"
  local rc=$?
  if [ $rc -eq 5 ]; then echo "FAILED: $label collected no tests"; rc=1; fi
  if [ $rc -ne 0 ]; then status=1; fi
}

heads=$("$PYTHON" -c 'from retail_sync.persistence.migrate import heads; print(len(heads()))')
if [ "$heads" != "1" ]; then echo "FAILED: Alembic has $heads heads (must be exactly 1)"; status=1; fi

run "unit + flows" sqlite tests/unit tests/flows -q
run "unit + flows" postgresql tests/unit tests/flows -q
run "contract (sandboxes)" sqlite tests/contract -q
run "integration + e2e" postgresql tests/integration tests/e2e -q
run "e2e saga (the demo's path)" sqlite tests/e2e/test_order_saga.py -q
exit $status
