//! Helpers shared by linerate's benchmarks: a buffer laid out like an
//! AF_XDP UMEM, so that frame preparation is measured against the same
//! memory layout and cache behaviour as the sender, without I/O, and the
//! frame specs the benchmarks prepare.

use std::net::Ipv4Addr;

use linerate_engine::frame::{mac_to_u128, FrameSpec, Sweep, SweepField, SweepMode};
use linerate_engine::wire::MacAddr;

/// A 60-byte (64 on the wire) or larger IPv4/UDP frame; with `swept`, the
/// seed's LANforge sweep: source MAC (65,025 values), source IP (64,516) in
/// increment mode, and destination IP (64,516) in seeded random order.
pub fn seed_like_spec(frame_size: usize, swept: bool) -> FrameSpec {
    let src_mac = MacAddr([0x00, 0x01, 0x00, 0x00, 0x00, 0x00]);
    let src_ip = Ipv4Addr::new(10, 26, 0, 1);
    let dst_ip = Ipv4Addr::new(10, 27, 0, 1);
    let dst_mac = MacAddr([0x02, 0x4c, 0x52, 0, 0, 0x0b]);
    let mut spec = FrameSpec::ipv4(src_mac, dst_mac, src_ip, dst_ip, (9000, 9000), frame_size);
    if swept {
        spec.sweeps = vec![
            Sweep {
                field: SweepField::SrcMac,
                start: mac_to_u128(src_mac),
                count: 65_025,
                step: 1,
                mode: SweepMode::Increment,
            },
            Sweep {
                field: SweepField::SrcIp,
                start: u128::from(u32::from(src_ip)),
                count: 64_516,
                step: 1,
                mode: SweepMode::Increment,
            },
            Sweep {
                field: SweepField::DstIp,
                start: u128::from(u32::from(dst_ip)),
                count: 64_516,
                step: 1,
                mode: SweepMode::Random { seed: 7 },
            },
        ];
    }
    spec
}

/// A UMEM-like region: `frame_count` frames of `frame_size` bytes each,
/// page aligned as an mmap'd UMEM is.
#[derive(Debug)]
pub struct UmemLikeBuffer {
    frames: Vec<AlignedFrame>,
}

#[repr(C, align(4096))]
#[derive(Debug, Clone)]
struct AlignedFrame([u8; 4096]);

impl UmemLikeBuffer {
    /// Frame size in bytes (one page, as the sender's UMEM uses).
    pub const FRAME_SIZE: usize = 4096;

    /// `frame_count` zeroed frames.
    pub fn new(frame_count: usize) -> Self {
        UmemLikeBuffer {
            frames: vec![AlignedFrame([0; 4096]); frame_count],
        }
    }

    /// Number of frames.
    pub fn frame_count(&self) -> usize {
        self.frames.len()
    }

    /// Writable bytes of frame `index`.
    pub fn frame_mut(&mut self, index: usize) -> &mut [u8] {
        &mut self.frames[index].0
    }
}
