#!/usr/bin/env bash
# Instructions per prepared frame, counted by callgrind: 64-byte frames,
# fixed and with three sweeps. The driver is run for two frame counts and
# the difference divided out, so start-up cost does not count.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release -q -p linerate-benches --example prepare_count
binary=target/release/examples/prepare_count
count() {
    valgrind --tool=callgrind --callgrind-out-file=/dev/null "$binary" "$1" "$2" 2>&1 \
        | sed -n 's/.*Collected : \([0-9]*\).*/\1/p'
}
for kind in fixed swept; do
    small=$(count "$kind" 100000)
    large=$(count "$kind" 1100000)
    echo "$kind: $(( (large - small) / 1000000 )) instructions per frame"
done
