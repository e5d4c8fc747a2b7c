#!/bin/sh
# Fuzzing the journal's block and record decoders.
#   tools/journal-fuzz/run.sh --short        # CI: 200k seeded mutations (normal debug build)
#   tools/journal-fuzz/run.sh --long         # 20M seeded mutations (release build)
#   tools/journal-fuzz/run.sh --libfuzzer [-max_total_time=60 ...]
#       libFuzzer + ASan in its own scratch path .build-fuzz (FINDINGS.md workaround)
set -eu
cd "$(dirname "$0")/../.."
case "${1:-}" in
  --libfuzzer)
    shift
    out=$(swift build --scratch-path .build-fuzz --product journal-fuzz \
      -Xswiftc -sanitize=fuzzer,address -Xswiftc -DFUZZING \
      -Xswiftc -Xclang-linker -Xswiftc -fuse-ld=lld 2>&1) || { echo "$out"; exit 1; }
    mkdir -p .build-fuzz/corpus
    exec .build-fuzz/debug/journal-fuzz .build-fuzz/corpus tools/journal-fuzz/corpus "$@" ;;
  --long)
    shift
    out=$(swift build -c release --scratch-path .build-release --product journal-fuzz 2>&1) || { echo "$out"; exit 1; }
    exec .build-release/release/journal-fuzz --iterations 20000000 "$@" ;;
  --short) shift ;;
esac
out=$(swift build --product journal-fuzz 2>&1) || { echo "$out"; exit 1; }
exec .build/debug/journal-fuzz --iterations 200000 "$@"
