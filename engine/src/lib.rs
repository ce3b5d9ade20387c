//! linerate's engine: the scenario model and its validation, packet views
//! and frame templates, rate control, the AF_XDP sender, the lab of network
//! namespaces, and the run that ties them to the XDP receive counter.
//! The engine never sees command-line parsing or TOML text outside
//! [`scenario`].

pub mod clock;
pub mod doctor;
pub mod ethtool;
pub mod frame;
pub mod lab;
pub mod line_rate;
pub mod merge;
pub mod netns;
pub mod outcome;
pub mod pacer;
pub mod pcap;
pub mod privilege;
pub mod report;
pub mod rfc2544;
pub mod run;
pub mod scenario;
pub mod schedule;
mod senders;
pub mod sequence;
pub mod session;
pub mod stats;
pub mod tx;
pub mod types;
pub mod wifi;
pub mod wire;

/// What the receive counter does with counted frames (re-exported for callers).
pub use linerate_bpf::CountedFrames;
/// What the reflector sent back and passed (re-exported for callers).
pub use linerate_bpf::ReflectTotals;
