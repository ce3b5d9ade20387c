# wifi_run.sh: linerate's WiFi stations end to end in the VM: `linerate lab
# up --wifi 1` (hostapd WPA2 testNet bridged to the wired port eth1), then
# scenarios/wifi-stations.toml: 4 WPA2 stations, one stream from every
# station to eth1 and one back, 2,000 frames each at 200 frames/s (10 s);
# from the JSON report (wifi_report.py) every stream's counts exact (sent =
# received + lost, 0 duplicates, 0 late, loss within the scenario's 0.5 %)
# and every station associated with a BSSID, never disconnected.
# Then the same stations with a wrong passphrase: exit 1, a failed verdict
# naming the station and the reason, within the timeout. Then Ctrl-C while
# the stations associate and while they send (exit 130), an error after
# association (exit 2), and examples/python/seed_stations.py
# through `linerate serve` (on loopback, stopped by pid), and one station
# on an open network (the lab's AP made again with --security open). After each run no
# station interface, wpa_supplicant or work directory; after lab down no
# hostapd, namespace or module.
. "$(dirname "$0")/lib.sh"
need_vm
need_linerate
for tool in hostapd wpa_supplicant iw; do
    command -v "$tool" >/dev/null || { echo "$tool is not installed (make vm-deps installs it)"; exit 1; }
done
work=$(mktemp -d)
server_pid=
cleanup() {
    [ -n "$server_pid" ] && kill "$server_pid" 2>/dev/null && wait "$server_pid" 2>/dev/null
    "$LINERATE" lab down >/dev/null 2>&1
    rm -rf "$work"
}
trap cleanup EXIT

# processes NAME: pids of running processes named NAME (a check only: never
# killed here). A zombie has ended: the VM's init, the parent of a daemon
# whose starter exited, does not always reap at once.
processes() {
    local pid comm state found=()
    for pid in /proc/[0-9]*; do
        comm=$(cat "$pid/comm" 2>/dev/null) || continue
        [ "$comm" = "$1" ] || continue
        state=$(sed 's/.*) //' "$pid/stat" 2>/dev/null | cut -d' ' -f1)
        [ "$state" = Z ] || found+=("${pid#/proc/}")
    done
    echo "${found[*]}"
}
# leftovers: what a run must not leave (station interfaces, wpa_supplicant).
leftovers() {
    local left=""
    stations=$(ip netns exec lrlab-sta iw dev 2>/dev/null | awk '$1 == "Interface" { print $2 }' | tr '\n' ' ')
    [ -n "${stations// /}" ] && left+="station interfaces: $stations; "
    [ -n "$(processes wpa_supplicant)" ] && left+="wpa_supplicant: $(processes wpa_supplicant); "
    ls -d /tmp/linerate-wifi-* >/dev/null 2>&1 && left+="work dirs: $(ls -d /tmp/linerate-wifi-*); "
    echo "$left"
}

started=$(now)
if "$LINERATE" lab up --wifi 1 > "$work/lab.txt" 2>&1; then
    row "lab up --wifi 1" pass "$(since "$started")" "$(head -n 1 "$work/lab.txt")"
else
    row "lab up --wifi 1" fail "$(since "$started")" "$(tail -n 2 "$work/lab.txt")"; exit 1
fi
cat "$work/lab.txt"

# 1. Four WPA2 stations, every stream exact.
started=$(now)
"$LINERATE" run "$REPO/scenarios/wifi-stations.toml" --json "$work/report.json" > "$work/run.txt" 2>&1
status=$?
seconds=$(since "$started")
cat "$work/run.txt"
cp "$work/report.json" "$VM_OUT/wifi_run.report.json" 2>/dev/null
verdict=$(python3 "$(dirname "$0")/wifi_report.py" "$work/report.json" 8 2000 4 2>&1)
checked=$?
if [ "$status" = 0 ] && [ "$checked" = 0 ]; then
    row "4 WPA2 stations <-> eth1, 10 s" pass "$seconds" "exit 0; $verdict"
    feature "linerate WiFi stations (4 WPA2 on hwsim <-> wired port, 8 streams x 2000 frames)" "yes: $verdict"
else
    row "4 WPA2 stations <-> eth1, 10 s" fail "$seconds" "exit $status; $verdict; $(grep -m2 -E 'error|NOT' "$work/run.txt")"
    feature "linerate WiFi stations (4 WPA2 on hwsim <-> wired port, 8 streams x 2000 frames)" "no: see wifi_run rows"
fi
grep -q 'AF_XDP and XDP in generic (skb) mode' "$work/run.txt" &&
    row "generic mode said" pass 0 "$(grep -m1 'generic (skb) mode' "$work/run.txt")" ||
    row "generic mode said" fail 0 "no generic (skb) mode line in the run's output"
left=$(leftovers)
if [ -z "$left" ]; then row "nothing left after the run" pass 0 "no station interface, wpa_supplicant or work dir"
else row "nothing left after the run" fail 0 "$left"; fi

# 2. A wrong passphrase: exit 1, the verdict names the station and the reason.
sed -e 's/^passphrase = .*/passphrase = "wrongPass"/' -e 's/^count = 4/count = 2/' \
    -e 's/^timeout = .*/timeout = "60s"/' "$REPO/scenarios/wifi-stations.toml" > "$work/wrong.toml"
started=$(now)
"$LINERATE" run "$work/wrong.toml" --json "$work/wrong.json" > "$work/wrong.txt" 2>&1
status=$?
seconds=$(since "$started")
cat "$work/wrong.txt"
cp "$work/wrong.json" "$VM_OUT/wifi_run.wrong.json" 2>/dev/null
failure=$(python3 -c '
import json, sys
verdict = json.load(open(sys.argv[1]))["verdict"]
print("passed" if verdict["passed"] else verdict["failures"][0])' "$work/wrong.json" 2>&1)
if [ "$status" = 1 ] && [[ "$failure" == *sta0000* ]] && [[ "$failure" == *"wrong passphrase"* ]] &&
    awk -v s="$seconds" 'BEGIN { exit !(s < 90) }'; then
    row "wrong passphrase: failed verdict" pass "$seconds" "exit 1; $failure"
else
    row "wrong passphrase: failed verdict" fail "$seconds" "exit $status; $failure"
fi
left=$(leftovers)
if [ -z "$left" ]; then row "nothing left after the failed run" pass 0 "no station interface, wpa_supplicant or work dir"
else row "nothing left after the failed run" fail 0 "$left"; fi

# 3. Ctrl-C while the stations associate: exit 130 within seconds, nothing left.
"$LINERATE" run "$REPO/scenarios/wifi-stations.toml" > "$work/interrupted.txt" 2>&1 &
run_pid=$!
for _ in $(seq 1 300); do
    ip netns exec lrlab-sta iw dev 2>/dev/null | grep -q 'Interface sta0003' && break
    sleep 0.1
done
sleep 1
started=$(now)
kill -INT "$run_pid"
wait "$run_pid"
status=$?
seconds=$(since "$started")
cat "$work/interrupted.txt"
left=$(leftovers)
if [ "$status" = 130 ] && [ -z "$left" ] && grep -q 'interrupted before it associated' "$work/interrupted.txt" &&
    awk -v s="$seconds" 'BEGIN { exit !(s < 15) }'; then
    row "Ctrl-C while associating" pass "$seconds" "exit 130 after SIGINT, stations removed: $(grep -m1 -E 'NOT associated' "$work/interrupted.txt")"
else
    row "Ctrl-C while associating" fail "$seconds" "exit $status; left: ${left:-nothing}; $(tail -n 2 "$work/interrupted.txt")"
fi

# 4. Ctrl-C while sending (one station, 100 s planned): exit 130, the partial
#    report written and marked interrupted, the station removed.
sed -e 's/^count = 4/count = 1/' -e 's/^frames = .*/frames = 20000/' \
    "$REPO/scenarios/wifi-stations.toml" > "$work/long.toml"
"$LINERATE" run "$work/long.toml" --json "$work/long.json" > "$work/long.txt" 2>&1 &
run_pid=$!
for _ in $(seq 1 1200); do
    grep -q '^tx  port sta0000' "$work/long.txt" && break
    kill -0 "$run_pid" 2>/dev/null || break
    sleep 0.1
done
sleep 2
started=$(now)
kill -INT "$run_pid"
wait "$run_pid"
status=$?
seconds=$(since "$started")
cat "$work/long.txt"
interrupted=$(python3 -c '
import json, sys
document = json.load(open(sys.argv[1]))
sent = sum(stream["frames_sent"] for stream in document["streams"])
print(document["verdict"]["interrupted"], sent, document["stations"][0]["associated"])' "$work/long.json" 2>&1)
left=$(leftovers)
if [ "$status" = 130 ] && [ -z "$left" ] && [[ "$interrupted" == "True "*" True" ]]; then
    row "Ctrl-C while sending" pass "$seconds" "exit 130, report marked interrupted (interrupted, frames sent, associated: $interrupted), station removed"
else
    row "Ctrl-C while sending" fail "$seconds" "exit $status; report: $interrupted; left: ${left:-nothing}"
fi

# 5. An error after the stations associated (a frame over the station's
#    MTU, found by the port checks that follow association): exit 2 with
#    the one-line error, the station removed.
sed -e 's/^count = 4/count = 1/' -e 's/^frame_size = .*/frame_size = 3000/' \
    "$REPO/scenarios/wifi-stations.toml" > "$work/mtu.toml"
started=$(now)
"$LINERATE" run "$work/mtu.toml" > "$work/mtu.txt" 2>&1
status=$?
seconds=$(since "$started")
cat "$work/mtu.txt"
left=$(leftovers)
if [ "$status" = 2 ] && [ -z "$left" ] && grep -q 'needs an MTU' "$work/mtu.txt"; then
    row "error after association" pass "$seconds" "exit 2, station removed: $(grep -m1 -o 'stream.*MTU of at least [0-9]*' "$work/mtu.txt")"
else
    row "error after association" fail "$seconds" "exit $status; left: ${left:-nothing}; $(tail -n 1 "$work/mtu.txt")"
fi

# 6. The seed's station test through linerate serve's API.
if [ -f "$REPO/examples/python/seed_stations.py" ]; then
    port=$((20000 + $$ % 10000))
    "$LINERATE" serve --listen "127.0.0.1:$port" > "$work/serve.txt" 2>&1 &
    server_pid=$!
    started=$(now)
    if python3 "$REPO/examples/python/seed_stations.py" --url "http://127.0.0.1:$port" > "$work/seed.txt" 2>&1; then
        row "seed_stations.py through serve" pass "$(since "$started")" "$(grep -m1 -E '^(PASS|FAIL)' "$work/seed.txt")"
    else
        row "seed_stations.py through serve" fail "$(since "$started")" "$(tail -n 2 "$work/seed.txt")"
    fi
    cat "$work/seed.txt"
    kill "$server_pid" 2>/dev/null; wait "$server_pid" 2>/dev/null; server_pid=
    left=$(leftovers)
    if [ -z "$left" ]; then row "nothing left after the seed script" pass 0 "no station interface, wpa_supplicant or work dir"
    else row "nothing left after the seed script" fail 0 "$left"; fi
fi

cp /run/linerate/wifi-lab/hostapd.log "$VM_OUT/wifi_run.hostapd.log" 2>/dev/null

# 7. An open network: the lab's AP without security (no wpa= line in
# hostapd's configuration), one `security = "open"` station, both of its
# streams exact.
"$LINERATE" lab down > /dev/null 2>&1
started=$(now)
if "$LINERATE" lab up --wifi 1 --security open > "$work/lab-open.txt" 2>&1 &&
    ! grep -q '^wpa=' /run/linerate/wifi-lab/hostapd.conf; then
    sed -e 's/^security = .*/security = "open"/' -e '/^passphrase = /d' -e 's/^count = 4/count = 1/' \
        "$REPO/scenarios/wifi-stations.toml" > "$work/open.toml"
    "$LINERATE" run "$work/open.toml" --json "$work/open.json" > "$work/open.txt" 2>&1
    status=$?
    cat "$work/open.txt"
    verdict=$(python3 "$(dirname "$0")/wifi_report.py" "$work/open.json" 2 2000 1 2>&1)
    checked=$?
    if [ "$status" = 0 ] && [ "$checked" = 0 ]; then row "open network: 1 station <-> eth1" pass "$(since "$started")" "exit 0; $verdict"
    else row "open network: 1 station <-> eth1" fail "$(since "$started")" "exit $status; $verdict"; fi
else
    row "open network: 1 station <-> eth1" fail "$(since "$started")" "lab up --security open: $(tail -n 2 "$work/lab-open.txt"); $(grep '^wpa' /run/linerate/wifi-lab/hostapd.conf 2>/dev/null | tr '\n' ' ')"
fi
left=$(leftovers)
if [ -z "$left" ]; then row "nothing left after the open run" pass 0 "no station interface, wpa_supplicant or work dir"
else row "nothing left after the open run" fail 0 "$left"; fi

started=$(now)
"$LINERATE" lab down > "$work/down.txt" 2>&1
left=""
[ -n "$(processes hostapd)" ] && left+="hostapd: $(processes hostapd); "
[ -n "$(processes wpa_supplicant)" ] && left+="wpa_supplicant: $(processes wpa_supplicant); "
namespaces=$(ip netns list | grep -E '^lrlab-' | tr '\n' ' ')
[ -n "$namespaces" ] && left+="namespaces: $namespaces; "
[ -d /sys/module/mac80211_hwsim ] && left+="mac80211_hwsim still loaded; "
if [ -z "$left" ]; then row "lab down" pass "$(since "$started")" "no hostapd, wpa_supplicant, namespace or module left"
else row "lab down" fail "$(since "$started")" "$left$(cat "$work/down.txt")"; fi
