// SPDX-License-Identifier: (MIT OR Apache-2.0)
/*
 * linerate's receive-side counter. Attached to the receive port, it
 * recognises linerate frames (Ethernet, up to two VLAN tags, IPv4 or
 * IPv6, UDP, payload header with the magic) and keeps per stream: frames,
 * bytes, duplicates, late arrivals and sequence gaps (exact across CPUs and
 * queues), a latency histogram and RFC 3550 jitter; then drops them (or
 * passes them, if the loader says so). Every other frame is passed to the
 * stack untouched. No locks and no allocation: per-CPU counters, and
 * atomic instructions on the one shared sequence state per stream.
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

/* Set by the loader before loading. */
const volatile struct lr_config lr_config = {
	.pass_counted = 0,
	.window_bits = 12,
	.latency_streams = 1,
	.tai_streams = 0,
};

/* Per-CPU counters, latency and jitter; sized to the stream count. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct lr_stream_rx);
} lr_streams SEC(".maps");

/* Per-CPU latency histograms; sized to lr_config.latency_streams. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct lr_latency_histogram);
} lr_latency SEC(".maps");

/* Sequence state shared by every CPU; sized to the stream count. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct lr_stream_sequence);
} lr_sequence SEC(".maps");

/*
 * Duplicate detection: for each stream, a ring of 2^window_bits slots; the
 * slot of extended sequence s holds s's lap (s >> window_bits) plus one once
 * s has arrived. Exchanging the slot atomically tells first arrival from
 * repeat without a lock, whichever CPU each copy lands on. Sized to
 * streams << window_bits.
 */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u32);
} lr_seen SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct lr_rx_totals);
} lr_totals SEC(".maps");

/* Tries of the compare-and-swap that raises a stream's highest sequence. */
#define LR_SEQUENCE_UPDATE_TRIES 16

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
 * One step of floor(log2(value)): `bits` when value >= 2^bits, else 0,
 * by arithmetic: (2^bits - 1 - value) borrows into bit 63 exactly when
 * value >= 2^bits, for any value below 2^63 (a latency in nanoseconds is
 * at most the time since boot; later steps see values below 2^32).
 * No branch: latencies that straddle a power of two cost no
 * mispredictions, as compare-and-branch steps did.
 */
#define LOG2_STEP(value, log, bits)                                               \
	do {                                                                          \
		__u64 step = ((((1ull << (bits)) - 1) - (value)) >> 63) * (bits); \
		(value) >>= step;                                                   \
		(log) += step;                                                      \
	} while (0)

/* floor(log2(value)) for value > 0, without a loop or a branch. */
static __always_inline __u32 log2_u64(__u64 value)
{
	__u64 log = 0;

	LOG2_STEP(value, log, 32);
	LOG2_STEP(value, log, 16);
	LOG2_STEP(value, log, 8);
	LOG2_STEP(value, log, 4);
	LOG2_STEP(value, log, 2);
	LOG2_STEP(value, log, 1);
	return (__u32)log;
}

/* The histogram bucket of a latency; see LR_LATENCY_BUCKETS. */
static __always_inline __u32 latency_bucket(__u64 latency_ns)
{
	if (latency_ns < LR_LATENCY_SUB)
		return latency_ns;
	__u32 shift = log2_u64(latency_ns) - LR_LATENCY_SUB_BITS;
	__u32 bucket = (shift + 1) * LR_LATENCY_SUB +
		       ((latency_ns >> shift) & (LR_LATENCY_SUB - 1));

	return bucket < LR_LATENCY_BUCKETS ? bucket : LR_LATENCY_BUCKETS - 1;
}

/*
 * Latency (receive time minus the sender's timestamp, both on the
 * stream's clock: CLOCK_MONOTONIC, or CLOCK_TAI across hosts) into the histogram, and RFC 3550 interarrival jitter
 * over this CPU's arrivals: J += (|D| - J) / 16, kept times 16.
 */
static __always_inline void record_latency(struct lr_stream_rx *stats, __u32 stream_id,
					   __u64 now_ns, __u64 tx_timestamp_ns)
{
	if (tx_timestamp_ns > now_ns) {
		stats->clock_behind++;
		return;
	}
	__u64 latency_ns = now_ns - tx_timestamp_ns;
	__u32 bucket = latency_bucket(latency_ns);

	if (stream_id < lr_config.latency_streams) {
		struct lr_latency_histogram *histogram =
			bpf_map_lookup_elem(&lr_latency, &stream_id);

		if (histogram && bucket < LR_LATENCY_BUCKETS)
			histogram->buckets[bucket]++;
	}
	if (stats->latency_count == 0 || latency_ns < stats->latency_min_ns)
		stats->latency_min_ns = latency_ns;
	if (latency_ns > stats->latency_max_ns)
		stats->latency_max_ns = latency_ns;
	stats->latency_sum_ns += latency_ns;
	if (stats->latency_count > 0) {
		__s64 difference = (__s64)latency_ns - stats->last_transit_ns;

		if (difference < 0)
			difference = -difference;
		stats->jitter_x16_ns += difference - ((stats->jitter_x16_ns + 8) >> 4);
		stats->jitter_samples++;
	}
	stats->last_transit_ns = (__s64)latency_ns;
	stats->latency_count++;
}

/*
 * Sequence accounting for one frame. The 32-bit sequence number is
 * extended to 64 bits around the stream's highest so far, so wrapping
 * goes unnoticed. A repeat is a duplicate (returns false); a first arrival
 * below the highest is late (it fills a gap counted earlier); a first
 * arrival above raises the highest with a compare-and-swap and counts the
 * numbers it jumps over as gap frames. Every counter is exact whichever
 * CPUs a stream's frames land on: each number is the top of at most one
 * successful raise, and any other first arrival is late.
 */
static __always_inline bool track_sequence(struct lr_stream_rx *stats,
					    struct lr_stream_sequence *sequence,
					    __u32 stream_id, __u32 number)
{
	__u64 expected = *(volatile __u64 *)&sequence->next_expected;
	__s64 extended = (__s64)expected + (__s32)(number - (__u32)expected);

	if (extended < 0)
		extended = number;

	__u32 window_bits = lr_config.window_bits & 31;
	__u32 window_mask = (1u << window_bits) - 1;
	__u32 slot_index = (stream_id << window_bits) | ((__u32)extended & window_mask);
	__u32 *slot = bpf_map_lookup_elem(&lr_seen, &slot_index);
	__u32 lap = (__u32)((__u64)extended >> window_bits) + 1;

	if (slot && __sync_lock_test_and_set(slot, lap) == lap) {
		stats->duplicates++;
		return false;
	}
	for (int attempt = 0; attempt < LR_SEQUENCE_UPDATE_TRIES; attempt++) {
		if ((__u64)extended < expected) {
			stats->late++;
			return true;
		}
		__u64 seen = __sync_val_compare_and_swap(&sequence->next_expected, expected,
							 (__u64)extended + 1);
		if (seen == expected) {
			stats->gap_frames += (__u64)extended - expected;
			return true;
		}
		expected = seen;
	}
	__sync_fetch_and_add(&sequence->update_races, 1);
	stats->late++;
	return true;
}

/*
 * The frame's whole length. A frame whose IP datagram ends within the
 * first buffer is that buffer (every frame that fits one buffer: a second
 * buffer holds the rest of a datagram that did not fit); only a longer
 * datagram, a multi-buffer frame, costs the helper call, which on this
 * path is dearer than the rest of the recognition together.
 */
static __always_inline __u64 frame_len(struct xdp_md *ctx, void *data, void *data_end,
				       __u64 datagram_end)
{
	__u64 first_buffer = (__u64)(data_end - data);

	if (datagram_end <= first_buffer)
		return first_buffer;
	return bpf_xdp_get_buff_len(ctx);
}

/*
 * "xdp.frags": the program accepts multi-buffer frames (jumbo frames on a
 * veth or NIC whose MTU exceeds a page). Headers are always in the first
 * buffer; the frame's whole length comes from frame_len().
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
	/*
	 * Where the IP header says its datagram ends, as an offset from the
	 * frame's start: a scalar, never added to a packet pointer (verifiers
	 * before 6.13 lose the bounds of a byte-swapped value, and refuse
	 * packet-pointer math with it).
	 */
	__u64 datagram_end;

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
		datagram_end = (__u64)((void *)ip - data) + bpf_ntohs(ip->tot_len);
	} else if (ether_type == bpf_htons(ETH_P_IPV6)) {
		struct ipv6hdr *ip6 = cursor;

		if ((void *)(ip6 + 1) > data_end)
			return pass_unrecognised();
		if (ip6->nexthdr != IPPROTO_UDP)
			return pass_unrecognised();
		udp = (void *)(ip6 + 1);
		datagram_end = (__u64)((void *)(ip6 + 1) - data) + bpf_ntohs(ip6->payload_len);
	} else {
		return pass_unrecognised();
	}

	if ((void *)(udp + 1) > data_end)
		return pass_unrecognised();

	struct lr_payload_header *header = (void *)(udp + 1);

	if ((void *)(header + 1) > data_end)
		return pass_unrecognised();
	if (header->magic[0] != LR_PAYLOAD_MAGIC_0 || header->magic[1] != LR_PAYLOAD_MAGIC_1 ||
	    header->magic[2] != LR_PAYLOAD_MAGIC_2)
		return pass_unrecognised();

	__u32 stream_id = ((__u32)header->stream_id[0] << 16) | ((__u32)header->stream_id[1] << 8) |
			  header->stream_id[2];
	struct lr_stream_rx *stats = bpf_map_lookup_elem(&lr_streams, &stream_id);
	struct lr_stream_sequence *sequence = bpf_map_lookup_elem(&lr_sequence, &stream_id);

	if (!stats || !sequence) {
		__u32 zero = 0;
		struct lr_rx_totals *totals = bpf_map_lookup_elem(&lr_totals, &zero);

		if (totals)
			totals->frames_unknown_stream++;
		return lr_config.pass_counted ? XDP_PASS : XDP_DROP;
	}
	/* The sender's clock: TAI for a stream sent by another agent. */
	__u64 now_ns = lr_config.tai_streams && sequence->clock == LR_CLOCK_TAI ?
			       bpf_ktime_get_tai_ns() :
			       bpf_ktime_get_ns();

	stats->frames++;
	stats->bytes += frame_len(ctx, data, data_end, datagram_end);
	if (track_sequence(stats, sequence, stream_id, bpf_ntohl(header->sequence)))
		record_latency(stats, stream_id, now_ns, bpf_be64_to_cpu(header->tx_timestamp_ns));
	return lr_config.pass_counted ? XDP_PASS : XDP_DROP;
}
