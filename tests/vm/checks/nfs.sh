# nfs.sh: an NFS mount in the VM (a check of the kernel and user space a
# later File-IO feature would need, not a linerate feature): the kernel's
# nfsd with nfs-kernel-server's user space started by hand (nfsd fs,
# rpcbind, rpc.nfsd, rpc.mountd, exportfs) exporting a tmpfs (a directory
# on the 9p root cannot be exported), mounted over loopback as NFSv3 and as
# NFSv4.2 (a pseudo-root export, fsid=0); a 1 MiB file written through each
# mount must read back with the same sha256 on the server side.
. "$(dirname "$0")/lib.sh"
need_vm
for tool in rpcbind rpc.nfsd rpc.mountd exportfs mount.nfs; do
    command -v "$tool" >/dev/null || { echo "$tool is not installed (make vm-deps installs it)"; exit 1; }
done
work=$(mktemp -d)
export_dir=$work/export mount_dir=$work/mnt
mkdir -p "$export_dir" "$mount_dir"
pids=()
cleanup() {
    umount -f "$mount_dir" 2>/dev/null
    exportfs -ua 2>/dev/null
    rpc.nfsd 0 2>/dev/null
    for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null; done
    for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null; done
    umount "$export_dir" 2>/dev/null
    umount /proc/fs/nfsd 2>/dev/null
    rm -rf "$work"
}
trap cleanup EXIT

started=$(now)
modprobe nfsd && modprobe nfs && modprobe nfsv4 &&
{ mountpoint -q /proc/fs/nfsd || mount -t nfsd nfsd /proc/fs/nfsd; } &&
mount -t tmpfs -o size=64m lrvm-nfs "$export_dir" || { row "nfsd up" fail "$(since "$started")" "modules or mounts failed"; exit 1; }
mkdir -p /var/lib/nfs/v4recovery /run/rpcbind
# A short v4 grace period: the v4 mount must not wait 90 s.
echo 10 > /proc/fs/nfsd/nfsv4gracetime 2>/dev/null
echo 10 > /proc/fs/nfsd/nfsv4leasetime 2>/dev/null
rpcbind -f -w > "$work/rpcbind.log" 2>&1 &
pids+=($!)
for _ in $(seq 1 100); do
    rpcinfo -p 127.0.0.1 > /dev/null 2>&1 && break
    sleep 0.2
done
exportfs -o rw,fsid=0,no_subtree_check,no_root_squash,insecure "127.0.0.1:$export_dir" &&
rpc.nfsd 4 && { rpc.mountd -F > "$work/mountd.log" 2>&1 & pids+=($!); } || {
    row "nfsd up" fail "$(since "$started")" "exportfs or rpc.nfsd failed: $(tail -n 1 "$VM_OUT/nfs.log")"; exit 1; }
for _ in $(seq 1 100); do
    rpcinfo -p 127.0.0.1 2>/dev/null | grep -q mountd && break
    sleep 0.2
done
row "nfsd up" pass "$(since "$started")" "tmpfs exported to 127.0.0.1 (fsid=0); versions $(cat /proc/fs/nfsd/versions)"

head -c 1048576 /dev/urandom > "$work/payload"
want=$(sha256sum < "$work/payload" | cut -d' ' -f1)
status=pass
for version in 3 4.2; do
    source=127.0.0.1:$export_dir
    [ "$version" = 4.2 ] && source=127.0.0.1:/
    started=$(now)
    if ! timeout 120 mount -t nfs -o "vers=$version,nolock,soft,timeo=50" "$source" "$mount_dir" 2> "$work/mount.log"; then
        row "NFSv$version mount" fail "$(since "$started")" "$(tail -n 1 "$work/mount.log")"
        status=fail; continue
    fi
    cp "$work/payload" "$mount_dir/file-v$version" && sync
    got=$(sha256sum < "$export_dir/file-v$version" | cut -d' ' -f1)
    type=$(awk -v dir="$mount_dir" '$2 == dir { print $3 }' /proc/mounts)
    umount "$mount_dir"
    if [ "$got" = "$want" ]; then
        row "NFSv$version mount" pass "$(since "$started")" "$type; 1 MiB written through the mount, same sha256 on the server"
    else
        row "NFSv$version mount" fail "$(since "$started")" "sha256 differs: ${got:-no file}"
        status=fail
    fi
done
if [ "$status" = pass ]; then feature "NFS client and server (v3, v4.2)" "yes"
else feature "NFS client and server (v3, v4.2)" "no: see nfs rows"; fi
