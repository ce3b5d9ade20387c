# doctor.sh: `linerate doctor` on the lab's receiving port inside the VM:
# exit 0, veth named as the driver, and what it says of XDP features (the
# netdev netlink family is 6.3+: older kernels must get a one-line note).
. "$(dirname "$0")/lib.sh"
need_vm
need_linerate
trap '"$LINERATE" lab down >/dev/null 2>&1' EXIT
"$LINERATE" lab up > /dev/null || { echo "linerate lab up failed"; exit 1; }
started=$(now)
output=$("$LINERATE" doctor lr-b --namespace linerate-b 2>&1)
status=$?
echo "$output"
if [ "$status" = 0 ] && grep -q veth <<< "$output" && ! grep -qiE 'panick|verifier' <<< "$output"; then
    note=$(grep -m1 -E '^ *XDP |did not report XDP features' <<< "$output" | sed 's/^ *//')
    row "doctor lr-b" pass "$(since "$started")" "exit 0, driver veth; ${note}"
else
    row "doctor lr-b" fail "$(since "$started")" "exit $status: $(tail -n 1 <<< "$output")"
fi
