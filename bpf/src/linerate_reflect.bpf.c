// SPDX-License-Identifier: (MIT OR Apache-2.0)
/*
 * linerate's reflector. Attached to the far port of a path, it sends every
 * linerate frame back where it came from: for frames the receive counter
 * would count (Ethernet, up to two VLAN tags, IPv4 that is not a fragment
 * or IPv6, UDP, payload header with the magic: the same recognition as
 * linerate_rx.bpf.c and engine/src/wire/recognise.rs) it swaps the Ethernet
 * source and destination MACs, the IP source and destination addresses and
 * the UDP source and destination ports, and returns XDP_TX. The payload
 * (stream id, sequence number, the sender's timestamp) is left alone, so
 * the counter on the sending port measures the round trip on one clock.
 * Every other frame goes on to the stack (XDP_PASS) untouched.
 *
 * Checksums stay valid without being touched. The IPv4 header checksum is
 * the ones' complement of the ones' complement sum of the header's 16-bit
 * words, and the UDP checksum that of the pseudo-header (source and
 * destination address, protocol, length), the UDP header and the payload.
 * Swapping source and destination only exchanges 16-bit words inside the
 * summed data (addresses and ports start on even offsets in their headers
 * and are whole 16-bit words long), and that sum is commutative: the sums,
 * and so the checksums, are unchanged. The Ethernet FCS is the NIC's job.
 *
 * No locks, no allocation: two per-CPU counters.
 */
#include <stdbool.h>
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

/* Per-CPU: what the reflector sent back and what it passed on. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct lr_reflect_totals);
} lr_reflect_totals SEC(".maps");

struct vlan_tag {
	__be16 tci;
	__be16 encapsulated_proto;
};

#define LR_MAX_VLAN_TAGS 2
#define IPV4_FRAGMENT_MASK 0x3FFF /* MF flag and fragment offset */

static __always_inline int pass_frame(void)
{
	__u32 zero = 0;
	struct lr_reflect_totals *totals = bpf_map_lookup_elem(&lr_reflect_totals, &zero);

	if (totals)
		totals->frames_passed++;
	return XDP_PASS;
}

static __always_inline void swap_bytes(__u8 *a, __u8 *b, int len)
{
#pragma unroll
	for (int i = 0; i < len; i++) {
		__u8 byte = a[i];

		a[i] = b[i];
		b[i] = byte;
	}
}

/*
 * "xdp.frags": multi-buffer frames (jumbo frames) are accepted; every
 * header this program reads or writes is in the first buffer.
 */
SEC("xdp.frags")
int lr_reflector(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	struct ethhdr *eth = data;
	void *cursor;
	__u16 ether_type;
	struct udphdr *udp;
	struct iphdr *ip4 = NULL;
	struct ipv6hdr *ip6 = NULL;

	if ((void *)(eth + 1) > data_end)
		return pass_frame();
	ether_type = eth->h_proto;
	cursor = eth + 1;

#pragma unroll
	for (int i = 0; i < LR_MAX_VLAN_TAGS; i++) {
		struct vlan_tag *tag = cursor;

		if (ether_type != bpf_htons(ETH_P_8021Q) && ether_type != bpf_htons(ETH_P_8021AD))
			break;
		if ((void *)(tag + 1) > data_end)
			return pass_frame();
		ether_type = tag->encapsulated_proto;
		cursor = tag + 1;
	}

	if (ether_type == bpf_htons(ETH_P_IP)) {
		ip4 = cursor;
		if ((void *)(ip4 + 1) > data_end)
			return pass_frame();
		if (ip4->protocol != IPPROTO_UDP || ip4->ihl < 5)
			return pass_frame();
		if (ip4->frag_off & bpf_htons(IPV4_FRAGMENT_MASK))
			return pass_frame();
		udp = (void *)ip4 + ip4->ihl * 4;
	} else if (ether_type == bpf_htons(ETH_P_IPV6)) {
		ip6 = cursor;
		if ((void *)(ip6 + 1) > data_end)
			return pass_frame();
		if (ip6->nexthdr != IPPROTO_UDP)
			return pass_frame();
		udp = (void *)(ip6 + 1);
	} else {
		return pass_frame();
	}

	if ((void *)(udp + 1) > data_end)
		return pass_frame();

	struct lr_payload_header *header = (void *)(udp + 1);

	if ((void *)(header + 1) > data_end)
		return pass_frame();
	if (header->magic[0] != LR_PAYLOAD_MAGIC_0 || header->magic[1] != LR_PAYLOAD_MAGIC_1 ||
	    header->magic[2] != LR_PAYLOAD_MAGIC_2)
		return pass_frame();

	/* Checksum-neutral swaps: see the comment at the top. */
	swap_bytes(eth->h_source, eth->h_dest, ETH_ALEN);
	if (ip4) {
		__be32 address = ip4->saddr;

		ip4->saddr = ip4->daddr;
		ip4->daddr = address;
	} else if (ip6) {
		struct in6_addr address = ip6->saddr;

		ip6->saddr = ip6->daddr;
		ip6->daddr = address;
	}
	__be16 port = udp->source;

	udp->source = udp->dest;
	udp->dest = port;

	__u32 zero = 0;
	struct lr_reflect_totals *totals = bpf_map_lookup_elem(&lr_reflect_totals, &zero);

	if (totals)
		totals->frames_reflected++;
	return XDP_TX;
}
