//! Frames prepared per second on one core, without I/O: the sender's
//! per-frame work (swept fields, sequence number, TX timestamp, checksums
//! finished incrementally) into frames laid out as in a UMEM. Run:
//! `make bench` or `cargo bench -p linerate-benches --bench frame_stamp`.
//! Criterion's "thrpt" line is frames per second (elements/s).

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use linerate_benches::{seed_like_spec, UmemLikeBuffer};
use linerate_engine::clock::monotonic_ns;
use linerate_engine::frame::FrameGenerator;

/// Frames per measured batch, as the sender hands the kernel at once.
const BATCH: usize = 64;
/// Frames in the UMEM-like buffer the batches walk through.
const FRAMES: usize = 4096;

fn prepare_batches(c: &mut Criterion) {
    let mut group = c.benchmark_group("prepare");
    for (name, frame_size, swept) in [
        ("64B_fixed", 60usize, false),
        ("64B_3_sweeps", 60, true),
        ("1514B_3_sweeps", 1514, true),
    ] {
        let mut generator = match FrameGenerator::new(&seed_like_spec(frame_size, swept), 0) {
            Ok(generator) => generator,
            Err(error) => panic!("benchmark generator: {error}"),
        };
        let mut umem = UmemLikeBuffer::new(FRAMES);
        for index in 0..umem.frame_count() {
            umem.frame_mut(index)[..generator.max_frame_len()]
                .copy_from_slice(generator.template());
        }
        let mut next_frame = 0usize;
        let mut sequence = 0u32;
        group.throughput(Throughput::Elements(BATCH as u64));
        group.bench_function(name, |bencher| {
            bencher.iter(|| {
                let now = monotonic_ns();
                let mut bytes = 0usize;
                for _ in 0..BATCH {
                    bytes += generator
                        .fill(umem.frame_mut(next_frame), sequence, now)
                        .unwrap_or(0);
                    sequence = sequence.wrapping_add(1);
                    next_frame = (next_frame + 1) % FRAMES;
                }
                bytes
            })
        });
    }
    group.finish();
}

criterion_group!(benches, prepare_batches);
criterion_main!(benches);
