# Helpers of the tests that work as a user would, outside this repository
# (scripts/new-user-test.sh, scripts/package-test.sh). Source it after
# setting NAME (the prefix of messages) and cd-ing to the repository root:
#   ROOT       the repository root
#   TMP        a fresh directory outside the workspace, removed on exit
#              (kept when KEEP_TMP is set)
#   fail MSG   prints "NAME: FAIL: MSG" and exits 1
#   step MSG   prints a progress line
#   run CMD... runs CMD quietly; on failure prints its output and fails naming it
#   no_warnings WHAT   fails if the last `run` printed a warning
ROOT="$PWD"

fail() {
  echo "$NAME: FAIL: $*" >&2
  exit 1
}
step() { echo "   $NAME: $*"; }

TMP="$(mktemp -d "${TMPDIR:-/tmp}/protosocket-$NAME.XXXXXX")"
trap '[ -n "${KEEP_TMP:-}" ] && echo "$NAME: kept $TMP" >&2 || rm -rf "$TMP"' EXIT
TMP="$(cd "$TMP" && pwd -P)"
case "$TMP/" in "$(pwd -P)"/*) fail "the temporary directory $TMP is inside the workspace; set TMPDIR elsewhere" ;; esac
LOG="$TMP/step.log"

run() {
  if ! "$@" >"$LOG" 2>&1; then
    cat "$LOG" >&2
    fail "'$*' failed (in $PWD)"
  fi
}

no_warnings() {
  if grep -iE '(^|[^a-z])warn' "$LOG" >"$TMP/warnings"; then
    cat "$LOG" >&2
    fail "$1 printed a warning: $(head -1 "$TMP/warnings")"
  fi
}
