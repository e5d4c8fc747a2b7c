#!/usr/bin/env bash
# Browser check of `wiretape report` (a heavier check, not in CI): builds a journal with
# known outages from JSON lines, renders the report, loads it in headless Chromium (Debian's
# `chromium`), reads back the DOM after the page's script ran, and saves a screenshot.
#
# Usage: tools/report-browser-check/run.sh [WIRETAPE_BINARY] [SCREENSHOT.png]
# Defaults: .build/debug/wiretape (built first when missing), docs/report-screenshot.png.
# Exits non-zero when the page shows a script error, when the outage bands or incident rows
# are not all there, or when the page references anything outside itself.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
bin="${1:-$root/.build/debug/wiretape}"
shot="${2:-$root/docs/report-screenshot.png}"
if [ ! -x "$bin" ]; then
  (cd "$root" && flock /tmp/wiretape-swift.lock swift build --product wiretape)
fi
if ! command -v chromium >/dev/null; then
  echo "chromium is missing: apt-get install -y chromium" >&2
  exit 2
fi
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
python3 "$here/sample_jsonl.py" --minutes 30 --rate 20 > "$work/sample.jsonl"
"$bin" import "$work/j" "$work/sample.jsonl"
"$bin" report "$work/j" --out "$work/report.html" --seq-field t
expected=$("$bin" gaps "$work/j" --json | wc -l)

if grep -qE '://|src=|href=|url\(' "$work/report.html"; then
  echo "FAIL: the page references something outside itself" >&2
  exit 1
fi

flags=(--headless --no-sandbox --disable-gpu --hide-scrollbars --virtual-time-budget=5000)
chromium "${flags[@]}" --dump-dom "file://$work/report.html" > "$work/dom.html" 2> "$work/chromium-dom.log" || true
chromium "${flags[@]}" --screenshot="$work/shot.png" --window-size=1400,900 "file://$work/report.html" > /dev/null 2> "$work/chromium-shot.log" || true

python3 - "$work/dom.html" "$expected" <<'PY'
import re, sys
dom = open(sys.argv[1]).read()
expected = int(sys.argv[2])
body = re.search(r'<body([^>]*)>', dom)
attrs = body.group(1) if body else ''
errors = re.search(r'data-js-errors="(\d+)"', attrs)
rendered = 'data-rendered="1"' in attrs
bands = len(re.findall(r'class="outage-band"', dom))
rows = len(re.findall(r'<tr data-index="\d+"', dom))
annotations = len(re.findall(r'class="annotation-mark"', dom))
failures = len(re.findall(r'class="connect-failure"', dom))
lags = len(re.findall(r'class="lag-marker"', dom))
epochs = len(re.findall(r'class="epoch-band"', dom))
box = re.search(r'id="wt-js-errors"[^>]*>(.*?)</div>', dom, re.S)
print(f"rendered={rendered} js_errors={errors.group(1) if errors else '?'} outage_bands={bands} incident_rows={rows} "
      f"expected_outages={expected} epoch_bands={epochs} connect_failures={failures} lag_markers={lags} annotations={annotations}")
if box and box.group(1).strip():
    print("script error text:", box.group(1).strip()[:500])
ok = rendered and errors and errors.group(1) == "0" and bands == expected and rows == expected
sys.exit(0 if ok else 1)
PY
rc=$?
if [ -s "$work/shot.png" ]; then
  mkdir -p "$(dirname "$shot")"
  cp "$work/shot.png" "$shot"
  echo "screenshot: $shot ($(stat -c %s "$shot") bytes)"
else
  echo "no screenshot was written; chromium said:" >&2
  tail -5 "$work/chromium-shot.log" >&2
  rc=1
fi
[ $rc -eq 0 ] && echo "PASS" || echo "FAIL"
exit $rc
