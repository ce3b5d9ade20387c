# bpf_clocks.sh: the receive counter's clocks on this kernel's verifier,
# from the release test binary of bpf/tests/test_run.rs, each test alone: a
# counter with a stream timed on CLOCK_TAI (bpf_ktime_get_tai_ns, kernel 6.1
# and later: streams sent by another agent) and the plain CLOCK_MONOTONIC
# latency; and bpf/tests/capabilities.rs (both XDP programs refused without
# CAP_PERFMON, loaded with it).
. "$(dirname "$0")/lib.sh"
kernel_at_least 6.1 || SKIP_TESTS="a_tai_stream_is_timed_on_clock_tai_and_the_others_stay_monotonic=no bpf_ktime_get_tai_ns before 6.1;$SKIP_TESTS"
run_tests test_run bpf ${BPF_CLOCK_TESTS:-\
    a_tai_stream_is_timed_on_clock_tai_and_the_others_stay_monotonic \
    latency_and_jitter_are_measured_against_the_tx_timestamp}
run_tests capabilities bpf without_perfmon_the_verifier_refuses_both_programs
