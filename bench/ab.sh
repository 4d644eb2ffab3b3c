#!/usr/bin/env bash
# A/B of two builds of the proxy under one load, alternating, on the same cores: what a change costs, with the
# run-to-run noise in plain view. Each round starts the shared fake upstream (core 0), one build (core 1), runs
# one load.py scenario against it and prints the proxy's CPU per request.
#
#   bash bench/ab.sh OLD_BIN NEW_BIN [ROUNDS] -- [load.py run arguments]
#   bash bench/ab.sh /tmp/old/.venv/bin/workers-ai-proxy .venv/bin/workers-ai-proxy 3 -- -c 64 -n 30000
#
# OLD_BIN is usually a worktree of the commit before the change with its own venv:
#   git worktree add /tmp/old <commit> && (cd /tmp/old && python3 -m venv .venv && .venv/bin/pip install -e .)
# Uses the bench venv that bench/side_by_side.sh creates (BENCH_VENV, default /tmp/wap-bench-venv).
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
SHARED_BENCH=${SHARED_BENCH:-$ROOT/../shared/bench}
PY=${BENCH_VENV:-/tmp/wap-bench-venv}/bin/python
OLD=$1 NEW=$2 ROUNDS=${3:-3}
shift 3 || shift $#
[ "${1:-}" = "--" ] && shift
[ -x "$PY" ] || { echo "no bench venv at $PY: run bash bench/side_by_side.sh once first" >&2; exit 2; }

one() {
  local bin=$1; shift
  taskset -c 0 "$PY" "$SHARED_BENCH/fake_upstream.py" --port 18081 >/dev/null 2>&1 &
  local fake=$!
  sleep 1
  PROXY_CACHE=off CLOUDFLARE_API_BASE=http://127.0.0.1:18081/client/v4 CLOUDFLARE_ACCOUNT_ID=bench-acct \
    CLOUDFLARE_API_TOKEN=bench-token taskset -c 1 "$bin" --port 18201 --log-level warning >/dev/null 2>&1 &
  local proxy=$!
  sleep 2
  taskset -c 0 "$PY" "$SHARED_BENCH/load.py" run --url http://127.0.0.1:18201 --pid "$proxy" --warmup 1000 "$@" \
    | tail -1 | awk '{print "cpu_ms/req", $10, "rss_mb", $11, "errors", $3 + $4}'
  kill "$proxy" "$fake"
  wait "$proxy" "$fake" 2>/dev/null || true
}

for round in $(seq 1 "$ROUNDS"); do
  echo "round $round  old: $(one "$OLD" "$@")"
  echo "round $round  new: $(one "$NEW" "$@")"
done
