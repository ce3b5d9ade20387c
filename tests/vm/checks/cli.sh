# cli.sh: lab tests of cli/tests/cli.rs through the linerate binary: a run
# with exact counts, doctor, and teardown after SIGKILL and Ctrl-C.
. "$(dirname "$0")/lib.sh"
run_tests cli cli ${CLI_TESTS:-\
    run_through_a_lab_passes_with_exact_counts \
    doctor_reports_what_the_kernel_says_about_a_port \
    sigkill_leaves_no_xdp_program_or_map_behind \
    ctrl_c_stops_sending_and_reports_partial_results}
