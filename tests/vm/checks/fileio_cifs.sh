# fileio_cifs.sh: linerate's File-IO endpoint on a real CIFS mount in the
# VM. Debian's smbd (a standalone config of its own: a guest share on a
# tmpfs, listening only on the server namespace's veth address) in a server
# network namespace; the client namespace mounts the share with SMB 3.0 and
# cache=none (so every read back comes from the server, not the page
# cache) over a veth pair; `linerate run --json` writes files through it at
# FIO_RATE for FIO_SECONDS: every file must read back and verify, the rate
# within 5 % of the target, no error, and the server's copies must add up
# to the bytes the report wrote.
. "$(dirname "$0")/lib.sh"
need_vm
need_linerate
for tool in smbd mount.cifs nsenter python3; do
    command -v "$tool" >/dev/null || { echo "$tool is not installed (make vm-deps installs it)"; exit 1; }
done
. "$(dirname "$0")/fileio_lib.sh"
share=$fio_work/share mount_dir=$fio_work/mnt state=$fio_work/state
trap fio_cleanup EXIT
mkdir -p "$share" "$state"/{lock,pid,private,cache,state,ncalrpc}

started=$(now)
modprobe cifs || { row "smbd up" fail 0 "modprobe cifs failed"; exit 1; }
fio_lab_up || { row "smbd up" fail "$(since "$started")" "namespaces: see the log"; exit 1; }
in_srv sh -c "mount -t tmpfs -o size=512m lrvm-fio-cifs '$share' && chmod 0777 '$share'" ||
    { row "smbd up" fail "$(since "$started")" "tmpfs mount failed in the server namespace"; exit 1; }
cat > "$fio_work/smb.conf" <<CONF
[global]
    server role = standalone server
    interfaces = $FIO_SRV_ADDR/24
    bind interfaces only = yes
    map to guest = Bad User
    disable netbios = yes
    smb ports = 445
    lock directory = $state/lock
    pid directory = $state/pid
    private dir = $state/private
    cache directory = $state/cache
    state directory = $state/state
    ncalrpc dir = $state/ncalrpc
    log file = $fio_work/smbd.log
    load printers = no
    printing = bsd
    printcap name = /dev/null
[share]
    path = $share
    guest ok = yes
    read only = no
    force user = root
CONF
# smbd leads its own process group (it signals that group when it stops).
fio_daemon smbd --foreground --configfile="$fio_work/smb.conf"
for _ in $(seq 1 100); do
    in_cli bash -c "exec 3<>/dev/tcp/$FIO_SRV_ADDR/445" 2>/dev/null && break
    sleep 0.2
done
if in_cli bash -c "exec 3<>/dev/tcp/$FIO_SRV_ADDR/445" 2>/dev/null; then
    row "smbd up" pass "$(since "$started")" "smbd in namespace $FIO_SRV, guest share on a tmpfs, $FIO_SRV_ADDR:445"
else
    row "smbd up" fail "$(since "$started")" "$(tail -n 2 "$fio_work/smbd.log")"; exit 1
fi

name="CIFS (SMB 3.0) File-IO ${FIO_SECONDS} s at $FIO_RATE"
options=guest,vers=3.0,cache=none
fio_mount cifs "//$FIO_SRV_ADDR/share" "$mount_dir" "$options" 2> "$fio_work/err" ||
    { row "$name" fail 0 "$(cat "$fio_work/err")"; exit 1; }
mkdir -p "$mount_dir/run"
fio_scenario cifs "$mount_dir/run" > "$fio_work/cifs.toml"
fio_run "$fio_work/cifs.toml" "$VM_OUT/fileio_cifs.json"
detail=$(fio_verify "$VM_OUT/fileio_cifs.json") && result=pass || result=fail
fio_umount "$mount_dir"
server=$(fio_server_bytes "$share/run" "$VM_OUT/fileio_cifs.json") || result=fail
[ "$fio_status" = 0 ] || { result=fail; detail="exit $fio_status; $detail"; }
row "$name" "$result" "$fio_wall" "$detail; $server; mounted in $FIO_CLI ($options)"
if [ "$result" = pass ]; then
    feature "linerate File-IO over SMB 3.0, ${FIO_SECONDS} s at $FIO_RATE" "yes: $(fio_rate "$VM_OUT/fileio_cifs.json") written, every file verified"
else
    feature "linerate File-IO over SMB 3.0, ${FIO_SECONDS} s at $FIO_RATE" "no: see fileio_cifs rows"
fi
[ "$result" = pass ]
