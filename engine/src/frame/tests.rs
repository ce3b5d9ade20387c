//! Frames from the generator are what the spec says: they parse with
//! etherparse, their checksums verify, swept fields follow their sweeps,
//! sizes follow the size rule, patterns fill the payload.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use etherparse::{NetSlice, SlicedPacket, TransportSlice};
use proptest::prelude::*;

use super::*;
use crate::wire::{MacAddr, PayloadHeader};

const SRC_MAC: MacAddr = MacAddr([0x00, 0x01, 0x00, 0x00, 0x00, 0x00]);
const DST_MAC: MacAddr = MacAddr([0x02, 0x4c, 0x52, 0, 0, 0x0b]);

/// What one frame carries, as etherparse read it.
#[derive(Debug, Clone, PartialEq)]
struct Parsed {
    len: usize,
    src_mac: MacAddr,
    dst_mac: MacAddr,
    vlan: Option<(u16, u8)>,
    src_ip: IpAddr,
    dst_ip: IpAddr,
    src_port: u16,
    dst_port: u16,
    stream_id: u32,
    sequence: u32,
    timestamp: u64,
    pattern: Vec<u8>,
}

impl Parsed {
    fn field(&self, field: SweepField) -> u128 {
        let ip = |address: IpAddr| match address {
            IpAddr::V4(v4) => u128::from(u32::from(v4)),
            IpAddr::V6(v6) => u128::from(v6),
        };
        match field {
            SweepField::SrcMac => mac_to_u128(self.src_mac),
            SweepField::DstMac => mac_to_u128(self.dst_mac),
            SweepField::SrcIp => ip(self.src_ip),
            SweepField::DstIp => ip(self.dst_ip),
            SweepField::SrcPort => u128::from(self.src_port),
            SweepField::DstPort => u128::from(self.dst_port),
            SweepField::VlanId => u128::from(self.vlan.map(|(id, _)| id).unwrap_or(u16::MAX)),
        }
    }
}

/// Parses with etherparse and checks both checksums against etherparse's
/// own computation; panics with the reason otherwise.
fn parse_and_verify(frame: &[u8]) -> Parsed {
    let packet = SlicedPacket::from_ethernet(frame).expect("etherparse parses the frame");
    let Some(etherparse::LinkSlice::Ethernet2(ethernet)) = &packet.link else {
        panic!("not Ethernet II")
    };
    let vlan = packet.vlan().map(|vlan| match vlan {
        etherparse::VlanSlice::SingleVlan(tag) => (
            tag.vlan_identifier().value(),
            tag.priority_code_point().value(),
        ),
        etherparse::VlanSlice::DoubleVlan(_) => panic!("one tag expected"),
    });
    let link_len = 14 + if vlan.is_some() { 4 } else { 0 };
    let Some(TransportSlice::Udp(udp)) = &packet.transport else {
        panic!("not UDP")
    };
    let (src_ip, dst_ip, expected_udp) = match &packet.net {
        Some(NetSlice::Ipv4(ip)) => {
            let header = ip.header().to_header();
            assert_eq!(
                ip.header().header_checksum(),
                header.calc_header_checksum(),
                "IPv4 header checksum"
            );
            assert_eq!(
                usize::from(ip.header().total_len()),
                frame.len() - link_len,
                "IPv4 total length"
            );
            let checksum = udp
                .to_header()
                .calc_checksum_ipv4(&header, udp.payload())
                .expect("computes");
            (
                IpAddr::V4(ip.header().source_addr()),
                IpAddr::V4(ip.header().destination_addr()),
                checksum,
            )
        }
        Some(NetSlice::Ipv6(ip)) => {
            let header = ip.header().to_header();
            assert_eq!(
                usize::from(ip.header().payload_length()),
                frame.len() - link_len - 40,
                "IPv6 payload length"
            );
            let checksum = udp
                .to_header()
                .calc_checksum_ipv6(&header, udp.payload())
                .expect("computes");
            (
                IpAddr::V6(ip.header().source_addr()),
                IpAddr::V6(ip.header().destination_addr()),
                checksum,
            )
        }
        _ => panic!("not IP"),
    };
    assert_eq!(udp.checksum(), expected_udp, "UDP checksum");
    assert_eq!(
        usize::from(udp.length()),
        udp.slice().len(),
        "UDP length covers the rest of the frame"
    );
    let payload = udp.payload();
    let header = PayloadHeader::new_checked(payload).expect("payload header fits");
    assert_eq!(header.magic(), PayloadHeader::<&[u8]>::MAGIC);
    Parsed {
        len: frame.len(),
        src_mac: MacAddr(ethernet.source()),
        dst_mac: MacAddr(ethernet.destination()),
        vlan,
        src_ip,
        dst_ip,
        src_port: udp.source_port(),
        dst_port: udp.destination_port(),
        stream_id: header.stream_id(),
        sequence: header.sequence(),
        timestamp: header.tx_timestamp_ns(),
        pattern: payload[PayloadHeader::<&[u8]>::LEN..].to_vec(),
    }
}

/// The first `count` frames, each built in a reused buffer as the sender does.
fn frames(spec: &FrameSpec, count: usize) -> Vec<Parsed> {
    let mut generator = FrameGenerator::new(spec, 7).expect("generator builds");
    let mut buffer = generator.template().to_vec();
    (0..count)
        .map(|index| {
            let len = generator
                .fill(&mut buffer, index as u32, 1_000_000 + index as u64)
                .expect("fills");
            parse_and_verify(&buffer[..len])
        })
        .collect()
}

fn base_spec() -> FrameSpec {
    FrameSpec::ipv4(
        SRC_MAC,
        DST_MAC,
        Ipv4Addr::new(10, 26, 0, 1),
        Ipv4Addr::new(10, 27, 0, 1),
        (9000, 9001),
        128,
    )
}

#[test]
fn template_is_a_valid_first_frame() {
    let generator = FrameGenerator::new(&base_spec(), 3).expect("builds");
    let parsed = parse_and_verify(generator.template());
    assert_eq!((parsed.len, parsed.stream_id, parsed.sequence), (128, 3, 0));
}

#[test]
fn fixed_frames_carry_sequence_and_timestamp() {
    let parsed = frames(&base_spec(), 5);
    for (index, frame) in parsed.iter().enumerate() {
        assert_eq!(frame.sequence, index as u32);
        assert_eq!(frame.timestamp, 1_000_000 + index as u64);
        assert_eq!(frame.stream_id, 7);
        assert_eq!(frame.len, 128);
    }
}

#[test]
fn seed_like_macgen_sweep_wraps_after_65025() {
    // LANforge-style: source MACs from 00:01:00:00:00:00 upward (65,025),
    // source IPs 10.26.0.1 upward, in lockstep, 1514-byte frames.
    let mut spec = base_spec();
    spec.size = SizeRule::Fixed(1514);
    spec.sweeps = vec![
        Sweep {
            field: SweepField::SrcMac,
            start: mac_to_u128(SRC_MAC),
            count: 65_025,
            step: 1,
            mode: SweepMode::Increment,
        },
        Sweep {
            field: SweepField::SrcIp,
            start: u128::from(u32::from(Ipv4Addr::new(10, 26, 0, 1))),
            count: 65_025,
            step: 1,
            mode: SweepMode::Increment,
        },
    ];
    let mut generator = FrameGenerator::new(&spec, 0).expect("builds");
    let mut buffer = generator.template().to_vec();
    let mut last = None;
    for index in 0..65_026u32 {
        let len = generator.fill(&mut buffer, index, 0).expect("fills");
        if index == 0 || index == 65_024 || index == 65_025 {
            last = Some((index, parse_and_verify(&buffer[..len])));
            let (_, parsed) = last.as_ref().expect("set");
            let position = u128::from(index % 65_025);
            assert_eq!(mac_to_u128(parsed.src_mac), mac_to_u128(SRC_MAC) + position);
            assert_eq!(
                parsed.field(SweepField::SrcIp),
                u128::from(u32::from(Ipv4Addr::new(10, 26, 0, 1))) + position
            );
        }
    }
    let (_, wrapped) = last.expect("checked");
    assert_eq!(wrapped.src_mac, SRC_MAC, "frame 65,025 wraps to the start");
}

#[test]
fn product_combination_is_an_odometer() {
    let mut spec = base_spec();
    spec.combine = SweepCombine::Product;
    spec.sweeps = vec![
        Sweep {
            field: SweepField::SrcPort,
            start: 100,
            count: 3,
            step: 1,
            mode: SweepMode::Increment,
        },
        Sweep {
            field: SweepField::DstPort,
            start: 200,
            count: 2,
            step: 10,
            mode: SweepMode::Increment,
        },
    ];
    let ports: Vec<(u16, u16)> = frames(&spec, 7)
        .iter()
        .map(|f| (f.src_port, f.dst_port))
        .collect();
    assert_eq!(
        ports,
        vec![
            (100, 200),
            (101, 200),
            (102, 200),
            (100, 210),
            (101, 210),
            (102, 210),
            (100, 200)
        ]
    );
}

#[test]
fn vlan_and_ipv6_frames_are_valid() {
    let mut spec = base_spec();
    spec.vlan = Some(Vlan {
        id: 100,
        priority: 5,
    });
    spec.ip = IpHeader::V6 {
        src: "2001:db8::1".parse().expect("valid"),
        dst: "2001:db8::2".parse().expect("valid"),
        hop_limit: 64,
        traffic_class: 0,
    };
    spec.sweeps = vec![
        Sweep {
            field: SweepField::VlanId,
            start: 100,
            count: 4,
            step: 1,
            mode: SweepMode::Increment,
        },
        Sweep {
            field: SweepField::DstIp,
            start: u128::from("2001:db8::2".parse::<Ipv6Addr>().expect("valid")),
            count: 1000,
            step: 1 << 64,
            mode: SweepMode::Increment,
        },
    ];
    let parsed = frames(&spec, 6);
    let vlans: Vec<Option<(u16, u8)>> = parsed.iter().map(|f| f.vlan).collect();
    assert_eq!(
        vlans[..5],
        [
            Some((100, 5)),
            Some((101, 5)),
            Some((102, 5)),
            Some((103, 5)),
            Some((100, 5))
        ]
    );
    assert_eq!(
        parsed[1].dst_ip,
        "2001:db8:0:1::2".parse::<IpAddr>().expect("valid")
    );
}

#[test]
fn sizes_and_patterns_follow_their_rules() {
    let mut spec = base_spec();
    spec.size = SizeRule::Increment { min: 60, max: 63 };
    spec.pattern = PayloadPattern::Increasing;
    let parsed = frames(&spec, 5);
    assert_eq!(
        parsed.iter().map(|f| f.len).collect::<Vec<_>>(),
        vec![60, 61, 62, 63, 60]
    );
    assert_eq!(parsed[3].pattern, vec![0, 1, 2]);
    spec.pattern = PayloadPattern::Repeat(vec![0xde, 0xad, 0xbe, 0xef]);
    spec.size = SizeRule::Fixed(70);
    assert_eq!(
        frames(&spec, 1)[0].pattern,
        vec![0xde, 0xad, 0xbe, 0xef, 0xde, 0xad, 0xbe, 0xef, 0xde, 0xad]
    );
    spec.pattern = PayloadPattern::Decreasing;
    assert_eq!(frames(&spec, 1)[0].pattern[..3], [255, 254, 253]);
}

#[test]
fn too_small_and_vlan_less_sweeps_are_refused() {
    let mut spec = base_spec();
    spec.size = SizeRule::Fixed(59);
    assert_eq!(
        FrameGenerator::new(&spec, 0).err(),
        Some(FrameError::FrameTooSmall {
            frame_size: 59,
            minimum: 60
        })
    );
    let mut spec = base_spec();
    spec.sweeps = vec![Sweep {
        field: SweepField::VlanId,
        start: 1,
        count: 2,
        step: 1,
        mode: SweepMode::Increment,
    }];
    assert!(matches!(
        FrameGenerator::new(&spec, 0),
        Err(FrameError::NoVlanToSweep { .. })
    ));
}

// ---- property tests over random specs ----

fn field_width(field: SweepField, ipv6: bool) -> u32 {
    match field {
        SweepField::SrcMac | SweepField::DstMac => 48,
        SweepField::SrcIp | SweepField::DstIp => {
            if ipv6 {
                128
            } else {
                32
            }
        }
        SweepField::SrcPort | SweepField::DstPort => 16,
        SweepField::VlanId => 12,
    }
}

fn arbitrary_spec() -> impl Strategy<Value = FrameSpec> {
    let ipv6 = any::<bool>();
    let vlan = proptest::option::of((0u16..4000, 0u8..8));
    let size = prop_oneof![
        (0usize..1500).prop_map(|extra| (extra, None)),
        (0usize..200, 0usize..300, any::<u64>(), any::<bool>())
            .prop_map(|(low, span, seed, random)| (low, Some((span, seed, random)))),
    ];
    let pattern = prop_oneof![
        Just(PayloadPattern::Zeros),
        Just(PayloadPattern::Increasing),
        Just(PayloadPattern::Decreasing),
        any::<u64>().prop_map(|seed| PayloadPattern::Random { seed }),
        proptest::collection::vec(any::<u8>(), 1..9).prop_map(PayloadPattern::Repeat),
    ];
    let fields = proptest::sample::subsequence(
        vec![
            SweepField::SrcMac,
            SweepField::DstMac,
            SweepField::SrcIp,
            SweepField::DstIp,
            SweepField::SrcPort,
            SweepField::DstPort,
            SweepField::VlanId,
        ],
        0..4,
    );
    let sweep_params =
        proptest::collection::vec((1u64..300, 1u64..5, 0u8..3, any::<u64>(), any::<u64>()), 4);
    (
        ipv6,
        vlan,
        size,
        pattern,
        fields,
        sweep_params,
        any::<bool>(),
        any::<[u8; 4]>(),
        any::<[u8; 4]>(),
    )
        .prop_map(
            |(ipv6, vlan, size, pattern, fields, params, product, a, b)| {
                let mut spec = base_spec();
                if ipv6 {
                    spec.ip = IpHeader::V6 {
                        src: Ipv6Addr::from(u128::from(u32::from_be_bytes(a)) << 64),
                        dst: Ipv6Addr::from(u128::from(u32::from_be_bytes(b))),
                        hop_limit: 64,
                        traffic_class: 0,
                    };
                } else {
                    spec.ip = IpHeader::V4 {
                        src: Ipv4Addr::from(a),
                        dst: Ipv4Addr::from(b),
                        ttl: 64,
                        tos: 0,
                    };
                }
                spec.vlan = vlan.map(|(id, priority)| Vlan { id, priority });
                let minimum = spec.min_frame_size();
                spec.size = match size {
                    (extra, None) => SizeRule::Fixed(minimum + extra),
                    (low, Some((span, seed, random))) if random => SizeRule::Random {
                        min: minimum + low,
                        max: minimum + low + span,
                        seed,
                    },
                    (low, Some((span, _, _))) => SizeRule::Increment {
                        min: minimum + low,
                        max: minimum + low + span,
                    },
                };
                spec.pattern = pattern;
                spec.combine = if product {
                    SweepCombine::Product
                } else {
                    SweepCombine::Lockstep
                };
                spec.sweeps = fields
                    .into_iter()
                    .filter(|field| *field != SweepField::VlanId || spec.vlan.is_some())
                    .zip(params)
                    .map(|(field, (count, step, mode, seed, start))| {
                        let width = field_width(field, ipv6);
                        let span = u128::from(count - 1) * u128::from(step);
                        let max = if width == 128 {
                            u128::MAX
                        } else {
                            (1u128 << width) - 1
                        };
                        let max = if field == SweepField::VlanId {
                            4094
                        } else {
                            max
                        };
                        let mode = match mode {
                            0 => SweepMode::Increment,
                            1 => SweepMode::Decrement,
                            _ => SweepMode::Random { seed },
                        };
                        // A start that keeps every value inside the field.
                        let room = max - span;
                        let offset = match room.checked_add(1) {
                            Some(choices) => u128::from(start) % choices,
                            None => u128::from(start), // the whole 128-bit field
                        };
                        let start = if mode == SweepMode::Decrement {
                            offset + span
                        } else {
                            offset
                        };
                        Sweep {
                            field,
                            start,
                            count,
                            step: u128::from(step),
                            mode,
                        }
                    })
                    .collect();
                spec
            },
        )
}

/// The expected index of each sweep at frame `frame`, for the deterministic
/// modes; random sweeps are checked by set instead.
fn expected_position(spec: &FrameSpec, sweep_index: usize, frame: u64) -> u64 {
    let count = spec.sweeps[sweep_index].count;
    match spec.combine {
        SweepCombine::Lockstep => frame % count,
        SweepCombine::Product => {
            let inner: u64 = spec.sweeps[..sweep_index]
                .iter()
                .map(|sweep| sweep.count)
                .product();
            (frame / inner) % count
        }
    }
}

proptest! {
    // 96 cases in `make test`; PROPTEST_CASES=N runs more.
    #![proptest_config(ProptestConfig {
        cases: std::env::var("PROPTEST_CASES").ok().and_then(|cases| cases.parse().ok()).unwrap_or(96),
        ..ProptestConfig::default()
    })]

    #[test]
    fn every_frame_is_valid_and_follows_its_spec(spec in arbitrary_spec()) {
        let frame_count = 400usize;
        let parsed = frames(&spec, frame_count);
        let max_pattern = spec.size.max() - spec.min_frame_size();
        let pattern = spec.pattern.bytes(max_pattern);
        let mut sizes = Vec::new();
        for (index, frame) in parsed.iter().enumerate() {
            prop_assert!(frame.len >= spec.size.min() && frame.len <= spec.size.max());
            sizes.push(frame.len);
            prop_assert_eq!(frame.sequence, index as u32);
            prop_assert_eq!(&frame.pattern[..], &pattern[..frame.len - spec.min_frame_size()]);
            for (sweep_index, sweep) in spec.sweeps.iter().enumerate() {
                let value = frame.field(sweep.field);
                match sweep.mode {
                    SweepMode::Random { .. } => {
                        let set_index = (0..sweep.count).find(|i| sweep.value_at(*i) == value);
                        prop_assert!(set_index.is_some(), "random value {} outside the sweep", value);
                    }
                    _ => {
                        let position = expected_position(&spec, sweep_index, index as u64);
                        prop_assert_eq!(value, sweep.value_at(position), "{:?} at frame {}", sweep.field, index);
                    }
                }
            }
        }
        match spec.size {
            SizeRule::Fixed(size) => prop_assert!(sizes.iter().all(|len| *len == size)),
            SizeRule::Increment { min, max } => {
                for (index, len) in sizes.iter().enumerate() {
                    prop_assert_eq!(*len, min + index % (max - min + 1));
                }
            }
            SizeRule::Random { .. } | SizeRule::Mix(_) => {
                // Reproducible: the same spec gives the same sizes.
                let again: Vec<usize> = frames(&spec, frame_count).iter().map(|frame| frame.len).collect();
                prop_assert_eq!(sizes, again);
            }
        }
    }

    #[test]
    fn random_sweeps_cover_their_set_each_cycle(count in 1u64..500, seed in any::<u64>(), start in 0u128..1000) {
        let mut spec = base_spec();
        spec.sweeps = vec![Sweep { field: SweepField::SrcPort, start, count, step: 1, mode: SweepMode::Random { seed } }];
        let parsed = frames(&spec, count as usize);
        let mut seen: Vec<u128> = parsed.iter().map(|frame| frame.field(SweepField::SrcPort)).collect();
        seen.sort_unstable();
        let expected: Vec<u128> = (0..count).map(|i| start + u128::from(i)).collect();
        prop_assert_eq!(seen, expected);
    }
}
