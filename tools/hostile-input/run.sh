#!/usr/bin/env bash
# Throws hostile and careless input at the wiretape binary and checks that each case ends
# with a clear one-line error (or the documented result), the expected exit status, no crash
# (no signal, no "Fatal error") and no hang (every case runs under a timeout).
#
#   tools/hostile-input/run.sh [--short|--long] [--binary PATH]
#
# --short (CI): the debug binary, small sizes. --long (README, heavier checks): a release
# build and large inputs (a 256 MiB line, 64 MiB of garbage).
set -uo pipefail
cd "$(dirname "$0")/../.."
mode=short
bin=""
while [ $# -gt 0 ]; do
  case $1 in
    --short) mode=short ;;
    --long) mode=long ;;
    --binary) bin=$2; shift ;;
    *) echo "usage: $0 [--short|--long] [--binary PATH]" >&2; exit 2 ;;
  esac
  shift
done
if [ -z "$bin" ]; then
  if [ "$mode" = long ]; then
    swift build -c release --scratch-path .build-release --product wiretape 2>&1 | tail -3
    [ "${PIPESTATUS[0]}" -eq 0 ] || { echo "FAIL: the release build failed"; exit 1; }
    bin=.build-release/release/wiretape
  else
    bin=.build/debug/wiretape
  fi
fi
[ -x "$bin" ] || { echo "FAIL: $bin is not built (swift build)"; exit 1; }
if [ "$mode" = long ]; then big=$((256 << 20)); garbage=$((64 << 20)); else big=$((8 << 20)); garbage=$((1 << 20)); fi

work=$(mktemp -d /tmp/wiretape-hostile.XXXXXX)
trap 'rm -rf "$work"' EXIT
pass=0
fail=0

# check NAME EXPECTED_STATUSES STDERR_MUST_MATCH -- COMMAND...: runs COMMAND (a bash -c string)
# under a 30 s timeout; passes when the status is one of EXPECTED_STATUSES (space-separated),
# stderr matches the extended regex, and nothing crashed.
check() {
  local name=$1 expected=$2 pattern=$3
  shift 4
  local out="$work/out" err="$work/err" rc
  timeout -k 5 30 bash -c "$*" >"$out" 2>"$err"
  rc=$?
  local why=""
  if [ "$rc" -eq 124 ] || [ "$rc" -eq 137 ]; then why="hung (killed after 30 s)"
  elif grep -qE 'Fatal error|Illegal instruction|Program crashed|Segmentation fault' "$err"; then why="crashed: $(grep -m1 -E 'Fatal|crashed|Illegal|Segmentation' "$err")"
  elif ! [[ " $expected " == *" $rc "* ]]; then why="exit $rc, expected $expected: $(head -c 300 "$err")"
  elif [ -n "$pattern" ] && ! grep -qE -- "$pattern" "$err"; then why="stderr does not match /$pattern/: $(head -c 300 "$err")"
  fi
  if [ -z "$why" ]; then
    pass=$((pass + 1))
    printf 'PASS  %s\n' "$name"
  else
    fail=$((fail + 1))
    printf 'FAIL  %s: %s\n' "$name" "$why"
  fi
}

B="$bin"
url="ws://127.0.0.1:9/"
# --- Numbers at their limits: usage errors (64) naming the flag, never a trap.
for v in inf -inf nan 1e300 -1 0; do
  check "tap --duration $v" 64 "--duration" -- "$B tap $url --duration $v"
done
check "tap --idle-timeout 1e300" 64 "--idle-timeout" -- "$B tap $url --idle-timeout 1e300"
check "tap --count 2^64" 64 "--count" -- "$B tap $url --count 18446744073709551616"
check "record --segment-age 1e300" 64 "--segment-age" -- "$B record $url --journal $work/r --segment-age 1e300"
check "record --durability inf" 64 "--durability" -- "$B record $url --journal $work/r --durability inf"
check "gaps --min-duration nan" 64 "--min-duration" -- "$B gaps $work/none --min-duration nan"
check "report --buckets -1" 64 "--buckets" -- "$B report $work/none --buckets=-1"
check "continuity --max-issues -1" 64 "--max-issues" -- "$B continuity $work/none --seq-field u --max-issues=-1"
check "import --max-line-bytes 0" 64 "--max-line-bytes" -- "$B import $work/none - --max-line-bytes 0 </dev/null"

# --- Secrets in what the command line carries never reach stderr.
check "invalid URL with credentials" 64 "<redacted>" -- "$B tap 'http://u:pw-SEKRET@h/?api_key=SEKRET-Q' 2>&1 >/dev/null | grep -v SEKRET >&2; exit \${PIPESTATUS[0]}"
check "malformed --header" 64 "--header" -- "$B tap $url --header 'Authorization Bearer SEKRET-T' 2>&1 >/dev/null | grep -v SEKRET >&2; exit \${PIPESTATUS[0]}"

# --- Hostile JSON lines and frames.
check "binary garbage as jsonl" 1 "line 1" -- "head -c $garbage /dev/urandom | $B import $work/g1 -"
check "binary garbage as frames" 1 "frame 1" -- "head -c $garbage /dev/urandom | $B import $work/g2 - --format frames"
check "a huge line over the cap" 1 "line 1: longer than" -- "head -c $big /dev/zero | tr '\\0' x | $B import $work/h1 - --max-line-bytes 1000000"
check "an endless line" 1 "longer than" -- "yes | tr -d '\\n' | $B import $work/h2 - --max-line-bytes 4000000"
check "wall_ns past Int64" 1 "wall_ns" -- "echo '{\"type\":\"annotation\",\"wall_ns\":9223372036854775808,\"mono_ns\":1,\"epoch\":0,\"text\":\"x\"}' | $B import $work/n1 -"
check "seq past UInt64" 1 "seq" -- "echo '{\"type\":\"annotation\",\"seq\":18446744073709551616,\"wall_ns\":1,\"mono_ns\":1,\"epoch\":0,\"text\":\"x\"}' | $B import $work/n2 -"
mkfifo "$work/s1.in"
check "SIGTERM on a stalled producer" 143 "SIGTERM: imported 1 records" -- "
  (echo '{\"type\":\"annotation\",\"wall_ns\":1,\"mono_ns\":1,\"epoch\":0,\"text\":\"x\"}'; exec sleep 60) >$work/s1.in & prod=\$!
  $B import $work/s1 - <$work/s1.in & p=\$!
  sleep 1; kill -TERM \$p; wait \$p; rc=\$?; kill \$prod; exit \$rc"

# --- Escape sequences in payloads reach no terminal raw.
printf '%s\n' '{"type":"annotation","wall_ns":1,"mono_ns":1,"epoch":0,"text":"\u001b]0;pwned\u0007\u001b[2J"}' \
  '{"type":"lifecycle","state":"closed","epoch":1,"wall_ns":2,"mono_ns":2,"close_code":1011,"close_reason":"\u001b[31mred\u0000"}' >"$work/esc.jsonl"
check "import escapes" 0 "imported 2" -- "$B import $work/esc $work/esc.jsonl"
for cmd in "cat $work/esc --format pretty" "gaps $work/esc" "info $work/esc"; do
  check "$cmd: no raw ESC/BEL/NUL" 0 "" -- "$B $cmd | LC_ALL=C grep -qP '[\\x00\\x07\\x1b]' && { echo 'raw control byte on stdout' >&2; exit 1; } || exit 0"
done
check "verify with NUL in the index" 0 "" -- "$B verify $work/esc | grep -q ': OK'"

# --- Files that are not what they claim.
mkdir -p "$work/fifo"
cp -r "$work/esc/." "$work/fifo/"
mkfifo "$work/fifo/seg-00000000000000000100.wtj"
check "a FIFO as a segment: cat" 0 "regular file.*skipped" -- "$B cat $work/fifo >/dev/null"
check "a FIFO as a segment: cat --strict" 1 "regular file" -- "$B cat $work/fifo --strict"
check "a FIFO as a segment: verify" "1" "" -- "$B verify $work/fifo"
check "a FIFO as a segment: import" 1 "regular file" -- "echo | $B import $work/fifo -"
mkdir -p "$work/lock" && echo keep >"$work/precious" && ln -s "$work/precious" "$work/lock/writer.lock"
check "a symlinked writer.lock" 1 "regular file" -- "echo | $B import $work/lock - ; rc=\$?; grep -qx keep $work/precious || { echo 'the lock target was overwritten' >&2; exit 99; }; exit \$rc"
check "a non-journal directory" 1 "journal" -- "$B cat /etc"
check "import into a non-empty non-journal directory" 1 "journal" -- "echo | $B import /etc -"
mkdir -p "$work/garbage-seg" && head -c 100000 /dev/urandom >"$work/garbage-seg/seg-00000000000000000001.wtj"
check "a garbage segment: cat" "0 1" "" -- "$B cat $work/garbage-seg >/dev/null"
check "a garbage segment: verify" 1 "" -- "$B verify $work/garbage-seg"

# --- Closed pipes end the command.
seq 1 200000 | sed 's/.*/{"type":"annotation","wall_ns":&,"mono_ns":&,"epoch":0,"text":"t&"}/' >"$work/many.jsonl"
check "import many" 0 "" -- "$B import $work/many $work/many.jsonl"
check "cat | head -1" "0 141" "" -- "$B cat $work/many | head -1 >/dev/null; exit \${PIPESTATUS[0]}"

echo "hostile-input ($mode): $pass passed, $fail failed"
[ "$fail" -eq 0 ]
