#!/bin/sh
# Regenerates the fixture journal `depth-outage/` from `depth-outage.jsonl` (a recorded depth
# feed session written as JSON lines: a 1011 close, a refused reconnect (503, Retry-After 1),
# a reconnect whose first update skips 106-108 so the adapter resyncs, a lost connection
# (1006), a reconnect that continues the sequence, and the recorder's shutdown).
#
#   swift build --product wiretape && Examples/OrderBook/Tests/OrderBookExampleTests/Fixtures/make-fixture.sh
set -eu
here=$(cd "$(dirname "$0")" && pwd)
wiretape=${WIRETAPE:-$here/../../../../../.build/debug/wiretape}
rm -rf "$here/depth-outage"
"$wiretape" import "$here/depth-outage" "$here/depth-outage.jsonl"
"$wiretape" verify "$here/depth-outage"
# Readers leave SQLite's shared-memory files and the writer its lock file behind; the fixture is the segment and the index.
rm -f "$here/depth-outage/index.sqlite-shm" "$here/depth-outage/index.sqlite-wal" "$here/depth-outage/writer.lock"
