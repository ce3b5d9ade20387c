# quickstart.sh: the README's quick start inside the VM at a rate emulation
# keeps up with: `linerate lab up`, one 60-byte stream at 10 kpps for
# QUICKSTART_SECONDS (3) given as a frame count (a duration would stop on
# time with a few frames short when emulation lags), every frame sent and
# counted exactly, `linerate lab down`, and no namespace left.
. "$(dirname "$0")/lib.sh"
need_vm
need_linerate
seconds=${QUICKSTART_SECONDS:-3}
frames=$((seconds * 10000))
work=$(mktemp -d)
trap '"$LINERATE" lab down >/dev/null 2>&1; rm -rf "$work"' EXIT

started=$(now)
if "$LINERATE" lab up; then row "lab up" pass "$(since "$started")" "namespaces linerate-a, linerate-b"
else row "lab up" fail "$(since "$started")" "linerate lab up failed"; exit 1; fi

sed -e "s/^duration = .*/frames = $frames/" -e 's/^rate = .*/rate = "10kpps"/' \
    "$REPO/scenarios/quickstart.toml" > "$work/quickstart.toml"
# Emulation on a loaded host may fall short of 10 kpps: the verdict asks for
# half the rate (the default asks 90 %) and, as ever, no frame lost.
printf '\n[pass]\nmax_loss_frames = 0\nmin_rate_percent = 50\n' >> "$work/quickstart.toml"
started=$(now)
"$LINERATE" run "$work/quickstart.toml" --json "$work/report.json" > "$work/run.txt" 2>&1
status=$?
cat "$work/run.txt"
counts=$(python3 -c '
import json, sys
stream = json.load(open(sys.argv[1]))["streams"][0]
print(stream["frames_sent"], stream["frames_received"], stream["frames_lost"], round(stream["tx_fps"]))' "$work/report.json" 2>/dev/null)
read -r sent received lost fps <<< "$counts"
if [ "$status" = 0 ] && [ "$sent" = "$frames" ] && [ "$received" = "$frames" ] && [ "$lost" = 0 ]; then
    row "run ${seconds} s at 10 kpps" pass "$(since "$started")" "sent $sent, received $received, lost 0, exit 0 ($fps frames/s)"
else
    row "run ${seconds} s at 10 kpps" fail "$(since "$started")" "exit $status; sent ${sent:-?}, received ${received:-?} (expected $frames each); $(grep -m1 error "$work/run.txt")"
fi

started=$(now)
"$LINERATE" lab down
left=$(ip netns list | grep -E '^linerate-' || true)
if [ -z "$left" ]; then row "lab down" pass "$(since "$started")" "no namespace left"
else row "lab down" fail "$(since "$started")" "left behind: $left"; fi
