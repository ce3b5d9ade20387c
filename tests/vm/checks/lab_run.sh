# lab_run.sh: the rate-tolerant lab tests of engine/tests/lab_run.rs (exact
# counts at 10 to 50 kpps), each run alone from the release test binary.
# Left out: paced_rates_arrive_within_one_percent (100 kpps and 81 kpps with
# 1 % accuracy per second: emulation cannot keep those rates).
. "$(dirname "$0")/lib.sh"
run_tests lab_run engine ${LAB_RUN_TESTS:-\
    known_frame_count_arrives_exactly \
    several_streams_are_counted_apart \
    swept_stream_arrives_with_exactly_the_configured_sets \
    router_mac_is_the_gateway_peer \
    jumbo_frames_cross_as_multi_buffer_chains \
    jumbo_frame_on_a_1500_mtu_port_is_refused_with_the_fix \
    two_workers_on_two_queues_carry_traffic_and_totals_are_exact \
    scenario_cores_and_xsk_modes_are_honoured}
