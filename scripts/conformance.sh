#!/usr/bin/env bash
# The runtime's end-to-end conformance scenarios (packages/runtime/test/conformance)
# under each runtime, and across runtimes: a server in one, the client in another.
# Prints one line per matrix entry and fails if any entry failed.
#
# Usage: bash scripts/conformance.sh   (after `npm run build`; Bun and Deno come
# from npm's `bun` and `deno` packages through npx, at the versions below)
set -euo pipefail
cd "$(dirname "$0")/.."

BUN_VERSION=1.4.5
DENO_VERSION=2.9.6
RUN=packages/runtime/test/conformance/dist/run.js
[ -f "$RUN" ] || { echo "conformance: $RUN is missing: npm run build first" >&2; exit 1; }

# The binaries, installed once by npx (npm's packages ship them).
bin_of() { npx -y -p "$1" -- sh -c "command -v $2"; }
BUN="$(bin_of "bun@$BUN_VERSION" bun)"
DENO="$(bin_of "deno@$DENO_VERSION" deno)"

# How each runtime runs the runner.
runner() {
  case "$1" in
    node) echo "node $RUN" ;;
    bun) echo "$BUN $RUN" ;;
    deno) echo "$DENO run --allow-all $RUN" ;;
  esac
}
version() {
  case "$1" in
    node) node --version ;;
    bun) echo "v$("$BUN" --version)" ;;
    deno) "$DENO" --version | head -1 | cut -d' ' -f2 | sed 's/^/v/' ;;
  esac
}

failures=0
LOG="$(mktemp)"
trap 'rm -f "$LOG"' EXIT

# report LABEL STATUS: one line for the matrix entry, with the runner's totals.
report() {
  local totals
  totals="$(grep -E '^[0-9]+ passed, [0-9]+ failed$' "$LOG" | tail -1 || true)"
  if [ "$2" -eq 0 ]; then
    printf '   %-34s ok    %s\n' "$1" "${totals:-no totals}"
  else
    failures=$((failures + 1))
    printf '   %-34s FAIL  %s\n' "$1" "${totals:-no totals}"
    sed 's/^/      | /' "$LOG"
  fi
}

# One runtime, server and client in one process; then the same with the client's transports pools.
for rt in node bun deno; do
  status=0
  timeout 300 $(runner "$rt") >"$LOG" 2>&1 || status=$?
  report "$rt $(version "$rt")" "$status"
done
for rt in node bun deno; do
  status=0
  timeout 300 $(runner "$rt") --pool >"$LOG" 2>&1 || status=$?
  report "$rt $(version "$rt"), client pools" "$status"
done

# A server in one runtime, the client in another.
pair() {
  local server_rt="$1" client_rt="$2" status=0 line addr
  coproc SERVER { exec $(runner "$server_rt") --serve 2>&1; }
  if ! read -r -t 60 line <&"${SERVER[0]}" || [[ "$line" != LISTENING\ * ]]; then
    echo "server did not start: ${line:-nothing}" >"$LOG"
    status=1
  else
    addr="$(echo "$line" | cut -d' ' -f2)"
    timeout 300 $(runner "$client_rt") --connect "$addr" >"$LOG" 2>&1 || status=$?
  fi
  exec {SERVER[1]}>&-
  wait "$SERVER_PID" 2>/dev/null || true
  report "server $server_rt, client $client_rt" "$status"
}
pair bun node
pair node bun
pair deno node
pair node deno

[ "$failures" -eq 0 ] || { echo "conformance: $failures matrix entries failed" >&2; exit 1; }
