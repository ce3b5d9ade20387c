# cifs.sh: a CIFS mount in the VM (a check of the kernel and user space a
# later File-IO feature would need, not a linerate feature): Debian's smbd
# with a minimal standalone config of its own (a guest share on a tmpfs,
# listening on lo only, every state directory in a temporary directory),
# mounted over loopback with SMB 3.0; a 1 MiB file written through the mount
# must read back with the same sha256 on the server side.
. "$(dirname "$0")/lib.sh"
need_vm
for tool in smbd mount.cifs; do
    command -v "$tool" >/dev/null || { echo "$tool is not installed (make vm-deps installs it)"; exit 1; }
done
work=$(mktemp -d)
share=$work/share mount_dir=$work/mnt state=$work/state
mkdir -p "$share" "$mount_dir" "$state"/{lock,pid,private,cache,state,ncalrpc}
smbd_pid=
cleanup() {
    umount -f "$mount_dir" 2>/dev/null
    [ -n "$smbd_pid" ] && kill "$smbd_pid" 2>/dev/null && wait "$smbd_pid" 2>/dev/null
    umount "$share" 2>/dev/null
    rm -rf "$work"
}
trap cleanup EXIT
mount -t tmpfs -o size=64m lrvm-cifs "$share" && chmod 0777 "$share"
cat > "$work/smb.conf" <<CONF
[global]
    server role = standalone server
    interfaces = lo
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
    log file = $work/smbd.log
    load printers = no
    printing = bsd
    printcap name = /dev/null
[share]
    path = $share
    guest ok = yes
    read only = no
    force user = root
CONF
started=$(now)
modprobe cifs || { row "smbd up" fail 0 "modprobe cifs failed"; exit 1; }
# smbd leads its own process group (it signals that group when it stops).
smbd --foreground --configfile="$work/smb.conf" > "$work/smbd.out" 2>&1 &
smbd_pid=$!
for _ in $(seq 1 100); do
    (exec 3<>/dev/tcp/127.0.0.1/445) 2>/dev/null && break
    kill -0 "$smbd_pid" 2>/dev/null || break
    sleep 0.2
done
if (exec 3<>/dev/tcp/127.0.0.1/445) 2>/dev/null; then row "smbd up" pass "$(since "$started")" "guest share on lo:445"
else row "smbd up" fail "$(since "$started")" "$(tail -n 2 "$work/smbd.out")"; feature "CIFS client (SMB 3.0)" "no: smbd did not start"; exit 1; fi

head -c 1048576 /dev/urandom > "$work/payload"
want=$(sha256sum < "$work/payload" | cut -d' ' -f1)
started=$(now)
if timeout 120 mount -t cifs //127.0.0.1/share "$mount_dir" -o guest,vers=3.0 2> "$work/mount.log"; then
    cp "$work/payload" "$mount_dir/file" && sync
    got=$(sha256sum < "$share/file" | cut -d' ' -f1)
    umount "$mount_dir"
    if [ "$got" = "$want" ]; then
        row "CIFS mount (SMB 3.0)" pass "$(since "$started")" "1 MiB written through the mount, same sha256 on the server"
        feature "CIFS client (SMB 3.0)" "yes"
        exit 0
    fi
    row "CIFS mount (SMB 3.0)" fail "$(since "$started")" "sha256 differs: ${got:-no file}"
else
    row "CIFS mount (SMB 3.0)" fail "$(since "$started")" "$(tail -n 1 "$work/mount.log")"
fi
feature "CIFS client (SMB 3.0)" "no: see cifs rows"
exit 1
