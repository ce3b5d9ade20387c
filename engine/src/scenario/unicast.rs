//! No Ethernet sender may use a group (multicast or broadcast) source
//! address: a stream's `src_mac`, and every value its `src_mac` sweep
//! reaches, must have the group bit (the lowest bit of the first octet)
//! clear.

use std::ops::Range;

use super::{ScenarioError, Validator};
use crate::frame::{mac_to_u128, Sweep, SweepMode};
use crate::wire::MacAddr;

/// The group bit of a MAC held as a 48-bit number (first octet's low bit).
const GROUP_BIT: u128 = 1 << 40;
/// Sweeps with at most this many values are checked value by value.
const CHECK_EACH_UP_TO: u64 = 1 << 16;

/// True when `mac` is a group (multicast or broadcast) address.
pub fn is_group_mac(mac: MacAddr) -> bool {
    mac_to_u128(mac) & GROUP_BIT != 0
}

/// The first value of `sweep` (of a MAC field) with the group bit set, if
/// any. Exact: short sweeps are checked value by value; a long one has a
/// step below 2^32, shorter than a run of 2^40 group addresses, so it
/// cannot step over the first such run it meets.
pub fn first_group_value(sweep: &Sweep) -> Option<u128> {
    if sweep.count <= CHECK_EACH_UP_TO {
        return (0..sweep.count)
            .map(|index| sweep.value_at(index))
            .find(|value| value & GROUP_BIT != 0);
    }
    let start = sweep.start;
    if start & GROUP_BIT != 0 {
        return Some(start);
    }
    let last = sweep.value_at(sweep.count - 1);
    let step = sweep.step;
    match sweep.mode {
        SweepMode::Decrement => {
            // The run of group addresses just below the start ends here.
            let top = (start & !(2 * GROUP_BIT - 1)).checked_sub(1)?;
            let value = start.checked_sub((start - top).div_ceil(step).checked_mul(step)?)?;
            (value >= last && value & GROUP_BIT != 0).then_some(value)
        }
        SweepMode::Increment | SweepMode::Random { .. } => {
            // The next run of group addresses starts here.
            let bottom = (start | (GROUP_BIT - 1)) + 1;
            let value = start.checked_add((bottom - start).div_ceil(step).checked_mul(step)?)?;
            (value <= last && value & GROUP_BIT != 0).then_some(value)
        }
    }
}

impl Validator<'_> {
    /// Refuses a group source MAC at `span`.
    pub(super) fn unicast_source(
        &self,
        mac: MacAddr,
        span: Range<usize>,
        key: &str,
    ) -> Result<(), ScenarioError> {
        if is_group_mac(mac) {
            return Err(self.error(
                span,
                key,
                format!(
                    "{mac} is a group (multicast) address: the low bit of its first octet is set, and no Ethernet sender may use one as a source; use a unicast MAC such as 02:00:00:00:00:01"
                ),
            ));
        }
        Ok(())
    }

    /// Refuses a `src_mac` sweep that would reach a group address.
    pub(super) fn unicast_source_sweep(
        &self,
        sweep: &Sweep,
        span: Range<usize>,
        key: &str,
    ) -> Result<(), ScenarioError> {
        if let Some(value) = first_group_value(sweep) {
            let bytes = value.to_be_bytes();
            let mac = MacAddr(bytes[10..16].try_into().unwrap_or([0; 6]));
            return Err(self.error(
                span,
                key,
                format!(
                    "this src_mac sweep reaches {mac}, a group (multicast) address no Ethernet sender may use as a source; start lower, sweep fewer values or use a smaller step"
                ),
            ));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::frame::SweepField;

    fn sweep(start: u128, count: u64, step: u128, mode: SweepMode) -> Sweep {
        Sweep {
            field: SweepField::SrcMac,
            start,
            count,
            step,
            mode,
        }
    }

    #[test]
    fn group_values_are_found_in_short_and_long_sweeps() {
        let below = GROUP_BIT - 10;
        assert_eq!(
            first_group_value(&sweep(below, 10, 1, SweepMode::Increment)),
            None
        );
        assert_eq!(
            first_group_value(&sweep(below, 11, 1, SweepMode::Increment)),
            Some(GROUP_BIT)
        );
        // A long sweep: 2^20 values, step 3, starting 2^20 below the run.
        let start = GROUP_BIT - (1 << 20);
        let long = sweep(start, 1 << 20, 3, SweepMode::Increment);
        let value = first_group_value(&long).expect("reaches the group run");
        assert!(value & GROUP_BIT != 0 && (value - start) % 3 == 0);
        assert_eq!(
            first_group_value(&sweep(
                start,
                (1 << 20) / 3,
                3,
                SweepMode::Random { seed: 1 }
            )),
            None
        );
        // Decrementing from 02:00:00:00:00:05 past 01:ff:ff:ff:ff:ff.
        let two = 2 * GROUP_BIT + 5;
        assert_eq!(
            first_group_value(&sweep(two, 6, 1, SweepMode::Decrement)),
            None
        );
        assert_eq!(
            first_group_value(&sweep(two, 7, 1, SweepMode::Decrement)),
            Some(2 * GROUP_BIT - 1)
        );
        let long_down = sweep(two + (1 << 20), 1 << 21, 1, SweepMode::Decrement);
        assert_eq!(first_group_value(&long_down), Some(2 * GROUP_BIT - 1));
    }

    #[test]
    fn the_group_bit_is_the_low_bit_of_the_first_octet() {
        assert!(is_group_mac(MacAddr([0x01, 0x00, 0x5e, 0, 0, 1])));
        assert!(is_group_mac(MacAddr([0xff; 6])));
        assert!(!is_group_mac(MacAddr([0x02, 0x4c, 0x52, 0, 0, 0x0a])));
    }
}
