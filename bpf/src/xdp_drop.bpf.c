// SPDX-License-Identifier: (MIT OR Apache-2.0)
/*
 * The bare minimum receive program: drop every frame. The receive-cost
 * benchmark (benches/rx_cost.sh) measures linerate's counter against it.
 */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

char LICENSE[] SEC("license") = "Dual MIT/GPL";

SEC("xdp.frags")
int xdp_drop_all(struct xdp_md *ctx)
{
	return XDP_DROP;
}
