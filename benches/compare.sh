#!/usr/bin/env bash
# Side-by-side sender comparison on one lab, in one run, tools alternating
# round by round: linerate at rate max with 1 and 2 workers; a plain AF_XDP
# transmit loop (benches/xsk_txonly.c, xdpsock's txonly cut down: one socket,
# one queue, copy mode, frames pre-written, batch produce, wakeup when asked,
# completions reclaimed) on the core linerate's first worker uses; trafgen
# (netsniff-ng) with 1 and 2 CPUs as its users run it (TX_RING, qdisc bypass
# on, its default, and -H, its documented high-priority option); and iperf3
# in UDP mode; with 64-byte and 1518-byte frames. What arrives is counted on
# the receiving port by the same XDP counter: linerate's own runs report it;
# for the peers `linerate count` attaches it (their frames carry linerate's
# payload magic so that the counter treats them as it treats linerate's:
# counted and dropped; iperf3's are counted and passed on to its server).
#
# The lab is this script's own: two namespaces and a veth pair named after
# its process id (lrtest-cmp<pid>-a/-b), removed on exit however it ends.
#
# Senders use the same cores: trafgen pins its N processes to CPUs 0..N-1,
# so linerate's N workers go there too (the port's `cores`), and the plain
# loop to CPU 0. Every sender runs at the high priority trafgen's -H gives itself (nice
# -20), so that none gets more of a busy machine's CPU than another.
#
# Each figure is the median of the per-second receive rates over the middle
# seconds of a run, then the median over rounds; ratios are of those medians.
# Run as root:
#   benches/compare.sh                 # 5 s a run, 3 rounds
#   SECONDS_PER_RUN=8 ROUNDS=5 SIZES=60 benches/compare.sh
set -euo pipefail
cd "$(dirname "$0")/.."

SECONDS_PER_RUN=${SECONDS_PER_RUN:-5}
ROUNDS=${ROUNDS:-3}
SIZES=${SIZES:-"60 1514"}   # frame bytes without FCS: 64 and 1518 on the wire
TOOLS=${TOOLS:-"linerate-1 xsk-1 trafgen-1 linerate-2 trafgen-2 iperf3"}

missing=""
for package in netsniff-ng iperf3 ethtool gcc libxdp-dev libbpf-dev; do
    # A direct comparison: `dpkg-query | grep -q` can die of SIGPIPE under pipefail.
    [ "$(dpkg-query -W -f='${Status}' "$package" 2>/dev/null)" = "install ok installed" ] || missing="$missing $package"
done
if [ -n "$missing" ]; then
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $missing >/dev/null
fi

cargo build --release -q -p linerate
linerate=target/release/linerate
xsk_txonly=target/release/xsk_txonly
gcc -O2 -Wall -o "$xsk_txonly" benches/xsk_txonly.c -lxdp -lbpf

tag=$$
ns_a="lrtest-cmp$tag-a" ns_b="lrtest-cmp$tag-b"
if_a="lrc${tag}a" if_b="lrc${tag}b"
work=$(mktemp -d)
cleanup() {
    # An iperf3 server still running (its runs happen in subshells, which
    # leave its pid in a file): end it by that pid.
    if [ -s "$work/iperf3.pid" ]; then kill "$(cat "$work/iperf3.pid")" 2>/dev/null || true; fi
    ip netns del "$ns_a" 2>/dev/null || true
    ip netns del "$ns_b" 2>/dev/null || true
    rm -rf "$work"
}
trap cleanup EXIT

# The lab, as `linerate lab up --queues 2` builds it, under this run's names.
ip netns add "$ns_a"
ip netns add "$ns_b"
ip link add "$if_a" netns "$ns_a" numtxqueues 2 numrxqueues 2 address 02:4c:52:00:00:0a type veth \
    peer name "$if_b" netns "$ns_b" numtxqueues 2 numrxqueues 2 address 02:4c:52:00:00:0b
for side in "a $ns_a $if_a 198.18.0.1 198.18.0.2 02:4c:52:00:00:0b" "b $ns_b $if_b 198.18.0.2 198.18.0.1 02:4c:52:00:00:0a"; do
    read -r _ ns interface address peer peer_mac <<< "$side"
    ip -n "$ns" addr add "$address/24" dev "$interface"
    ip -n "$ns" link set lo up
    ip -n "$ns" link set "$interface" up
    ip -n "$ns" neigh replace "$peer" lladdr "$peer_mac" nud permanent dev "$interface"
done

# The median of the numbers on standard input.
median() { sort -n | awk 'NF { v[++n] = $1 } END { if (n == 0) print 0; else if (n % 2) print v[(n + 1) / 2]; else print (v[n / 2] + v[n / 2 + 1]) / 2 }'; }

# The per-second rates of the middle seconds (first and last dropped).
middle() { awk 'NF { v[++n] = $1 } END { for (i = 2; i < n; i++) print v[i] }'; }

linerate_run() { # workers size
    local workers=$1 size=$2 scenario="$work/linerate.toml"
    {
        printf '[run]\nduration = "%ss"\n\n[[port]]\nname = "a"\ninterface = "%s"\nnamespace = "%s"\nqueues = %s\ncores = [%s]\n\n' \
            "$SECONDS_PER_RUN" "$if_a" "$ns_a" "$workers" "$(seq -s, 0 $((workers - 1)))"
        printf '[[port]]\nname = "b"\ninterface = "%s"\nnamespace = "%s"\n' "$if_b" "$ns_b"
        for stream in $(seq 1 "$workers"); do
            printf '\n[[stream]]\nname = "s%s"\ntx = "a"\nrx = "b"\nsrc_mac = "02:4c:52:00:00:0a"\ndst_mac = "02:4c:52:00:00:0b"\n' "$stream"
            printf 'src_ip = "198.18.0.1"\ndst_ip = "198.18.0.2"\nsrc_port = %s\ndst_port = 9000\nframe_size = %s\nrate = "max"\n' "$((9000 + stream))" "$size"
        done
    } > "$scenario"
    # Interval lines: "  1.0s  name  tx_fps  rx_fps  ..."; sum rx fps per second.
    # At rate max some frames may be lost (exit 1); the receive rate is what is measured.
    { nice -n -20 "$linerate" run "$scenario" 2>&1 || true; } | awk '$1 ~ /^[0-9.]+s$/ && $3 ~ /^[0-9]+$/ { rx[$1] += $4; if (!($1 in seen)) { order[++n] = $1; seen[$1] = 1 } }
        END { for (i = 1; i <= n; i++) print rx[order[i]] }' | middle | median
}

count_while() { # command...: counts on the receiving port while the command runs for SECONDS_PER_RUN
    "$linerate" count --interface "$if_b" --namespace "$ns_b" --duration "$((SECONDS_PER_RUN + 2))s" > "$work/count.out" 2>&1 &
    local counter=$!
    sleep 0.5
    timeout "$SECONDS_PER_RUN" "$@" >/dev/null 2>&1 || true
    wait "$counter" || true
    awk '$2 == "" { next } $1 ~ /^[0-9.]+s$/ && $2 > 0 { print $2 }' "$work/count.out" | middle | median
}

xsk_run() { # size: the plain AF_XDP loop, queue 0, on core 0
    count_while ip netns exec "$ns_a" nice -n -20 "$xsk_txonly" "$if_a" 0 "$SECONDS_PER_RUN" "$1" 0
}

trafgen_config() { # size: a linerate-tagged UDP frame of that size for trafgen
    local size=$1 ip_len=$(($1 - 14)) udp_len=$(($1 - 34))
    printf '{ 0x02,0x4c,0x52,0x00,0x00,0x0b, 0x02,0x4c,0x52,0x00,0x00,0x0a, 0x08,0x00,\n'
    printf '  0x45,0x00,c16(%s), 0x00,0x00,0x40,0x00, 0x40,0x11,csumip(14,33),\n' "$ip_len"
    printf '  198,18,0,1, 198,18,0,2,\n  0x23,0x28,0x23,0x28, c16(%s),0x00,0x00,\n' "$udp_len"
    printf '  0x4c,0x4e,0x52, 0x00,0x00,0x00, fill(0x00, %s) }\n' "$((size - 48))"
}

trafgen_run() { # cpus size
    trafgen_config "$2" > "$work/trafgen.cfg"
    # TX_RING (no --gap/--rate), qdisc bypass on (its default; -q would turn
    # it off), -H: high scheduling priority, as the man page offers for speed.
    count_while ip netns exec "$ns_a" trafgen --dev "$if_a" --conf "$work/trafgen.cfg" --cpus "$1" -H
}

iperf3_run() { # size
    local payload=$(($1 - 42)) value server_pid
    # `ip netns exec` execs iperf3, so $! is the server's own pid.
    ip netns exec "$ns_b" iperf3 -s -1 >/dev/null 2>&1 &
    server_pid=$!
    echo "$server_pid" > "$work/iperf3.pid"
    sleep 0.3
    value=$(count_while ip netns exec "$ns_a" nice -n -20 iperf3 -c 198.18.0.2 -u -b 0 -l "$payload" -t "$SECONDS_PER_RUN")
    # The server ends after its one client; end it by its pid if it has not.
    kill "$server_pid" 2>/dev/null || true
    wait "$server_pid" 2>/dev/null || true
    rm -f "$work/iperf3.pid"
    echo "$value"
}

read -r -a tools <<< "$TOOLS"
declare -A results
for size in $SIZES; do
    for round in $(seq 1 "$ROUNDS"); do
        for tool in "${tools[@]}"; do
            case $tool in
                linerate-1) value=$(linerate_run 1 "$size") ;;
                linerate-2) value=$(linerate_run 2 "$size") ;;
                xsk-1) value=$(xsk_run "$size") ;;
                trafgen-1) value=$(trafgen_run 1 "$size") ;;
                trafgen-2) value=$(trafgen_run 2 "$size") ;;
                iperf3) value=$(iperf3_run "$size") ;;
                *) echo "compare.sh: unknown tool $tool in TOOLS" >&2; exit 2 ;;
            esac
            results["$size $tool"]+="$value "
            echo "size $size round $round $tool: $value fps" >&2
        done
    done
done

# A tool's median over rounds.
tool_median() { echo "${results["$1 $2"]:-}" | tr ' ' '\n' | median; }

# The median over rounds of linerate 1 worker's rate over the tool's in the
# same round: less swayed by a busy machine than the ratio of medians.
round_ratio_median() { # size tool
    paste -d' ' <(echo "${results["$1 linerate-1"]:-}" | tr ' ' '\n' | awk NF) \
        <(echo "${results["$1 $2"]:-}" | tr ' ' '\n' | awk NF) \
        | awk 'NF == 2 && $2 > 0 { print $1 / $2 }' | median
}

printf '\n%-6s %-30s %10s %14s %14s %16s\n' "frame" "sender" "Mpps" "linerate 1w ×" "linerate 2w ×" "1w × per round"
for size in $SIZES; do
    one=$(tool_median "$size" linerate-1)
    two=$(tool_median "$size" linerate-2)
    for tool in "${tools[@]}"; do
        value=$(tool_median "$size" "$tool")
        per_round=$(round_ratio_median "$size" "$tool")
        case $tool in
            linerate-1) name="linerate, 1 worker" ;; linerate-2) name="linerate, 2 workers" ;;
            xsk-1) name="plain AF_XDP loop, 1 core" ;;
            trafgen-1) name="trafgen, 1 CPU" ;; trafgen-2) name="trafgen, 2 CPUs" ;; iperf3) name="iperf3 UDP" ;;
        esac
        awk -v size="$((size + 4))B" -v name="$name" -v v="$value" -v one="$one" -v two="$two" -v pr="$per_round" 'BEGIN {
            r1 = (v > 0 && one > 0) ? sprintf("%.2f", one / v) : "-"; r2 = (v > 0 && two > 0) ? sprintf("%.2f", two / v) : "-"
            r3 = (pr > 0) ? sprintf("%.2f", pr) : "-"
            printf "%-6s %-30s %10.3f %14s %14s %16s\n", size, name, v / 1e6, r1, r2, r3 }'
    done
done
