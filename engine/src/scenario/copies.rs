//! Many streams from one stream table: `count = N` makes N copies of the
//! table; copy k is named from the table's `name` (its `{index}` or
//! `{index:04}` replaced by k, or `-k` appended when it has neither) and has
//! every field in `step = { src_port = 1, src_ip = 1 }` moved on by k times
//! its step. Each copy is a stream of its own: its own id, sequence numbers
//! and counters (unlike a sweep, which varies fields inside one stream).

use crate::frame::{mac_to_u128, FrameSpec, IpHeader, SweepField};
use crate::wire::vlan::MAX_VLAN_ID;
use crate::wire::MacAddr;

/// One field a table's copies step: copy k has the field's value plus k
/// times `step`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct FieldStep {
    /// The field.
    pub field: SweepField,
    /// How far each copy moves it (negative: down).
    pub step: i64,
}

/// The field a `step` key names, or `None` for a key that cannot be stepped.
pub(crate) fn step_field(key: &str) -> Option<SweepField> {
    Some(match key {
        "src_mac" => SweepField::SrcMac,
        "dst_mac" => SweepField::DstMac,
        "src_ip" => SweepField::SrcIp,
        "dst_ip" => SweepField::DstIp,
        "src_port" => SweepField::SrcPort,
        "dst_port" => SweepField::DstPort,
        "vlan" => SweepField::VlanId,
        _ => return None,
    })
}

/// The name of copy `index` of `count`: `{index}` and `{index:0N}` in
/// `template` are replaced by the index (zero-padded to N digits); a
/// template without either gets `-index` appended, padded to the width of
/// the largest index so that names sort in order.
pub(crate) fn copy_name(template: &str, index: u64, count: u64) -> String {
    if let Some(start) = template.find("{index") {
        let rest = &template[start + "{index".len()..];
        if let Some(close) = rest.find('}') {
            let spec = &rest[..close];
            let width = spec
                .strip_prefix(":0")
                .and_then(|digits| digits.parse::<usize>().ok());
            if spec.is_empty() || width.is_some() {
                let number = format!("{index:0width$}", width = width.unwrap_or(0));
                let after = &rest[close + 1..];
                return format!("{}{number}{}", &template[..start], after);
            }
        }
    }
    let width = count.saturating_sub(1).max(1).to_string().len();
    format!("{template}-{index:0width$}")
}

/// True when `template` has an `{index...}` placeholder `copy_name` fills.
pub(crate) fn has_placeholder(template: &str) -> bool {
    copy_name(template, 0, 1) != format!("{template}-0")
}

/// Moves every stepped field of `spec` on to copy `index`. The error names
/// the field and says what went out of range.
pub(crate) fn apply_steps(
    spec: &mut FrameSpec,
    steps: &[FieldStep],
    index: u64,
) -> Result<(), (SweepField, String)> {
    for step in steps {
        let (value, max) = field_value(spec, step.field).ok_or_else(|| {
            (
                step.field,
                "the stream has no vlan to step: give it vlan = ...".to_string(),
            )
        })?;
        let moved = i128::from(step.step)
            .checked_mul(i128::from(index))
            .and_then(|offset| i128::try_from(value).ok().map(|value| (value, offset)))
            .and_then(|(value, offset)| value.checked_add(offset));
        let new_value = match moved {
            Some(moved) if moved >= 0 && moved as u128 <= max => moved as u128,
            _ => {
                return Err((
                    step.field,
                    format!(
                        "copy {index}: {} would leave its range (0 to {max}); use a smaller step or count",
                        step.field.name()
                    ),
                ))
            }
        };
        set_field(spec, step.field, new_value);
    }
    Ok(())
}

/// A field's value as an unsigned integer, and its largest value; `None`
/// for a VLAN id on an untagged stream.
fn field_value(spec: &FrameSpec, field: SweepField) -> Option<(u128, u128)> {
    let mac_max = (1u128 << 48) - 1;
    Some(match (field, &spec.ip) {
        (SweepField::SrcMac, _) => (mac_to_u128(spec.src_mac), mac_max),
        (SweepField::DstMac, _) => (mac_to_u128(spec.dst_mac), mac_max),
        (SweepField::SrcIp, IpHeader::V4 { src, .. }) => (u32::from(*src).into(), u32::MAX.into()),
        (SweepField::DstIp, IpHeader::V4 { dst, .. }) => (u32::from(*dst).into(), u32::MAX.into()),
        (SweepField::SrcIp, IpHeader::V6 { src, .. }) => (u128::from(*src), u128::MAX),
        (SweepField::DstIp, IpHeader::V6 { dst, .. }) => (u128::from(*dst), u128::MAX),
        (SweepField::SrcPort, _) => (spec.src_port.into(), u16::MAX.into()),
        (SweepField::DstPort, _) => (spec.dst_port.into(), u16::MAX.into()),
        (SweepField::VlanId, _) => (spec.vlan?.id.into(), MAX_VLAN_ID.into()),
    })
}

/// Sets a field from an unsigned integer already checked against its range.
fn set_field(spec: &mut FrameSpec, field: SweepField, value: u128) {
    let mac = |value: u128| {
        let bytes = value.to_be_bytes();
        let mut octets = [0u8; 6];
        octets.copy_from_slice(&bytes[10..]);
        MacAddr(octets)
    };
    match (field, &mut spec.ip) {
        (SweepField::SrcMac, _) => spec.src_mac = mac(value),
        (SweepField::DstMac, _) => spec.dst_mac = mac(value),
        (SweepField::SrcIp, IpHeader::V4 { src, .. }) => *src = (value as u32).into(),
        (SweepField::DstIp, IpHeader::V4 { dst, .. }) => *dst = (value as u32).into(),
        (SweepField::SrcIp, IpHeader::V6 { src, .. }) => *src = value.into(),
        (SweepField::DstIp, IpHeader::V6 { dst, .. }) => *dst = value.into(),
        (SweepField::SrcPort, _) => spec.src_port = value as u16,
        (SweepField::DstPort, _) => spec.dst_port = value as u16,
        (SweepField::VlanId, _) => {
            if let Some(vlan) = &mut spec.vlan {
                vlan.id = value as u16;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_fill_the_placeholder_or_get_a_padded_suffix() {
        assert_eq!(copy_name("flow{index}", 7, 1000), "flow7");
        assert_eq!(copy_name("flow-{index:04}", 7, 1000), "flow-0007");
        assert_eq!(copy_name("a{index}b", 12, 100), "a12b");
        assert_eq!(copy_name("flow", 7, 1000), "flow-007");
        assert_eq!(copy_name("flow", 0, 2), "flow-0");
        assert_eq!(copy_name("odd{index:x}", 3, 10), "odd{index:x}-3");
        assert!(has_placeholder("flow{index}"));
        assert!(has_placeholder("flow{index:05}"));
        assert!(!has_placeholder("flow"));
    }

    fn spec() -> FrameSpec {
        FrameSpec::ipv4(
            MacAddr([2, 0, 0, 0, 0, 0xff]),
            MacAddr([2, 0, 0, 0, 0, 2]),
            "10.0.0.254".parse().expect("ip"),
            "10.0.1.1".parse().expect("ip"),
            (65_000, 9000),
            60,
        )
    }

    #[test]
    fn steps_move_each_field_by_the_copy_index_across_byte_borders() {
        let mut copy = spec();
        let steps = [
            FieldStep {
                field: SweepField::SrcPort,
                step: 1,
            },
            FieldStep {
                field: SweepField::SrcIp,
                step: 1,
            },
            FieldStep {
                field: SweepField::SrcMac,
                step: 1,
            },
            FieldStep {
                field: SweepField::DstPort,
                step: -2,
            },
        ];
        apply_steps(&mut copy, &steps, 3).expect("in range");
        assert_eq!(copy.src_port, 65_003);
        assert_eq!(copy.dst_port, 8994);
        assert_eq!(copy.src_mac, MacAddr([2, 0, 0, 0, 1, 2]));
        let IpHeader::V4 { src, dst, .. } = copy.ip else {
            panic!("ipv4")
        };
        assert_eq!(src, "10.0.1.1".parse::<std::net::Ipv4Addr>().expect("ip"));
        assert_eq!(dst, "10.0.1.1".parse::<std::net::Ipv4Addr>().expect("ip"));
        let mut untouched = spec();
        apply_steps(&mut untouched, &steps, 0).expect("copy 0 is the table");
        assert_eq!(untouched, spec());
    }

    #[test]
    fn a_step_out_of_range_names_the_copy_and_the_field() {
        let mut copy = spec();
        let steps = [FieldStep {
            field: SweepField::SrcPort,
            step: 1,
        }];
        let (field, message) = apply_steps(&mut copy, &steps, 536).expect_err("past 65535");
        assert_eq!(field, SweepField::SrcPort);
        assert!(message.starts_with("copy 536: src_port"), "{message}");
        let vlan = [FieldStep {
            field: SweepField::VlanId,
            step: 1,
        }];
        let (_, message) = apply_steps(&mut spec(), &vlan, 1).expect_err("no vlan");
        assert!(message.contains("no vlan"), "{message}");
    }

    const TABLE: &str = r#"
[run]
frames = 10

[[port]]
name = "a"
interface = "lr-a"

[[port]]
name = "b"
interface = "lr-b"

[[stream]]
name = "lone"
tx = "a"
rx = "b"
src_mac = "02:4c:52:00:00:0a"
dst_mac = "02:4c:52:00:00:0b"
src_ip = "198.18.0.1"
dst_ip = "198.18.0.2"
src_port = 9000
dst_port = 9001
rate = 10

[[stream]]
name = "flow-{index:03}"
tx = "a"
rx = "b"
src_mac = "02:4c:52:00:00:0a"
dst_mac = "02:4c:52:00:00:0b"
src_ip = "198.18.0.1"
dst_ip = "198.18.0.2"
src_port = 9000
dst_port = 9001
rate = 10
count = 300
step = { src_port = 1, src_ip = 2 }
"#;

    /// The error a refused scenario gives (without printing a whole plan
    /// when it is accepted after all).
    fn refused(text: &str) -> crate::scenario::ScenarioError {
        match crate::scenario::parse(text, "copies.toml") {
            Ok(plan) => panic!("accepted, {} streams", plan.streams.len()),
            Err(error) => error,
        }
    }

    fn line_of(text: &str, needle: &str) -> usize {
        let offset = text.find(needle).expect("needle present");
        text[..offset].matches('\n').count() + 1
    }

    #[test]
    fn a_table_with_count_makes_that_many_streams_each_its_own() {
        let plan = crate::scenario::parse(TABLE, "copies.toml").expect("valid");
        assert_eq!(plan.streams.len(), 301);
        let ids: Vec<u32> = plan.streams.iter().map(|stream| stream.id).collect();
        assert_eq!(
            ids,
            (0..301).collect::<Vec<u32>>(),
            "ids in order, one per copy"
        );
        assert_eq!(plan.streams[0].name, "lone");
        assert_eq!(plan.streams[1].name, "flow-000");
        let last = &plan.streams[300];
        assert_eq!(last.name, "flow-299");
        assert_eq!(last.frame.src_port, 9000 + 299);
        assert_eq!(last.frame.dst_port, 9001, "not stepped");
        let IpHeader::V4 { src, .. } = last.frame.ip else {
            panic!("ipv4")
        };
        assert_eq!(
            src,
            std::net::Ipv4Addr::new(198, 18, 2, 87),
            "198.18.0.1 + 598"
        );
    }

    #[test]
    fn copy_errors_name_the_table_line_and_the_copy() {
        let text = TABLE.replace("count = 300", "count = 70000");
        let error = refused(&text);
        // The line of the table's [[stream]] header.
        let table = text.rfind("[[stream]]").expect("a table");
        assert_eq!(error.line, text[..table].matches('\n').count() + 1);
        assert_eq!(error.field.as_deref(), Some("stream[1].step.src_port"));
        assert!(error.message.starts_with("copy 56536: "), "{error}");

        let text = TABLE.replace("count = 300\n", "");
        let error = refused(&text);
        assert_eq!(error.field.as_deref(), Some("stream[1].step"));
        assert_eq!(error.line, line_of(&text, "step = "));

        let text = TABLE.replace("src_ip = 2", "ttl = 2");
        let error = refused(&text);
        assert_eq!(error.field.as_deref(), Some("stream[1].step.ttl"));

        let text = TABLE
            .replace("\"flow-{index:03}\"", "\"lone-{index:03}\"")
            .replace("name = \"lone\"", "name = \"lone-007\"");
        let error = refused(&text);
        assert!(error.message.contains("(copy 7)"), "{error}");

        let text = TABLE.replace("count = 300", "count = 0");
        let error = refused(&text);
        assert_eq!(error.field.as_deref(), Some("stream[1].count"));
    }
}
