# wifi_dhcp.sh: WiFi stations with DHCP and WPA3-SAE in the VM. `linerate
# lab up --wifi 1` (hostapd WPA2 testNet bridged to the wired port eth1,
# udhcpd on the bridge), then scenarios/wifi-dhcp.toml: 2 stations with
# ipv4 = "dhcp", one stream from every station to eth1 and one back, 600
# frames each at 200 frames/s (3 s): every stream's counts exact
# (wifi_report.py: sent = received + lost, no dup or late, loss within the
# scenario's 0.5 %), every station never disconnected and
# associated with a lease from the lab's pool (distinct, in its addresses).
# Then the DHCP server stopped: a station gets no lease, the run fails
# naming it and "no DHCP lease". Then the lab again with `--security wpa3`
# and the same run with security = "wpa3". After each run no station
# interface, wpa_supplicant, udhcpc or work directory; after lab down no
# hostapd, udhcpd, namespace or module.
. "$(dirname "$0")/lib.sh"
need_vm
need_linerate
for tool in hostapd wpa_supplicant iw busybox; do
    command -v "$tool" >/dev/null || { echo "$tool is not installed (make vm-deps installs it)"; exit 1; }
done
work=$(mktemp -d)
cleanup() {
    "$LINERATE" lab down >/dev/null 2>&1
    rm -rf "$work"
}
trap cleanup EXIT

# processes NAME: pids of running processes named NAME, or running
# busybox's applet NAME (a check only: never killed here).
processes() {
    local pid comm state applet found=()
    for pid in /proc/[0-9]*; do
        comm=$(cat "$pid/comm" 2>/dev/null) || continue
        if [ "$comm" = busybox ]; then
            applet=$(tr '\0' '\n' < "$pid/cmdline" 2>/dev/null | sed -n 2p)
            [ "$applet" = "$1" ] || continue
        elif [ "$comm" != "$1" ]; then
            continue
        fi
        state=$(sed 's/.*) //' "$pid/stat" 2>/dev/null | cut -d' ' -f1)
        [ "$state" = Z ] || found+=("${pid#/proc/}")
    done
    echo "${found[*]}"
}
# leftovers: what a run must not leave.
leftovers() {
    local left="" stations
    stations=$(ip netns exec lrlab-sta iw dev 2>/dev/null | awk '$1 == "Interface" { print $2 }' | tr '\n' ' ')
    [ -n "${stations// /}" ] && left+="station interfaces: $stations; "
    [ -n "$(processes wpa_supplicant)" ] && left+="wpa_supplicant: $(processes wpa_supplicant); "
    [ -n "$(processes udhcpc)" ] && left+="udhcpc: $(processes udhcpc); "
    ls -d /tmp/linerate-wifi-* >/dev/null 2>&1 && left+="work dirs: $(ls -d /tmp/linerate-wifi-*); "
    echo "$left"
}
# lab_up SECURITY
lab_up() {
    local started
    started=$(now)
    if "$LINERATE" lab up --wifi 1 --security "$1" > "$work/lab.txt" 2>&1; then
        row "lab up --wifi 1 --security $1" pass "$(since "$started")" "$(grep -m1 '^AP:' "$work/lab.txt"); $(grep -m1 '^DHCP:' "$work/lab.txt")"
    else
        row "lab up --wifi 1 --security $1" fail "$(since "$started")" "$(tail -n 2 "$work/lab.txt")"; return 1
    fi
    cat "$work/lab.txt"
}
# lab_down: removes the lab, checks nothing of it is left.
lab_down() {
    local started left=""
    cp /run/linerate/wifi-lab/hostapd.log "$VM_OUT/wifi_dhcp.$1.hostapd.log" 2>/dev/null
    started=$(now)
    "$LINERATE" lab down > "$work/down.txt" 2>&1
    for name in hostapd udhcpd wpa_supplicant udhcpc; do
        [ -n "$(processes "$name")" ] && left+="$name: $(processes "$name"); "
    done
    namespaces=$(ip netns list | grep -E '^lrlab-' | tr '\n' ' ')
    [ -n "$namespaces" ] && left+="namespaces: $namespaces; "
    [ -d /sys/module/mac80211_hwsim ] && left+="mac80211_hwsim still loaded; "
    if [ -z "$left" ]; then row "lab down ($1)" pass "$(since "$started")" "no hostapd, udhcpd, wpa_supplicant, udhcpc, namespace or module left"
    else row "lab down ($1)" fail "$(since "$started")" "$left$(cat "$work/down.txt")"; fi
}
# dhcp_run SECURITY: the 2 DHCP stations <-> eth1, every stream exact.
dhcp_run() {
    local security=$1 started status seconds verdict checked left
    sed -e "s/^security = .*/security = \"$security\"/" "$REPO/scenarios/wifi-dhcp.toml" > "$work/$security.toml"
    started=$(now)
    "$LINERATE" run "$work/$security.toml" --json "$work/$security.json" > "$work/$security.txt" 2>&1
    status=$?
    seconds=$(since "$started")
    cat "$work/$security.txt"
    cp "$work/$security.json" "$VM_OUT/wifi_dhcp.$security.report.json" 2>/dev/null
    verdict=$(python3 - "$work/$security.json" "$(dirname "$0")" <<'PY' 2>&1
import ipaddress, json, sys
sys.path.insert(0, sys.argv[2])
from wifi_report import station_problems, stream_problems
document = json.load(open(sys.argv[1]))
problems = stream_problems(document, 4, 600) + station_problems(document, 2)
stations = document.get("stations", [])
pool = (ipaddress.ip_address("10.77.0.100"), ipaddress.ip_address("10.77.0.199"))
leases = []
for station in stations:
    lease = station.get("dhcp")
    if not station["associated"]:
        continue
    if not lease:
        problems.append(f'{station["name"]}: no lease in the report ({station.get("failure")})')
    else:
        address = ipaddress.ip_address(lease["address"])
        if not pool[0] <= address <= pool[1]:
            problems.append(f'{station["name"]}: lease {address} outside the lab pool')
        if f'{address}/{lease["prefix"]}' not in station["addresses"]:
            problems.append(f'{station["name"]}: lease {address} not in its addresses {station["addresses"]}')
        if station.get("time_to_address_s") is None:
            problems.append(f'{station["name"]}: no time to address')
        leases.append(f'{station["name"]} {address}/{lease["prefix"]} from {lease.get("server")} in {station["time_to_address_s"]:.2f} s')
if len(set(lease.split()[1] for lease in leases)) != len(leases):
    problems.append(f"the same lease twice: {leases}")
if problems:
    print("; ".join(problems))
    sys.exit(1)
lost = sum(stream["frames_lost"] for stream in document["streams"])
print(f"4 streams x 600 frames, sent = received + lost on each ({lost} lost, 0 dup, 0 late); leases: {', '.join(leases)}")
PY
)
    checked=$?
    if [ "$status" = 0 ] && [ "$checked" = 0 ]; then
        row "2 $security DHCP stations <-> eth1, 3 s" pass "$seconds" "exit 0; $verdict"
        feature "linerate WiFi stations, DHCP, $security (2 on hwsim <-> wired port, 4 streams x 600 frames)" "yes: counts exact, ${verdict%%; leases*}"
    else
        row "2 $security DHCP stations <-> eth1, 3 s" fail "$seconds" "exit $status; $verdict; $(grep -m2 -E 'error|NOT' "$work/$security.txt")"
        feature "linerate WiFi stations, DHCP, $security (2 on hwsim <-> wired port, 4 streams x 600 frames)" "no: see wifi_dhcp rows"
    fi
    left=$(leftovers)
    if [ -z "$left" ]; then row "nothing left after the $security run" pass 0 "no station interface, wpa_supplicant, udhcpc or work dir"
    else row "nothing left after the $security run" fail 0 "$left"; fi
}

# 1. WPA2, DHCP.
if lab_up wpa2; then
    dhcp_run wpa2

    # 2. No DHCP server: the station associates, gets no lease, the run
    #    fails naming it. (udhcpd is the lab's, started by linerate lab up
    #    in this VM; stopped here by its pid.)
    udhcpd_pid=$(sed -n 's/^udhcpd_pid=//p' /run/linerate/wifi-lab/state)
    if [ -n "$udhcpd_pid" ] && [ "$(processes udhcpd)" = "$udhcpd_pid" ]; then
        kill "$udhcpd_pid"
        sed -e 's/^count = 2/count = 1/' -e 's/^timeout = .*/timeout = "60s"/' \
            "$REPO/scenarios/wifi-dhcp.toml" > "$work/nolease.toml"
        started=$(now)
        "$LINERATE" run "$work/nolease.toml" --json "$work/nolease.json" > "$work/nolease.txt" 2>&1
        status=$?
        seconds=$(since "$started")
        cat "$work/nolease.txt"
        failure=$(python3 -c '
import json, sys
verdict = json.load(open(sys.argv[1]))["verdict"]
print("passed" if verdict["passed"] else verdict["failures"][0])' "$work/nolease.json" 2>&1)
        if [ "$status" = 1 ] && [[ "$failure" == *sta0000* ]] && [[ "$failure" == *"no DHCP lease"* ]] &&
            awk -v s="$seconds" 'BEGIN { exit !(s < 90) }'; then
            row "no DHCP server: failed verdict" pass "$seconds" "exit 1; $failure"
        else
            row "no DHCP server: failed verdict" fail "$seconds" "exit $status; $failure"
        fi
        left=$(leftovers)
        if [ -z "$left" ]; then row "nothing left after the lease failure" pass 0 "no station interface, wpa_supplicant, udhcpc or work dir"
        else row "nothing left after the lease failure" fail 0 "$left"; fi
    else
        row "no DHCP server: failed verdict" fail 0 "no udhcpd pid in the lab's state (${udhcpd_pid:-none}; running: $(processes udhcpd))"
    fi
fi
lab_down wpa2

# 3. WPA3-SAE, DHCP.
if lab_up wpa3; then
    grep -q 'wpa_key_mgmt=SAE' /run/linerate/wifi-lab/hostapd.conf &&
        row "hostapd runs SAE" pass 0 "$(grep -E '^(wpa_key_mgmt|ieee80211w|sae_pwe)=' /run/linerate/wifi-lab/hostapd.conf | tr '\n' ' ')" ||
        row "hostapd runs SAE" fail 0 "$(cat /run/linerate/wifi-lab/hostapd.conf | tr '\n' ' ')"
    dhcp_run wpa3
fi
lab_down wpa3
