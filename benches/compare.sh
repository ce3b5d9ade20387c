#!/usr/bin/env bash
# Side-by-side sender comparison on one lab, in one run, tools alternating
# round by round: linerate at rate max with 1 and 2 workers, trafgen
# (netsniff-ng) with 1 and 2 CPUs, and iperf3 in UDP mode, with 64-byte and
# 1514-byte frames. What arrives is counted on the receiving port by the same
# XDP counter: linerate's own runs report it; for the peers `linerate count`
# attaches it (trafgen's frames carry linerate's payload magic so that the
# counter treats them exactly as it treats linerate's: counted and dropped;
# iperf3's are counted and passed on to its server).
#
# Each figure is the median of the per-second receive rates over the middle
# seconds of a run, then the median over rounds. Run as root:
#   benches/compare.sh                 # 5 s a run, 3 rounds
#   SECONDS_PER_RUN=8 ROUNDS=5 benches/compare.sh
set -euo pipefail
cd "$(dirname "$0")/.."

SECONDS_PER_RUN=${SECONDS_PER_RUN:-5}
ROUNDS=${ROUNDS:-3}
SIZES=${SIZES:-"60 1514"}   # frame bytes without FCS: 64 and 1518 on the wire

missing=""
for package in netsniff-ng iperf3 ethtool; do
    # A direct comparison: `dpkg-query | grep -q` can die of SIGPIPE under pipefail.
    [ "$(dpkg-query -W -f='${Status}' "$package" 2>/dev/null)" = "install ok installed" ] || missing="$missing $package"
done
if [ -n "$missing" ]; then
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $missing >/dev/null
fi

cargo build --release -q -p linerate
linerate=target/release/linerate
work=$(mktemp -d)
cleanup() { pkill -f "iperf3 -s" 2>/dev/null || true; "$linerate" lab down >/dev/null 2>&1 || true; rm -rf "$work"; }
trap cleanup EXIT
"$linerate" lab down >/dev/null
"$linerate" lab up --queues 2 >/dev/null

# The median of the numbers on standard input.
median() { sort -n | awk 'NF { v[++n] = $1 } END { if (n == 0) print 0; else if (n % 2) print v[(n + 1) / 2]; else print (v[n / 2] + v[n / 2 + 1]) / 2 }'; }

# The per-second rates of the middle seconds (first and last dropped).
middle() { awk 'NF { v[++n] = $1 } END { for (i = 2; i < n; i++) print v[i] }'; }

linerate_run() { # workers size
    local workers=$1 size=$2 scenario="$work/linerate.toml"
    {
        printf '[run]\nduration = "%ss"\n\n[[port]]\nname = "a"\ninterface = "lr-a"\nnamespace = "linerate-a"\nqueues = %s\n\n' "$SECONDS_PER_RUN" "$workers"
        printf '[[port]]\nname = "b"\ninterface = "lr-b"\nnamespace = "linerate-b"\n'
        for stream in $(seq 1 "$workers"); do
            printf '\n[[stream]]\nname = "s%s"\ntx = "a"\nrx = "b"\nsrc_mac = "02:4c:52:00:00:0a"\ndst_mac = "02:4c:52:00:00:0b"\n' "$stream"
            printf 'src_ip = "198.18.0.1"\ndst_ip = "198.18.0.2"\nsrc_port = %s\ndst_port = 9000\nframe_size = %s\nrate = "max"\n' "$((9000 + stream))" "$size"
        done
    } > "$scenario"
    # Interval lines: "  1.0s  name  tx_fps  rx_fps  sent  received  in-flight"; sum rx fps per second.
    # At rate max some frames may be lost (exit 1); the receive rate is what is measured.
    { "$linerate" run "$scenario" 2>&1 || true; } | awk '$1 ~ /^[0-9.]+s$/ && $3 ~ /^[0-9]+$/ { rx[$1] += $4; if (!($1 in seen)) { order[++n] = $1; seen[$1] = 1 } }
        END { for (i = 1; i <= n; i++) print rx[order[i]] }' | middle | median
}

count_while() { # command...: counts on lr-b while the command runs for SECONDS_PER_RUN
    "$linerate" count --interface lr-b --namespace linerate-b --duration "$((SECONDS_PER_RUN + 2))s" > "$work/count.out" 2>&1 &
    local counter=$!
    sleep 0.5
    timeout "$SECONDS_PER_RUN" "$@" >/dev/null 2>&1 || true
    wait "$counter"
    awk '$2 == "" { next } $1 ~ /^[0-9.]+s$/ && $2 > 0 { print $2 }' "$work/count.out" | middle | median
}

trafgen_config() { # size: a linerate-tagged UDP frame of that size for trafgen
    local size=$1 ip_len=$(($1 - 14)) udp_len=$(($1 - 34))
    printf '{ 0x02,0x4c,0x52,0x00,0x00,0x0b, 0x02,0x4c,0x52,0x00,0x00,0x0a, 0x08,0x00,\n'
    printf '  0x45,0x00,c16(%s), 0x00,0x00,0x40,0x00, 0x40,0x11,csumip(14,33),\n' "$ip_len"
    printf '  198,18,0,1, 198,18,0,2,\n  0x23,0x28,0x23,0x28, c16(%s),0x00,0x00,\n' "$udp_len"
    printf '  0x4c,0x4e,0x52,0x54, 0x00,0x00, fill(0x00, %s) }\n' "$((size - 48))"
}

trafgen_run() { # cpus size
    trafgen_config "$2" > "$work/trafgen.cfg"
    count_while ip netns exec linerate-a trafgen -o lr-a -c "$work/trafgen.cfg" --cpus "$1" -b 0 -q
}

iperf3_run() { # size
    local payload=$(($1 - 42))
    ip netns exec linerate-b iperf3 -s -1 -D >/dev/null 2>&1
    sleep 0.3
    count_while ip netns exec linerate-a iperf3 -c 198.18.0.2 -u -b 0 -l "$payload" -t "$SECONDS_PER_RUN"
    pkill -f "iperf3 -s" 2>/dev/null || true
}

tools=("linerate-1" "linerate-2" "trafgen-1" "trafgen-2" "iperf3")
declare -A results
for size in $SIZES; do
    for round in $(seq 1 "$ROUNDS"); do
        for tool in "${tools[@]}"; do
            case $tool in
                linerate-1) value=$(linerate_run 1 "$size") ;;
                linerate-2) value=$(linerate_run 2 "$size") ;;
                trafgen-1) value=$(trafgen_run 1 "$size") ;;
                trafgen-2) value=$(trafgen_run 2 "$size") ;;
                iperf3) value=$(iperf3_run "$size") ;;
            esac
            results["$size $tool"]+="$value "
            echo "size $size round $round $tool: $value fps" >&2
        done
    done
done

printf '\n%-6s %-22s %10s %14s %14s\n' "frame" "sender" "Mpps" "linerate 1w ×" "linerate 2w ×"
for size in $SIZES; do
    one=$(echo "${results["$size linerate-1"]}" | tr ' ' '\n' | median)
    two=$(echo "${results["$size linerate-2"]}" | tr ' ' '\n' | median)
    for tool in "${tools[@]}"; do
        value=$(echo "${results["$size $tool"]}" | tr ' ' '\n' | median)
        case $tool in
            linerate-1) name="linerate, 1 worker" ;; linerate-2) name="linerate, 2 workers" ;;
            trafgen-1) name="trafgen, 1 CPU" ;; trafgen-2) name="trafgen, 2 CPUs" ;; iperf3) name="iperf3 UDP" ;;
        esac
        awk -v size="$((size + 4))B" -v name="$name" -v v="$value" -v one="$one" -v two="$two" 'BEGIN {
            r1 = (v > 0) ? sprintf("%.2f", one / v) : "-"; r2 = (v > 0) ? sprintf("%.2f", two / v) : "-"
            printf "%-6s %-22s %10.3f %14s %14s\n", size, name, v / 1e6, r1, r2 }'
    done
done
