/* SPDX-License-Identifier: (MIT OR Apache-2.0) */
/*
 * The contract between linerate's sender and its XDP receive counter:
 * the payload header layout, the load-time configuration and the map
 * values. The Rust side mirrors every definition here in bpf/src/abi.rs;
 * a change to one is a change to both.
 */
#ifndef LINERATE_ABI_H
#define LINERATE_ABI_H

#include <linux/types.h>

/* "LNR": the first three bytes of the UDP payload. */
#define LR_PAYLOAD_MAGIC_0 'L'
#define LR_PAYLOAD_MAGIC_1 'N'
#define LR_PAYLOAD_MAGIC_2 'R'

/*
 * The linerate payload header, all fields big-endian, starting at the
 * first byte of the UDP payload. 18 bytes, so that Ethernet + IPv4 +
 * UDP + header is exactly a 60-byte frame.
 */
struct lr_payload_header {
	__u8 magic[3];     /* "LNR" */
	__u8 stream_id[3]; /* 24 bits, big-endian: up to 16,777,216 streams */
	__be32 sequence;
	__be64 tx_timestamp_ns; /* at the sender: CLOCK_MONOTONIC, or CLOCK_TAI (see lr_stream_sequence.clock) */
} __attribute__((packed));

#define LR_PAYLOAD_HEADER_LEN 18

/*
 * Latency histogram: log-linear buckets. Values below LR_LATENCY_SUB ns
 * have a bucket each; above, every power of two is split into
 * LR_LATENCY_SUB equal buckets (at most 1/32 = 3.1 % wide). The last
 * bucket also holds everything beyond about 4.9 hours.
 */
#define LR_LATENCY_SUB_BITS 5
#define LR_LATENCY_SUB (1u << LR_LATENCY_SUB_BITS)
#define LR_LATENCY_BUCKETS (LR_LATENCY_SUB * 40)

/* Set by the loader before loading (the program's .rodata). */
struct lr_config {
	/* Nonzero: counted frames go on to the stack instead of being dropped. */
	__u32 pass_counted;
	/* log2 of each stream's duplicate-detection window, in sequence numbers. */
	__u32 window_bits;
	/* Streams 0..latency_streams-1 keep a latency histogram (lr_latency). */
	__u32 latency_streams;
	/*
	 * Nonzero when some stream is timed on CLOCK_TAI (lr_stream_sequence.clock).
	 * Zero leaves the bpf_ktime_get_tai_ns() call dead code the verifier
	 * never sees, so the program still loads on kernels before 6.1.
	 */
	__u32 tai_streams;
};

/*
 * Per-stream, per-CPU receive state, indexed by stream id. Each CPU
 * writes only its own copy; the reader sums them.
 */
struct lr_stream_rx {
	__u64 frames;           /* every frame of the stream, duplicates too */
	__u64 bytes;            /* their bytes, Ethernet header to payload end */
	__u64 duplicates;       /* a sequence number seen before (in the window) */
	__u64 late;             /* arrived after a higher sequence number */
	__u64 gap_frames;       /* sequence numbers jumped over as the highest rose */
	__u64 latency_count;    /* frames whose latency went into the histogram */
	__u64 latency_sum_ns;
	__u64 latency_min_ns;   /* 0 when latency_count is 0 */
	__u64 latency_max_ns;
	__u64 clock_behind;     /* TX timestamp after the receive time: no latency */
	__u64 jitter_x16_ns;    /* RFC 3550 interarrival jitter, times 16 */
	__u64 jitter_samples;   /* transit differences that went into it */
	__s64 last_transit_ns;  /* receive time minus TX timestamp, last frame */
};

/*
 * Per-stream, per-CPU latency histogram, indexed by stream id, kept for the
 * first latency_streams streams only (10 KiB per stream per CPU: with very
 * many streams the rest keep counts, min/mean/max latency and jitter).
 */
struct lr_latency_histogram {
	__u64 buckets[LR_LATENCY_BUCKETS];
};

/*
 * Per-stream sequence state shared by every CPU (one copy), updated with
 * atomic instructions only.
 */
struct lr_stream_sequence {
	/* Highest extended (64-bit) sequence number seen plus one; 0 before any. */
	__u64 next_expected;
	/* Frames whose highest-sequence update lost the race too often (counted late). */
	__u64 update_races;
	/*
	 * The clock the stream's sender stamps with, set by the loader before
	 * attaching: LR_CLOCK_MONOTONIC (a stream sent and counted on one
	 * host) or LR_CLOCK_TAI (sent by another agent: CLOCK_TAI is what
	 * chrony or PTP keep in step across hosts; needs kernel 6.1's
	 * bpf_ktime_get_tai_ns). Read with the entry the frame already looks
	 * up: no extra lookup per frame.
	 */
	__u64 clock;
};

#define LR_CLOCK_MONOTONIC 0
#define LR_CLOCK_TAI 1

/* Per-CPU totals for what the program saw but did not count under a stream. */
struct lr_rx_totals {
	/* Frames that carried the magic but a stream id beyond the map. */
	__u64 frames_unknown_stream;
	/* Frames passed to the stack because they were not linerate's. */
	__u64 frames_passed;
};

/* Per-CPU totals of the reflector (linerate_reflect.bpf.c). */
struct lr_reflect_totals {
	/* linerate frames sent back with their addresses swapped (XDP_TX). */
	__u64 frames_reflected;
	/* Every other frame, passed to the stack untouched. */
	__u64 frames_passed;
};

#endif /* LINERATE_ABI_H */
