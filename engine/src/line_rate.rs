//! The link speed of a port, read where the port lives (its namespace),
//! and rates given as a percentage of it (`rate = "50%"`, L1) turned into
//! frames/s from the stream's average frame size (a mix's weighted average)
//! when a session is prepared.

use crate::run::{in_namespace, RunError};
use crate::scenario::{Plan, PortPlan, Rate, L1_OVERHEAD_BYTES};

/// The link speed of `port` in bits/s, as its driver reports it (veth
/// reports 10 Gbit/s); an error naming the port and interface when the
/// driver reports none.
pub fn port_line_bps(port: &PortPlan) -> Result<f64, RunError> {
    let speed = in_namespace(port, || {
        crate::netns::interface_index(&port.interface, port.namespace.as_deref())?;
        Ok(crate::ethtool::interface_speed_mbps(&port.interface))
    })?;
    match speed {
        Some(mbps) if mbps > 0 => Ok(mbps as f64 * 1e6),
        _ => Err(RunError::UnknownLinkSpeed {
            port: port.name.clone(),
            interface: port.describe(),
        }),
    }
}

/// The frame rate that fills `percent` of a `line_bps` link at L1 with
/// frames of `average_frame` bytes (without FCS) on average.
pub fn line_share_rate(percent: f64, line_bps: f64, average_frame: f64) -> Rate {
    let bits_per_frame = (average_frame + L1_OVERHEAD_BYTES as f64) * 8.0;
    Rate::FramesPerSecond {
        millipps: (line_bps * percent / 100.0 / bits_per_frame * 1000.0).round() as u64,
    }
}

/// `plan` with every rate given in % of the link speed turned into frames/s.
pub fn resolve_line_rates(plan: &Plan) -> Result<Plan, RunError> {
    let mut resolved = plan.clone();
    for stream in resolved.streams.iter_mut() {
        let Some(percent) = stream.line_percent else {
            continue;
        };
        if plan.ports[stream.tx_port].remote {
            // Sent by another agent, which resolves its rate.
            continue;
        }
        let line_bps = port_line_bps(&plan.ports[stream.tx_port])?;
        stream.rate = line_share_rate(percent, line_bps, stream.frame.size.average());
        stream.line_percent = None;
    }
    Ok(resolved)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ten_percent_of_ten_gigabit_at_64_bytes_is_a_tenth_of_line_rate() {
        // 64-byte frames (60 without FCS) cost 84 bytes at L1: 14,880,952
        // frames/s fill 10 Gbit/s.
        let rate = line_share_rate(10.0, 10e9, 60.0);
        assert_eq!(
            rate,
            Rate::FramesPerSecond {
                millipps: 1_488_095_238
            }
        );
        let rate = line_share_rate(50.0, 1e9, 1514.0);
        // 1538 bytes at L1: 81,274 frames/s fill 1 Gbit/s.
        assert_eq!(rate.frames_per_second().round(), 40_637.0);
    }

    #[test]
    fn a_port_without_a_link_speed_is_named_with_what_to_do() {
        // Loopback reports no speed.
        let port = PortPlan::on_interface("lo-port".to_string(), "lo".to_string(), None);
        let error = port_line_bps(&port).expect_err("no speed on lo");
        let message = error.to_string();
        assert!(
            message.starts_with("port \"lo-port\": the link speed of lo is unknown"),
            "{message}"
        );
        assert!(
            message.contains("give the rate in frames/s or bits/s"),
            "{message}"
        );
        assert!(!message.contains('\n'));
    }

    #[test]
    fn an_imix_uses_its_average_size() {
        let mix = crate::frame::SizeMix::new(&crate::frame::SIMPLE_IMIX).expect("valid");
        let rate = line_share_rate(100.0, 10e9, mix.average());
        let l1_bits = rate.frames_per_second() * (mix.average() + 24.0) * 8.0;
        assert!((l1_bits - 10e9).abs() < 10e9 * 1e-6, "{l1_bits}");
    }
}
