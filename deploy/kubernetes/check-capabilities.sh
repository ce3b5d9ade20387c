#!/usr/bin/env bash
# Runs linerate with exactly the capabilities the agent DaemonSet gives it
# (read from the rendered manifest) and a 64 KiB RLIMIT_MEMLOCK, as a
# container whose runtime keeps the default limit: a round trip through the
# reflector on a veth pair inside one network namespace (host networking:
# no namespace is entered, so no CAP_SYS_ADMIN), which must pass with every
# frame back. Then the same without CAP_PERFMON, which linerate must refuse
# up front in one line naming CAP_PERFMON (the verifier would refuse the
# programs: "pointer comparison prohibited"; bpf/tests/capabilities.rs
# shows that on this kernel). Needs root. Cleans up its namespace however
# it ends.
#
# Usage: check-capabilities.sh LINERATE_BINARY RENDERED_AGENTS_YAML PYTHON
set -euo pipefail
linerate=$1 rendered=$2 python=$3
namespace="lrtest-caps-$$"
scenario=$(mktemp --suffix=.toml)
output=$(mktemp)
cleanup() { ip netns del "$namespace" 2>/dev/null || true; rm -f "$scenario" "$output"; }
trap cleanup EXIT

capabilities=$("$python" - "$rendered" <<'PY'
import sys, yaml
for document in yaml.safe_load_all(open(sys.argv[1])):
    if document and document["kind"] == "DaemonSet":
        added = document["spec"]["template"]["spec"]["containers"][0]["securityContext"]["capabilities"]["add"]
        print(",".join("+" + name.lower() for name in added))
PY
)
echo "caps: the DaemonSet adds ${capabilities}"
case ",$capabilities," in *,+sys_admin,*) echo "caps: the check assumes no SYS_ADMIN" >&2; exit 1;; esac

ip netns add "$namespace"
ip -n "$namespace" link add lrcapa type veth peer name lrcapb
ip -n "$namespace" link set lrcapa address 02:4c:52:00:00:0a up
ip -n "$namespace" link set lrcapb address 02:4c:52:00:00:0b up
cat > "$scenario" <<'TOML'
[run]
frames = 10000
[[port]]
name = "a"
interface = "lrcapa"
[[port]]
name = "b"
interface = "lrcapb"
reflect = true
[[stream]]
name = "round-trip"
tx = "a"
rx = "a"
src_mac = "02:4c:52:00:00:0a"
dst_mac = "02:4c:52:00:00:0b"
src_ip = "198.18.0.1"
dst_ip = "198.18.0.2"
src_port = 9000
dst_port = 9000
rate = "10kpps"
# Loss only: the achieved rate depends on how busy the machine is.
[pass]
max_loss_frames = 0
TOML

run_with() {
    ip netns exec "$namespace" prlimit --memlock=65536 \
        setpriv --bounding-set "-all,$1" --inh-caps -all -- "$linerate" run "$scenario" >"$output" 2>&1
}

if ! run_with "$capabilities" || ! grep -q "^verdict: PASS" "$output" \
    || ! grep -Eq "^round-trip +10000 +10000 +0 " "$output"; then
    cat "$output" >&2
    echo "caps: the round trip failed with the DaemonSet's capabilities" >&2
    exit 1
fi
echo "caps: round trip through the reflector passes with them and memlock 64 KiB (10000 sent, 10000 back)"

without_perfmon=$(echo "$capabilities" | sed 's/+perfmon//; s/,,/,/; s/^,//; s/,$//')
if run_with "$without_perfmon" || ! grep -q "CAP_PERFMON (to have the verifier accept" "$output" \
    || [ "$(wc -l <"$output")" -ne 1 ]; then
    cat "$output" >&2
    echo "caps: expected linerate to refuse in one line naming CAP_PERFMON" >&2
    exit 1
fi
echo "caps: without CAP_PERFMON linerate refuses up front, naming it: $(cat "$output")"
