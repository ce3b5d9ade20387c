# lib.sh: helpers the check scripts source: recording rows and features,
# finding linerate's binaries, and timing a step.
# VM_RESULTS, VM_OUT, VM_CHECK and REPO come from guest.sh.

LINERATE=${LINERATE:-$REPO/target/release/linerate}
TEST_BINARIES=${TEST_BINARIES:-$REPO/target/vm/test-binaries.txt}

# row NAME pass|fail|skip SECONDS DETAIL...
row() {
    local name=$1 result=$2 seconds=$3; shift 3
    printf 'ROW\t%s\t%s\t%s\t%s\t%s\n' "$VM_CHECK" "$name" "$result" "$seconds" "$(echo "$*" | tr '\t\n' '  ' | sed 's/ *$//' | cut -c1-300)" >> "$VM_RESULTS"
    echo "== $name: $result ($seconds s) $*"
}

# feature NAME VALUE...
feature() {
    local name=$1; shift
    printf 'FEATURE\t%s\t%s\n' "$name" "$(echo "$*" | tr '\t\n' '  ' | sed 's/ *$//')" >> "$VM_RESULTS"
    echo "== feature $name: $*"
}

# now: seconds since the epoch with fractions; since START: seconds elapsed.
now() { date +%s.%N; }
since() { awk -v a="$1" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }'; }

# test_binary NAME: the path of a cargo test executable (tests/NAME.rs),
# from the list the Makefile wrote when it built them.
test_binary() {
    local path
    path=$(awk -v name="$1" '$1 == name { print $2 }' "$TEST_BINARIES" 2>/dev/null | tail -n 1)
    [ -n "$path" ] && [ -x "$REPO/$path" ] && echo "$REPO/$path"
}

# need_vm: the check changes machine-wide state (fixed lab names, kernel
# modules, daemons): run it only inside a VM the runner booted.
need_vm() {
    [ "${VM_GUEST:-}" = 1 ] || { echo "$VM_CHECK runs only inside the VM lab's VM (VM_GUEST=1)"; exit 77; }
}

# need_linerate: fail the check unless the linerate binary was built.
need_linerate() {
    [ -x "$LINERATE" ] || { echo "no $LINERATE: build it first (cargo build --release -p linerate)"; exit 1; }
}

# kernel_at_least MAJOR.MINOR: whether the running kernel is that or newer.
kernel_at_least() {
    local want_major=${1%%.*} want_minor=${1#*.} major minor
    IFS=. read -r major minor _ <<< "$(uname -r)"
    [ "$major" -gt "$want_major" ] || { [ "$major" = "$want_major" ] && [ "${minor%%[^0-9]*}" -ge "$want_minor" ]; }
}

# SKIP_TESTS: "name=reason;name=reason" tests run_tests records as skipped.
SKIP_TESTS=${SKIP_TESTS:-}

# run_tests NAME CRATE TEST...: runs each named test of test binary NAME
# alone, in the crate's directory as cargo does, one row each.
run_tests() {
    local binary crate name started log reason
    binary=$(test_binary "$1") || { echo "no test binary for $1 in $TEST_BINARIES: make test-vm builds them"; exit 1; }
    crate=$2
    shift 2
    for name in "$@"; do
        reason=$(tr ';' '\n' <<< "$SKIP_TESTS" | awk -F= -v name="$name" '$1 == name { print $2 }')
        if [ -n "$reason" ]; then row "$name" skip 0 "$reason"; continue; fi
        started=$(now)
        log=$VM_OUT/$VM_CHECK.$name.log
        if (cd "$REPO/$crate" && "$binary" --exact "$name" --test-threads=1 --nocapture) > "$log" 2>&1; then
            row "$name" pass "$(since "$started")" "$(grep -E '^test result' "$log" | tail -n 1)"
        else
            row "$name" fail "$(since "$started")" "$(grep -E 'panicked|assert|left:|right:|Error' "$log" | head -n 3)"
        fi
    done
}
