#!/usr/bin/env bash
# Autobahn|Testsuite conformance of WireTapeNIO's client.
#   tools/autobahn/run.sh           every client case except compression (12.*, 13.*)
#   tools/autobahn/run.sh --short   the CI subset: 1-7 and 10 (skips 9.*, the 16 MiB performance cases)
# Needs pyenv's Python 2.7.18 (autobahntestsuite runs on Python 2 only); installs
# autobahntestsuite 0.8.2 into .build-autobahn/py on first use. Prints the tally of
# Pass / Non-Strict / Informational / Unimplemented / Fail and exits non-zero on any Fail.
set -euo pipefail
cd "$(dirname "$0")/../.."
mode=${1:-full}
py2=${WIRETAPE_PYTHON2:-/root/.pyenv/versions/2.7.18/bin/python}
if [ ! -x "$py2" ]; then
  echo "autobahn: SKIPPED: no Python 2.7 at $py2 (set WIRETAPE_PYTHON2); autobahntestsuite needs Python 2"
  [ "$mode" = "--short" ] && exit 0 || exit 1
fi
site=.build-autobahn/py
if [ ! -d "$site/autobahntestsuite" ]; then
  echo "autobahn: installing autobahntestsuite 0.8.2 into $site"
  PYENV_VERSION=2.7.18 "$py2" -m pip install -q --target "$site" autobahntestsuite==0.8.2 2>&1 | grep -v DEPRECATION || true
fi

config=debug
[ "$mode" = "--short" ] || config=release
swift build -c "$config" --product wiretape-autobahn-client 2>&1 | grep -E "error|warning: unre" || true
client=$(swift build -c "$config" --show-bin-path)/wiretape-autobahn-client

out=.build-autobahn/reports
rm -rf "$out" && mkdir -p "$out"
if [ "$mode" = "--short" ]; then
  cases='["1.*", "2.*", "3.*", "4.*", "5.*", "6.*", "7.*", "10.*"]'
else
  cases='["*"]'
fi
cat > .build-autobahn/spec.json <<JSON
{"url": "ws://127.0.0.1:9001", "outdir": "$PWD/$out", "cases": $cases, "exclude-cases": ["12.*", "13.*"],
 "exclude-agent-cases": {}}
JSON
"$py2" -u tools/autobahn/fuzzingserver.py "$site" .build-autobahn/spec.json > .build-autobahn/server.log 2>&1 &
server=$!
trap 'kill $server 2>/dev/null || true' EXIT
for _ in $(seq 100); do grep -q '^PORT ' .build-autobahn/server.log && break; sleep 0.1; done
port=$(sed -n 's/^PORT //p' .build-autobahn/server.log)
[ -n "$port" ] || { echo "autobahn: the fuzzing server did not start:"; cat .build-autobahn/server.log; exit 1; }

start=$(date +%s)
"$client" "ws://127.0.0.1:$port" WireTape
echo "autobahn: client run took $(( $(date +%s) - start ))s"
python3 - "$out/index.json" <<'PY'
import json, sys, collections
index = json.load(open(sys.argv[1]))["WireTape"]
tally = collections.Counter()
bad = []
for case, r in sorted(index.items(), key=lambda kv: [int(x) for x in kv[0].split(".")]):
    b, c = r["behavior"], r["behaviorClose"]
    worst = "FAILED" if "FAILED" in (b, c) else b
    tally[worst] += 1
    if worst in ("FAILED", "NON-STRICT"):
        bad.append(f"  {case}: behavior={b} close={c}")
names = {"OK": "Pass", "NON-STRICT": "Non-Strict", "INFORMATIONAL": "Informational",
         "UNIMPLEMENTED": "Unimplemented", "FAILED": "Fail"}
print("autobahn: " + ", ".join(f"{names.get(k, k)} {tally[k]}" for k in ["OK", "NON-STRICT", "INFORMATIONAL", "UNIMPLEMENTED", "FAILED"]) + f" (of {sum(tally.values())} cases)")
print("\n".join(bad))
sys.exit(1 if tally["FAILED"] else 0)
PY
