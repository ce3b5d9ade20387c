#!/usr/bin/env bash
# A soak run (not in CI): scenarios/soak.toml (or the file given) on the
# lab, with the CSV and JSON reports in target/soak/, then its closing
# figures: frames sent, received and lost, and linerate's resident memory
# after the first minute and at the end (it must not grow by more than
# 1 MiB). Run as root:
#   benches/soak.sh                         # 10 minutes at 1 Gbit/s L1, 1514-byte frames
#   benches/soak.sh my-24h-scenario.toml
set -euo pipefail
cd "$(dirname "$0")/.."
scenario=${1:-scenarios/soak.toml}
cargo build --release -q -p linerate
linerate=target/release/linerate
out=target/soak
mkdir -p "$out"
already=$("$linerate" lab status | head -1)
"$linerate" lab up >/dev/null
cleanup() { [ "$already" = "lab up" ] || "$linerate" lab down >/dev/null; }
trap cleanup EXIT

set +e
"$linerate" run "$scenario" --csv "$out/soak.csv" --json "$out/soak.json" | tail -n 20
status=${PIPESTATUS[0]}
set -e

python3 - "$out/soak.csv" "$out/soak.json" <<'PY'
import csv, json, sys
rows = list(csv.DictReader(open(sys.argv[1])))
report = json.load(open(sys.argv[2]))
streams = report["streams"]
sent = sum(s["frames_sent"] for s in streams)
received = sum(s["frames_received"] for s in streams)
lost = sum(s["frames_lost"] for s in streams)
# While sending (the final row, after the drain, has the senders gone).
running = [r for r in rows if r["final"] == "false"] or rows
after_minute = [r for r in running if float(r["elapsed_s"]) >= 60] or running
first_rss = int(running[0]["resident_bytes"])
minute_rss = int(after_minute[0]["resident_bytes"])
end_rss = int(running[-1]["resident_bytes"])
peak_rss = max(int(r["resident_bytes"]) for r in after_minute)
growth = peak_rss - minute_rss
mib = 1024 * 1024
print(f"soak: {report['send_duration_s']:.0f} s, {sent:,} frames sent, {received:,} received, {lost:,} lost")
print(f"resident memory: {first_rss / mib:.2f} MiB at the first report, {minute_rss / mib:.2f} MiB after the first minute, "
      f"{end_rss / mib:.2f} MiB at the last report while sending, {peak_rss / mib:.2f} MiB at most after the first minute: "
      f"growth {growth / 1024:.0f} KiB (limit 1024 KiB)")
print("memory: " + ("PASS" if growth <= mib else "FAIL"))
sys.exit(0 if growth <= mib else 1)
PY
memory=$?
exit $(( status != 0 ? status : memory ))
