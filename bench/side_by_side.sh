#!/usr/bin/env bash
# Measure workers-ai-proxy against the floor (bare aiohttp relay) and LiteLLM in ONE run of
# ../shared/bench/run_side_by_side.sh, then write bench/RESULTS.md with the ratios and the gates of issue 3.
#
#   bash bench/side_by_side.sh                 # quick profile, ~5 minutes (the first run also builds LiteLLM's venv)
#   PROFILE=full bash bench/side_by_side.sh    # longer scenarios
#
# Our proxy runs as 1 uvicorn worker pinned to one core, like the others; it is taken from the project's .venv
# (the Quickstart's), or PROXY_BIN. The fake upstream is also measured directly (WITH_UPSTREAM=1) so that paced
# streams can be compared with the fake's own timing.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
SHARED_BENCH=${SHARED_BENCH:-$ROOT/../shared/bench}
PROXY_BIN=${PROXY_BIN:-$ROOT/.venv/bin/workers-ai-proxy}
[ -x "$PROXY_BIN" ] || { echo "no $PROXY_BIN: run the Quickstart install first, or set PROXY_BIN" >&2; exit 2; }
[ -f "$SHARED_BENCH/run_side_by_side.sh" ] || { echo "no $SHARED_BENCH/run_side_by_side.sh (set SHARED_BENCH)" >&2; exit 2; }
OUT=${OUT_DIR:-${TMPDIR:-/tmp}/wap-bench/ours_$(date +%Y%m%d_%H%M%S)}
mkdir -p "$OUT"
export OUT_DIR=$OUT WITH_UPSTREAM=${WITH_UPSTREAM:-1} PROXY_PORT=${PROXY_PORT:-18200}
# The same build with metrics and the access log off, just before the main run (so that it is measured next to
# 'ours', not after LiteLLM): what observability costs (issue 11: at most 1.10x).
QUIET_SCENARIOS=${QUIET_SCENARIOS:-chat_c16,chat_c64,chat_c256,stream_c16,embed_c16}
OUT_DIR=$OUT/quiet SKIP_LITELLM=1 SKIP_FLOOR=1 WITH_UPSTREAM=0 ONLY=$QUIET_SCENARIOS \
  PROXY_CMD="env PROXY_CACHE=off PROXY_METRICS=false $PROXY_BIN --port \$PROXY_PORT --log-level warning" \
  bash "$SHARED_BENCH/run_side_by_side.sh" > "$OUT/quiet-console.txt" 2>&1 || true
# The gates are measured as people run it: metrics on (the default) and the access log at `info`, into a file.
# The load repeats one request (temperature 0): the relay is measured with the reply cache off (issue 14's
# scenarios below measure it on).
export PROXY_CMD="env PROXY_CACHE=off $PROXY_BIN --port \$PROXY_PORT --log-level info"
bash "$SHARED_BENCH/run_side_by_side.sh" 2>&1 | tee "$OUT/console.txt"
# The same 64-token stream as Chat Completions, Anthropic Messages and OpenAI Responses, in turn, on one proxy (issue 12).
BENCH_PY=${BENCH_VENV:-${TMPDIR:-/tmp}/wap-bench-venv}/bin/python
taskset -c 0 "$BENCH_PY" "$SHARED_BENCH/fake_upstream.py" --port 18081 >/dev/null 2>&1 &
FAKE=$!
sleep 1
PROXY_CACHE=off CLOUDFLARE_API_BASE=http://127.0.0.1:18081/client/v4 CLOUDFLARE_ACCOUNT_ID=bench-acct \
  CLOUDFLARE_API_TOKEN=bench-token taskset -c 1 "$PROXY_BIN" --port 18202 --log-level info > "$OUT/protocols.log" 2>&1 &
PROXY=$!
sleep 2
taskset -c 0 "$BENCH_PY" "$ROOT/bench/protocol_streams.py" --url http://127.0.0.1:18202 --pid "$PROXY" \
  > "$OUT/protocols.json" || true
kill "$PROXY" "$FAKE" 2>/dev/null || true
wait "$PROXY" "$FAKE" 2>/dev/null || true
# Keys and limits (issue 13): the same build with them off, on (embedded), on (Redis), in alternating rounds; then
# one worker against two on Redis, the proxy free to use both cores. TEAM_ROUNDS=0 skips it.
TEAM_ROUNDS=${TEAM_ROUNDS:-2}
TEAM_SCENARIOS=${TEAM_SCENARIOS:-chat_c64,stream_c16}
REDIS_PORT=${REDIS_PORT:-16399}
REDIS_URL="redis://127.0.0.1:$REDIS_PORT/0"
PROJECT_PY=${PROJECT_PY:-$ROOT/.venv/bin/python}
team_run() {  # $1=label, $2=scenarios, $3=cores for the proxy, rest: environment and flags for the proxy
  local label=$1 only=$2 cores=$3; shift 3
  OUT_DIR=$OUT/team/$label SKIP_LITELLM=1 SKIP_FLOOR=1 WITH_UPSTREAM=0 ONLY=$only PIN_PROXY=$cores \
    PROXY_CMD="env PROXY_CACHE=off PROXY_STATE_PATH=$OUT/team/$label.sqlite3 $* --port \$PROXY_PORT --log-level info" \
    bash "$SHARED_BENCH/run_side_by_side.sh" > "$OUT/team/$label-console.txt" 2>&1 || true
}
if [ "$TEAM_ROUNDS" -gt 0 ]; then
  mkdir -p "$OUT/team"
  REDIS_BIN=$(command -v redis-server || true)
  if [ -n "$REDIS_BIN" ]; then
    taskset -c 0 "$REDIS_BIN" --port "$REDIS_PORT" --bind 127.0.0.1 --save '' --appendonly no > "$OUT/team/redis.log" 2>&1 &
    REDIS=$!
    sleep 1
  else
    echo "redis-server not found: the Redis runs are skipped" >&2
  fi
  for round in $(seq 1 "$TEAM_ROUNDS"); do
    team_run "off-$round" "$TEAM_SCENARIOS" 1 "$PROXY_BIN"
    (cd "$ROOT" && "$PROJECT_PY" bench/team_key.py --state "$OUT/team/embedded-$round.sqlite3")
    team_run "embedded-$round" "$TEAM_SCENARIOS" 1 "$PROXY_BIN"
    if [ -n "$REDIS_BIN" ]; then
      (cd "$ROOT" && "$PROJECT_PY" bench/team_key.py --redis "$REDIS_URL")
      team_run "redis-$round" "$TEAM_SCENARIOS" 1 PROXY_REDIS_URL="$REDIS_URL" "$PROXY_BIN"
    fi
  done
  if [ -n "$REDIS_BIN" ]; then
    for workers in 1 2; do
      (cd "$ROOT" && "$PROJECT_PY" bench/team_key.py --redis "$REDIS_URL")
      team_run "workers$workers-1" chat_c64 0-1 PROXY_REDIS_URL="$REDIS_URL" "$PROXY_BIN" --workers "$workers"
    done
    kill "$REDIS" 2>/dev/null || true
    wait "$REDIS" 2>/dev/null || true
  fi
fi
# The reply cache (issue 14): off, every answer a miss, hits; alternating rounds. CACHE_ROUNDS=0 skips it.
CACHE_ROUNDS=${CACHE_ROUNDS:-2}
cache_run() {  # $1=label, $2=scenarios, rest: environment for the proxy
  local label=$1 only=$2; shift 2
  OUT_DIR=$OUT/cache/$label SKIP_LITELLM=1 SKIP_FLOOR=1 WITH_UPSTREAM=0 ONLY=$only \
    PROXY_CMD="env PROXY_STATE_PATH=$OUT/cache/$label.sqlite3 $* $PROXY_BIN --port \$PROXY_PORT --log-level info" \
    bash "$SHARED_BENCH/run_side_by_side.sh" > "$OUT/cache/$label-console.txt" 2>&1 || true
}
# Hits at c=16 and c=1 with the shared bench's own client (bench/cache_hits.py) on a proxy on the emulator: the shared
# fake's chat answers all end `length`, which is never cached; a hit never reaches the upstream anyway.
PIN_PROXY=${PIN_PROXY:-1}
PIN_LOAD=${PIN_LOAD:-0}
hits_run() {  # $1=label
  local label=$1 port=18204
  PROXY_CACHE=on PROXY_STATE_PATH=$OUT/cache/$label.sqlite3 taskset -c "$PIN_PROXY" "$PROXY_BIN" --emulator \
    --port $port --log-level info > "$OUT/cache/$label.log" 2>&1 &
  local proxy=$!
  for _ in $(seq 1 100); do curl -s -o /dev/null "http://127.0.0.1:$port/health" && break; sleep 0.1; done
  for endpoint in chat embed; do
    for c in 16 1; do
      taskset -c "$PIN_LOAD" "$PROJECT_PY" "$ROOT/bench/cache_hits.py" --url "http://127.0.0.1:$port" --pid "$proxy" \
        --endpoint $endpoint -c $c -n $([ $c = 1 ] && echo 3000 || echo 20000) \
        --append "$OUT/cache/$label/ours.json" >> "$OUT/cache/$label-console.txt" 2>&1 || true
    done
  done
  kill "$proxy" 2>/dev/null || true
  wait "$proxy" 2>/dev/null || true
}
if [ "$CACHE_ROUNDS" -gt 0 ]; then
  mkdir -p "$OUT/cache"
  for round in $(seq 1 "$CACHE_ROUNDS"); do
    cache_run "off-$round" chat_c64,embed_c16 PROXY_CACHE=off
    cache_run "miss-$round" chat_c64,embed_c16 PROXY_CACHE=on PROXY_CACHE_MAX_BYTES=1
    cache_run "hit-$round" embed_c16 PROXY_CACHE=on
    hits_run "hits-$round"
  done
  # the floor relay's embeddings at c=1 (the main run has chat at c=1 only), for the hits' latency at c=1
  taskset -c "$PIN_LOAD" "$BENCH_PY" "$SHARED_BENCH/fake_upstream.py" --port 18081 >/dev/null 2>&1 &
  FAKE=$!
  taskset -c "$PIN_PROXY" "$BENCH_PY" "$SHARED_BENCH/direct_floor.py" --port 18091 --client aiohttp \
    --api-base http://127.0.0.1:18081/client/v4 > "$OUT/cache/floor.log" 2>&1 &
  FLOOR=$!
  sleep 2
  taskset -c "$PIN_LOAD" "$BENCH_PY" "$SHARED_BENCH/load.py" run --url http://127.0.0.1:18091 --pid "$FLOOR" \
    --endpoint embed -c 1 -n 3000 --json > "$OUT/cache/floor-embed-c1.json" 2>/dev/null || true
  kill "$FLOOR" "$FAKE" 2>/dev/null || true
  wait "$FLOOR" "$FAKE" 2>/dev/null || true
  "$PROJECT_PY" -c 'import json, sys; row = json.load(open(sys.argv[1])); row["scenario"] = "embed_c1"
json.dump({"results": [row]}, open(sys.argv[2], "w"))' "$OUT/cache/floor-embed-c1.json" \
    "$(mkdir -p "$OUT/cache/floor-1" && echo "$OUT/cache/floor-1/ours.json")" || true
fi
python3 "$ROOT/bench/results.py" "$OUT" --quiet "$OUT/quiet" --protocols "$OUT/protocols.json" --team "$OUT/team" \
  --cache "$OUT/cache" --command "bash bench/side_by_side.sh" > "$ROOT/bench/RESULTS.md"
echo "wrote bench/RESULTS.md from $OUT"
grep -E "^\| (gate|goal)" "$ROOT/bench/RESULTS.md" | grep -c FAIL | xargs -I{} echo "{} target(s) not met (see bench/RESULTS.md)"
