#!/usr/bin/env bash
# What the HTTP API costs a run: `GET /runs/{id}/stats` latency (p50, p99)
# while a run sends at rate max, and the sender's maximum rate with a client
# polling stats 10 times a second against the rate with no client, in one
# run of alternating rounds (medians over rounds). The API may cost at most
# 2 % of the rate. Run as root; builds its own pair of namespaces (lrtest-
# prefix, removed at the end) and its own `linerate serve` on loopback:
#   benches/api_cost.sh                       # 5 s a run, 5 rounds of each
#   SECONDS_PER_RUN=8 ROUNDS=7 benches/api_cost.sh
set -euo pipefail
cd "$(dirname "$0")/.."

SECONDS_PER_RUN=${SECONDS_PER_RUN:-5}
ROUNDS=${ROUNDS:-5}
PORT=${PORT:-18089}

cargo build --release -q -p linerate
linerate=target/release/linerate
work=$(mktemp -d)
tag=$$
ns_a=lrtest-api$tag-a ns_b=lrtest-api$tag-b if_a=lrtapi${tag}a if_b=lrtapi${tag}b
server_pid=""
cleanup() {
    [ -n "$server_pid" ] && kill "$server_pid" 2>/dev/null && wait "$server_pid" 2>/dev/null || true
    ip netns del "$ns_a" 2>/dev/null || true
    ip netns del "$ns_b" 2>/dev/null || true
    rm -rf "$work"
}
trap cleanup EXIT

ip netns add "$ns_a"
ip netns add "$ns_b"
ip link add "$if_a" netns "$ns_a" address 02:4c:52:00:00:0a type veth peer "$if_b" netns "$ns_b" address 02:4c:52:00:00:0b
ip -n "$ns_a" addr add 198.18.0.1/24 dev "$if_a"
ip -n "$ns_b" addr add 198.18.0.2/24 dev "$if_b"
ip -n "$ns_a" link set "$if_a" up
ip -n "$ns_b" link set "$if_b" up

cat > "$work/scenario.toml" <<TOML
[run]
duration = "${SECONDS_PER_RUN}s"

[[port]]
name = "a"
interface = "$if_a"
namespace = "$ns_a"

[[port]]
name = "b"
interface = "$if_b"
namespace = "$ns_b"

[[stream]]
name = "max"
tx = "a"
rx = "b"
src_mac = "02:4c:52:00:00:0a"
dst_mac = "02:4c:52:00:00:0b"
src_ip = "198.18.0.1"
dst_ip = "198.18.0.2"
src_port = 9000
dst_port = 9000
frame_size = 60
rate = "max"
TOML

# One run through the API: starts it, optionally polls its stats 10 times a
# second on one kept-alive connection (latencies in ms to poll_ms), waits for
# the report, prints the stream's achieved tx fps.
cat > "$work/one_run.py" <<'PY'
import http.client, json, sys, time
port, scenario_path, poll, latency_file = int(sys.argv[1]), sys.argv[2], sys.argv[3] == "poll", sys.argv[4]
conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
def call(method, path, body=None):
    headers = {"Content-Type": "application/json"} if body is not None else {}
    conn.request(method, path, body=json.dumps(body) if body is not None else None, headers=headers)
    response = conn.getresponse()
    text = response.read()
    if response.status >= 300:
        sys.exit(f"{method} {path}: {response.status} {text.decode()}")
    return json.loads(text) if text else None
run = call("POST", "/runs", {"scenario_toml": open(scenario_path).read()})
run_id = run["id"]
latencies = []
while True:
    if poll:
        started = time.perf_counter()
        call("GET", f"/runs/{run_id}/stats")
        latencies.append((time.perf_counter() - started) * 1000)
    if call("GET", f"/runs/{run_id}")["state"] in ("finished", "failed"):
        break
    time.sleep(0.1 if poll else 0.5)
report = call("GET", f"/runs/{run_id}/report")
call("DELETE", f"/runs/{run_id}")
with open(latency_file, "a") as out:
    out.writelines(f"{value:.4f}\n" for value in latencies)
print(f"{report['streams'][0]['tx_fps']:.0f}")
PY

"$linerate" serve --listen "127.0.0.1:$PORT" >"$work/serve.log" 2>&1 &
server_pid=$!
for _ in $(seq 100); do
    python3 -c "import urllib.request; urllib.request.urlopen('http://127.0.0.1:$PORT/runs')" 2>/dev/null && break
    sleep 0.1
done

median() { sort -n | awk 'NF { v[++n] = $1 } END { if (n == 0) print 0; else if (n % 2) print v[(n + 1) / 2]; else print (v[n / 2] + v[n / 2 + 1]) / 2 }'; }
percentile() { sort -n | awk -v p="$1" 'NF { v[++n] = $1 } END { i = int(n * p / 100 + 0.999999); if (i < 1) i = 1; print v[i] }'; }

: >"$work/quiet" ; : >"$work/polled" ; : >"$work/poll_ms"
echo "api_cost: rate max, ${SECONDS_PER_RUN} s a run, $ROUNDS rounds, no client and polling stats at 10/s alternating"
for round in $(seq "$ROUNDS"); do
    quiet=$(python3 "$work/one_run.py" "$PORT" "$work/scenario.toml" quiet "$work/poll_ms")
    polled=$(python3 "$work/one_run.py" "$PORT" "$work/scenario.toml" poll "$work/poll_ms")
    echo "$quiet" >>"$work/quiet"; echo "$polled" >>"$work/polled"
    printf 'round %d: no client %s fps, polled %s fps\n' "$round" "$quiet" "$polled"
done
quiet=$(median <"$work/quiet")
polled=$(median <"$work/polled")
p50=$(percentile 50 <"$work/poll_ms")
p99=$(percentile 99 <"$work/poll_ms")
samples=$(wc -l <"$work/poll_ms")
cost=$(awk -v q="$quiet" -v p="$polled" 'BEGIN { printf "%.2f", (q - p) * 100 / q }')
echo "GET /runs/{id}/stats while sending at rate max: p50 ${p50} ms, p99 ${p99} ms ($samples requests)"
echo "sender max rate, median: no client $quiet fps, polled 10/s $polled fps: the API costs $cost %"
awk -v c="$cost" 'BEGIN { exit !(c <= 2.0) }' && echo "within the 2 % budget" || { echo "OVER the 2 % budget"; exit 1; }
