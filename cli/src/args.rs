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
    /// Send every linerate frame arriving on an interface back where it came
    /// from (XDP reflector: MACs, IP addresses and UDP ports swapped), until
    /// Ctrl-C; a stream counted on its own sending port then measures the
    /// round trip.
    Reflect {
        /// The interface.
        interface: String,
        /// Its network namespace, if not the current one.
        #[arg(long)]
        namespace: Option<String>,
        /// Detach an XDP program already on the interface instead of refusing.
        #[arg(long)]
        force: bool,
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
    /// Serve the JSON HTTP API (scenarios, runs, live stats and events,
    /// reports, Prometheus metrics) and the live dashboard.
    Serve(ServeArgs),
    /// Run a benchmark suite over a scenario's streams (each stream a direction).
    Bench {
        /// Which suite.
        #[command(subcommand)]
        suite: BenchSuite,
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
    /// Write the report as one self-contained HTML file at the end: summary,
    /// verdict, totals, and charts of rate, loss and latency over time and
    /// of the whole run's latency distribution (opens offline).
    #[arg(long, value_name = "FILE")]
    pub html: Option<PathBuf>,
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

/// Options of `linerate serve`.
#[derive(Debug, clap::Args)]
pub struct ServeArgs {
    /// Address and port to listen on; one other than loopback needs --token-file.
    #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:8080")]
    pub listen: std::net::SocketAddr,
    /// File holding the bearer token every request must send
    /// (Authorization: Bearer TOKEN); one line.
    #[arg(long, value_name = "FILE")]
    pub token_file: Option<PathBuf>,
    /// Write every finished run's report here as <run-id>.json.
    #[arg(long, value_name = "DIR")]
    pub report_dir: Option<PathBuf>,
    /// Declare this host's clock state in a JSON file instead of asking
    /// chrony or linuxptp (`{"synchronized": true, "error_bound_ns": 500}`;
    /// optional `offset_ns`, `host_id`): for a sync daemon the agent cannot
    /// query, or a host known to be unsynchronized. Read at every GET /agent.
    #[arg(long, value_name = "FILE")]
    pub clock_state: Option<PathBuf>,
}

/// `linerate bench` suites.
#[derive(Debug, Subcommand)]
pub enum BenchSuite {
    /// RFC 2544: throughput, latency, frame loss rate and back-to-back per
    /// frame size, as the scenario's [rfc2544] table says (docs/rfc2544.md).
    Rfc2544(BenchArgs),
}

/// Options of `linerate bench rfc2544`.
#[derive(Debug, clap::Args)]
pub struct BenchArgs {
    /// The scenario file (TOML) with an [rfc2544] table.
    pub file: PathBuf,
    /// Write the suite's results as one JSON document to this file
    /// (schema: docs/rfc2544.schema.json).
    #[arg(long, value_name = "FILE")]
    pub json: Option<PathBuf>,
    /// Write one CSV row per trial and stream to this file, as the suite goes.
    #[arg(long, value_name = "FILE")]
    pub csv: Option<PathBuf>,
    /// AF_XDP bind mode for every port, over the scenario's `xsk_mode`.
    #[arg(long, value_enum)]
    pub xsk_mode: Option<XskModeArg>,
    /// Detach an XDP program already on a receiving port instead of refusing.
    #[arg(long)]
    pub force: bool,
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
        /// Instead, the WiFi lab (needs mac80211_hwsim, hostapd, iw, busybox:
        /// a VM): N station radios wiphy0.. in namespace lrlab-sta, and one AP
        /// radio with hostapd (ssid testNet, passphrase testPass) in lrlab-ap,
        /// bridged to the wired port eth1 in lrlab-wired, with a DHCP server
        /// (udhcpd) on the bridge.
        #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..=64), conflicts_with_all = ["router", "queues", "mtu"])]
        wifi: Option<u32>,
        /// The WiFi lab AP's security: wpa2 (WPA2-PSK), wpa3 (WPA3-SAE,
        /// management frame protection required) or open.
        #[arg(long, value_name = "MODE", requires = "wifi", default_value = "wpa2", value_parser = ["wpa2", "wpa3", "open"])]
        security: String,
    },
    /// Remove the namespaces and the veth pair (nothing to remove is fine).
    Down,
    /// Say whether the lab is up.
    Status,
}
