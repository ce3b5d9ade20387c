# receive_truth.sh: the rate-tolerant tests of engine/tests/receive_truth.rs
# (injected faults, qdisc loss, two receive queues, the routed impairment
# scenario), each run alone from the release test binary. Left out:
# latency_agrees_with_an_independent_receive_clock (a factor-of-2 latency
# bound that emulation's timing does not keep).
. "$(dirname "$0")/lib.sh"
run_tests receive_truth engine ${RECEIVE_TRUTH_TESTS:-\
    injected_skips_repeats_and_swaps_are_counted_exactly \
    loss_from_a_tbf_qdisc_is_exact_and_equals_the_kernels_drop_count \
    one_swept_stream_over_two_receive_queues_and_cpus_counts_exactly \
    shipped_impairment_scenario_passes_through_the_routed_lab}
