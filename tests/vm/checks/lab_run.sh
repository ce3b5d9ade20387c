# lab_run.sh: the rate-tolerant lab tests of engine/tests/lab_run.rs, each
# run alone from the release test binary. Left out, as measured under TCG on
# 6.1 (docs/vm-lab.md): tests whose verdict needs 40 to 100 kpps reached
# (known_frame_count_arrives_exactly and several_streams_are_counted_apart
# sent at about 25 and 12 kpps there) and paced_rates_arrive_within_one_percent.
# On kernels before 6.6 (no multi-buffer AF_XDP) the jumbo test is skipped:
# the features check verifies that linerate refuses such frames in one line.
. "$(dirname "$0")/lib.sh"
kernel_at_least 6.6 || SKIP_TESTS="jumbo_frames_cross_as_multi_buffer_chains=no multi-buffer AF_XDP before 6.6 (the features check verifies the one-line refusal);$SKIP_TESTS"
run_tests lab_run engine ${LAB_RUN_TESTS:-\
    swept_stream_arrives_with_exactly_the_configured_sets \
    router_mac_is_the_gateway_peer \
    jumbo_frames_cross_as_multi_buffer_chains \
    jumbo_frame_on_a_1500_mtu_port_is_refused_with_the_fix \
    two_workers_on_two_queues_carry_traffic_and_totals_are_exact \
    scenario_cores_and_xsk_modes_are_honoured}
