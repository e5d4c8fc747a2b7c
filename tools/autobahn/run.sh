#!/usr/bin/env bash
# Autobahn|Testsuite conformance of WireTapeNIO's client.
#   tools/autobahn/run.sh           every client case except compression (12.*, 13.*)
#   tools/autobahn/run.sh --short   the CI subset: 1-7 and 10 (skips 9.*, the 16 MiB performance cases)
#   WIRETAPE_SCRATCH_PATH=.build-release tools/autobahn/run.sh   the full run on an existing release build
# Needs pyenv's Python 2.7.18 (autobahntestsuite runs on Python 2 only); installs
# autobahntestsuite 0.8.2 into .build-autobahn/py on first use. Prints the tally of
# Pass / Non-Strict / Informational / Unimplemented / Fail and exits non-zero on any Fail
# (FAILED, WRONG CODE or UNCLEAN close), or when the report holds fewer cases than the server
# ran. Without Python 2.7 it prints "SKIP: <reason>" and exits 77 (tools/test lists it as a
# SKIP, and .ci/run fails on it).
set -euo pipefail
cd "$(dirname "$0")/../.."
mode=${1:-full}
py2=${WIRETAPE_PYTHON2:-$HOME/.pyenv/versions/2.7.18/bin/python}
if [ ! -x "$py2" ]; then
  echo "autobahn: SKIP: no Python 2.7 at $py2 (install it with pyenv, or set WIRETAPE_PYTHON2); autobahntestsuite needs Python 2"
  exit 77
fi
site=.build-autobahn/py
if [ ! -d "$site/autobahntestsuite" ]; then
  echo "autobahn: installing autobahntestsuite 0.8.2 into $site"
  if ! out=$(PYENV_VERSION=2.7.18 "$py2" -m pip install -q --target "$site" autobahntestsuite==0.8.2 2>&1); then
    echo "$out"
    echo "autobahn: FAIL: could not install autobahntestsuite"
    rm -rf "$site"
    exit 1
  fi
fi

config=debug
[ "$mode" = "--short" ] || config=release
# WIRETAPE_SCRATCH_PATH: build in another scratch directory (e.g. .build-release, to reuse a
# release build there).
scratch=()
[ -n "${WIRETAPE_SCRATCH_PATH:-}" ] && scratch=(--scratch-path "$WIRETAPE_SCRATCH_PATH")
# A failed build fails the run (never test a stale binary).
if ! out=$(swift build -c "$config" "${scratch[@]}" --product wiretape-autobahn-client 2>&1); then
  echo "$out" | grep -E "error|warning: unre" || echo "$out" | tail -20
  echo "autobahn: FAIL: the client did not build"
  exit 1
fi
client=$(swift build -c "$config" "${scratch[@]}" --show-bin-path)/wiretape-autobahn-client

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
"$client" "ws://127.0.0.1:$port" WireTape | tee .build-autobahn/client.log
echo "autobahn: client run took $(( $(date +%s) - start ))s"
# The number of cases the server selected, as the client was told it (getCaseCount).
ran=$(sed -n 's/^autobahn: \([0-9][0-9]*\) cases on the server.*/\1/p' .build-autobahn/client.log)
python3 - "$out/index.json" "${ran:-}" <<'PY'
import json, sys, collections
index = json.load(open(sys.argv[1])).get("WireTape", {})
ran = int(sys.argv[2]) if sys.argv[2] else None
tally = collections.Counter()
bad = []
# behavior: OK, NON-STRICT, INFORMATIONAL, UNIMPLEMENTED, FAILED.
# behaviorClose: OK, INFORMATIONAL, FAILED, WRONG CODE, UNCLEAN, FAILED BY CLIENT.
# A close result other than OK/INFORMATIONAL is a failure of the case.
CLOSE_OK = ("OK", "INFORMATIONAL")
KNOWN = ("OK", "NON-STRICT", "INFORMATIONAL", "UNIMPLEMENTED", "FAILED")
for case, r in sorted(index.items(), key=lambda kv: [int(x) for x in kv[0].split(".")]):
    b, c = r.get("behavior"), r.get("behaviorClose")
    worst = "FAILED" if b == "FAILED" or b not in KNOWN or c not in CLOSE_OK else b
    tally[worst] += 1
    if worst in ("FAILED", "NON-STRICT"):
        bad.append(f"  {case}: behavior={b} close={c}")
names = {"OK": "Pass", "NON-STRICT": "Non-Strict", "INFORMATIONAL": "Informational",
         "UNIMPLEMENTED": "Unimplemented", "FAILED": "Fail"}
reported = sum(tally.values())
print("\n".join(bad))
failed = tally["FAILED"] > 0
problems = []
if ran is None:
    problems.append("the client did not say how many cases the server has")
elif reported != ran:
    problems.append(f"the report holds {reported} cases but the server ran {ran}: {ran - reported} missing (a case whose connection failed drops out of the report)")
if reported == 0:
    problems.append("no case was reported")
summary = ", ".join(f"{names.get(k, k)} {tally[k]}" for k in ["OK", "NON-STRICT", "INFORMATIONAL", "UNIMPLEMENTED", "FAILED"])
for p in problems:
    print("autobahn: " + p)
verdict = "FAIL" if failed or problems else "PASS"
print(f"autobahn: {summary} (of {reported} cases reported, {ran} run): {verdict}")
sys.exit(1 if verdict == "FAIL" else 0)
PY
