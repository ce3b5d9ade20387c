// SPDX-License-Identifier: (MIT OR Apache-2.0)
/*
 * A plain AF_XDP transmit loop, the yardstick linerate's sender is compared
 * with in benches/compare.sh: the txonly loop of the kernel's xdpsock sample,
 * cut to what a sender at full rate needs. One socket on one queue, bound in
 * copy mode (what a veth offers) with need_wakeup; every UMEM frame
 * pre-written once with the same 64-byte (or larger) linerate-tagged UDP
 * frame; then batches of descriptors produced to the TX ring, a wakeup
 * (sendto) whenever the kernel asks for one, and completions reclaimed.
 * The one per-frame write is a sequence number and the batch's timestamp
 * in the payload header (12 bytes; the UDP checksum is 0, none), so that
 * the receive counter does for these frames exactly the work it does for
 * linerate's (sequence accounting and latency), not the cheaper work of
 * repeats.
 *
 * Built by benches/compare.sh:
 *   gcc -O2 -o xsk_txonly benches/xsk_txonly.c -lxdp -lbpf
 * Run (as root, in the sending namespace):
 *   xsk_txonly IFNAME QUEUE SECONDS FRAME_BYTES CPU
 * Prints the frames sent and completed on exit.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <linux/if_link.h>
#include <net/if.h>
#include <sched.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#include <endian.h>
#include <xdp/xsk.h>

#define FRAME_COUNT 4096
#define FRAME_SIZE XSK_UMEM__DEFAULT_FRAME_SIZE
#define RING_SIZE 2048
#define BATCH 64

static uint64_t monotonic_ns(void)
{
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	return (uint64_t)now.tv_sec * 1000000000ull + (uint64_t)now.tv_nsec;
}

static uint16_t ipv4_header_checksum(const uint8_t *header)
{
	uint32_t sum = 0;

	for (int i = 0; i < 20; i += 2)
		sum += (uint32_t)(header[i] << 8 | header[i + 1]);
	while (sum >> 16)
		sum = (sum & 0xFFFF) + (sum >> 16);
	return (uint16_t)~sum;
}

/*
 * lr-a to lr-b of linerate's lab: Ethernet, IPv4 198.18.0.1 -> 198.18.0.2,
 * UDP 9000 -> 9000 (checksum 0: none, allowed for IPv4), then linerate's
 * payload header: magic "LNR", stream 0 (3 bytes), sequence and timestamp 0.
 */
static void write_frame(uint8_t *frame, unsigned int size)
{
	static const uint8_t link[14] = { 0x02, 0x4c, 0x52, 0x00, 0x00, 0x0b,
					  0x02, 0x4c, 0x52, 0x00, 0x00, 0x0a, 0x08, 0x00 };
	unsigned int ip_len = size - 14, udp_len = size - 34;
	uint8_t *ip = frame + 14, *udp = frame + 34, *payload = frame + 42;
	uint16_t checksum;

	memset(frame, 0, size);
	memcpy(frame, link, sizeof(link));
	ip[0] = 0x45;
	ip[2] = ip_len >> 8;
	ip[3] = ip_len & 0xFF;
	ip[6] = 0x40; /* don't fragment */
	ip[8] = 64;
	ip[9] = 17; /* UDP */
	memcpy(ip + 12, (uint8_t[]){ 198, 18, 0, 1, 198, 18, 0, 2 }, 8);
	checksum = ipv4_header_checksum(ip);
	ip[10] = checksum >> 8;
	ip[11] = checksum & 0xFF;
	udp[0] = 9000 >> 8;
	udp[1] = 9000 & 0xFF;
	udp[2] = 9000 >> 8;
	udp[3] = 9000 & 0xFF;
	udp[4] = udp_len >> 8;
	udp[5] = udp_len & 0xFF;
	memcpy(payload, "LNR", 3); /* magic; the stream id, 0, follows in 3 bytes */
}

static int fail(const char *what, int error)
{
	fprintf(stderr, "xsk_txonly: %s: %s\n", what, strerror(error));
	return 2;
}

int main(int argc, char **argv)
{
	if (argc != 6) {
		fprintf(stderr, "usage: xsk_txonly IFNAME QUEUE SECONDS FRAME_BYTES CPU\n");
		return 2;
	}
	const char *interface = argv[1];
	unsigned int queue = (unsigned int)atoi(argv[2]);
	uint64_t seconds = (uint64_t)atoi(argv[3]);
	unsigned int size = (unsigned int)atoi(argv[4]);
	int cpu = atoi(argv[5]);

	if (size < 60 || size > FRAME_SIZE - XDP_PACKET_HEADROOM) {
		fprintf(stderr, "xsk_txonly: frame size %u outside 60..%d\n", size,
			FRAME_SIZE - XDP_PACKET_HEADROOM);
		return 2;
	}
	cpu_set_t cpus;
	CPU_ZERO(&cpus);
	CPU_SET(cpu, &cpus);
	if (sched_setaffinity(0, sizeof(cpus), &cpus))
		return fail("sched_setaffinity", errno);

	size_t umem_len = (size_t)FRAME_COUNT * FRAME_SIZE;
	void *buffer = mmap(NULL, umem_len, PROT_READ | PROT_WRITE,
			    MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);
	if (buffer == MAP_FAILED)
		return fail("mmap", errno);

	struct xsk_ring_prod fill, tx;
	struct xsk_ring_cons completion;
	struct xsk_umem *umem;
	struct xsk_umem_config umem_config = {
		.fill_size = RING_SIZE,
		.comp_size = RING_SIZE,
		.frame_size = FRAME_SIZE,
		.frame_headroom = 0,
	};
	int error = xsk_umem__create(&umem, buffer, umem_len, &fill, &completion, &umem_config);
	if (error)
		return fail("xsk_umem__create", -error);

	struct xsk_socket *socket;
	struct xsk_socket_config socket_config = {
		.rx_size = 0,
		.tx_size = RING_SIZE,
		/* Transmit only: no XDP program for receiving. */
		.libxdp_flags = XSK_LIBXDP_FLAGS__INHIBIT_PROG_LOAD,
		.xdp_flags = XDP_FLAGS_SKB_MODE,
		.bind_flags = XDP_COPY | XDP_USE_NEED_WAKEUP,
	};
	error = xsk_socket__create(&socket, interface, queue, umem, NULL, &tx, &socket_config);
	if (error)
		return fail("xsk_socket__create", -error);
	int fd = xsk_socket__fd(socket);

	for (unsigned int frame = 0; frame < FRAME_COUNT; frame++)
		write_frame((uint8_t *)buffer + (size_t)frame * FRAME_SIZE, size);

	uint64_t sent = 0, completed = 0, wakeups = 0;
	uint32_t next_frame = 0, outstanding = 0;
	uint64_t now = monotonic_ns();
	uint64_t deadline = now + seconds * 1000000000ull;
	uint32_t sequence = 0;

	for (;;) {
		uint32_t index;
		uint32_t done = xsk_ring_cons__peek(&completion, RING_SIZE, &index);

		if (done) {
			xsk_ring_cons__release(&completion, done);
			outstanding -= done;
			completed += done;
		}
		/* The clock once a batch, as a sender that stamps frames reads it. */
		now = monotonic_ns();
		if (now >= deadline)
			break;
		/* Frames are free once completed: at most FRAME_COUNT in flight. */
		uint32_t room = FRAME_COUNT - outstanding;
		uint32_t batch = room < BATCH ? room : BATCH;

		if (batch && xsk_ring_prod__reserve(&tx, batch, &index) == batch) {
			for (uint32_t i = 0; i < batch; i++) {
				struct xdp_desc *desc = xsk_ring_prod__tx_desc(&tx, index + i);

				uint8_t *header = (uint8_t *)buffer + (size_t)next_frame * FRAME_SIZE + 42;
				uint32_t sequence_be = htobe32(sequence++);
				uint64_t now_be = htobe64(now);

				/* Payload header: magic, stream id, sequence, timestamp. */
				memcpy(header + 6, &sequence_be, 4);
				memcpy(header + 10, &now_be, 8);
				desc->addr = (uint64_t)next_frame * FRAME_SIZE;
				desc->len = size;
				next_frame = (next_frame + 1) % FRAME_COUNT;
			}
			xsk_ring_prod__submit(&tx, batch);
			outstanding += batch;
			sent += batch;
		}
		if (xsk_ring_prod__needs_wakeup(&tx)) {
			sendto(fd, NULL, 0, MSG_DONTWAIT, NULL, 0);
			wakeups++;
		}
	}
	printf("sent %llu completed %llu wakeups %llu\n", (unsigned long long)sent,
	       (unsigned long long)completed, (unsigned long long)wakeups);
	xsk_socket__delete(socket);
	xsk_umem__delete(umem);
	munmap(buffer, umem_len);
	return 0;
}
