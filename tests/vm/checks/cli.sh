# cli.sh: lab tests of cli/tests/cli.rs through the linerate binary that do
# not depend on reaching a rate: lab up/down twice, doctor (its XDP feature
# line needs the netdev netlink family, 6.3+: skipped before). Left out, as
# measured under TCG (docs/vm-lab.md): runs whose verdict needs 20 to 60 kpps
# reached (the lab run, --force, busy polling, and the run after SIGKILL,
# which passed 3 times of 4 but sent 81.8 % of 20 kpps on a loaded host) and
# Ctrl-C (timed against a 50 kpps run).
. "$(dirname "$0")/lib.sh"
kernel_at_least 6.3 || SKIP_TESTS="doctor_reports_what_the_kernel_says_about_a_port=the kernel reports no XDP features before 6.3 (the netdev netlink family); the doctor check shows linerate saying so;$SKIP_TESTS"
run_tests cli cli ${CLI_TESTS:-\
    lab_up_twice_and_down_twice_are_not_errors \
    doctor_reports_what_the_kernel_says_about_a_port}
