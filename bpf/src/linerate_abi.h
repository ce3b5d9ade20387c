/* SPDX-License-Identifier: (MIT OR Apache-2.0) */
/*
 * The contract between linerate's sender and its XDP receive counter:
 * the payload header layout and the counter map values. The Rust side
 * mirrors every definition here in bpf/src/abi.rs; a change to one is a
 * change to both.
 */
#ifndef LINERATE_ABI_H
#define LINERATE_ABI_H

#include <linux/types.h>

/* "LNRT" in network byte order at the start of the UDP payload. */
#define LR_PAYLOAD_MAGIC 0x4C4E5254u

/*
 * The linerate payload header, all fields big-endian, starting at the
 * first byte of the UDP payload. 18 bytes, so that Ethernet + IPv4 +
 * UDP + header is exactly a 60-byte frame.
 */
struct lr_payload_header {
	__be32 magic;
	__be16 stream_id;
	__be32 sequence;
	__be64 tx_timestamp_ns; /* CLOCK_MONOTONIC at the sender */
} __attribute__((packed));

#define LR_PAYLOAD_HEADER_LEN 18

/* Per-stream, per-CPU counters, indexed by stream id. */
struct lr_stream_counters {
	__u64 frames;
	__u64 bytes;
};

/* Per-CPU totals for what the program saw but did not count under a stream. */
struct lr_rx_totals {
	/* Frames that carried the magic but a stream id beyond the map. */
	__u64 frames_unknown_stream;
	/* Frames passed to the stack because they were not linerate's. */
	__u64 frames_passed;
};

#endif /* LINERATE_ABI_H */
