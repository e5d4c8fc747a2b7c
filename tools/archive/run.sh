#!/usr/bin/env bash
# Archive round trip against a real S3-compatible store (SeaweedFS `weed` from .venv):
# records a demo journal, archives it, archives again (must upload nothing), and checks that
# `cat`, `info` and `gaps` of s3://BUCKET/PREFIX equal those of the local journal and that
# `verify` passes on the archive.
#   tools/archive/run.sh --short     # CI (a few seconds plus the build)
# Exit 77 (SKIP) when weed is not installed (tools/setup.sh installs it).
set -euo pipefail
cd "$(dirname "$0")/../.."
[ "${1:-}" = "--short" ] && shift
weed=${WIRETAPE_WEED:-$PWD/.venv/bin/weed}
[ -x "$weed" ] || { echo "SKIP: SeaweedFS (weed) not found at $weed: run tools/setup.sh"; exit 77; }
out=$(swift build --product wiretape 2>&1) || { echo "$out"; echo "archive: FAIL: wiretape did not build"; exit 1; }
wt="$(swift build --show-bin-path)/wiretape"

work=$(mktemp -d /tmp/wiretape-archive-check-XXXXXX)
pid=""
cleanup() { [ -n "$pid" ] && kill -9 "$pid" 2>/dev/null; rm -rf "$work"; }
trap cleanup EXIT
read -r -a ports <<<"$(python3 -c 'import socket
ss=[socket.socket() for _ in range(8)]
[s.bind(("127.0.0.1",0)) for s in ss]
print(" ".join(str(s.getsockname()[1]) for s in ss))')"
secret="archive-check-$RANDOM$RANDOM"
printf '{"identities":[{"name":"ci","credentials":[{"accessKey":"CIKEY","secretKey":"%s"}],"actions":["Admin","Read","Write","List"]}]}' "$secret" >"$work/s3.json"
mkdir "$work/data"
"$weed" server -ip=127.0.0.1 -ip.bind=127.0.0.1 -dir="$work/data" \
  -master.port="${ports[0]}" -master.port.grpc="${ports[1]}" -volume.port="${ports[2]}" -volume.port.grpc="${ports[3]}" \
  -filer.port="${ports[4]}" -filer.port.grpc="${ports[5]}" -s3 -s3.port="${ports[6]}" -s3.port.grpc="${ports[7]}" \
  -s3.config="$work/s3.json" -s3.port.iceberg=0 -s3.port.lance=0 -master.volumeSizeLimitMB=64 -volume.max=100 >"$work/weed.log" 2>&1 &
pid=$!
disown "$pid"
export AWS_ENDPOINT_URL="http://127.0.0.1:${ports[6]}" AWS_ACCESS_KEY_ID=CIKEY AWS_SECRET_ACCESS_KEY="$secret" AWS_REGION=us-east-1
export XDG_CACHE_HOME="$work/cache"
for _ in $(seq 1 450); do
  code=$(python3 -c "import urllib.request,sys
try: urllib.request.urlopen('$AWS_ENDPOINT_URL/', timeout=2)
except urllib.error.HTTPError as e: print(e.code)
except Exception: print(0)" 2>/dev/null)
  [ "$code" != 0 ] && [ "$code" != 503 ] && break
  sleep 0.2
done

fail() { echo "archive: FAIL: $*"; tail -5 "$work/weed.log"; exit 1; }
"$wt" demo --journal "$work/j" >/dev/null 2>&1 || fail "wiretape demo failed"
remote=s3://wiretape-ci/demo
"$wt" archive "$work/j" --to "$remote" --create-bucket >"$work/a1" 2>&1 || { cat "$work/a1"; fail "archive failed"; }
grep -q "manifest published" "$work/a1" || fail "the first archive did not publish: $(cat "$work/a1")"
"$wt" archive "$work/j" --to "$remote" >"$work/a2" 2>&1 || fail "second archive failed"
grep -q "0 uploaded now" "$work/a2" || fail "the second archive uploaded again: $(cat "$work/a2")"
for cmd in cat gaps; do
  "$wt" $cmd "$work/j" >"$work/l.$cmd"
  "$wt" $cmd "$remote" >"$work/r.$cmd" || fail "$cmd $remote failed"
  cmp -s "$work/l.$cmd" "$work/r.$cmd" || fail "$cmd of the archive differs from the local journal"
done
"$wt" info --json "$work/j" | sed 's/"directory":"[^"]*"//' >"$work/l.info"
"$wt" info --json "$remote" | sed 's/"directory":"[^"]*"//' >"$work/r.info"
cmp -s "$work/l.info" "$work/r.info" || fail "info of the archive differs"
"$wt" verify "$remote" >/dev/null || fail "verify $remote failed"
if grep -rq "$secret" "$work/a1" "$work/a2" "$work/r.cat" "$work/r.info"; then fail "the secret appeared in the output"; fi
echo "archive: PASS: $(wc -l <"$work/l.cat") records archived to SeaweedFS; cat, gaps, info equal; second run uploaded nothing; verify OK"
