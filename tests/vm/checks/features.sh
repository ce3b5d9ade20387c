# features.sh: what this kernel gives linerate, measured with linerate on a
# veth pair between two namespaces of its own (lrtest-vmf-PID-a/-b, so it is
# safe on the host too): native XDP on veth, AF_XDP copy / zero-copy
# selection, the XDP counter held by a bpf_link, need_wakeup, the kernel's
# XDP feature report, and multi-buffer (a 9000-byte frame run). Each becomes
# a FEATURE line for the kernel table, and a row.
. "$(dirname "$0")/lib.sh"
need_linerate
tag=$$
ns_a=lrtest-vmf-$tag-a ns_b=lrtest-vmf-$tag-b if_a=lrvf$tag-a if_b=lrvf$tag-b
work=$(mktemp -d)
count_pid=
cleanup() {
    [ -n "$count_pid" ] && kill "$count_pid" 2>/dev/null && wait "$count_pid" 2>/dev/null
    ip netns del "$ns_a" 2>/dev/null; ip netns del "$ns_b" 2>/dev/null
    rm -rf "$work"
}
trap cleanup EXIT

ip netns add "$ns_a" && ip netns add "$ns_b" &&
ip link add "$if_a" netns "$ns_a" type veth peer name "$if_b" netns "$ns_b" &&
for side in a b; do
    ns=ns_$side iface=if_$side
    ip -n "${!ns}" link set "${!iface}" mtu 9000 up && ip -n "${!ns}" link set lo up || exit 1
done || { echo "could not build the veth pair"; exit 1; }

scenario() { # scenario FRAMES FRAME_SIZE RATE
    cat <<TOML
[run]
frames = $1
drain = "2s"
[[port]]
name = "a"
interface = "$if_a"
namespace = "$ns_a"
[[port]]
name = "b"
interface = "$if_b"
namespace = "$ns_b"
[[stream]]
name = "probe"
tx = "a"
rx = "b"
src_mac = "02:4c:52:00:01:0a"
dst_mac = "02:4c:52:00:01:0b"
src_ip = "198.18.0.1"
dst_ip = "198.18.0.2"
src_port = 9000
dst_port = 9000
frame_size = $2
rate = "$3"
TOML
}

# A plain run: the XDP attach mode, the AF_XDP mode auto picks, wakeups.
scenario 10000 60 10kpps > "$work/plain.toml"
started=$(now)
"$LINERATE" run "$work/plain.toml" --json "$work/plain.json" > "$work/plain.txt" 2>&1
status=$?
cat "$work/plain.txt"
read -r xdp_mode xsk_mode sent received < <(python3 -c '
import json, sys
r = json.load(open(sys.argv[1]))
print(r["environment"]["rx"][0]["xdp_mode"].replace(" ", "_"), r["environment"]["tx"][0]["xsk_mode"],
      r["streams"][0]["frames_sent"], r["streams"][0]["frames_received"])' "$work/plain.json" 2>/dev/null)
if [ "$status" = 0 ] && [ "$received" = 10000 ]; then
    row "10,000 frames at 10 kpps" pass "$(since "$started")" "sent $sent, received $received"
    case $xdp_mode in
        *native*|driver*) feature "native XDP on veth" "yes (counter in ${xdp_mode//_/ } mode)" ;;
        *) feature "native XDP on veth" "no: ${xdp_mode//_/ }" ;;
    esac
    wakeups=$(grep -oE '[0-9]+ wakeups' "$work/plain.txt" | head -n 1)
    feature "need_wakeup (XDP_USE_NEED_WAKEUP)" "yes (bound with it; $wakeups for $sent frames at 10 kpps)"
else
    row "10,000 frames at 10 kpps" fail "$(since "$started")" "exit $status: $(grep -m1 error "$work/plain.txt")"
    feature "native XDP on veth" "not measured (run failed)"
    feature "need_wakeup (XDP_USE_NEED_WAKEUP)" "not measured (run failed)"
fi

# AF_XDP mode: what auto chose, and what a zero-copy request gets on veth.
zc=$("$LINERATE" run "$work/plain.toml" --xsk-mode zero-copy 2>&1)
zc_status=$?
zc_line=$(grep -m1 'error' <<< "$zc" | cut -c1-160)
if [ "$zc_status" = 2 ] && [ "$(grep -c error <<< "$zc")" = 1 ] && grep -q zero-copy <<< "$zc_line" && ! grep -qiE 'panick|verifier' <<< "$zc"; then
    zc_text="zero-copy on request: refused in one line, exit 2"
    row "zero-copy request on veth" pass 0 "$zc_line"
elif [ "$zc_status" = 0 ]; then
    zc_text="zero-copy requested: granted"
    row "zero-copy request on veth" pass 0 "granted"
else
    zc_text="zero-copy requested: exit $zc_status"
    row "zero-copy request on veth" fail 0 "exit $zc_status: $(tail -n 3 <<< "$zc" | tr '\n' ' ')"
fi
feature "AF_XDP mode on veth" "auto picks ${xsk_mode:-(not measured)}; $zc_text"

# bpf_link: while `linerate count` holds the counter, its descriptors
# include an XDP link (fdinfo link_type xdp).
started=$(now)
"$LINERATE" count --interface "$if_b" --namespace "$ns_b" --duration 6s > "$work/count.txt" 2>&1 &
count_pid=$!
link=
for _ in $(seq 1 50); do
    link=$(grep -ls 'link_type:.*xdp' /proc/"$count_pid"/fdinfo/* 2>/dev/null | head -n 1)
    [ -n "$link" ] && break
    sleep 0.1
done
if [ -n "$link" ]; then
    link_id=$(awk '/^link_id:/ { print $2 }' "$link")
    feature "bpf_link for XDP" "yes (the counter is held by an XDP link)"
    row "XDP counter through a bpf_link" pass "$(since "$started")" "link id $link_id"
else
    feature "bpf_link for XDP" "no XDP link seen in linerate's descriptors"
    row "XDP counter through a bpf_link" fail "$(since "$started")" "$(tail -n 1 "$work/count.txt")"
fi
kill "$count_pid" 2>/dev/null; wait "$count_pid" 2>/dev/null; count_pid=

# The kernel's own XDP feature report (netdev netlink family, 6.3+).
doctor=$("$LINERATE" doctor "$if_b" --namespace "$ns_b" 2>&1)
if grep -q 'did not report XDP features' <<< "$doctor"; then
    feature "XDP features reported (netdev netlink)" "no (family missing): doctor says so in one line"
else
    features=$(grep -m1 -E '^ *XDP ' <<< "$doctor" | sed 's/^ *XDP *//')
    feature "XDP features reported (netdev netlink)" "yes: ${features:-(no XDP line from doctor)}"
fi

# Multi-buffer: 9000-byte frames need XDP_USE_SG on the socket and an
# xdp.frags counter.
scenario 1000 9000 1kpps > "$work/jumbo.toml"
started=$(now)
"$LINERATE" run "$work/jumbo.toml" --json "$work/jumbo.json" > "$work/jumbo.txt" 2>&1
status=$?
cat "$work/jumbo.txt"
received=$(python3 -c 'import json, sys; print(json.load(open(sys.argv[1]))["streams"][0]["frames_received"])' "$work/jumbo.json" 2>/dev/null)
if [ "$status" = 0 ] && [ "$received" = 1000 ]; then
    feature "multi-buffer (9000-byte frames)" "yes (1,000 of 1,000 counted)"
    row "jumbo run, 9000-byte frames" pass "$(since "$started")" "1000 sent, 1000 received"
else
    line=$(grep -m1 error "$work/jumbo.txt" | cut -c1-200)
    if [ "$status" = 2 ] && [ "$(grep -c . "$work/jumbo.txt")" -le 3 ] && grep -qiE 'multi-buffer|XDP_USE_SG' <<< "$line" && ! grep -qiE 'panick|verifier' "$work/jumbo.txt"; then
        feature "multi-buffer (9000-byte frames)" "no: linerate refuses them in one line, exit 2 (XDP_USE_SG needs 6.6)"
        row "jumbo run, 9000-byte frames" pass "$(since "$started")" "refused in one line, exit 2: $line"
    else
        feature "multi-buffer (9000-byte frames)" "no: exit $status ($line)"
        row "jumbo run, 9000-byte frames" fail "$(since "$started")" "exit $status, received ${received:-?}: $line"
    fi
fi
