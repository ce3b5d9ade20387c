# fileio_lib.sh: the File-IO checks' shared lab (sourced by fileio_nfs.sh
# and fileio_cifs.sh; not a check itself): a server network namespace and a
# client network namespace joined by a veth pair, the server's daemons run
# in the server namespace and in a mount namespace of their own (held by a
# sleeping process), the client's mounts made from the client namespace into
# the VM's own mount namespace (so linerate, in the root namespaces, writes
# through them while their traffic crosses the veth pair), a File-IO
# scenario writer, `linerate run` with a wall clock, and the JSON checks.
# Everything is removed by fio_cleanup (the checks call it on EXIT).

FIO_SRV=lrtest-fio-srv-$$ FIO_CLI=lrtest-fio-cli-$$
FIO_SRV_IF=lrfs$$ FIO_CLI_IF=lrfc$$
FIO_SRV_ADDR=10.231.0.1 FIO_CLI_ADDR=10.231.0.2 FIO_NET=10.231.0.0/24
# The rate each 20 s run writes at (measured under emulation: see
# docs/vm-lab.md), how long it runs, and how late after its duration a run
# may end (the endpoints' drain and a soft mount's timeout).
FIO_RATE=${FIO_RATE:-16Mbps}
FIO_SECONDS=${FIO_SECONDS:-20}
FIO_GRACE=${FIO_GRACE:-10}
fio_work=$(mktemp -d)
fio_holder= fio_pids=() fio_mounts=() fio_run_pid=

# in_srv CMD...: runs CMD in the server's network and mount namespaces.
in_srv() { nsenter --target "$fio_holder" --mount --net "$@"; }
# in_cli CMD...: runs CMD in the client's network namespace (the VM's mounts).
in_cli() { nsenter --net="/run/netns/$FIO_CLI" "$@"; }

# fio_lab_up: the two namespaces, the veth pair, and the server's mount
# namespace holder; false with the reason on stderr.
fio_lab_up() {
    ip netns add "$FIO_SRV" && ip netns add "$FIO_CLI" &&
    ip link add "$FIO_SRV_IF" netns "$FIO_SRV" type veth peer name "$FIO_CLI_IF" netns "$FIO_CLI" &&
    ip -n "$FIO_SRV" addr add "$FIO_SRV_ADDR/24" dev "$FIO_SRV_IF" &&
    ip -n "$FIO_CLI" addr add "$FIO_CLI_ADDR/24" dev "$FIO_CLI_IF" &&
    ip -n "$FIO_SRV" link set lo up && ip -n "$FIO_CLI" link set lo up &&
    ip -n "$FIO_SRV" link set "$FIO_SRV_IF" up && ip -n "$FIO_CLI" link set "$FIO_CLI_IF" up || return 1
    # ip netns exec gives the holder a mount namespace of its own (slave to
    # the VM's), so the server's tmpfs and its nfsd file system stay there.
    ip netns exec "$FIO_SRV" sleep 100000 &
    fio_holder=$!
    local _
    for _ in $(seq 1 50); do
        [ "$(readlink "/proc/$fio_holder/ns/mnt")" != "$(readlink /proc/self/ns/mnt)" ] && break
        sleep 0.1
    done
    # No ping on the root file system: wait for both ends to be up (the
    # servers' own probes then cross the pair).
    for _ in $(seq 1 50); do
        ip -n "$FIO_SRV" -br link show dev "$FIO_SRV_IF" | grep -qw UP &&
            ip -n "$FIO_CLI" -br link show dev "$FIO_CLI_IF" | grep -qw UP && return 0
        sleep 0.2
    done
    echo "the veth pair $FIO_SRV_IF/$FIO_CLI_IF did not come up" >&2
    return 1
}

# fio_daemon CMD...: starts a server daemon in the foreground form, in the
# server's namespaces, remembered for the cleanup.
fio_daemon() {
    in_srv "$@" > "$fio_work/$(basename "$1").log" 2>&1 &
    fio_pids+=($!)
}

# fio_mount TYPE SOURCE DIR OPTIONS: mounts from the client namespace.
fio_mount() {
    mkdir -p "$3"
    timeout 120 nsenter --net="/run/netns/$FIO_CLI" mount -t "$1" "$2" "$3" -o "$4" 2> "$fio_work/mount.log" ||
        { echo "mount -t $1 $2 -o $4: $(tail -n 1 "$fio_work/mount.log")" >&2; return 1; }
    fio_mounts+=("$3")
}

# fio_umount DIR: unmounts, forcing and then detaching if the server is gone.
fio_umount() {
    timeout 30 umount "$1" 2>/dev/null || timeout 30 umount -f "$1" 2>/dev/null || umount -l "$1" 2>/dev/null
}

# fio_scenario NAME DIRECTORY > FILE: a File-IO scenario (and no stream:
# its one port, the client's veth end, is there because a scenario needs
# one), FIO_SECONDS long at FIO_RATE, files of 64 KiB to 1 MiB fsync'd,
# read back and kept (so the server's copies can be counted against the
# report).
fio_scenario() {
    cat <<TOML
[run]
duration = "${FIO_SECONDS}s"
report_interval = "1s"

[[port]]
name = "client"
interface = "$FIO_CLI_IF"
namespace = "$FIO_CLI"

[[file_io]]
name = "$1"
directory = "$2"
min_size = 65536
max_size = 1048576
rate = "$FIO_RATE"
sync = true
keep_files = true
TOML
}

# fio_run SCENARIO JSON [AT ACTION [RECOVER]]: runs linerate on the
# scenario in the background; AT seconds in, runs the command string ACTION
# once. fio_wall is the seconds until the report was out (the JSON file
# complete, or the process gone, whichever first: a thread stuck in the
# kernel on a hard mount whose server is gone keeps the exited process from
# being reaped until the server is back); then runs RECOVER and waits for
# the process; fio_status is its exit status.
fio_run() {
    local scenario=$1 json=$2 at=${3:-} action=${4:-} recover=${5:-} started
    rm -f "$json"
    started=$(now)
    timeout --kill-after=5 $((FIO_SECONDS + 60)) "$LINERATE" run "$scenario" --json "$json" > "$json.log" 2>&1 &
    fio_run_pid=$!
    if [ -n "$at" ]; then
        sleep "$at"
        eval "$action"
    fi
    fio_wall=
    while kill -0 "$fio_run_pid" 2>/dev/null; do
        if python3 -c 'import json, sys; json.load(open(sys.argv[1]))' "$json" 2>/dev/null; then
            fio_wall=$(since "$started")
            break
        fi
        sleep 0.2
    done
    [ -n "$recover" ] && eval "$recover"
    wait "$fio_run_pid"
    fio_status=$?
    fio_run_pid=
    [ -n "$fio_wall" ] || fio_wall=$(since "$started")
    echo "linerate run $scenario: report out after $fio_wall s, exit $fio_status after $(since "$started") s; output:"
    cat "$json.log"
}

# fio_verify JSON: checks a clean run's report (every file read back
# verifies, files_read = files_written > 0, the write rate within 5 % of
# the target, no error); prints one line; false on failure.
fio_verify() {
    python3 - "$1" <<'PY'
import json, sys
try:
    report = json.load(open(sys.argv[1]))
except (OSError, ValueError) as error:
    print(f"no report: {error}"); sys.exit(1)
f = report["endpoints"]["file_io"][0]
errors = {k: v for k, v in f["errors"].items() if v}
percent = f["write_bps"] * 100 / f["target_bps"]
line = (f"{f['files_written']} files written, {f['files_read']} read back, {f['verify_failures']} verify failures; "
        f"write {f['write_bps'] / 1e6:.2f} Mbit/s ({percent:.1f} % of {f['target_bps'] / 1e6:g}), "
        f"read {f['read_bps'] / 1e6:.2f} Mbit/s; errors {errors or 'none'}")
bad = []
if f["files_written"] == 0: bad.append("no file written")
if f["files_read"] != f["files_written"]: bad.append("files_read != files_written")
if f["verify_failures"] != 0: bad.append("verify failures")
if abs(percent - 100) > 5: bad.append("rate off by more than 5 %")
if errors: bad.append(f"first error: {f['first_error']}")
print(("; ".join(bad) + " -- " if bad else "") + line)
sys.exit(1 if bad else 0)
PY
}

# fio_rate JSON: the report's write rate, "15.92 Mbit/s (99.5 %)".
fio_rate() {
    python3 - "$1" 2>/dev/null <<'PY' || echo "no report"
import json, sys
f = json.load(open(sys.argv[1]))["endpoints"]["file_io"][0]
print(f"{f['write_bps'] / 1e6:.2f} Mbit/s ({f['write_bps'] * 100 / f['target_bps']:.1f} %)")
PY
}

# fio_server_bytes DIR JSON: the server's copy of the run's files against
# the report: bytes equal to bytes_written, files_written or one more (a
# file the stop cut short); prints one line; false on mismatch.
fio_server_bytes() {
    local files bytes
    files=$(in_srv find "$1" -type f | wc -l)
    bytes=$(in_srv find "$1" -type f -printf '%s\n' | awk '{ s += $1 } END { print s + 0 }')
    python3 - "$2" "$files" "$bytes" <<'PY'
import json, sys
f = json.load(open(sys.argv[1]))["endpoints"]["file_io"][0]
files, size = int(sys.argv[2]), int(sys.argv[3])
ok = size == f["bytes_written"] and files - f["files_written"] in (0, 1)
print(f"server holds {files} files, {size} bytes; the report wrote {f['files_written']} files, {f['bytes_written']} bytes")
sys.exit(0 if ok else 1)
PY
}

# fio_cleanup: the run, the mounts, the daemons (after STOP_SERVER, a
# function the check may define), the holder, the namespaces, the work dir.
fio_cleanup() {
    [ -n "$fio_run_pid" ] && kill "$fio_run_pid" 2>/dev/null && wait "$fio_run_pid" 2>/dev/null
    local dir pid
    for dir in "${fio_mounts[@]}"; do fio_umount "$dir"; done
    if [ -n "$fio_holder" ] && declare -F fio_stop_server > /dev/null; then fio_stop_server; fi
    for pid in "${fio_pids[@]}"; do kill "$pid" 2>/dev/null; done
    for pid in "${fio_pids[@]}"; do wait "$pid" 2>/dev/null; done
    [ -n "$fio_holder" ] && kill "$fio_holder" 2>/dev/null && wait "$fio_holder" 2>/dev/null
    ip netns del "$FIO_SRV" 2>/dev/null
    ip netns del "$FIO_CLI" 2>/dev/null
    rm -rf "$fio_work"
}
