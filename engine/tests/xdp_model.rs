//! The XDP receive counter against a Rust model of it, frame by frame:
//! valid linerate frames (IPv4 and IPv6, up to two VLAN tags), the same
//! mutated and truncated, and random bytes, run through the real program
//! with BPF_PROG_TEST_RUN. The program must choose the model's action for
//! every frame (drop linerate's, pass the rest) and end with exactly the
//! model's per-stream frames, bytes, duplicates, late frames, gap frames and
//! highest sequence, and totals. Needs root.

use std::collections::HashMap;

use etherparse::PacketBuilder;
use linerate_bpf::{xdp_action, CountedFrames, RxCounter};
use linerate_engine::wire::payload::PayloadHeader;
use linerate_engine::wire::recognise::recognise;
use proptest::prelude::*;

const STREAMS: u32 = 4;

/// A linerate frame for `stream` with sequence `number`, after `tags` VLAN
/// tags (the outer one QinQ when there are two), IPv4 or IPv6.
fn linerate_frame(stream: u32, number: u32, tags: u8, ipv6: bool, extra: usize) -> Vec<u8> {
    let mut payload = vec![0u8; PayloadHeader::<&[u8]>::LEN + extra];
    let mut header = PayloadHeader::new_unchecked(&mut payload[..]);
    header.set_magic(PayloadHeader::<&[u8]>::MAGIC);
    header.set_stream_id(stream);
    header.set_sequence(number);
    header.set_tx_timestamp_ns(1);
    let ethernet = PacketBuilder::ethernet2([2, 0, 0, 0, 0, 1], [2, 0, 0, 0, 0, 2]);
    let vlan = |id: u16| etherparse::VlanId::try_new(id).expect("vlan id");
    let mut frame = Vec::new();
    macro_rules! finish {
        ($builder:expr) => {{
            let builder = $builder;
            if ipv6 {
                builder
                    .ipv6(
                        [0x20, 1, 0xd, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1],
                        [0x20, 1, 0xd, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2],
                        64,
                    )
                    .udp(9000, 9001)
                    .write(&mut frame, &payload)
            } else {
                builder
                    .ipv4([198, 18, 0, 1], [198, 18, 0, 2], 64)
                    .udp(9000, 9001)
                    .write(&mut frame, &payload)
            }
            .expect("frame builds")
        }};
    }
    match tags {
        0 => finish!(ethernet),
        1 => finish!(ethernet.single_vlan(vlan(100))),
        _ => finish!(ethernet.double_vlan(vlan(100), vlan(200))),
    }
    frame
}

/// The counter's sequence accounting, one CPU, in Rust.
#[derive(Default)]
struct ModelStream {
    frames: u64,
    bytes: u64,
    duplicates: u64,
    late: u64,
    gap_frames: u64,
    next_expected: u64,
    seen: HashMap<u64, u32>,
}

impl ModelStream {
    fn arrive(&mut self, number: u32, len: usize, window_bits: u32) {
        self.frames += 1;
        self.bytes += len as u64;
        let expected = self.next_expected;
        let mut extended = expected as i64 + i64::from(number.wrapping_sub(expected as u32) as i32);
        if extended < 0 {
            extended = i64::from(number);
        }
        let extended = extended as u64;
        let lap = ((extended >> window_bits) as u32).wrapping_add(1);
        let slot = extended & ((1 << window_bits) - 1);
        if self.seen.insert(slot, lap) == Some(lap) {
            self.duplicates += 1;
        } else if extended < expected {
            self.late += 1;
        } else {
            self.gap_frames += extended - expected;
            self.next_expected = extended + 1;
        }
    }
}

/// What a case sends: a frame and how to spoil it.
#[derive(Debug, Clone)]
enum Input {
    Linerate {
        stream: u32,
        number: u32,
        tags: u8,
        ipv6: bool,
        extra: usize,
        /// (offset, xor) applied within the first 90 bytes.
        flips: Vec<(usize, u8)>,
        cut: Option<usize>,
    },
    Random(Vec<u8>),
}

impl Input {
    fn bytes(&self) -> Vec<u8> {
        match self {
            Input::Linerate {
                stream,
                number,
                tags,
                ipv6,
                extra,
                flips,
                cut,
            } => {
                let mut frame = linerate_frame(*stream, *number, *tags, *ipv6, *extra);
                for (offset, xor) in flips {
                    let at = offset % frame.len().min(90);
                    frame[at] ^= xor;
                }
                if let Some(cut) = cut {
                    frame.truncate((*cut).max(14));
                }
                frame
            }
            Input::Random(bytes) => bytes.clone(),
        }
    }
}

fn input() -> impl Strategy<Value = Input> {
    prop_oneof![
        6 => (
            0u32..6,
            prop_oneof![0u32..48, any::<u32>()],
            0u8..3,
            any::<bool>(),
            0usize..64,
            prop::collection::vec((0usize..90, 1u8..=255), 0..2),
            prop::option::weighted(0.15, 14usize..100),
        )
            .prop_map(|(stream, number, tags, ipv6, extra, flips, cut)| Input::Linerate {
                stream,
                number,
                tags,
                ipv6,
                extra,
                flips,
                cut,
            }),
        1 => prop::collection::vec(any::<u8>(), 14..200).prop_map(Input::Random),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: std::env::var("PROPTEST_CASES").ok().and_then(|text| text.parse().ok()).unwrap_or(48),
        ..ProptestConfig::default()
    })]

    #[test]
    fn the_counter_agrees_with_the_model_frame_by_frame(inputs in prop::collection::vec(input(), 1..120)) {
        let counter = RxCounter::load(STREAMS, CountedFrames::Drop)
            .expect("load the XDP program (run the tests as root)");
        let window_bits = counter.window().trailing_zeros();
        let mut model: Vec<ModelStream> = (0..STREAMS).map(|_| ModelStream::default()).collect();
        let (mut passed, mut unknown) = (0u64, 0u64);
        for input in &inputs {
            let frame = input.bytes();
            let action = counter.test_run(&frame).expect("test run");
            match recognise(&frame) {
                Some(header) => {
                    prop_assert_eq!(action, xdp_action::DROP, "{:?} {:02x?}", input, frame);
                    match model.get_mut(header.stream_id as usize) {
                        Some(stream) => stream.arrive(header.sequence, frame.len(), window_bits),
                        None => unknown += 1,
                    }
                }
                None => {
                    prop_assert_eq!(action, xdp_action::PASS, "{:?} {:02x?}", input, frame);
                    passed += 1;
                }
            }
        }
        for (id, expected) in model.iter().enumerate() {
            let rx = counter.stream_rx(id as u32).expect("read");
            prop_assert_eq!(
                (rx.frames, rx.bytes, rx.duplicates, rx.late, rx.gap_frames, rx.next_expected),
                (expected.frames, expected.bytes, expected.duplicates, expected.late, expected.gap_frames, expected.next_expected),
                "stream {}", id
            );
        }
        let totals = counter.totals().expect("read");
        prop_assert_eq!((totals.frames_passed, totals.frames_unknown_stream), (passed, unknown));
    }
}
