#!/bin/bash
# guest.sh: runs inside the VM (or on the host for the host's feature column).
# Runs each named check of tests/vm/checks/ in turn, with a time limit, and
# records its rows in OUT/results.txt (the runner's --rwdir directory):
#   BOOTED <kernel>             first line
#   ROW <check> <name> <pass|fail|skip> <seconds> <detail>   (tab-separated)
#   FEATURE <name> <value>
#   DONE                        last line, once every check has run
# A check that writes no row gets one from its exit code (0 pass, 77 skip,
# else fail). Each check's output goes to OUT/<check>.log. Then the VM
# powers off (virtme-ng does that when this script returns).
set -u
out=$1; shift
vm_dir=$(cd "$(dirname "$0")" && pwd)
export VM_RESULTS=$out/results.txt VM_OUT=$out REPO=$(cd "$vm_dir/../.." && pwd)
export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin:$PATH
printf 'BOOTED\t%s\n' "$(uname -r)" > "$VM_RESULTS"
# Under qemu: a bpffs for tools that want one (linerate itself pins nothing).
mountpoint -q /sys/fs/bpf 2>/dev/null || mount -t bpf bpf /sys/fs/bpf 2>/dev/null || true
for check in "$@"; do
    rows_before=$(grep -c "^ROW	$check	" "$VM_RESULTS")
    started=$(date +%s.%N)
    VM_CHECK=$check timeout --kill-after=10 "${VM_CHECK_TIMEOUT:-900}" \
        bash "$vm_dir/checks/$check.sh" > "$out/$check.log" 2>&1
    status=$?
    seconds=$(awk -v a="$started" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }')
    rows_after=$(grep -c "^ROW	$check	" "$VM_RESULTS")
    last=$(grep -v '^\s*$' "$out/$check.log" | tail -n 1 | tr '\t' ' ' | cut -c1-200)
    if [ "$rows_after" = "$rows_before" ]; then
        case $status in
            0) result=pass ;; 77) result=skip ;; *) result=fail ;;
        esac
        printf 'ROW\t%s\t%s\t%s\t%s\t%s\n' "$check" "$check" "$result" "$seconds" "exit $status: $last" >> "$VM_RESULTS"
    elif [ "$status" != 0 ] && [ "$status" != 77 ]; then
        printf 'ROW\t%s\t%s\t%s\t%s\t%s\n' "$check" "(script)" fail "$seconds" "exit $status: $last" >> "$VM_RESULTS"
    fi
done
printf 'DONE\n' >> "$VM_RESULTS"
