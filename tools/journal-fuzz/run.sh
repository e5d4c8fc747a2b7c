#!/usr/bin/env bash
# Fuzzing the journal's block and record decoders.
#   tools/journal-fuzz/run.sh --short        # CI: 200k seeded mutations (normal debug build)
#   tools/journal-fuzz/run.sh --long         # 20M seeded mutations (release build)
#   tools/journal-fuzz/run.sh --libfuzzer [-max_total_time=60 ...]
#       libFuzzer + ASan in its own scratch path .build-fuzz (FINDINGS.md workaround)
# The seeded runs fail when no mutant decoded: the round-trip check then never ran past the
# seeds, and a run that exercised nothing must not pass.
set -euo pipefail
cd "$(dirname "$0")/../.."

# checked BINARY ARGS...: runs the seeded harness and checks that it exercised the decoders.
checked() {
  local log=.build/journal-fuzz.log kept
  mkdir -p .build
  "$@" | tee "$log"
  kept=$(sed -n 's/.*corpus files, \([0-9][0-9]*\) decodable mutants kept.*PASS$/\1/p' "$log" | tail -1)
  if [ -z "$kept" ]; then
    echo "journal-fuzz: FAIL: no PASS line with the count of decodable mutants"
    return 1
  fi
  if [ "$kept" -eq 0 ]; then
    echo "journal-fuzz: FAIL: no mutant decoded, so the round-trip check never ran past the seeds"
    return 1
  fi
}

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
    checked .build-release/release/journal-fuzz --iterations 20000000 "$@"
    exit ;;
  --short) shift ;;
esac
out=$(swift build --product journal-fuzz 2>&1) || { echo "$out"; exit 1; }
checked "$(swift build --show-bin-path)/journal-fuzz" --iterations 200000 "$@"
