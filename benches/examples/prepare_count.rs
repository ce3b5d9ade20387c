//! Prepares a fixed number of frames and exits: a driver for counting the
//! instructions per frame with `valgrind --tool=callgrind`, which, unlike a
//! timing, repeats exactly whatever else the machine is doing.
//! Run: `benches/instructions_per_frame.sh`.

use linerate_benches::{seed_like_spec, UmemLikeBuffer};
use linerate_engine::frame::FrameGenerator;

fn main() {
    let mut args = std::env::args().skip(1);
    let swept = args.next().as_deref() != Some("fixed");
    let frames: usize = args
        .next()
        .and_then(|text| text.parse().ok())
        .unwrap_or(1_000_000);
    let mut generator = match FrameGenerator::new(&seed_like_spec(60, swept), 0) {
        Ok(generator) => generator,
        Err(error) => {
            eprintln!("prepare_count: {error}");
            std::process::exit(2);
        }
    };
    let mut umem = UmemLikeBuffer::new(64);
    for index in 0..umem.frame_count() {
        umem.frame_mut(index)[..generator.max_frame_len()].copy_from_slice(generator.template());
    }
    let mut bytes = 0usize;
    for index in 0..frames {
        bytes += generator
            .fill(umem.frame_mut(index % 64), index as u32, index as u64)
            .unwrap_or(0);
    }
    println!("{frames} frames, {bytes} bytes");
}
