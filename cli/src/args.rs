//! Command-line arguments, and nothing else: clap's view of linerate. The
//! engine never sees these types; main.rs turns them into engine calls.

use std::path::PathBuf;

use clap::{Parser, Subcommand, ValueEnum};

/// linerate: a kernel-bypass traffic generator. Sends streams of UDP frames
/// with AF_XDP and counts them on the receiving port with XDP.
#[derive(Debug, Parser)]
#[command(name = "linerate", version, about, long_about = None)]
pub struct Args {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run a scenario file and report per-stream results.
    Run(RunArgs),
    /// Check scenario files without running them.
    Validate {
        /// Scenario files (TOML).
        #[arg(required = true)]
        files: Vec<PathBuf>,
    },
    /// Build or remove the lab: two network namespaces joined by a veth pair.
    Lab {
        /// up, down or status.
        #[command(subcommand)]
        action: LabAction,
    },
    /// Write the first frames a scenario would send to a pcap file, without sending them.
    Pcap {
        /// The scenario file (TOML).
        file: PathBuf,
        /// How many frames (all streams together, in sending order).
        #[arg(long, default_value_t = 1000)]
        count: u64,
        /// The pcap file to write.
        #[arg(long, short)]
        output: PathBuf,
    },
    /// Count what arrives on an interface with linerate's XDP counter, from
    /// any sender (to measure another tool on the same counter).
    Count {
        /// The interface.
        #[arg(long)]
        interface: String,
        /// Its network namespace, if not the current one.
        #[arg(long)]
        namespace: Option<String>,
        /// How long to count, e.g. "10s".
        #[arg(long, default_value = "10s")]
        duration: String,
    },
    /// Report what the kernel and driver say about an interface (driver,
    /// queues, rings, MTU, speed, XDP and zero-copy support, CPU governor,
    /// IRQ affinity), with advice for running at line rate.
    Doctor {
        /// The interface.
        interface: String,
        /// Its network namespace, if not the current one.
        #[arg(long)]
        namespace: Option<String>,
    },
    /// Build the lab, run the quickstart scenario, print the report, remove the lab.
    Demo {
        /// Scenario to run instead of the built-in quickstart.
        #[arg(long)]
        scenario: Option<PathBuf>,
    },
}

/// Options of `linerate run`.
#[derive(Debug, clap::Args)]
pub struct RunArgs {
    /// The scenario file (TOML).
    pub file: PathBuf,
    /// AF_XDP bind mode for every port, over the scenario's `xsk_mode`:
    /// zero-copy where the driver has it (auto, the default), or forced.
    #[arg(long, value_enum)]
    pub xsk_mode: Option<XskModeArg>,
    /// Write the report as one JSON document to this file (schema:
    /// docs/report.schema.json).
    #[arg(long, value_name = "FILE")]
    pub json: Option<PathBuf>,
    /// Write one CSV row per stream per report interval to this file, as
    /// the run goes.
    #[arg(long, value_name = "FILE")]
    pub csv: Option<PathBuf>,
    /// Detach an XDP program that is already on a receiving port (another
    /// tool's) instead of refusing to run.
    #[arg(long)]
    pub force: bool,
    /// Pass counted frames on to the receiving port's stack instead of
    /// dropping them, so that a capture (tcpdump) there sees them.
    #[arg(long)]
    pub rx_pass: bool,
    /// Busy-poll the senders' sockets for this many microseconds (real
    /// NICs with busy-poll support; budget is the batch size).
    #[arg(long, value_name = "USECS", value_parser = clap::value_parser!(u32).range(1..=100_000))]
    pub busy_poll: Option<u32>,
    /// Release due frames together at most every this many microseconds:
    /// fewer wakeups, each frame at most this late (0: each frame when due).
    #[arg(long, value_name = "USECS", default_value_t = 20, value_parser = clap::value_parser!(u32).range(0..=100_000))]
    pub release_interval: u32,
    /// Frames per batch handed to the kernel at once.
    #[arg(long, default_value_t = 64, value_parser = clap::value_parser!(u32).range(1..=2048))]
    pub batch: u32,
    /// Streams the live lines and the summary show when there are more:
    /// the worst ones (by loss, then latency), plus a totals line. The JSON
    /// and CSV reports keep every stream.
    #[arg(long, value_name = "N", default_value_t = crate::output::DEFAULT_SHOW, value_parser = clap::value_parser!(u64).range(1..))]
    pub show: u64,
}

/// `--xsk-mode` values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum XskModeArg {
    /// Zero-copy first, copy mode if the driver lacks it.
    Auto,
    /// Copy mode only.
    Copy,
    /// Zero-copy only; fail if the driver lacks it.
    ZeroCopy,
}

/// `linerate lab` actions.
#[derive(Debug, Subcommand)]
pub enum LabAction {
    /// Create the namespaces and the veth pair (nothing changes if they exist).
    Up {
        /// TX and RX queues on each veth end.
        #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..=64))]
        queues: u32,
        /// MTU of every veth end (9000 for jumbo frames).
        #[arg(long, default_value_t = 1500, value_parser = clap::value_parser!(u32).range(68..=65535))]
        mtu: u32,
        /// Put a router namespace (linerate-r) between a and b: b moves to
        /// 198.18.1.1, streams go to the router's MAC, and a qdisc on lr-rb
        /// (tbf, netem) shapes, delays or drops them.
        #[arg(long)]
        router: bool,
    },
    /// Remove the namespaces and the veth pair (nothing to remove is fine).
    Down,
    /// Say whether the lab is up.
    Status,
}
