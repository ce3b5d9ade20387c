// SPDX-License-Identifier: (MIT OR Apache-2.0)
/*
 * linerate's receive-side counter. Attached to the receive port, it
 * recognises linerate frames (Ethernet, up to two VLAN tags, IPv4 or
 * IPv6, UDP, payload header with the magic), counts them per stream in
 * a per-CPU array and drops them (or passes them, if the loader says so);
 * every other frame is passed to the stack untouched. No locks, no allocation, one map update per frame.
 */
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/in.h>
#include <linux/ip.h>
#include <linux/ipv6.h>
#include <linux/udp.h>
#include <bpf/bpf_endian.h>
#include <bpf/bpf_helpers.h>

#include "linerate_abi.h"

char LICENSE[] SEC("license") = "Dual MIT/GPL";

/*
 * Set by the loader before loading: nonzero passes counted frames on to the
 * stack (for a capture on the receiving port) instead of dropping them.
 */
const volatile __u32 lr_pass_counted = 0;

/* Sized by the loader to the scenario's stream count before loading. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct lr_stream_counters);
} lr_streams SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct lr_rx_totals);
} lr_totals SEC(".maps");

struct vlan_tag {
	__be16 tci;
	__be16 encapsulated_proto;
};

#define LR_MAX_VLAN_TAGS 2
#define IPV4_FRAGMENT_MASK 0x3FFF /* MF flag and fragment offset */

static __always_inline int pass_unrecognised(void)
{
	__u32 zero = 0;
	struct lr_rx_totals *totals = bpf_map_lookup_elem(&lr_totals, &zero);

	if (totals)
		totals->frames_passed++;
	return XDP_PASS;
}

/*
 * "xdp.frags": the program accepts multi-buffer frames (jumbo frames on a
 * veth or NIC whose MTU exceeds a page). Headers are always in the first
 * buffer; the frame's whole length comes from bpf_xdp_get_buff_len().
 */
SEC("xdp.frags")
int linerate_rx(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	struct ethhdr *eth = data;
	void *cursor;
	__u16 ether_type;
	struct udphdr *udp;

	if ((void *)(eth + 1) > data_end)
		return pass_unrecognised();
	ether_type = eth->h_proto;
	cursor = eth + 1;

#pragma unroll
	for (int i = 0; i < LR_MAX_VLAN_TAGS; i++) {
		struct vlan_tag *tag = cursor;

		if (ether_type != bpf_htons(ETH_P_8021Q) && ether_type != bpf_htons(ETH_P_8021AD))
			break;
		if ((void *)(tag + 1) > data_end)
			return pass_unrecognised();
		ether_type = tag->encapsulated_proto;
		cursor = tag + 1;
	}

	if (ether_type == bpf_htons(ETH_P_IP)) {
		struct iphdr *ip = cursor;
		__u32 header_len;

		if ((void *)(ip + 1) > data_end)
			return pass_unrecognised();
		if (ip->protocol != IPPROTO_UDP || ip->ihl < 5)
			return pass_unrecognised();
		if (ip->frag_off & bpf_htons(IPV4_FRAGMENT_MASK))
			return pass_unrecognised();
		header_len = ip->ihl * 4;
		udp = (void *)ip + header_len;
	} else if (ether_type == bpf_htons(ETH_P_IPV6)) {
		struct ipv6hdr *ip6 = cursor;

		if ((void *)(ip6 + 1) > data_end)
			return pass_unrecognised();
		if (ip6->nexthdr != IPPROTO_UDP)
			return pass_unrecognised();
		udp = (void *)(ip6 + 1);
	} else {
		return pass_unrecognised();
	}

	if ((void *)(udp + 1) > data_end)
		return pass_unrecognised();

	struct lr_payload_header *header = (void *)(udp + 1);

	if ((void *)(header + 1) > data_end)
		return pass_unrecognised();
	if (header->magic != bpf_htonl(LR_PAYLOAD_MAGIC))
		return pass_unrecognised();

	__u32 stream_id = bpf_ntohs(header->stream_id);
	struct lr_stream_counters *counters = bpf_map_lookup_elem(&lr_streams, &stream_id);

	if (!counters) {
		__u32 zero = 0;
		struct lr_rx_totals *totals = bpf_map_lookup_elem(&lr_totals, &zero);

		if (totals)
			totals->frames_unknown_stream++;
		return lr_pass_counted ? XDP_PASS : XDP_DROP;
	}
	counters->frames++;
	counters->bytes += bpf_xdp_get_buff_len(ctx);
	return lr_pass_counted ? XDP_PASS : XDP_DROP;
}
