#!/usr/bin/env bash
# Receive capacity of linerate's XDP counter against a bare XDP_DROP
# program on the same lab, alternating round by round; prints the ratio
# (goal: the counter costs at most 10 %). See benches/examples/rx_cost.rs.
# Run as root:
#   benches/rx_cost.sh            # 15 rounds of 2 s per program
#   benches/rx_cost.sh 21 3       # 21 rounds of 3 s
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release -q -p linerate-benches --example rx_cost
exec target/release/examples/rx_cost "$@"
