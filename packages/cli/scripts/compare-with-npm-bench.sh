#!/usr/bin/env bash
# Compares `protosocket bench` with `npm run bench`'s protosocket unary figure
# (unary-small, 256 in flight, one connection, 1 s warm-up, 3 s measured),
# interleaved ROUNDS times (default 3) in one run:
#   npm run bench          its load generator against bench's protosocket server
#   cli -> echo example    protosocket bench against examples/echo's server
#   cli -> bench server    protosocket bench against bench's protosocket server
# Builds what it runs first. Prints calls/s and latency (µs). Usage: ROUNDS=3 bash packages/cli/scripts/compare-with-npm-bench.sh
set -euo pipefail
cd "$(dirname "$0")/../../.."
ROUNDS="${ROUNDS:-3}"
npx tsc -b packages/runtime examples/echo packages/cli bench
CLI=packages/cli/bin/protosocket
SCHEMA=(--proto proto/echo/v1/echo.proto)
# The bench's request: "hello" and 16 bytes of 0x61.
REQ='{"message":"hello","payload":"YWFhYWFhYWFhYWFhYWFhYQ=="}'
TMP="$(mktemp -d)"
SERVER_PID=""
cleanup() {
  [ -n "$SERVER_PID" ] && kill "$SERVER_PID" 2>/dev/null || true
  exec 3>&- 2>/dev/null || true
  rm -rf "$TMP"
}
trap cleanup EXIT

summary() {
  node -e 'const s = JSON.parse(require("fs").readFileSync(0, "utf8"));
    console.log(`${Math.round(s.callsPerSecond).toLocaleString("en-US")} calls/s  p50 ${s.latencyUs.p50}  p99 ${s.latencyUs.p99}  p99.9 ${s.latencyUs.p999}  failed ${s.calls.failed}`);'
}

# wait_port FILE: the port a server printed as "LISTENING [host:]port".
wait_port() {
  for _ in $(seq 1 100); do
    local p
    p="$(grep -oE 'LISTENING (\S+:)?[0-9]+' "$1" | grep -oE '[0-9]+$' || true)"
    if [ -n "$p" ]; then echo "$p"; return; fi
    sleep 0.1
  done
  echo "no LISTENING line in $1" >&2
  exit 1
}

cli_bench() {
  node "$CLI" bench "127.0.0.1:$1" echo.v1.EchoService/Echo "${SCHEMA[@]}" -d "$REQ" -c 256 --warmup 1s --duration 3s --json | summary
}

for round in $(seq 1 "$ROUNDS"); do
  echo "== round $round (load average $(cut -d' ' -f1-3 /proc/loadavg))"
  echo -n "npm run bench:        "
  node bench/dist/main.js --rounds 1 --systems protosocket --workloads unary-small --concurrency 256 2>/dev/null | grep -E '^unary-small@256' | awk '{print $3, $4, " p50", $6, " p99", $7, " p99.9", $8}'

  node examples/echo/dist/server.js --port 0 >"$TMP/echo.out" 2>&1 &
  SERVER_PID=$!
  echo -n "cli -> echo example:  "
  cli_bench "$(wait_port "$TMP/echo.out")"
  kill "$SERVER_PID"; wait "$SERVER_PID" 2>/dev/null || true; SERVER_PID=""

  # bench's servers exit when their stdin closes: hold it open with a fifo.
  rm -f "$TMP/stdin"; mkfifo "$TMP/stdin"
  node bench/dist/servers/protosocket.js --port 0 <"$TMP/stdin" >"$TMP/bench.out" 2>&1 &
  SERVER_PID=$!
  exec 3>"$TMP/stdin"
  echo -n "cli -> bench server:  "
  cli_bench "$(wait_port "$TMP/bench.out")"
  exec 3>&-
  wait "$SERVER_PID" 2>/dev/null || true; SERVER_PID=""
done
