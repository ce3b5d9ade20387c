//! Plain types shared by the scenario, the pacer and the sender: the
//! sending rate and the AF_XDP mode choices. They live below every module
//! that uses them so that no two modules import each other.

use std::time::Duration;

/// A sending rate. Bit rates are turned into frame rates when the scenario
/// is validated, from the stream's (average) frame size.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rate {
    /// Frames per second, in thousandths (so 0.5 pps is 500).
    FramesPerSecond {
        /// Thousandths of a frame per second.
        millipps: u64,
    },
    /// As fast as the path takes them.
    Max,
}

impl Rate {
    /// The rate in frames per second.
    pub fn frames_per_second(&self) -> f64 {
        match self {
            Rate::FramesPerSecond { millipps } => *millipps as f64 / 1000.0,
            Rate::Max => f64::INFINITY,
        }
    }

    /// True when the stream sends nothing.
    pub fn is_zero(&self) -> bool {
        match self {
            Rate::FramesPerSecond { millipps } => *millipps == 0,
            Rate::Max => false,
        }
    }

    /// Frames due in `elapsed` at this rate, rounded down.
    pub fn frames_in(&self, elapsed: Duration) -> u64 {
        match self {
            Rate::FramesPerSecond { millipps } => {
                let frames = elapsed.as_nanos() * u128::from(*millipps) / 1_000_000_000_000;
                u64::try_from(frames).unwrap_or(u64::MAX)
            }
            Rate::Max => u64::MAX,
        }
    }
}

/// Which AF_XDP bind mode to use.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum XskModeRequest {
    /// Zero-copy if the driver supports it, else copy.
    #[default]
    Auto,
    /// Copy mode only.
    Copy,
    /// Zero-copy or fail.
    ZeroCopy,
}

/// Busy polling on the socket, for NICs whose driver supports it: the
/// sender's own calls poll the device instead of waiting for interrupts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BusyPoll {
    /// How long a poll may spin, in microseconds (SO_BUSY_POLL).
    pub usecs: u32,
    /// Descriptors a poll may handle (SO_BUSY_POLL_BUDGET).
    pub budget: u32,
}

/// The AF_XDP mode a socket is bound in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum XskMode {
    /// The NIC DMAs straight from the UMEM.
    ZeroCopy,
    /// The kernel copies each frame into an skb.
    Copy,
}

impl std::fmt::Display for XskMode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            XskMode::ZeroCopy => "zero-copy",
            XskMode::Copy => "copy",
        })
    }
}
