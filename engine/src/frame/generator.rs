//! The per-stream frame generator. Built once: a template frame of the
//! largest size, the constant parts of both checksums, and the checksum of
//! every payload-pattern length. Per frame it writes only what changes
//! (swept fields, lengths when the size varies, sequence and timestamp) and
//! finishes the checksums from the constants plus the changed words
//! (RFC 1624), never summing over the frame.

use std::net::Ipv4Addr;

use super::spec::{FrameSpec, IpHeader, SizeRule, SplitMix64, Sweep, SweepCombine, SweepField};
use super::sweep::SweepCursor;
use crate::wire::checksum::{self, words_of_u128, words_of_u32};
use crate::wire::ipv4::{FLAG_DONT_FRAGMENT, PROTOCOL_UDP};
use crate::wire::{
    EtherType, EthernetFrame, Ipv4Packet, Ipv6Packet, MacAddr, PayloadHeader, Truncated,
    UdpDatagram, VlanTag,
};
use linerate_bpf::abi::payload_field;

/// Why a generator could not be built.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FrameError {
    /// The frame cannot hold the headers and the payload header.
    #[error("frame size {frame_size} is below the minimum of {minimum} bytes for these headers and the linerate payload header")]
    FrameTooSmall {
        /// The size asked for.
        frame_size: usize,
        /// The smallest that works.
        minimum: usize,
    },
    /// A sweep names a field the frame does not have.
    #[error("a {field} sweep needs a VLAN tag on the stream")]
    NoVlanToSweep {
        /// The field.
        field: &'static str,
    },
    /// A header view did not fit (a bug: sizes are checked first).
    #[error(transparent)]
    Truncated(#[from] Truncated),
}

/// Where each header starts in the frame.
#[derive(Debug, Clone, Copy)]
struct Layout {
    vlan_tag: Option<usize>,
    ip: usize,
    udp: usize,
    payload_header: usize,
    /// The sequence number, followed by the TX timestamp.
    stamp: usize,
    pattern: usize,
}

/// Frame sizes in the order the size rule gives them.
#[derive(Debug, Clone)]
enum SizeCursor {
    Fixed(usize),
    Increment {
        current: usize,
        min: usize,
        max: usize,
    },
    Random {
        current: usize,
        min: usize,
        span: u64,
        rng: SplitMix64,
    },
    Mix(super::mix::MixCursor),
}

impl SizeCursor {
    fn new(rule: SizeRule) -> SizeCursor {
        match rule {
            SizeRule::Fixed(size) => SizeCursor::Fixed(size),
            SizeRule::Increment { min, max } => SizeCursor::Increment {
                current: min,
                min,
                max,
            },
            SizeRule::Random { min, max, seed } => {
                let mut rng = SplitMix64::new(seed);
                let span = (max - min + 1) as u64;
                let current = min + (rng.next_u64() % span) as usize;
                SizeCursor::Random {
                    current,
                    min,
                    span,
                    rng,
                }
            }
            SizeRule::Mix(mix) => SizeCursor::Mix(super::mix::MixCursor::new(mix)),
        }
    }

    #[inline]
    fn current(&self) -> usize {
        match *self {
            SizeCursor::Fixed(size) => size,
            SizeCursor::Increment { current, .. } | SizeCursor::Random { current, .. } => current,
            SizeCursor::Mix(ref mix) => mix.current(),
        }
    }

    #[inline]
    fn advance(&mut self) {
        match self {
            SizeCursor::Fixed(_) => {}
            SizeCursor::Increment { current, min, max } => {
                *current = if *current >= *max { *min } else { *current + 1 };
            }
            SizeCursor::Random {
                current,
                min,
                span,
                rng,
            } => {
                *current = *min + (rng.next_u64() % *span) as usize;
            }
            SizeCursor::Mix(mix) => mix.advance(),
        }
    }
}

/// A sweep resolved, once, to the exact field it writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum SlotKind {
    SrcMac,
    DstMac,
    SrcIpv4,
    DstIpv4,
    SrcIpv6,
    DstIpv6,
    SrcPort,
    DstPort,
    VlanId,
}

impl SlotKind {
    fn new(field: SweepField, is_ipv4: bool) -> SlotKind {
        match (field, is_ipv4) {
            (SweepField::SrcMac, _) => SlotKind::SrcMac,
            (SweepField::DstMac, _) => SlotKind::DstMac,
            (SweepField::SrcIp, true) => SlotKind::SrcIpv4,
            (SweepField::DstIp, true) => SlotKind::DstIpv4,
            (SweepField::SrcIp, false) => SlotKind::SrcIpv6,
            (SweepField::DstIp, false) => SlotKind::DstIpv6,
            (SweepField::SrcPort, _) => SlotKind::SrcPort,
            (SweepField::DstPort, _) => SlotKind::DstPort,
            (SweepField::VlanId, _) => SlotKind::VlanId,
        }
    }
}

/// A swept field of up to 48 bits: its cursor and its first byte.
#[derive(Debug, Clone)]
struct NarrowField {
    cursor: SweepCursor<u64>,
    offset: usize,
}

/// A swept IPv6 address: its cursor and its first byte.
#[derive(Debug, Clone)]
struct WideField {
    cursor: SweepCursor<u128>,
    offset: usize,
}

/// Which group of [`SweptFields`] a sweep is in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum FieldGroup {
    Ports,
    Ipv4,
    Macs,
    VlanIds,
    Ipv6,
}

/// The stream's sweeps, grouped by how their fields are written so that
/// each group's loop writes one width with no dispatch per field. Writing
/// is order-free; moving on follows the scenario's order for a product.
#[derive(Debug, Clone, Default)]
struct SweptFields {
    /// UDP ports: 2 bytes, in the UDP checksum.
    ports: Vec<NarrowField>,
    /// IPv4 addresses: 4 bytes, in both checksums.
    ipv4: Vec<NarrowField>,
    /// MACs: 6 bytes, in no checksum.
    macs: Vec<NarrowField>,
    /// VLAN ids: the low 12 bits of the tag's first 16, in no checksum.
    vlan_ids: Vec<NarrowField>,
    /// IPv6 addresses: 16 bytes, in the UDP checksum.
    ipv6: Vec<WideField>,
    /// Every sweep as (group, index in it), in the scenario's order.
    order: Vec<(FieldGroup, usize)>,
}

impl SweptFields {
    fn new(sweeps: &[Sweep], layout: &Layout, is_ipv4: bool) -> SweptFields {
        let mut fields = SweptFields::default();
        for sweep in sweeps {
            let narrow = |offset| NarrowField {
                cursor: SweepCursor::new(*sweep),
                offset,
            };
            let wide = |offset| WideField {
                cursor: SweepCursor::new(*sweep),
                offset,
            };
            let (group, index) = match SlotKind::new(sweep.field, is_ipv4) {
                SlotKind::DstMac => (FieldGroup::Macs, push(&mut fields.macs, narrow(0))),
                SlotKind::SrcMac => (FieldGroup::Macs, push(&mut fields.macs, narrow(6))),
                SlotKind::SrcIpv4 => (
                    FieldGroup::Ipv4,
                    push(&mut fields.ipv4, narrow(layout.ip + 12)),
                ),
                SlotKind::DstIpv4 => (
                    FieldGroup::Ipv4,
                    push(&mut fields.ipv4, narrow(layout.ip + 16)),
                ),
                SlotKind::SrcIpv6 => (
                    FieldGroup::Ipv6,
                    push(&mut fields.ipv6, wide(layout.ip + 8)),
                ),
                SlotKind::DstIpv6 => (
                    FieldGroup::Ipv6,
                    push(&mut fields.ipv6, wide(layout.ip + 24)),
                ),
                SlotKind::SrcPort => (
                    FieldGroup::Ports,
                    push(&mut fields.ports, narrow(layout.udp)),
                ),
                SlotKind::DstPort => (
                    FieldGroup::Ports,
                    push(&mut fields.ports, narrow(layout.udp + 2)),
                ),
                SlotKind::VlanId => (
                    FieldGroup::VlanIds,
                    push(&mut fields.vlan_ids, narrow(layout.vlan_tag.unwrap_or(0))),
                ),
            };
            fields.order.push((group, index));
        }
        fields
    }

    /// Back to every sweep's first value.
    fn restart(&mut self) {
        let narrow = self
            .ports
            .iter_mut()
            .chain(&mut self.ipv4)
            .chain(&mut self.macs)
            .chain(&mut self.vlan_ids);
        for field in narrow {
            field.cursor = SweepCursor::new(*field.cursor.sweep());
        }
        for field in &mut self.ipv6 {
            field.cursor = SweepCursor::new(*field.cursor.sweep());
        }
    }

    /// Writes every swept field's current value into `frame` (which holds
    /// the header region), adds them to the IPv4 header and UDP sums they
    /// are in, and, with `lockstep`, moves each on.
    #[inline(always)]
    fn write(&mut self, frame: &mut [u8], lockstep: bool, ip_sum: &mut u64, udp_sum: &mut u64) {
        for field in &mut self.ports {
            let port = field.cursor.value() as u16;
            frame[field.offset..field.offset + 2].copy_from_slice(&port.to_be_bytes());
            *udp_sum += u64::from(port);
            if lockstep {
                field.cursor.advance();
            }
        }
        for field in &mut self.ipv4 {
            let address = field.cursor.value() as u32;
            frame[field.offset..field.offset + 4].copy_from_slice(&address.to_be_bytes());
            *ip_sum += u64::from(address);
            *udp_sum += u64::from(address);
            if lockstep {
                field.cursor.advance();
            }
        }
        for field in &mut self.macs {
            let mac = field.cursor.value().to_be_bytes();
            frame[field.offset..field.offset + 6].copy_from_slice(&mac[2..]);
            if lockstep {
                field.cursor.advance();
            }
        }
        for field in &mut self.vlan_ids {
            VlanTag::new_unchecked(&mut frame[field.offset..])
                .set_vlan_id(field.cursor.value() as u16);
            if lockstep {
                field.cursor.advance();
            }
        }
        for field in &mut self.ipv6 {
            let value = field.cursor.value();
            frame[field.offset..field.offset + 16].copy_from_slice(&value.to_be_bytes());
            *udp_sum += (value >> 96) as u64
                + ((value >> 64) as u64 & 0xFFFF_FFFF)
                + ((value >> 32) as u64 & 0xFFFF_FFFF)
                + (value as u64 & 0xFFFF_FFFF);
            if lockstep {
                field.cursor.advance();
            }
        }
    }

    /// Moves the sweeps on as an odometer: each moves when the one before
    /// it (in the scenario's order) wraps.
    fn advance_product(&mut self) {
        for &(group, index) in &self.order {
            let wrapped = match group {
                FieldGroup::Ports => self.ports.get_mut(index).map(|f| f.cursor.advance()),
                FieldGroup::Ipv4 => self.ipv4.get_mut(index).map(|f| f.cursor.advance()),
                FieldGroup::Macs => self.macs.get_mut(index).map(|f| f.cursor.advance()),
                FieldGroup::VlanIds => self.vlan_ids.get_mut(index).map(|f| f.cursor.advance()),
                FieldGroup::Ipv6 => self.ipv6.get_mut(index).map(|f| f.cursor.advance()),
            };
            if wrapped != Some(true) {
                break;
            }
        }
    }
}

/// Pushes `item` and returns its index.
fn push<T>(items: &mut Vec<T>, item: T) -> usize {
    items.push(item);
    items.len() - 1
}

/// Makes one stream's frames.
#[derive(Debug, Clone)]
pub struct FrameGenerator {
    template: Vec<u8>,
    layout: Layout,
    is_ipv4: bool,
    sweeps: SweptFields,
    /// False when the stream has no sweep.
    has_sweeps: bool,
    /// True when the sweeps combine in lockstep, false for a product.
    lockstep: bool,
    size: SizeCursor,
    size_rule: SizeRule,
    /// The frame length when it never changes.
    fixed_len: Option<usize>,
    /// False when the IPv4 header never changes (fixed size, no IP sweep):
    /// its checksum is then the template's.
    ip_checksum_varies: bool,
    /// IPv4 header words but total length, checksum and swept addresses
    /// (with the total length when the size is fixed).
    ip_constant_sum: u32,
    /// Pseudo-header, UDP header and payload header words but lengths,
    /// checksum, swept fields, sequence and timestamp.
    udp_constant_sum: u32,
    /// Folded sum of the first n pattern bytes, for every n.
    pattern_prefix_sums: Vec<u32>,
}

impl FrameGenerator {
    /// Builds the generator for `spec`, tagging frames with `stream_id`.
    pub fn new(spec: &FrameSpec, stream_id: u32) -> Result<FrameGenerator, FrameError> {
        let minimum = spec.min_frame_size();
        if spec.size.min() < minimum {
            return Err(FrameError::FrameTooSmall {
                frame_size: spec.size.min(),
                minimum,
            });
        }
        let has_sweep = |field| spec.sweeps.iter().any(|sweep| sweep.field == field);
        if has_sweep(SweepField::VlanId) && spec.vlan.is_none() {
            return Err(FrameError::NoVlanToSweep { field: "vlan" });
        }
        let layout = Layout::of(spec);
        let is_ipv4 = matches!(spec.ip, IpHeader::V4 { .. });
        let pattern = layout.pattern;

        let max_size = spec.size.max();
        let mut template = vec![0u8; max_size];
        write_constant_headers(&mut template, spec, &layout, stream_id)?;
        let pattern_bytes = spec.pattern.bytes(max_size - pattern);
        template[pattern..].copy_from_slice(&pattern_bytes);

        let (ip_constant_sum, udp_constant_sum) = constant_sums(spec, &layout, &template)?;
        let pattern_prefix_sums = pattern_prefix_sums(&pattern_bytes);

        // A fixed size never changes its lengths or how much pattern is
        // sent: those words join the constants, and the lengths stay as the
        // template has them.
        let fixed_len = match spec.size {
            SizeRule::Fixed(len) => Some(len),
            _ => None,
        };
        let (ip_constant_sum, udp_constant_sum) = match fixed_len {
            Some(len) => {
                let udp_len = (len - layout.udp) as u32;
                let ip_len = if is_ipv4 { (len - layout.ip) as u32 } else { 0 };
                let pattern_sum = pattern_prefix_sums[len - pattern];
                (
                    ip_constant_sum + ip_len,
                    udp_constant_sum + 2 * udp_len + pattern_sum,
                )
            }
            None => (ip_constant_sum, udp_constant_sum),
        };

        let ip_checksum_varies = is_ipv4
            && (fixed_len.is_none()
                || has_sweep(SweepField::SrcIp)
                || has_sweep(SweepField::DstIp));
        let size = SizeCursor::new(spec.size);
        write_lengths(&mut template, &layout, is_ipv4, size.current());
        let mut generator = FrameGenerator {
            fixed_len,
            // The first frame always gets its checksum written.
            ip_checksum_varies: is_ipv4,
            template,
            layout,
            is_ipv4,
            sweeps: SweptFields::new(&spec.sweeps, &layout, is_ipv4),
            has_sweeps: !spec.sweeps.is_empty(),
            lockstep: spec.combine == SweepCombine::Lockstep,
            size,
            size_rule: spec.size,
            ip_constant_sum,
            udp_constant_sum,
            pattern_prefix_sums,
        };
        // The template itself is a valid first frame, lengths included.
        let mut first = generator.template.clone();
        generator.fill(&mut first, 0, 0)?;
        generator.reset();
        generator.ip_checksum_varies = ip_checksum_varies;
        generator.template = first;
        Ok(generator)
    }

    /// The template: the largest frame, with the first frame's field values.
    /// Every buffer handed to [`FrameGenerator::fill`] must start as a copy.
    pub fn template(&self) -> &[u8] {
        &self.template
    }

    /// The largest frame this generator makes.
    pub fn max_frame_len(&self) -> usize {
        self.template.len()
    }

    /// The length the next frame will have.
    #[inline]
    pub fn next_frame_len(&self) -> usize {
        self.size.current()
    }

    /// Bytes at the start of every frame that [`FrameGenerator::fill`]
    /// writes: the headers and the payload header. The payload pattern after
    /// them never changes.
    pub fn header_region_len(&self) -> usize {
        self.layout.pattern
    }

    /// Writes the next frame into `frame` (a buffer that started as a copy of
    /// the template and has only been written by this method since), stamped
    /// with `sequence` and `tx_timestamp_ns`, and moves on. Returns the
    /// frame's length. Only the first [`FrameGenerator::header_region_len`]
    /// bytes are written, so `frame` may be just that part of a frame whose
    /// pattern lies elsewhere (the later buffers of a jumbo frame).
    #[inline]
    pub fn fill(
        &mut self,
        frame: &mut [u8],
        sequence: u32,
        tx_timestamp_ns: u64,
    ) -> Result<usize, Truncated> {
        if frame.len() < self.layout.pattern {
            return Err(Truncated {
                header: "frame headers",
                needed: self.layout.pattern,
                available: frame.len(),
            });
        }
        Ok(self.fill_checked(frame, sequence, tx_timestamp_ns))
    }

    /// The per-frame work, on a buffer already known to hold the header
    /// region.
    #[inline]
    fn fill_checked(&mut self, frame: &mut [u8], sequence: u32, tx_timestamp_ns: u64) -> usize {
        let layout = self.layout;
        // Deferred carries: whole 32- and 64-bit quantities are added to u64
        // accumulators and folded once at the end.
        let mut ip_sum = u64::from(self.ip_constant_sum);
        let mut udp_sum = u64::from(self.udp_constant_sum);
        let len = match self.fixed_len {
            Some(len) => len,
            None => {
                let len = self.size.current();
                write_lengths(frame, &layout, self.is_ipv4, len);
                if self.is_ipv4 {
                    ip_sum += (len - layout.ip) as u64;
                }
                // The UDP length counts twice: in the pseudo-header and the header.
                let udp_len = (len - layout.udp) as u64;
                udp_sum += 2 * udp_len + u64::from(self.pattern_prefix_sums[len - layout.pattern]);
                self.size.advance();
                len
            }
        };

        if self.has_sweeps {
            // Lockstep sweeps move on as they are written: one pass.
            self.sweeps
                .write(frame, self.lockstep, &mut ip_sum, &mut udp_sum);
            if !self.lockstep {
                self.sweeps.advance_product();
            }
        }

        // Sequence and timestamp are adjacent: one 12-byte write.
        let mut stamp = [0u8; STAMP_LEN];
        stamp[..4].copy_from_slice(&sequence.to_be_bytes());
        stamp[4..].copy_from_slice(&tx_timestamp_ns.to_be_bytes());
        frame[layout.stamp..layout.stamp + STAMP_LEN].copy_from_slice(&stamp);
        udp_sum += u64::from(sequence) + (tx_timestamp_ns >> 32) + (tx_timestamp_ns & 0xFFFF_FFFF);
        if self.ip_checksum_varies {
            Ipv4Packet::new_unchecked(&mut frame[layout.ip..])
                .set_checksum(!checksum::fold_u64_sum(ip_sum));
        }
        UdpDatagram::new_unchecked(&mut frame[layout.udp..])
            .set_checksum(checksum::udp_wire_value(!checksum::fold_u64_sum(udp_sum)));
        len
    }

    /// Back to the first frame: sweeps and sizes start over.
    fn reset(&mut self) {
        self.sweeps.restart();
        self.size = SizeCursor::new(self.size_rule);
    }
}

impl Layout {
    /// Where each header of `spec`'s frames starts.
    fn of(spec: &FrameSpec) -> Layout {
        let ethernet_len = EthernetFrame::<&[u8]>::HEADER_LEN;
        let vlan_tag = spec.vlan.map(|_| ethernet_len);
        let ip = ethernet_len + vlan_tag.map(|_| VlanTag::<&[u8]>::LEN).unwrap_or(0);
        let udp = ip
            + match spec.ip {
                IpHeader::V4 { .. } => Ipv4Packet::<&[u8]>::HEADER_LEN,
                IpHeader::V6 { .. } => Ipv6Packet::<&[u8]>::HEADER_LEN,
            };
        let payload_header = udp + UdpDatagram::<&[u8]>::HEADER_LEN;
        Layout {
            vlan_tag,
            ip,
            udp,
            payload_header,
            stamp: payload_header + payload_field::SEQUENCE.start,
            pattern: payload_header + PayloadHeader::<&[u8]>::LEN,
        }
    }
}

/// The constant parts of the IPv4 header sum and the UDP sum: every word
/// of `template` but lengths, checksums, swept fields, sequence and
/// timestamp (which are zero in the template or left out here).
fn constant_sums(
    spec: &FrameSpec,
    layout: &Layout,
    template: &[u8],
) -> Result<(u32, u32), Truncated> {
    let has_sweep = |field| spec.sweeps.iter().any(|sweep: &Sweep| sweep.field == field);
    let ip_constant_sum = if matches!(spec.ip, IpHeader::V4 { .. }) {
        let mut header = template[layout.ip..layout.udp].to_vec();
        let mut view = Ipv4Packet::new_checked(&mut header[..])?;
        view.set_total_len(0);
        view.set_checksum(0);
        if has_sweep(SweepField::SrcIp) {
            view.set_source(Ipv4Addr::UNSPECIFIED);
        }
        if has_sweep(SweepField::DstIp) {
            view.set_destination(Ipv4Addr::UNSPECIFIED);
        }
        checksum::sum_words(0, &header)
    } else {
        0
    };
    let mut udp_constant_sum = u32::from(PROTOCOL_UDP);
    match spec.ip {
        IpHeader::V4 { src, dst, .. } => {
            if !has_sweep(SweepField::SrcIp) {
                udp_constant_sum += words_of_u32(src.into());
            }
            if !has_sweep(SweepField::DstIp) {
                udp_constant_sum += words_of_u32(dst.into());
            }
        }
        IpHeader::V6 { src, dst, .. } => {
            if !has_sweep(SweepField::SrcIp) {
                udp_constant_sum += words_of_u128(src.into());
            }
            if !has_sweep(SweepField::DstIp) {
                udp_constant_sum += words_of_u128(dst.into());
            }
        }
    }
    if !has_sweep(SweepField::SrcPort) {
        udp_constant_sum += u32::from(spec.src_port);
    }
    if !has_sweep(SweepField::DstPort) {
        udp_constant_sum += u32::from(spec.dst_port);
    }
    // Magic and stream id: the payload header with sequence and timestamp
    // still zero.
    udp_constant_sum += checksum::sum_words(0, &template[layout.payload_header..layout.pattern]);
    Ok((ip_constant_sum, udp_constant_sum))
}

/// Folded sum of the first n bytes of `pattern_bytes` (which start on a
/// 16-bit boundary of the UDP data), for every n from 0.
fn pattern_prefix_sums(pattern_bytes: &[u8]) -> Vec<u32> {
    let mut sums = Vec::with_capacity(pattern_bytes.len() + 1);
    let mut running = 0u32;
    sums.push(0);
    for (index, byte) in pattern_bytes.iter().enumerate() {
        running += if index % 2 == 0 {
            u32::from(*byte) << 8
        } else {
            u32::from(*byte)
        };
        running = u32::from(checksum::fold(running));
        sums.push(running);
    }
    sums
}

/// Bytes of sequence number and TX timestamp, adjacent in the payload header.
const STAMP_LEN: usize = 12;
const _: () = assert!(
    payload_field::SEQUENCE.end == payload_field::TX_TIMESTAMP.start
        && payload_field::TX_TIMESTAMP.end - payload_field::SEQUENCE.start == STAMP_LEN
);

/// Writes the IP and UDP length fields for a frame of `len` bytes.
#[inline]
fn write_lengths(frame: &mut [u8], layout: &Layout, is_ipv4: bool, len: usize) {
    let udp_len = (len - layout.udp) as u16;
    if is_ipv4 {
        Ipv4Packet::new_unchecked(&mut frame[layout.ip..]).set_total_len((len - layout.ip) as u16);
    } else {
        Ipv6Packet::new_unchecked(&mut frame[layout.ip..]).set_payload_len(udp_len);
    }
    UdpDatagram::new_unchecked(&mut frame[layout.udp..]).set_length(udp_len);
}

/// The MAC address as a 48-bit number, for sweeps.
pub fn mac_to_u128(mac: MacAddr) -> u128 {
    mac.0
        .iter()
        .fold(0u128, |value, byte| (value << 8) | u128::from(*byte))
}

/// Writes everything that does not change from frame to frame, plus the
/// first values of fields that do.
fn write_constant_headers(
    frame: &mut [u8],
    spec: &FrameSpec,
    layout: &Layout,
    stream_id: u32,
) -> Result<(), Truncated> {
    let ip_ether_type = match spec.ip {
        IpHeader::V4 { .. } => EtherType::IPV4,
        IpHeader::V6 { .. } => EtherType::IPV6,
    };
    let mut ethernet = EthernetFrame::new_checked(&mut frame[..])?;
    ethernet.set_destination(spec.dst_mac);
    ethernet.set_source(spec.src_mac);
    match (spec.vlan, layout.vlan_tag) {
        (Some(vlan), Some(offset)) => {
            ethernet.set_ether_type(EtherType::VLAN);
            let mut tag = VlanTag::new_checked(&mut frame[offset..])?;
            tag.set_priority(vlan.priority);
            tag.set_vlan_id(vlan.id);
            tag.set_ether_type(ip_ether_type);
        }
        _ => ethernet.set_ether_type(ip_ether_type),
    }
    match spec.ip {
        IpHeader::V4 { src, dst, ttl, tos } => {
            let mut ip = Ipv4Packet::new_checked(&mut frame[layout.ip..])?;
            ip.set_version_and_header_len(Ipv4Packet::<&[u8]>::HEADER_LEN);
            ip.set_dscp_ecn(tos);
            ip.set_flags_fragment(FLAG_DONT_FRAGMENT);
            ip.set_ttl(ttl);
            ip.set_protocol(PROTOCOL_UDP);
            ip.set_source(src);
            ip.set_destination(dst);
        }
        IpHeader::V6 {
            src,
            dst,
            hop_limit,
            traffic_class,
        } => {
            let mut ip = Ipv6Packet::new_checked(&mut frame[layout.ip..])?;
            ip.set_version_and_class(traffic_class);
            ip.set_next_header(PROTOCOL_UDP);
            ip.set_hop_limit(hop_limit);
            ip.set_source(src);
            ip.set_destination(dst);
        }
    }
    let mut udp = UdpDatagram::new_checked(&mut frame[layout.udp..])?;
    udp.set_source_port(spec.src_port);
    udp.set_destination_port(spec.dst_port);
    let mut header = PayloadHeader::new_checked(&mut frame[layout.payload_header..])?;
    header.set_magic(PayloadHeader::<&[u8]>::MAGIC);
    header.set_stream_id(stream_id);
    Ok(())
}
