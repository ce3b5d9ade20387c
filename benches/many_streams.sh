#!/usr/bin/env bash
# Many streams: for 1, 1,000, 10,000 and 100,000 streams (one stream table
# with count = N, one source address per stream), a 3 s run through a veth
# pair between two network namespaces this script creates (lrtest-ms-a and
# lrtest-ms-b, removed on exit), and a table of what it cost: start-up time
# (launch to the sender's setup line, i.e. parsing, building every stream's
# frames, loading the counter and opening the socket), UMEM, the counter's
# BPF map memory (as allocated: per-CPU maps once per possible CPU), peak
# resident memory of linerate, and whether every stream sent exactly
# rate x duration and received all of it. Run as root:
#   benches/many_streams.sh                  # 1, 1000, 10000, 100000 streams
#   benches/many_streams.sh 5000 20000       # other stream counts
set -euo pipefail
cd "$(dirname "$0")/.."
counts=("$@")
[ ${#counts[@]} -gt 0 ] || counts=(1 1000 10000 100000)
cargo build --release -q -p linerate
linerate=$PWD/target/release/linerate
out=target/many_streams
mkdir -p "$out"

ns_a=lrtest-ms-a
ns_b=lrtest-ms-b
cleanup() {
	ip netns del "$ns_a" 2>/dev/null || true
	ip netns del "$ns_b" 2>/dev/null || true
}
trap cleanup EXIT
cleanup
ip netns add "$ns_a"
ip netns add "$ns_b"
ip link add lrms-a netns "$ns_a" type veth peer name lrms-b netns "$ns_b"
ip -n "$ns_a" link set lrms-a address 02:4c:52:00:01:0a up
ip -n "$ns_b" link set lrms-b address 02:4c:52:00:01:0b up
ip -n "$ns_a" address add 198.18.0.1/24 dev lrms-a
ip -n "$ns_b" address add 198.18.0.2/24 dev lrms-b

# The rate per stream: 10 frames/s, and less past 10,000 streams so that the
# total stays at 100,000 frames/s (what the sender holds on one core of the
# development VM in copy mode with room to spare).
rate_for() {
	local n=$1 rate=10
	[ "$n" -le 10000 ] || rate=$((100000 / n))
	[ "$rate" -ge 1 ] || rate=1
	echo "$rate"
}

scenario() {
	local n=$1 rate=$2
	cat <<EOF
[run]
duration = "3s"
report_interval = "1s"

[[port]]
name = "a"
interface = "lrms-a"
namespace = "$ns_a"

[[port]]
name = "b"
interface = "lrms-b"
namespace = "$ns_b"

[[stream]]
name = "flow{index}"
tx = "a"
rx = "b"
src_mac = "02:4c:52:00:01:0a"
dst_mac = "02:4c:52:00:01:0b"
src_ip = "10.0.0.1"
dst_ip = "198.18.0.2"
src_port = 9000
dst_port = 9000
frame_size = 60
rate = $rate
count = $n
EOF
	[ "$n" -gt 1 ] && echo "step = { src_ip = 1 }"
	return 0
}

printf '%-9s %10s %10s %12s %14s %13s %s\n' streams "start-up" "UMEM" "BPF maps" "peak RSS" "frames" "exact"
for n in "${counts[@]}"; do
	rate=$(rate_for "$n")
	scenario "$n" "$rate" >"$out/streams-$n.toml"
	launched=$(date +%s.%N)
	# Each stdout line with the time it arrived; RSS from GNU time.
	/usr/bin/time -f "peak_rss_kib %M" -o "$out/time-$n.txt" \
		"$linerate" run "$out/streams-$n.toml" --json "$out/report-$n.json" --show 3 2>&1 |
		while IFS= read -r line; do printf '%s %s\n' "$(date +%s.%N)" "$line"; done >"$out/run-$n.log" || true
	python3 - "$n" "$launched" "$out/run-$n.log" "$out/time-$n.txt" "$out/report-$n.json" <<'PY'
import json, re, sys
n, launched, log, timing, report_path = sys.argv[1:]
lines = [line.rstrip("\n").split(" ", 1) for line in open(log)]
tx = [(float(t), text) for t, text in lines if text.startswith("tx  port") and "UMEM" in text]
rx = [text for _, text in lines if text.startswith("rx  port") and "maps" in text]
startup = tx[0][0] - float(launched) if tx else float("nan")
umem = sum(float(re.search(r"UMEM ([0-9.]+) MiB", text).group(1)) for _, text in tx)
maps = sum(float(re.search(r"maps ([0-9.]+) MiB", text).group(1)) for text in rx)
rss = int(open(timing).read().split("peak_rss_kib")[1].split()[0]) / 1024
report = json.load(open(report_path))
streams = report["streams"]
sent = sum(s["frames_sent"] for s in streams)
received = sum(s["frames_received"] for s in streams)
planned = {s["frames_sent"] for s in streams}
exact = (len(streams) == int(n) and received == sent
         and all(s["frames_received"] == s["frames_sent"] for s in streams)
         and report["verdict"]["passed"])
print(f"{int(n):<9,} {startup:>9.2f}s {umem:>7.1f} MiB {maps:>8.2f} MiB {rss:>10.1f} MiB "
      f"{sent:>13,} {'yes' if exact else 'NO'} (frames per stream: {sorted(planned)[:3]})")
PY
done
echo "logs, scenarios and JSON reports in $out/"
