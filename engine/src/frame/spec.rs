//! What a stream's frames look like: headers, VLAN, size rule, payload
//! pattern and field sweeps, as plain validated values.

use std::net::{Ipv4Addr, Ipv6Addr};

use crate::wire::{EthernetFrame, Ipv4Packet, Ipv6Packet, MacAddr, UdpDatagram, VlanTag};

/// The IP layer of a stream's frames.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IpHeader {
    /// IPv4.
    V4 {
        /// Source address (first value when swept).
        src: Ipv4Addr,
        /// Destination address (first value when swept).
        dst: Ipv4Addr,
        /// Time to live.
        ttl: u8,
        /// DSCP and ECN byte.
        tos: u8,
    },
    /// IPv6.
    V6 {
        /// Source address (first value when swept).
        src: Ipv6Addr,
        /// Destination address (first value when swept).
        dst: Ipv6Addr,
        /// Hop limit.
        hop_limit: u8,
        /// Traffic class.
        traffic_class: u8,
    },
}

/// An 802.1Q tag.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Vlan {
    /// VLAN id, 0 to 4094 (first value when swept).
    pub id: u16,
    /// Priority code point, 0 to 7.
    pub priority: u8,
}

/// How the frame size changes from frame to frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SizeRule {
    /// Every frame this many bytes (no FCS).
    Fixed(usize),
    /// min, min+1, ... max, then min again.
    Increment {
        /// Smallest frame.
        min: usize,
        /// Largest frame.
        max: usize,
    },
    /// Uniformly random in min..=max, reproducible by seed.
    Random {
        /// Smallest frame.
        min: usize,
        /// Largest frame.
        max: usize,
        /// PRNG seed.
        seed: u64,
    },
    /// Weighted sizes (IMIX), exact over each cycle of the weights.
    Mix(super::mix::SizeMix),
}

impl SizeRule {
    /// The largest frame the rule produces.
    pub fn max(&self) -> usize {
        match *self {
            SizeRule::Fixed(size) => size,
            SizeRule::Increment { max, .. } | SizeRule::Random { max, .. } => max,
            SizeRule::Mix(mix) => mix.max(),
        }
    }

    /// The smallest frame the rule produces.
    pub fn min(&self) -> usize {
        match *self {
            SizeRule::Fixed(size) => size,
            SizeRule::Increment { min, .. } | SizeRule::Random { min, .. } => min,
            SizeRule::Mix(mix) => mix.min(),
        }
    }

    /// The average frame size (bytes without FCS), from which bit rates
    /// are turned into frame rates: a mix's weighted average, otherwise the
    /// middle of the range.
    pub fn average(&self) -> f64 {
        match *self {
            SizeRule::Mix(mix) => mix.average(),
            _ => (self.min() + self.max()) as f64 / 2.0,
        }
    }
}

/// The bytes after the payload header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PayloadPattern {
    /// All zero.
    Zeros,
    /// 0, 1, 2, ... 255, 0, ...
    Increasing,
    /// 255, 254, ... 0, 255, ...
    Decreasing,
    /// Random bytes, reproducible by seed.
    Random {
        /// PRNG seed.
        seed: u64,
    },
    /// These bytes repeated.
    Repeat(Vec<u8>),
}

impl PayloadPattern {
    /// The first `len` bytes of the pattern.
    pub fn bytes(&self, len: usize) -> Vec<u8> {
        match self {
            PayloadPattern::Zeros => vec![0; len],
            PayloadPattern::Increasing => (0..len).map(|index| index as u8).collect(),
            PayloadPattern::Decreasing => (0..len).map(|index| 255 - index as u8).collect(),
            PayloadPattern::Random { seed } => {
                let mut rng = SplitMix64::new(*seed);
                (0..len).map(|_| rng.next_u64() as u8).collect()
            }
            PayloadPattern::Repeat(unit) if unit.is_empty() => vec![0; len],
            PayloadPattern::Repeat(unit) => unit.iter().copied().cycle().take(len).collect(),
        }
    }
}

/// A header field a sweep can move.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SweepField {
    /// Source MAC.
    SrcMac,
    /// Destination MAC.
    DstMac,
    /// Source IPv4 or IPv6 address.
    SrcIp,
    /// Destination IPv4 or IPv6 address.
    DstIp,
    /// UDP source port.
    SrcPort,
    /// UDP destination port.
    DstPort,
    /// VLAN id.
    VlanId,
}

impl SweepField {
    /// The field's name in scenarios.
    pub fn name(&self) -> &'static str {
        match self {
            SweepField::SrcMac => "src_mac",
            SweepField::DstMac => "dst_mac",
            SweepField::SrcIp => "src_ip",
            SweepField::DstIp => "dst_ip",
            SweepField::SrcPort => "src_port",
            SweepField::DstPort => "dst_port",
            SweepField::VlanId => "vlan",
        }
    }
}

/// The order a sweep visits its values in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SweepMode {
    /// start, start+step, ...
    Increment,
    /// start, start−step, ...
    Decrement,
    /// Every value once per cycle, in an order fixed by the seed.
    Random {
        /// Permutation seed.
        seed: u64,
    },
}

/// One field sweep: `count` values from `start`, `step` apart.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Sweep {
    /// The field.
    pub field: SweepField,
    /// The first value, as an unsigned integer of the field's width.
    pub start: u128,
    /// How many values (at least 1).
    pub count: u64,
    /// Distance between values (at least 1).
    pub step: u128,
    /// Visiting order.
    pub mode: SweepMode,
}

impl Sweep {
    /// The value at position `index` (0..count) of the sweep's value set,
    /// before the mode's ordering: start ± index × step.
    pub fn value_at(&self, index: u64) -> u128 {
        let offset = self.step.wrapping_mul(u128::from(index));
        match self.mode {
            SweepMode::Decrement => self.start.wrapping_sub(offset),
            SweepMode::Increment | SweepMode::Random { .. } => self.start.wrapping_add(offset),
        }
    }
}

/// How several sweeps of one stream move together.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SweepCombine {
    /// All advance every frame, each wrapping on its own count.
    #[default]
    Lockstep,
    /// The first advances every frame; each next one when the one before wraps.
    Product,
}

/// Everything about one stream's frames.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FrameSpec {
    /// Source MAC (first value when swept).
    pub src_mac: MacAddr,
    /// Destination MAC (first value when swept).
    pub dst_mac: MacAddr,
    /// Optional 802.1Q tag.
    pub vlan: Option<Vlan>,
    /// IPv4 or IPv6.
    pub ip: IpHeader,
    /// UDP source port (first value when swept).
    pub src_port: u16,
    /// UDP destination port (first value when swept).
    pub dst_port: u16,
    /// Frame sizes (no FCS).
    pub size: SizeRule,
    /// Payload after the linerate header.
    pub pattern: PayloadPattern,
    /// Field sweeps.
    pub sweeps: Vec<Sweep>,
    /// How the sweeps combine.
    pub combine: SweepCombine,
}

impl FrameSpec {
    /// A fixed-size IPv4 frame with no VLAN, zero payload and no sweeps.
    pub fn ipv4(
        src_mac: MacAddr,
        dst_mac: MacAddr,
        src: Ipv4Addr,
        dst: Ipv4Addr,
        ports: (u16, u16),
        size: usize,
    ) -> FrameSpec {
        FrameSpec {
            src_mac,
            dst_mac,
            vlan: None,
            ip: IpHeader::V4 {
                src,
                dst,
                ttl: 64,
                tos: 0,
            },
            src_port: ports.0,
            dst_port: ports.1,
            size: SizeRule::Fixed(size),
            pattern: PayloadPattern::Zeros,
            sweeps: Vec::new(),
            combine: SweepCombine::Lockstep,
        }
    }

    /// Bytes before the IP header: Ethernet and the VLAN tag if any.
    pub fn link_header_len(&self) -> usize {
        EthernetFrame::<&[u8]>::HEADER_LEN
            + if self.vlan.is_some() {
                VlanTag::<&[u8]>::LEN
            } else {
                0
            }
    }

    /// Bytes of headers before the linerate payload header.
    pub fn headers_len(&self) -> usize {
        let ip = match self.ip {
            IpHeader::V4 { .. } => Ipv4Packet::<&[u8]>::HEADER_LEN,
            IpHeader::V6 { .. } => Ipv6Packet::<&[u8]>::HEADER_LEN,
        };
        self.link_header_len() + ip + UdpDatagram::<&[u8]>::HEADER_LEN
    }

    /// The MTU the largest frame needs: its size less the link header.
    pub fn mtu_needed(&self) -> usize {
        self.size.max() - self.link_header_len()
    }

    /// The smallest frame these headers allow: headers plus the payload header.
    pub fn min_frame_size(&self) -> usize {
        self.headers_len() + crate::wire::PayloadHeader::<&[u8]>::LEN
    }
}

/// SplitMix64: a small, fast, seedable generator for reproducible
/// patterns and sizes (not for anything that needs to be unpredictable).
#[derive(Debug, Clone)]
pub struct SplitMix64 {
    state: u64,
}

impl SplitMix64 {
    /// A generator that starts from `seed`.
    pub fn new(seed: u64) -> Self {
        SplitMix64 { state: seed }
    }

    /// The next value.
    #[inline]
    pub fn next_u64(&mut self) -> u64 {
        self.state = self.state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.state;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
}
