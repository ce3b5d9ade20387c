//! A run of a validated plan: checks every port, attaches the XDP receive
//! counter to each receiving port, opens one AF_XDP sender per sending
//! port in its own thread, starts them together, reports at the interval,
//! drains what is in flight, and returns the per-stream results with the
//! verdict. A stop flag (Ctrl-C) ends sending early; the results so far are
//! still returned, marked as interrupted.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crossbeam::channel;
use linerate_bpf::{BpfError, CountedFrames, RxCounter, XdpAttachMode};

use crate::clock::monotonic_ns;
use crate::frame::{FrameError, FrameGenerator};
use crate::netns::{self, NetnsError, NetnsGuard};
use crate::scenario::{PassCriteria, Plan, PortPlan, StopCondition, StreamPlan};
use crate::stats::{latency_histogram, latency_summary, per_second, Aggregator, LatencySummary};
pub use crate::stats::{IntervalReport, StreamCounts, StreamInterval};
use crate::tx::{
    BusyPoll, TxCounters, TxError, TxStreamSetup, TxSummary, TxWorker, XskMode, XskModeRequest,
    DEFAULT_BATCH, DEFAULT_RELEASE_INTERVAL,
};

/// How long the start of sending is put off so that every sender is
/// waiting for it when it comes.
const START_DELAY: Duration = Duration::from_millis(20);
/// How long after a duration's end unbounded (rate max) streams stop.
const DEADLINE_GRACE: Duration = Duration::from_millis(1);
/// During the drain, counters unchanged for this long mean nothing more
/// is coming.
const DRAIN_QUIET: Duration = Duration::from_millis(200);

/// Errors that stop a run from starting or finishing.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    /// A port's namespace or interface is wrong.
    #[error("port {port:?}: {source}")]
    Port {
        /// The port's name.
        port: String,
        /// What is wrong.
        #[source]
        source: NetnsError,
    },
    /// A frame is larger than the sending interface's MTU allows.
    #[error("stream {stream:?}: frame size {frame_size} needs an MTU of at least {needed} on {interface}, which has {mtu}; raise it (ip link set {interface} mtu {needed}) or use smaller frames")]
    Mtu {
        /// The stream.
        stream: String,
        /// Its frame size.
        frame_size: usize,
        /// The interface.
        interface: String,
        /// The interface's MTU.
        mtu: u32,
        /// The MTU the frame needs.
        needed: usize,
    },
    /// The streams sending from a port ask for more than its link carries.
    #[error("port {port:?}: its streams ask for {asked_mbps:.1} Mbit/s at L1, above the link speed of {interface}, {speed_mbps} Mbit/s; lower their rates (or use rate = \"max\")")]
    AboveLinkSpeed {
        /// The port.
        port: String,
        /// Its interface.
        interface: String,
        /// What the streams ask for, L1.
        asked_mbps: f64,
        /// The link speed the driver reports.
        speed_mbps: u64,
    },
    /// The receive program could not be loaded or attached.
    #[error("port {port:?} ({interface}): {source}")]
    Receive {
        /// The port.
        port: String,
        /// The interface.
        interface: String,
        /// What failed.
        #[source]
        source: BpfError,
    },
    /// The sender could not be opened or failed.
    #[error("port {port:?} ({interface}): {source}")]
    Transmit {
        /// The port.
        port: String,
        /// The interface.
        interface: String,
        /// What failed.
        #[source]
        source: TxError,
    },
    /// A stream's frame could not be built.
    #[error("stream {stream:?}: {source}")]
    Template {
        /// The stream.
        stream: String,
        /// What failed.
        #[source]
        source: FrameError,
    },
    /// The scenario asks for a core this machine does not have.
    #[error("port {port:?}: core {core} does not exist here (cores: {available}); fix the port's cores list")]
    Core {
        /// The port.
        port: String,
        /// The core asked for.
        core: usize,
        /// The cores there are.
        available: String,
    },
    /// A sender thread died.
    #[error("the sender thread for port {port:?} panicked; this is a linerate bug")]
    SenderPanicked {
        /// The port.
        port: String,
    },
}

/// A sending port as the run opened it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TxPortInfo {
    /// The port's name.
    pub port: String,
    /// Its interface (and namespace).
    pub interface: String,
    /// The queue the sender is bound to.
    pub queue: u32,
    /// The AF_XDP mode in use.
    pub mode: XskMode,
    /// The core the sender is pinned to, if any.
    pub core: Option<usize>,
    /// The streams this sender owns.
    pub streams: Vec<String>,
    /// Busy polling, when asked for.
    pub busy_poll: Option<BusyPoll>,
    /// UMEM the sender uses, sized from its streams' rates.
    pub umem_bytes: u64,
}

/// A receiving port as the run attached it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RxPortInfo {
    /// The port's name.
    pub port: String,
    /// Its interface (and namespace).
    pub interface: String,
    /// How the kernel runs the counter.
    pub mode: XdpAttachMode,
}

/// A stream's destination MAC found from its port's router.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RouterMac {
    /// The stream.
    pub stream: String,
    /// The port's default gateway.
    pub gateway: std::net::Ipv4Addr,
    /// Its MAC address, now the stream's destination MAC.
    pub mac: crate::wire::MacAddr,
}

/// What the run set up, reported before sending starts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunSetup {
    /// The senders.
    pub tx_ports: Vec<TxPortInfo>,
    /// The counters.
    pub rx_ports: Vec<RxPortInfo>,
    /// Destination MACs taken from routers.
    pub router_macs: Vec<RouterMac>,
}

/// `plan` with every `dst_mac = "router"` replaced by the MAC of the
/// sending port's default gateway, and what was found.
pub fn resolve_router_macs(plan: &Plan) -> Result<(Plan, Vec<RouterMac>), RunError> {
    let mut resolved = plan.clone();
    let mut found = Vec::new();
    for stream in resolved
        .streams
        .iter_mut()
        .filter(|stream| stream.dst_mac_from_router)
    {
        let port = &plan.ports[stream.tx_port];
        let (gateway, mac) = in_namespace(port, || {
            netns::router_mac(&port.interface, port.namespace.as_deref())
        })?;
        stream.frame.dst_mac = mac;
        stream.dst_mac_from_router = false;
        found.push(RouterMac {
            stream: stream.name.clone(),
            gateway,
            mac,
        });
    }
    Ok((resolved, found))
}

/// A stream's final results.
#[derive(Debug, Clone, PartialEq)]
pub struct StreamResult {
    /// The stream id.
    pub id: u16,
    /// The stream's name.
    pub name: String,
    /// Final counters, after the drain.
    pub counts: StreamCounts,
    /// The configured rate in frames per second (infinite for max).
    pub target_fps: f64,
    /// Frames per second achieved by the sender, from the common start to
    /// this stream's last frame.
    pub tx_fps: f64,
    /// Frames per second received over the same time.
    pub rx_fps: f64,
    /// Latency over the whole run; `None` when no frame had a usable one.
    pub latency: Option<LatencySummary>,
}

impl StreamResult {
    /// Frames sent and never received (exact: the run has drained).
    pub fn frames_lost(&self) -> u64 {
        self.counts.lost()
    }

    /// Lost frames as a percentage of those sent.
    pub fn loss_percent(&self) -> f64 {
        self.counts.loss_percent()
    }

    /// The achieved sending rate as a percentage of the target; `None` for
    /// streams without one (rate max, or zero).
    pub fn rate_percent(&self) -> Option<f64> {
        (self.target_fps.is_finite() && self.target_fps > 0.0)
            .then(|| self.tx_fps * 100.0 / self.target_fps)
    }
}

/// What one sending worker did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WorkerResult {
    /// The worker as it was set up: port, queue, mode, core, streams.
    pub setup: TxPortInfo,
    /// Frames its streams placed on the TX ring.
    pub frames_sent: u64,
    /// Descriptors the kernel completed (one per frame, more for jumbo frames).
    pub completions: u64,
    /// Times frames were due but the ring or a pool had no room.
    pub ring_full_events: u64,
    /// Wakeups (sendto calls).
    pub wakeups: u64,
}

/// The results of a run.
#[derive(Debug, Clone, PartialEq)]
pub struct RunReport {
    /// The scenario's source.
    pub source: String,
    /// What was set up.
    pub setup: RunSetup,
    /// Time from the start of sending to the last frame sent.
    pub send_duration: Duration,
    /// Per-stream results, in stream id order.
    pub streams: Vec<StreamResult>,
    /// Per-worker results, in the order of [`RunSetup::tx_ports`].
    pub workers: Vec<WorkerResult>,
    /// Frames with linerate's magic but a stream id this run does not have.
    pub frames_unknown_stream: u64,
    /// True when the run was stopped before every frame was sent.
    pub interrupted: bool,
    /// The criteria the verdict applies.
    pub pass: PassCriteria,
    /// How many sequence numbers back the receive counter still recognises
    /// a duplicate.
    pub duplicate_window: u64,
}

impl RunReport {
    /// Every failed pass criterion, one sentence each, stream by stream.
    pub fn failures(&self) -> Vec<String> {
        let pass = &self.pass;
        let mut failures = Vec::new();
        for stream in &self.streams {
            let name = &stream.name;
            let counts = &stream.counts;
            let lost = stream.frames_lost();
            if let Some(limit) = pass.max_loss_frames.filter(|limit| lost > *limit) {
                failures.push(format!(
                    "stream {name:?}: lost {lost} of {} frames (max_loss_frames = {limit})",
                    counts.unique_sent()
                ));
            }
            if let Some(limit) = pass
                .max_loss_percent
                .filter(|limit| stream.loss_percent() > *limit)
            {
                failures.push(format!(
                    "stream {name:?}: lost {:.4} % of frames (max_loss_percent = {limit})",
                    stream.loss_percent()
                ));
            }
            if let Some(limit) = pass.max_reorder.filter(|limit| counts.rx.late > *limit) {
                failures.push(format!(
                    "stream {name:?}: {} frames arrived out of order (max_reorder = {limit})",
                    counts.rx.late
                ));
            }
            if let Some(limit) = pass
                .max_duplicates
                .filter(|limit| counts.rx.duplicates > *limit)
            {
                failures.push(format!(
                    "stream {name:?}: {} duplicate frames (max_duplicates = {limit})",
                    counts.rx.duplicates
                ));
            }
            for limit in &pass.max_latency {
                let max_ns = limit.max.as_nanos() as u64;
                match &stream.latency {
                    None => failures.push(format!(
                        "stream {name:?}: no latency measured, so p{} cannot be checked against {:?}",
                        limit.percentile, limit.max
                    )),
                    Some(_) => {
                        let measured = stream_percentile(stream, limit.percentile);
                        if measured > max_ns {
                            failures.push(format!(
                                "stream {name:?}: latency p{} is {} (max {:?})",
                                limit.percentile,
                                format_ns(measured),
                                limit.max
                            ));
                        }
                    }
                }
            }
            if let (Some(limit), Some(percent)) = (pass.min_rate_percent, stream.rate_percent()) {
                if percent < limit && !self.interrupted {
                    failures.push(format!(
                        "stream {name:?}: sent at {:.0} frames/s, {percent:.1} % of the target {:.0} (min_rate_percent = {limit})",
                        stream.tx_fps, stream.target_fps
                    ));
                }
            }
        }
        if self.interrupted {
            failures.push("the run was interrupted before every frame was sent".to_string());
        }
        failures
    }

    /// True when no criterion failed.
    pub fn passed(&self) -> bool {
        self.failures().is_empty()
    }
}

/// The latency of `stream` at `percentile` over the whole run.
pub fn stream_percentile(stream: &StreamResult, percentile: f64) -> u64 {
    latency_histogram(&stream.counts).percentile(percentile)
}

/// A latency in ns as text with a fitting unit: "850 ns", "12.3 us", "4.56 ms".
pub fn format_ns(ns: u64) -> String {
    match ns {
        0..=9_999 => format!("{ns} ns"),
        10_000..=9_999_999 => format!("{:.1} us", ns as f64 / 1e3),
        10_000_000..=9_999_999_999 => format!("{:.2} ms", ns as f64 / 1e6),
        _ => format!("{:.3} s", ns as f64 / 1e9),
    }
}

/// Receives what a run reports while it goes.
pub trait RunObserver {
    /// Senders are open and counters attached; sending is about to start.
    fn setup_done(&mut self, setup: &RunSetup);
    /// One report interval has passed (or the run has drained: the last
    /// report, marked final).
    fn interval(&mut self, report: &IntervalReport);
}

/// Options for a run that are not part of the scenario.
#[derive(Debug, Clone, Copy)]
pub struct RunOptions {
    /// AF_XDP mode to ask for on every port, over each port's own choice
    /// (which defaults to auto).
    pub xsk_mode: Option<XskModeRequest>,
    /// Frames per batch.
    pub batch_size: u32,
    /// What the receive program does with the frames it counts.
    pub counted_frames: CountedFrames,
    /// Busy polling on the senders' sockets (real NICs).
    pub busy_poll: Option<BusyPoll>,
    /// Due frames are released together at most this often: each frame
    /// leaves at most this long after it falls due, and a wakeup carries a
    /// burst rather than one frame.
    pub release_interval: Duration,
    /// Detach an XDP program already on a receiving port instead of failing.
    pub force_xdp: bool,
}

impl Default for RunOptions {
    fn default() -> Self {
        RunOptions {
            xsk_mode: None,
            batch_size: DEFAULT_BATCH,
            counted_frames: CountedFrames::Drop,
            busy_poll: None,
            release_interval: DEFAULT_RELEASE_INTERVAL,
            force_xdp: false,
        }
    }
}

struct RxPort {
    counter: RxCounter,
    streams: Vec<u16>,
}

struct Sender {
    port: usize,
    handle: JoinHandle<Result<TxSummary, RunError>>,
}

/// Runs `plan`. `stop` ends sending early when set (the results so far are
/// returned, marked interrupted); `observer` hears of setup and intervals.
pub fn run(
    plan: &Plan,
    options: RunOptions,
    stop: &AtomicBool,
    observer: &mut dyn RunObserver,
) -> Result<RunReport, RunError> {
    preflight(plan)?;
    let (resolved, router_macs) = resolve_router_macs(plan)?;
    let plan = &resolved;
    let generators = plan
        .streams
        .iter()
        .map(|stream| {
            FrameGenerator::new(&stream.frame, stream.id).map_err(|source| RunError::Template {
                stream: stream.name.clone(),
                source,
            })
        })
        .collect::<Result<Vec<_>, _>>()?;

    let (rx_ports, rx_infos) = attach_counters(plan, options.counted_frames, options.force_xdp)?;
    let workers = plan_workers(plan);
    let counters = Arc::new(TxCounters::new(plan.streams.len(), workers.len()));
    let senders_stop = Arc::new(AtomicBool::new(false));
    let (senders, tx_infos, start_signals) = open_senders(
        plan,
        &workers,
        options,
        &generators,
        &counters,
        &senders_stop,
    )?;
    let setup = RunSetup {
        tx_ports: tx_infos,
        rx_ports: rx_infos,
        router_macs,
    };
    observer.setup_done(&setup);

    let start_ns = monotonic_ns() + START_DELAY.as_nanos() as u64;
    for signal in &start_signals {
        // A sender that already failed has dropped its receiver; its error
        // comes back when it is joined.
        let _ = signal.send(start_ns);
    }
    let started = Instant::now() + START_DELAY;

    let mut aggregator = Aggregator::new(
        plan.streams
            .iter()
            .map(|stream| stream.name.clone())
            .collect(),
        read_counts(plan, &counters, &rx_ports),
        Duration::ZERO,
    );
    let mut next_report = started + plan.run.report_interval;
    let mut interrupted = false;
    while senders.iter().any(|sender| !sender.handle.is_finished()) {
        if stop.load(Ordering::Relaxed) && !interrupted {
            interrupted = true;
            senders_stop.store(true, Ordering::Relaxed);
        }
        let now = Instant::now();
        if now >= next_report {
            let current = read_counts(plan, &counters, &rx_ports);
            observer.interval(&aggregator.interval(current, now - started, false));
            next_report += plan.run.report_interval;
        }
        std::thread::sleep(
            Duration::from_millis(5).min(next_report.saturating_duration_since(now)),
        );
    }

    let mut summaries = Vec::with_capacity(senders.len());
    let mut first_error = None;
    for sender in senders {
        match sender.handle.join() {
            Ok(Ok(summary)) => summaries.push(summary),
            Ok(Err(error)) => {
                first_error.get_or_insert(error);
            }
            Err(_) => {
                first_error.get_or_insert(RunError::SenderPanicked {
                    port: plan.ports[sender.port].name.clone(),
                });
            }
        }
    }
    if let Some(error) = first_error {
        return Err(error);
    }
    interrupted |= summaries.iter().any(|summary| summary.stopped_early);

    let final_counts = drain(plan, &counters, &rx_ports);
    observer.interval(&aggregator.interval(final_counts.clone(), now_since(started), true));
    let duplicate_window = rx_ports
        .iter()
        .map(|rx| rx.counter.window())
        .min()
        .unwrap_or(0);
    let frames_unknown_stream = rx_ports
        .iter()
        .filter_map(|rx| rx.counter.totals().ok())
        .map(|totals| totals.frames_unknown_stream)
        .sum();
    drop(rx_ports);

    let send_duration = send_duration(&summaries, start_ns);
    let mut stream_durations = vec![Duration::ZERO; plan.streams.len()];
    for &(stream_id, last_ns) in summaries
        .iter()
        .flat_map(|summary| &summary.stream_last_frame_ns)
    {
        stream_durations[usize::from(stream_id)] =
            Duration::from_nanos(last_ns.saturating_sub(start_ns));
    }
    let streams = plan
        .streams
        .iter()
        .zip(&final_counts)
        .zip(&stream_durations)
        .map(|((stream, counts), duration)| StreamResult {
            id: stream.id,
            name: stream.name.clone(),
            latency: latency_summary(counts),
            counts: counts.clone(),
            target_fps: stream.rate.frames_per_second(),
            tx_fps: per_second(counts.frames_sent, *duration),
            rx_fps: per_second(counts.rx.frames, *duration),
        })
        .collect();
    let workers = setup
        .tx_ports
        .iter()
        .zip(counters.workers.iter())
        .map(|(info, own)| WorkerResult {
            setup: info.clone(),
            frames_sent: plan
                .streams
                .iter()
                .filter(|stream| info.streams.contains(&stream.name))
                .map(|stream| final_counts[usize::from(stream.id)].frames_sent)
                .sum(),
            completions: own.completions.load(Ordering::Relaxed),
            ring_full_events: own.ring_full_events.load(Ordering::Relaxed),
            wakeups: own.wakeups.load(Ordering::Relaxed),
        })
        .collect();
    Ok(RunReport {
        source: plan.source.clone(),
        workers,
        setup,
        send_duration,
        streams,
        frames_unknown_stream,
        interrupted,
        pass: plan.pass.clone(),
        duplicate_window,
    })
}

fn now_since(instant: Instant) -> Duration {
    Instant::now().saturating_duration_since(instant)
}

/// From the common start to the last frame any sender produced. Frame k of
/// a stream at rate R falls due at k/R, so N frames span N/R and the rate
/// computed over this duration is R.
fn send_duration(summaries: &[TxSummary], start_ns: u64) -> Duration {
    let last = summaries
        .iter()
        .filter_map(|summary| summary.last_frame_ns)
        .max();
    match last {
        Some(last) => Duration::from_nanos(last.saturating_sub(start_ns)),
        None => Duration::ZERO,
    }
}

/// Checks every port's namespace and interface, every stream's frame
/// against its sending interface's MTU, and each port's paced rates against
/// its link speed (where the driver reports one), before anything is
/// attached.
fn preflight(plan: &Plan) -> Result<(), RunError> {
    for (index, port) in plan.ports.iter().enumerate() {
        let (mtu, speed_mbps) = in_namespace(port, || {
            netns::interface_index(&port.interface, port.namespace.as_deref())?;
            Ok((
                crate::ethtool::interface_mtu(&port.interface).unwrap_or(u32::MAX),
                crate::ethtool::interface_speed_mbps(&port.interface),
            ))
        })?;
        // Every paced stream sending from the port, at L1 (frame, FCS,
        // preamble and gap), against what the link carries.
        let l1_bits_per_second: f64 = plan
            .streams
            .iter()
            .filter(|stream| stream.tx_port == index && stream.rate.frames_per_second().is_finite())
            .map(StreamPlan::l1_bits_per_second)
            .sum();
        if let Some(speed_mbps) = speed_mbps {
            if l1_bits_per_second > speed_mbps as f64 * 1e6 {
                return Err(RunError::AboveLinkSpeed {
                    port: port.name.clone(),
                    interface: port.describe(),
                    asked_mbps: l1_bits_per_second / 1e6,
                    speed_mbps,
                });
            }
        }
        for stream in plan.streams.iter().filter(|stream| stream.tx_port == index) {
            let needed = stream.frame.mtu_needed();
            if needed > mtu as usize {
                return Err(RunError::Mtu {
                    stream: stream.name.clone(),
                    frame_size: stream.frame.size.max(),
                    interface: port.describe(),
                    mtu,
                    needed,
                });
            }
        }
    }
    Ok(())
}

/// Runs `action` with the calling thread inside `port`'s namespace.
fn in_namespace<T>(
    port: &PortPlan,
    action: impl FnOnce() -> Result<T, NetnsError>,
) -> Result<T, RunError> {
    let port_error = |source| RunError::Port {
        port: port.name.clone(),
        source,
    };
    let _guard = NetnsGuard::enter_optional(port.namespace.as_deref()).map_err(port_error)?;
    action().map_err(port_error)
}

/// Attaches `counter` to `port`'s interface: the interface is looked up
/// and the bpf_link created inside the port's namespace, entered once. An
/// XDP program already there is an error, or detached when `force`.
fn attach_to_port(
    port: &PortPlan,
    counter: &mut RxCounter,
    force: bool,
) -> Result<XdpAttachMode, RunError> {
    let port_error = |source| RunError::Port {
        port: port.name.clone(),
        source,
    };
    let _guard = NetnsGuard::enter_optional(port.namespace.as_deref()).map_err(port_error)?;
    let ifindex =
        netns::interface_index(&port.interface, port.namespace.as_deref()).map_err(port_error)?;
    counter
        .attach(ifindex, force)
        .map_err(|source| RunError::Receive {
            port: port.name.clone(),
            interface: port.describe(),
            source,
        })
}

fn attach_counters(
    plan: &Plan,
    counted: CountedFrames,
    force: bool,
) -> Result<(Vec<RxPort>, Vec<RxPortInfo>), RunError> {
    let mut by_port: BTreeMap<usize, Vec<u16>> = BTreeMap::new();
    for stream in &plan.streams {
        by_port.entry(stream.rx_port).or_default().push(stream.id);
    }
    let mut ports = Vec::new();
    let mut infos = Vec::new();
    for (port_index, streams) in by_port {
        let port = &plan.ports[port_index];
        let receive_error = |source| RunError::Receive {
            port: port.name.clone(),
            interface: port.describe(),
            source,
        };
        let mut counter =
            RxCounter::load(plan.streams.len() as u32, counted).map_err(receive_error)?;
        let mode = attach_to_port(port, &mut counter, force)?;
        infos.push(RxPortInfo {
            port: port.name.clone(),
            interface: port.describe(),
            mode,
        });
        ports.push(RxPort { counter, streams });
    }
    Ok((ports, infos))
}

type OpenedSenders = (Vec<Sender>, Vec<TxPortInfo>, Vec<channel::Sender<u64>>);

/// One worker per (port, queue) that has streams: a port's streams are
/// dealt to its queues in turn, each stream owned by one worker so that its
/// sequence numbers stay in order.
fn plan_workers(plan: &Plan) -> Vec<((usize, u32), Vec<&StreamPlan>)> {
    let mut by_worker: BTreeMap<(usize, u32), Vec<&StreamPlan>> = BTreeMap::new();
    let mut dealt_per_port: BTreeMap<usize, u32> = BTreeMap::new();
    for stream in &plan.streams {
        let dealt = dealt_per_port.entry(stream.tx_port).or_default();
        let queue = *dealt % plan.ports[stream.tx_port].queues.max(1);
        *dealt += 1;
        by_worker
            .entry((stream.tx_port, queue))
            .or_default()
            .push(stream);
    }
    by_worker.into_iter().collect()
}

/// Starts one sender thread per worker; each opens its socket in its port's
/// namespace, reports its mode, and waits for the start time.
fn open_senders(
    plan: &Plan,
    workers: &[((usize, u32), Vec<&StreamPlan>)],
    options: RunOptions,
    generators: &[FrameGenerator],
    counters: &Arc<TxCounters>,
    stop: &Arc<AtomicBool>,
) -> Result<OpenedSenders, RunError> {
    let cores = core_affinity::get_core_ids().unwrap_or_default();
    let worker_count = workers.len();
    let mut senders = Vec::new();
    let mut infos = Vec::new();
    let mut start_signals = Vec::new();
    let mut failure = None;
    for (worker_index, ((port_index, queue), streams)) in workers.iter().enumerate() {
        let (port_index, queue) = (*port_index, *queue);
        let port = plan.ports[port_index].clone();
        let stream_names: Vec<String> = streams.iter().map(|stream| stream.name.clone()).collect();
        let setups: Vec<TxStreamSetup> = streams
            .iter()
            .map(|stream| TxStreamSetup {
                stream_id: stream.id,
                generator: generators[usize::from(stream.id)].clone(),
                rate: stream.rate,
                frames_to_send: stream.frames_to_send(plan.run.stop),
                fault: stream.fault,
            })
            .collect();
        // Leave core 0 to the reader and the kernel while there are other
        // cores for every worker; past that, use them all.
        let xsk_mode = options.xsk_mode.or(port.xsk_mode).unwrap_or_default();
        let core = if port.cores.is_empty() {
            match cores.len() {
                0 => None,
                count if worker_count < count => cores.get(1 + worker_index).copied(),
                count => cores.get((1 + worker_index) % count).copied(),
            }
        } else {
            // The scenario's cores, in queue order.
            let wanted = port.cores[queue as usize % port.cores.len()];
            match cores.iter().find(|core| core.id == wanted) {
                Some(core) => Some(*core),
                None => {
                    let known: Vec<String> = cores.iter().map(|core| core.id.to_string()).collect();
                    failure = Some(RunError::Core {
                        port: port.name.clone(),
                        core: wanted,
                        available: known.join(", "),
                    });
                    break;
                }
            }
        };
        let (ready_tx, ready_rx) = channel::bounded::<Result<(XskMode, u64), RunError>>(1);
        let (start_tx, start_rx) = channel::bounded::<u64>(1);
        let counters = Arc::clone(counters);
        let stop = Arc::clone(stop);
        let thread_port = port.clone();
        // Runs that last a duration end on time; the grace lets the last
        // paced frame, due exactly at the end, still go.
        let deadline = match plan.run.stop {
            StopCondition::Duration(duration) => Some(duration + DEADLINE_GRACE),
            StopCondition::FramesPerStream(_) => None,
        };
        let handle = std::thread::Builder::new()
            .name(format!("linerate-tx-{}-{queue}", port.name))
            .spawn(move || -> Result<TxSummary, RunError> {
                let port = thread_port;
                if let Some(core) = core {
                    core_affinity::set_for_current(core);
                }
                let transmit_error = |source| RunError::Transmit {
                    port: port.name.clone(),
                    interface: port.describe(),
                    source,
                };
                let opened = NetnsGuard::enter_optional(port.namespace.as_deref())
                    .map_err(|source| RunError::Port {
                        port: port.name.clone(),
                        source,
                    })
                    .and_then(|guard| {
                        TxWorker::open(
                            &port.interface,
                            queue,
                            xsk_mode,
                            setups,
                            options.batch_size,
                            options.busy_poll,
                        )
                        .map(|worker| (guard, worker))
                        .map_err(transmit_error)
                    });
                let (_guard, mut worker) = match opened {
                    Ok(opened) => {
                        let _ = ready_tx.send(Ok((opened.1.mode(), opened.1.umem_bytes())));
                        opened
                    }
                    Err(error) => {
                        let _ = ready_tx.send(Err(error));
                        return Ok(TxSummary::default());
                    }
                };
                let Ok(start_ns) = start_rx.recv() else {
                    return Ok(TxSummary::default());
                };
                let deadline_ns =
                    deadline.map(|after_start| start_ns + after_start.as_nanos() as u64);
                worker
                    .run(
                        start_ns,
                        deadline_ns,
                        &stop,
                        &counters,
                        worker_index,
                        options.release_interval,
                    )
                    .map_err(transmit_error)
            });
        let handle = match handle {
            Ok(handle) => handle,
            Err(error) => {
                failure = Some(RunError::Transmit {
                    port: port.name.clone(),
                    interface: port.describe(),
                    source: TxError::Umem(format!("cannot start the sender thread: {error}")),
                });
                break;
            }
        };
        match ready_rx.recv() {
            Ok(Ok((mode, umem_bytes))) => {
                infos.push(TxPortInfo {
                    port: port.name.clone(),
                    interface: port.describe(),
                    queue,
                    mode,
                    core: core.map(|core| core.id),
                    streams: stream_names,
                    busy_poll: options.busy_poll,
                    umem_bytes,
                });
                start_signals.push(start_tx);
                senders.push(Sender {
                    port: port_index,
                    handle,
                });
            }
            Ok(Err(error)) => {
                let _ = handle.join();
                failure = Some(error);
                break;
            }
            Err(_) => {
                let _ = handle.join();
                failure = Some(RunError::SenderPanicked {
                    port: port.name.clone(),
                });
                break;
            }
        }
    }
    if let Some(error) = failure {
        // Senders already open wait for a start that will not come: dropping
        // their start channels ends them.
        drop(start_signals);
        for sender in senders {
            let _ = sender.handle.join();
        }
        return Err(error);
    }
    Ok((senders, infos, start_signals))
}

/// Every stream's counters now, in stream id order. The receive side is
/// read first, so that a frame counted as received is always already
/// counted as sent.
fn read_counts(plan: &Plan, counters: &TxCounters, rx_ports: &[RxPort]) -> Vec<StreamCounts> {
    let mut counts = vec![StreamCounts::default(); plan.streams.len()];
    for rx in rx_ports {
        for &stream_id in &rx.streams {
            if let Ok(received) = rx.counter.stream_rx(stream_id) {
                counts[usize::from(stream_id)].rx = received;
            }
        }
    }
    for (stream, entry) in plan.streams.iter().zip(&mut counts) {
        let tx = &counters.streams[usize::from(stream.id)];
        entry.frames_sent = tx.frames_sent.load(Ordering::Relaxed);
        entry.bytes_sent = tx.bytes_sent.load(Ordering::Relaxed);
        entry.sequence_span = tx.sequence_span.load(Ordering::Relaxed);
        entry.faults = tx.faults();
    }
    counts
}

/// Waits, at most the plan's drain time, until every stream has received
/// what it sent or the receive counters stop moving; returns the counts.
fn drain(plan: &Plan, counters: &TxCounters, rx_ports: &[RxPort]) -> Vec<StreamCounts> {
    let deadline = Instant::now() + plan.run.drain;
    let mut counts = read_counts(plan, counters, rx_ports);
    let mut quiet_since = Instant::now();
    loop {
        let complete = counts
            .iter()
            .all(|count| count.unique_received() >= count.unique_sent());
        let now = Instant::now();
        if complete || now >= deadline || now - quiet_since >= DRAIN_QUIET {
            return counts;
        }
        std::thread::sleep(Duration::from_millis(10));
        let next = read_counts(plan, counters, rx_ports);
        if next != counts {
            quiet_since = Instant::now();
        }
        counts = next;
    }
}

/// Counts of what arrived on a port during [`count`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PortCounts {
    /// Frames with linerate's payload header (any stream), dropped after counting.
    pub frames_linerate: u64,
    /// Everything else, passed on to the stack.
    pub frames_other: u64,
}

impl PortCounts {
    /// All frames.
    pub fn total(&self) -> u64 {
        self.frames_linerate + self.frames_other
    }
}

/// Attaches the receive counter to `port` for `duration` (or until `stop`)
/// and counts every frame that arrives: linerate's own, or any other
/// sender's (a peer tool measured on the same counter). `on_interval` hears
/// the totals so far every `interval`. Returns the totals and the time
/// counted.
pub fn count(
    port: &PortPlan,
    duration: Duration,
    interval: Duration,
    stop: &AtomicBool,
    on_interval: &mut dyn FnMut(Duration, PortCounts),
) -> Result<(PortCounts, Duration), RunError> {
    let receive_error = |source| RunError::Receive {
        port: port.name.clone(),
        interface: port.describe(),
        source,
    };
    let mut counter = RxCounter::load(1, CountedFrames::Drop).map_err(receive_error)?;
    attach_to_port(port, &mut counter, false)?;
    let read = |counter: &RxCounter| -> PortCounts {
        let stream = counter.stream_rx(0).unwrap_or_default();
        let totals = counter.totals().unwrap_or_default();
        PortCounts {
            frames_linerate: stream.frames + totals.frames_unknown_stream,
            frames_other: totals.frames_passed,
        }
    };
    let started = Instant::now();
    let mut next = started + interval;
    while started.elapsed() < duration && !stop.load(Ordering::Relaxed) {
        std::thread::sleep(
            Duration::from_millis(5).min(next.saturating_duration_since(Instant::now())),
        );
        if Instant::now() >= next {
            on_interval(started.elapsed(), read(&counter));
            next += interval;
        }
    }
    Ok((read(&counter), started.elapsed()))
}
