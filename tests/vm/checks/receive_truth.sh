# receive_truth.sh: the rate-tolerant tests of engine/tests/receive_truth.rs,
# each run alone from the release test binary: injected faults counted
# exactly, and loss from a tbf qdisc equal to the kernel's drop count. Left
# out, as measured under TCG on 6.1 (docs/vm-lab.md): two receive queues at
# 30 kpps (frames lost to emulation), the impairment scenario and the latency
# comparison (latency and rate bounds emulation cannot keep).
. "$(dirname "$0")/lib.sh"
run_tests receive_truth engine ${RECEIVE_TRUTH_TESTS:-\
    injected_skips_repeats_and_swaps_are_counted_exactly \
    loss_from_a_tbf_qdisc_is_exact_and_equals_the_kernels_drop_count}
