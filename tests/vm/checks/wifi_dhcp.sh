# wifi_dhcp.sh: WiFi stations with DHCP and WPA3-SAE in the VM. `linerate
# lab up --wifi 1` (hostapd WPA2 testNet bridged to the wired port eth1,
# udhcpd on the bridge), then scenarios/wifi-dhcp.toml: 2 stations with
# ipv4 = "dhcp", one stream from every station to eth1 and one back, 600
# frames each at 200 frames/s (3 s): every stream exact, every station
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
    verdict=$(python3 - "$work/$security.json" <<'PY' 2>&1
import ipaddress, json, sys
document = json.load(open(sys.argv[1]))
problems = []
streams = document["streams"]
if len(streams) != 4:
    problems.append(f"{len(streams)} streams, 4 expected")
for stream in streams:
    if not (stream["frames_sent"] == 600 and stream["frames_received"] == 600
            and stream["frames_lost"] == 0 and stream["duplicates"] == 0 and stream["late"] == 0):
        problems.append(f'{stream["name"]}: sent {stream["frames_sent"]} received {stream["frames_received"]} lost {stream["frames_lost"]} dup {stream["duplicates"]} late {stream["late"]}')
stations = document.get("stations", [])
if len(stations) != 2:
    problems.append(f"{len(stations)} stations in the report, 2 expected")
pool = (ipaddress.ip_address("10.77.0.100"), ipaddress.ip_address("10.77.0.199"))
leases = []
for station in stations:
    lease = station.get("dhcp")
    if not station["associated"] or not station.get("bssid"):
        problems.append(f'{station["name"]}: not associated ({station.get("failure")})')
    elif not lease:
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
print(f"4 streams x 600 frames exact (0 lost, 0 dup, 0 late); leases: {', '.join(leases)}")
PY
)
    checked=$?
    if [ "$status" = 0 ] && [ "$checked" = 0 ]; then
        row "2 $security DHCP stations <-> eth1, 3 s" pass "$seconds" "exit 0; $verdict"
        feature "linerate WiFi stations, DHCP, $security (2 on hwsim <-> wired port, 4 streams x 600 frames)" "yes: every stream exact"
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
