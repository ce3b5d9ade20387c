# fileio_nfs.sh: linerate's File-IO endpoint on real NFS mounts in the VM.
# The kernel's nfsd (rpcbind, rpc.nfsd, rpc.mountd, exportfs by hand) in a
# server network namespace exports a tmpfs; the client namespace mounts it
# (NFSv3 and NFSv4.2, soft,softerr) over a veth pair; `linerate run --json`
# writes files through each mount at FIO_RATE for FIO_SECONDS: every file
# must read back and verify, the rate within 5 % of the target, no error,
# and the server's copies must add up to the bytes the report wrote. Then
# the server is stopped mid-run (rpc.nfsd 0) twice: on the soft mount the
# errors must be counted by kind (timeouts: softerr) and the run end on
# time with its report; on a hard mount (where the write blocks for good)
# the run must still end on time with its report, the blocked write given
# up and counted as a timeout.
. "$(dirname "$0")/lib.sh"
need_vm
need_linerate
for tool in rpcbind rpc.nfsd rpc.mountd exportfs mount.nfs nsenter python3; do
    command -v "$tool" >/dev/null || { echo "$tool is not installed (make vm-deps installs it)"; exit 1; }
done
. "$(dirname "$0")/fileio_lib.sh"
export_dir=$fio_work/export mount_dir=$fio_work/mnt
fio_stop_server() {
    in_srv exportfs -ua 2>/dev/null
    in_srv rpc.nfsd 0 2>/dev/null
}
trap fio_cleanup EXIT

started=$(now)
modprobe nfsd && modprobe nfs && modprobe nfsv3 && modprobe nfsv4 ||
    { row "nfsd up" fail "$(since "$started")" "modprobe nfsd/nfs failed"; exit 1; }
fio_lab_up || { row "nfsd up" fail "$(since "$started")" "namespaces: see the log"; exit 1; }
mkdir -p "$export_dir" /var/lib/nfs/v4recovery /run/rpcbind
# The nfsd file system is per network namespace: mount the server's own in
# its mount namespace. A short v4 grace period: the v4 mount must not wait.
in_srv sh -c "umount /proc/fs/nfsd 2>/dev/null; mount -t nfsd nfsd /proc/fs/nfsd &&
    mount -t tmpfs -o size=512m lrvm-fio-nfs '$export_dir' &&
    echo 10 > /proc/fs/nfsd/nfsv4gracetime; echo 10 > /proc/fs/nfsd/nfsv4leasetime; true" ||
    { row "nfsd up" fail "$(since "$started")" "nfsd or tmpfs mount failed in the server namespace"; exit 1; }
fio_daemon rpcbind -f -w
for _ in $(seq 1 100); do
    in_srv rpcinfo -p 127.0.0.1 > /dev/null 2>&1 && break
    sleep 0.2
done
start_nfsd() {
    in_srv exportfs -o rw,fsid=0,no_subtree_check,no_root_squash,insecure "$FIO_NET:$export_dir" &&
    in_srv rpc.nfsd 4
}
start_nfsd && fio_daemon rpc.mountd -F ||
    { row "nfsd up" fail "$(since "$started")" "exportfs or rpc.nfsd failed"; exit 1; }
for _ in $(seq 1 100); do
    in_srv rpcinfo -p 127.0.0.1 2>/dev/null | grep -q mountd && break
    sleep 0.2
done
row "nfsd up" pass "$(since "$started")" "nfsd in namespace $FIO_SRV exports a tmpfs to $FIO_NET; versions $(in_srv cat /proc/fs/nfsd/versions)"

status=0 rates=() stops=()
soft_options=soft,softerr,timeo=10,retrans=1
for version in 3 4.2; do
    source=$FIO_SRV_ADDR:$export_dir
    [ "$version" = 4.2 ] && source=$FIO_SRV_ADDR:/
    name="NFSv$version File-IO ${FIO_SECONDS} s at $FIO_RATE"
    options="vers=$version,nolock,$soft_options"
    if ! fio_mount nfs "$source" "$mount_dir" "$options" 2> "$fio_work/err"; then
        row "$name" fail 0 "$(cat "$fio_work/err")"; status=1; continue
    fi
    mkdir -p "$mount_dir/v$version"
    fio_scenario "nfs-v$version" "$mount_dir/v$version" > "$fio_work/v$version.toml"
    fio_run "$fio_work/v$version.toml" "$VM_OUT/fileio_nfs.v$version.json"
    detail=$(fio_verify "$VM_OUT/fileio_nfs.v$version.json") && result=pass || result=fail
    fio_umount "$mount_dir"
    server=$(fio_server_bytes "$export_dir/v$version" "$VM_OUT/fileio_nfs.v$version.json") || result=fail
    [ "$fio_status" = 0 ] || { result=fail; detail="exit $fio_status; $detail"; }
    row "$name" "$result" "$fio_wall" "$detail; $server; mounted in $FIO_CLI ($options)"
    [ "$result" = pass ] || status=1
    rates+=("v$version $(fio_rate "$VM_OUT/fileio_nfs.v$version.json")")
    in_srv rm -rf "$export_dir/v$version"
done

# The server stops mid-run: rpc.nfsd 0 closes its sockets and stops its
# threads, after a third of the run.
stop_after=$((FIO_SECONDS / 3))
for mode in soft hard; do
    options="vers=3,nolock,$soft_options"
    [ "$mode" = hard ] && options="vers=3,nolock,hard,timeo=10,retrans=1"
    name="NFSv3 server stopped at ${stop_after} s ($mode mount)"
    if ! fio_mount nfs "$FIO_SRV_ADDR:$export_dir" "$mount_dir" "$options" 2> "$fio_work/err"; then
        row "$name" fail 0 "$(cat "$fio_work/err")"; status=1; continue
    fi
    mkdir -p "$mount_dir/stop-$mode"
    fio_scenario "nfs-stop-$mode" "$mount_dir/stop-$mode" > "$fio_work/stop-$mode.toml"
    json=$VM_OUT/fileio_nfs.stop-$mode.json
    fio_run "$fio_work/stop-$mode.toml" "$json" "$stop_after" "in_srv rpc.nfsd 0" "start_nfsd"
    detail=$(python3 - "$json" "$fio_wall" "$FIO_SECONDS" "$FIO_GRACE" "$mode" <<'PY'
import json, sys
path, wall, seconds, grace, mode = sys.argv[1], float(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]), sys.argv[5]
try:
    f = json.load(open(path))["endpoints"]["file_io"][0]
except (OSError, ValueError, KeyError, IndexError) as error:
    print(f"no report after {wall:.1f} s: {error}"); sys.exit(1)
errors = {k: v for k, v in f["errors"].items() if v}
line = (f"ended after {wall:.1f} s (run {seconds} s, grace {grace} s) with its report: "
        f"{f['files_written']} files written, {f['files_read']} read back, {f['verify_failures']} verify failures, "
        f"errors {errors or 'none'}; first: {f['first_error']}")
bad = []
if wall > seconds + grace: bad.append("ended late")
if f["verify_failures"]: bad.append("verify failures")
if f["files_written"] == 0: bad.append("nothing written before the stop")
file_kinds = {"timeout", "io", "stale_handle", "mount_gone"}
if not errors: bad.append("no error counted")
if set(errors) - file_kinds: bad.append(f"unexpected kinds {sorted(set(errors) - file_kinds)}")
print(("; ".join(bad) + " -- " if bad else "") + line)
sys.exit(1 if bad else 0)
PY
) && result=pass || result=fail
    row "$name" "$result" "$fio_wall" "$detail"
    [ "$result" = pass ] || status=1
    stops+=("$mode mount: report after $fio_wall s, $(python3 -c 'import json, sys
f = json.load(open(sys.argv[1]))["endpoints"]["file_io"][0]
print(", ".join(f"{v} {k}" for k, v in f["errors"].items() if v) or "no error")' "$json" 2>/dev/null)")
    fio_umount "$mount_dir"
    fio_mounts=()
    in_srv rm -rf "$export_dir/stop-$mode"
done
joined_rates=$(IFS=,; echo "${rates[*]}") joined_stops=$(IFS=';'; echo "${stops[*]}")
if [ "$status" = 0 ]; then
    feature "linerate File-IO over NFS, ${FIO_SECONDS} s at $FIO_RATE" "yes: ${joined_rates//,/, } written, every file verified"
    feature "NFS server stopped mid-run (${FIO_SECONDS} s run)" "${joined_stops//;/; }"
else
    feature "linerate File-IO over NFS, ${FIO_SECONDS} s at $FIO_RATE" "no: see fileio_nfs rows"
fi
exit "$status"
