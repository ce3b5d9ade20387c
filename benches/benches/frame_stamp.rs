//! Frames prepared per second on one core: the sender's per-frame work
//! (sequence number, TX timestamp, incremental UDP checksum) over frames
//! laid out as in a UMEM, without I/O. Run: `make bench` or
//! `cargo bench -p linerate-benches`.

use std::net::Ipv4Addr;

use criterion::{criterion_group, criterion_main, BatchSize, Criterion, Throughput};
use linerate_benches::UmemLikeBuffer;
use linerate_engine::clock::monotonic_ns;
use linerate_engine::template::{FrameSpec, FrameTemplate};
use linerate_engine::wire::MacAddr;

/// Frames per measured batch, as the sender hands the kernel at once.
const BATCH: usize = 64;
/// Frames in the UMEM-like buffer the batches walk through.
const FRAMES: usize = 4096;

fn template(frame_size: usize) -> FrameTemplate {
    let spec = FrameSpec {
        src_mac: MacAddr([0x02, 0x4c, 0x52, 0, 0, 0x0a]),
        dst_mac: MacAddr([0x02, 0x4c, 0x52, 0, 0, 0x0b]),
        src_ip: Ipv4Addr::new(198, 18, 0, 1),
        dst_ip: Ipv4Addr::new(198, 18, 0, 2),
        src_port: 9000,
        dst_port: 9000,
        frame_size,
        ttl: 64,
    };
    match FrameTemplate::build(&spec, 0) {
        Ok(template) => template,
        Err(error) => panic!("benchmark template: {error}"),
    }
}

fn stamp_batches(c: &mut Criterion) {
    let mut group = c.benchmark_group("stamp");
    for frame_size in [60usize, 1514] {
        let template = template(frame_size);
        let mut umem = UmemLikeBuffer::new(FRAMES);
        for index in 0..umem.frame_count() {
            umem.frame_mut(index)[..template.len()].copy_from_slice(template.bytes());
        }
        let mut next_frame = 0usize;
        let mut sequence = 0u32;
        group.throughput(Throughput::Elements(BATCH as u64));
        group.bench_function(format!("{frame_size}B_batch{BATCH}"), |bencher| {
            bencher.iter_batched(
                || (),
                |()| {
                    let now = monotonic_ns();
                    for _ in 0..BATCH {
                        template.stamp(umem.frame_mut(next_frame), sequence, now);
                        sequence = sequence.wrapping_add(1);
                        next_frame = (next_frame + 1) % FRAMES;
                    }
                },
                BatchSize::SmallInput,
            )
        });
    }
    group.finish();
}

criterion_group!(benches, stamp_batches);
criterion_main!(benches);
