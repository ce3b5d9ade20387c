# wifi.sh: WiFi in the VM (not a linerate feature, a check of the kernel and
# tools a later WiFi scenario would need): mac80211_hwsim with two radios,
# hostapd (WPA2-PSK, ssid testNet) on the first radio in one namespace, two
# stations on the second radio in another (wlan1 and one added with iw, each
# its own MAC), wpa_supplicant on each; both must associate (polled, up to
# WIFI_TIMEOUT s, 40 s was typical under emulation), then each pings the AP.
. "$(dirname "$0")/lib.sh"
need_vm
for tool in hostapd wpa_supplicant iw busybox; do
    command -v "$tool" >/dev/null || { echo "$tool is not installed (make vm-deps installs it)"; exit 1; }
done
ap_ns=lrtest-wifi-ap sta_ns=lrtest-wifi-sta
work=$(mktemp -d)
pids=()
cleanup() {
    for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null; done
    for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null; done
    ip netns del "$ap_ns" 2>/dev/null; ip netns del "$sta_ns" 2>/dev/null
    sleep 0.5
    modprobe -r mac80211_hwsim 2>/dev/null
    rm -rf "$work"
}
trap cleanup EXIT

started=$(now)
if ! modprobe mac80211_hwsim radios=2; then
    row "mac80211_hwsim radios=2" fail "$(since "$started")" "modprobe failed"
    feature "WiFi (mac80211_hwsim, hostapd WPA2)" "no: mac80211_hwsim does not load"
    exit 1
fi
phys=()
for _ in $(seq 1 50); do
    mapfile -t phys < <(for phy in /sys/class/ieee80211/*; do
        [ "$(basename "$(readlink -f "$phy/device/driver")")" = mac80211_hwsim ] && basename "$phy"; done | sort -V)
    [ "${#phys[@]}" -ge 2 ] && break
    sleep 0.1
done
[ "${#phys[@]}" -ge 2 ] || { row "mac80211_hwsim radios=2" fail "$(since "$started")" "radios: ${phys[*]}"; exit 1; }
ap_phy=${phys[0]} sta_phy=${phys[1]}
ap_if=$(ls "/sys/class/ieee80211/$ap_phy/device/net" | head -n 1)
sta_if=$(ls "/sys/class/ieee80211/$sta_phy/device/net" | head -n 1)
row "mac80211_hwsim radios=2" pass "$(since "$started")" "$ap_phy ($ap_if), $sta_phy ($sta_if)"

ip netns add "$ap_ns" && ip netns add "$sta_ns" &&
iw phy "$ap_phy" set netns name "$ap_ns" && iw phy "$sta_phy" set netns name "$sta_ns" &&
ip netns exec "$sta_ns" iw phy "$sta_phy" interface add lrsta1 type managed &&
ip -n "$sta_ns" link set lrsta1 address 02:4c:52:00:57:01 &&
ip -n "$sta_ns" link set "$sta_if" address 02:4c:52:00:57:00 || { echo "could not place the radios"; exit 1; }
stations=("$sta_if" lrsta1)

cat > "$work/hostapd.conf" <<CONF
interface=$ap_if
driver=nl80211
ssid=testNet
hw_mode=g
channel=1
wpa=2
wpa_key_mgmt=WPA-PSK
rsn_pairwise=CCMP
wpa_passphrase=linerate-vm-lab
CONF
cat > "$work/wpa.conf" <<CONF
network={
    ssid="testNet"
    key_mgmt=WPA-PSK
    psk="linerate-vm-lab"
}
CONF
ip -n "$ap_ns" link set lo up
ip netns exec "$ap_ns" hostapd "$work/hostapd.conf" > "$work/hostapd.log" 2>&1 &
pids+=($!)
started=$(now)
for _ in $(seq 1 300); do
    grep -q AP-ENABLED "$work/hostapd.log" && break
    kill -0 "${pids[0]}" 2>/dev/null || break
    sleep 0.1
done
if grep -q AP-ENABLED "$work/hostapd.log"; then row "hostapd AP (WPA2-PSK, testNet)" pass "$(since "$started")" "on $ap_if in $ap_ns"
else row "hostapd AP (WPA2-PSK, testNet)" fail "$(since "$started")" "$(tail -n 2 "$work/hostapd.log")"; exit 1; fi
ip -n "$ap_ns" addr add 10.77.0.1/24 dev "$ap_if"

for station in "${stations[@]}"; do
    ip -n "$sta_ns" link set "$station" up
    ip netns exec "$sta_ns" wpa_supplicant -D nl80211 -i "$station" -c "$work/wpa.conf" > "$work/wpa-$station.log" 2>&1 &
    pids+=($!)
done
started=$(now)
deadline=$(( $(date +%s) + ${WIFI_TIMEOUT:-120} ))
associated=()
while [ "$(date +%s)" -lt "$deadline" ] && [ "${#associated[@]}" -lt "${#stations[@]}" ]; do
    associated=()
    for station in "${stations[@]}"; do
        ip netns exec "$sta_ns" iw dev "$station" link | grep -q 'Connected to' && associated+=("$station")
    done
    sleep 0.5
done
seconds=$(since "$started")
all=pass
for station in "${stations[@]}"; do
    if [[ " ${associated[*]} " == *" $station "* ]]; then
        row "station $station associated" pass "$seconds" "$(ip netns exec "$sta_ns" iw dev "$station" link | head -n 1)"
    else
        row "station $station associated" fail "$seconds" "not within ${WIFI_TIMEOUT:-120} s: $(tail -n 1 "$work/wpa-$station.log")"
        all=fail
    fi
done

# Two stations in one namespace: each answers ARP only for its own address.
ip netns exec "$sta_ns" sysctl -qw net.ipv4.conf.all.arp_ignore=1 net.ipv4.conf.all.arp_announce=2
address=2
for station in "${stations[@]}"; do
    ip -n "$sta_ns" addr add "10.77.0.$address/32" dev "$station"
    ip -n "$sta_ns" route add 10.77.0.1/32 dev "$station" src "10.77.0.$address" table $((100 + address))
    ip -n "$sta_ns" rule add from "10.77.0.$address" table $((100 + address))
    ip -n "$ap_ns" route add "10.77.0.$address/32" dev "$ap_if" 2>/dev/null
    address=$((address + 1))
done
address=2
for station in "${stations[@]}"; do
    started=$(now)
    if ip netns exec "$sta_ns" busybox ping -c 3 -W 5 -I "10.77.0.$address" 10.77.0.1 > "$work/ping.log" 2>&1; then
        row "ping the AP from $station" pass "$(since "$started")" "$(grep -m1 'packets' "$work/ping.log")"
    else
        row "ping the AP from $station" fail "$(since "$started")" "$(tail -n 2 "$work/ping.log")"
        all=fail
    fi
    address=$((address + 1))
done
if [ "$all" = pass ]; then
    feature "WiFi (mac80211_hwsim, hostapd WPA2)" "yes (2 stations associated in ${seconds} s, ping the AP)"
else
    feature "WiFi (mac80211_hwsim, hostapd WPA2)" "no: see wifi rows"
fi
