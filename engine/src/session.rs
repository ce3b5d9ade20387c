//! A run as a session, driven the same way by every front end: prepare
//! (check the ports, resolve router MACs, build the frames, attach the
//! receive counters, open the senders) → start → snapshot at any time →
//! stop (the whole run, or one stream, which can be started again) →
//! finish (join the senders, drain, final counts and report). [`drive`] is
//! the one loop that takes a session from start to report; the CLI's run,
//! the HTTP server and the suites all call it. A [`SessionControl`] is the
//! handle other threads hold to stop the run or one stream. Endpoints on
//! kernel sockets (TCP, URL, ping, File-IO: the `linerate-endpoints` crate)
//! run beside the streams in the same session: started and stopped with it,
//! in its interval reports, its final report and its verdict.

use std::collections::HashSet;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crossbeam::channel;
use linerate_endpoints::EndpointSet;

use crate::clock::monotonic_ns;
use crate::frame::FrameGenerator;
use crate::outcome::{RunReport, StreamResult, WorkerResult};
use crate::run::{
    attach_counters, attach_reflectors, preflight, resolve_router_macs, RunError, RunObserver,
    RunOptions, RunSetup, RxPort,
};
use crate::scenario::{Plan, Rate, StopCondition};
use crate::senders::{open_senders, plan_workers, Sender};
use crate::stats::{
    latency_summary, per_second, Aggregator, IntervalReport, StreamCounts, WorkerCounts,
};
use crate::tx::{StreamSwitches, TxCounters, TxSummary};
use crate::wifi::StationSet;

/// How long the start of sending is put off so that every sender is
/// waiting for it when it comes.
const START_DELAY: Duration = Duration::from_millis(20);
/// During the drain, counters unchanged for this long mean nothing more
/// is coming.
const DRAIN_QUIET: Duration = Duration::from_millis(200);
/// How often [`drive`] looks at the stop flags between reports.
const POLL: Duration = Duration::from_millis(5);

/// The furthest ahead [`Session::start_at_unix_ns`] accepts a start.
pub const MAX_START_AHEAD: Duration = Duration::from_secs(60);

/// A start time [`Session::start_at_unix_ns`] refused.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum StartAtError {
    /// The instant has passed.
    #[error("the start time passed {late_ms:.1} ms ago on this host's clock: start further ahead, or check that the hosts' clocks are synchronized (chronyc tracking)")]
    Past {
        /// How long ago, in ms.
        late_ms: f64,
    },
    /// The instant is too far ahead.
    #[error("the start time is {ahead_s:.1} s ahead on this host's clock, more than 60 s: check that the hosts' clocks are synchronized (chronyc tracking)")]
    TooFar {
        /// How far ahead, in s.
        ahead_s: f64,
    },
}

/// CLOCK_REALTIME now, ns since 1970.
fn unix_now_ns() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |since| since.as_nanos() as u64)
}

/// A stream command named a stream the run does not have.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("the run has no stream {name:?}; its streams are: {known}")]
pub struct StreamCommandError {
    /// The name asked for.
    pub name: String,
    /// The run's stream names, comma-separated (the first few).
    pub known: String,
}

#[derive(Debug)]
struct ControlShared {
    stop_requested: AtomicBool,
    switches: Arc<StreamSwitches>,
    /// Stream names in id order.
    names: Vec<String>,
}

/// A handle to a session that any thread may hold: stop the whole run, or
/// stop and start one stream (LANforge's stop_cx / start_cx). Commands are
/// flags the senders read once per release; nothing here blocks them.
#[derive(Debug, Clone)]
pub struct SessionControl {
    shared: Arc<ControlShared>,
}

impl SessionControl {
    /// A control for a run this process does not send itself (a
    /// coordinator's run over agents): it only holds the requests, for the
    /// coordinator to read ([`SessionControl::stop_requested`],
    /// [`SessionControl::stream_stopped`]) and forward.
    pub fn detached(names: Vec<String>) -> SessionControl {
        SessionControl {
            shared: Arc::new(ControlShared {
                stop_requested: AtomicBool::new(false),
                switches: Arc::new(StreamSwitches::new(names.len())),
                names,
            }),
        }
    }

    /// Asks the run to stop sending; it then drains and reports as usual.
    pub fn request_stop(&self) {
        self.shared.stop_requested.store(true, Ordering::Relaxed);
    }

    /// True once a stop was asked for.
    pub fn stop_requested(&self) -> bool {
        self.shared.stop_requested.load(Ordering::Relaxed)
    }

    /// Stops one stream: it sends nothing more until started again.
    pub fn stop_stream(&self, name: &str) -> Result<(), StreamCommandError> {
        self.set_paused(name, true)
    }

    /// Starts a stopped stream again: it goes on at its rate from now.
    pub fn start_stream(&self, name: &str) -> Result<(), StreamCommandError> {
        self.set_paused(name, false)
    }

    /// Whether the stream is stopped; `None` for a name the run lacks.
    pub fn stream_stopped(&self, name: &str) -> Option<bool> {
        self.stream_id(name)
            .map(|id| self.shared.switches.is_paused(id))
    }

    /// The run's stream names, in stream id order.
    pub fn stream_names(&self) -> &[String] {
        &self.shared.names
    }

    fn stream_id(&self, name: &str) -> Option<u32> {
        self.shared
            .names
            .iter()
            .position(|known| known == name)
            .and_then(|index| u32::try_from(index).ok())
    }

    fn set_paused(&self, name: &str, paused: bool) -> Result<(), StreamCommandError> {
        match self.stream_id(name) {
            Some(id) if self.shared.switches.set_paused(id, paused) => Ok(()),
            _ => Err(StreamCommandError {
                name: name.to_string(),
                known: known_names(&self.shared.names),
            }),
        }
    }
}

/// `plan` with the DHCP stations' leased addresses in the frames of the
/// streams that use them; `plan` itself when none does.
fn with_station_leases<'p>(
    plan: &'p Plan,
    stations: Option<&StationSet>,
) -> Result<std::borrow::Cow<'p, Plan>, RunError> {
    let uses_leases = plan
        .streams
        .iter()
        .any(|stream| stream.src_ip_dhcp.is_some() || stream.dst_ip_dhcp.is_some());
    match stations {
        Some(stations) if uses_leases => Ok(std::borrow::Cow::Owned(
            crate::run::resolve_station_leases(plan, |name| stations.leased_ipv4(name))?,
        )),
        _ => Ok(std::borrow::Cow::Borrowed(plan)),
    }
}

/// The first few names, for an error message that stays one line.
fn known_names(names: &[String]) -> String {
    const SHOWN: usize = 8;
    let mut text = names
        .iter()
        .take(SHOWN)
        .map(|name| format!("{name:?}"))
        .collect::<Vec<_>>()
        .join(", ");
    if names.len() > SHOWN {
        text.push_str(&format!(" and {} more", names.len() - SHOWN));
    }
    text
}

/// When sending started.
#[derive(Debug, Clone, Copy)]
struct Started {
    /// CLOCK_MONOTONIC of the common start.
    start_ns: u64,
    /// The same moment on the std clock.
    at: Instant,
}

/// A prepared run: counters attached, senders open and waiting.
pub struct Session {
    plan: Plan,
    setup: RunSetup,
    rx_ports: Vec<RxPort>,
    /// The reflectors on `reflect = true` ports, detached when dropped.
    _reflectors: Vec<linerate_bpf::Reflector>,
    counters: Arc<TxCounters>,
    control: SessionControl,
    senders: Vec<Sender>,
    start_signals: Vec<channel::Sender<u64>>,
    senders_stop: Arc<AtomicBool>,
    started: Option<Started>,
    aggregator: Aggregator,
    interrupted: bool,
    /// The endpoints on kernel sockets, when the plan has any.
    endpoints: Option<EndpointSet>,
    /// The WiFi stations, when the plan has any: the last field, so that
    /// they are removed after the senders and counters on them are gone.
    stations: Option<StationSet>,
}

impl std::fmt::Debug for Session {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Session")
            .field("source", &self.plan.source)
            .field("streams", &self.plan.streams.len())
            .field("senders", &self.senders.len())
            .field("started", &self.started.is_some())
            .finish()
    }
}

impl Session {
    /// Prepares `plan`: checks every port, resolves `dst_mac = "router"`,
    /// builds every stream's frames, attaches the receive counters and opens
    /// the senders, which then wait for [`Session::start`]. Dropping the
    /// session instead detaches and closes everything.
    pub fn prepare(plan: &Plan, options: RunOptions) -> Result<Session, RunError> {
        // WiFi stations first: they are ports the checks below look for.
        // Should one not come up, the run sends nothing and its report
        // says why; dropping `stations` (on any error below) removes them.
        let stations = if plan.stations.is_empty() {
            None
        } else {
            Some(StationSet::bring_up(&plan.stations, options.interrupt)?)
        };
        let stations = match stations {
            Some(stations) if !stations.all_up() => {
                let interrupted = options
                    .interrupt
                    .is_some_and(|flag| flag.load(std::sync::atomic::Ordering::Relaxed));
                let mut session = Session::without_traffic(plan, stations);
                session.interrupted = interrupted;
                return Ok(session);
            }
            other => other,
        };
        // DHCP stations have their leases now: their addresses go into
        // the streams' frames before the frames are built.
        let leased = with_station_leases(plan, stations.as_ref())?;
        let plan = crate::line_rate::resolve_line_rates(&leased)?;
        preflight(&plan)?;
        let (plan, router_macs) = resolve_router_macs(&plan)?;
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
        let (reflectors, reflect_infos) = attach_reflectors(&plan, options.force_xdp)?;
        let (rx_ports, rx_infos) =
            attach_counters(&plan, options.counted_frames, options.force_xdp)?;
        let workers = plan_workers(&plan);
        let counters = Arc::new(TxCounters::new(plan.streams.len(), workers.len()));
        let switches = Arc::new(StreamSwitches::new(plan.streams.len()));
        let senders_stop = Arc::new(AtomicBool::new(false));
        let (senders, tx_infos, start_signals) = open_senders(
            &plan,
            &workers,
            options,
            &generators,
            &counters,
            &switches,
            &senders_stop,
        )?;
        let names: Vec<String> = plan
            .streams
            .iter()
            .map(|stream| stream.name.clone())
            .collect();
        // Endpoints start last, once everything that can fail has opened; a
        // duration run ends them on time, a frame-count run when the
        // senders are done.
        let endpoints = if plan.endpoints.is_empty() {
            None
        } else {
            let duration = match plan.run.stop {
                StopCondition::Duration(duration) => Some(duration),
                StopCondition::FramesPerStream(_) => None,
            };
            Some(EndpointSet::start(plan.endpoints.clone(), duration)?)
        };
        let aggregator = Aggregator::new(
            names.clone(),
            read_counts(&plan, &counters, &rx_ports),
            Duration::ZERO,
        );
        Ok(Session {
            setup: RunSetup {
                tx_ports: tx_infos,
                rx_ports: rx_infos,
                reflect_ports: reflect_infos,
                router_macs,
            },
            control: SessionControl {
                shared: Arc::new(ControlShared {
                    stop_requested: AtomicBool::new(false),
                    switches,
                    names,
                }),
            },
            plan,
            rx_ports,
            _reflectors: reflectors,
            counters,
            senders,
            start_signals,
            senders_stop,
            started: None,
            aggregator,
            interrupted: false,
            endpoints,
            stations,
        })
    }

    /// A session that sends nothing because its stations did not come up:
    /// driven like any other, it ends at once and its report names the
    /// stations and why (the verdict fails); the stations are removed when
    /// it is dropped.
    fn without_traffic(plan: &Plan, stations: StationSet) -> Session {
        let plan = plan.clone();
        let counters = Arc::new(TxCounters::new(plan.streams.len(), 0));
        let names: Vec<String> = plan
            .streams
            .iter()
            .map(|stream| stream.name.clone())
            .collect();
        let aggregator = Aggregator::new(
            names.clone(),
            read_counts(&plan, &counters, &[]),
            Duration::ZERO,
        );
        Session {
            setup: RunSetup {
                tx_ports: Vec::new(),
                rx_ports: Vec::new(),
                reflect_ports: Vec::new(),
                router_macs: Vec::new(),
            },
            control: SessionControl {
                shared: Arc::new(ControlShared {
                    stop_requested: AtomicBool::new(false),
                    switches: Arc::new(StreamSwitches::new(plan.streams.len())),
                    names,
                }),
            },
            plan,
            rx_ports: Vec::new(),
            _reflectors: Vec::new(),
            counters,
            senders: Vec::new(),
            start_signals: Vec::new(),
            senders_stop: Arc::new(AtomicBool::new(false)),
            started: None,
            aggregator,
            interrupted: false,
            endpoints: None,
            stations: Some(stations),
        }
    }

    /// The WiFi stations' state (empty without `[[station]]` tables).
    pub fn stations(&self) -> &[crate::wifi::StationReport] {
        self.stations.as_ref().map_or(&[], StationSet::reports)
    }

    /// The plan as the session runs it (router MACs resolved).
    pub fn plan(&self) -> &Plan {
        &self.plan
    }

    /// What was set up: senders with their modes, cores and UMEM; counters.
    pub fn setup(&self) -> &RunSetup {
        &self.setup
    }

    /// A handle to stop the run or one stream, for any thread.
    pub fn control(&self) -> SessionControl {
        self.control.clone()
    }

    /// Starts every sender at one common moment, shortly from now. Calling
    /// it again does nothing.
    pub fn start(&mut self) {
        self.start_in(START_DELAY);
    }

    /// Starts every sender at the CLOCK_REALTIME instant `unix_ns` (ns
    /// since 1970), as a coordinator starting several agents at one moment
    /// asks: the instant is turned into the monotonic clock the senders
    /// wait on, now. An instant already past, or more than
    /// [`MAX_START_AHEAD`] ahead, is refused and nothing starts. Does
    /// nothing once started.
    pub fn start_at_unix_ns(&mut self, unix_ns: u64) -> Result<(), StartAtError> {
        if self.started.is_some() {
            return Ok(());
        }
        let now_unix_ns = unix_now_ns();
        if unix_ns <= now_unix_ns {
            return Err(StartAtError::Past {
                late_ms: (now_unix_ns - unix_ns) as f64 / 1e6,
            });
        }
        let ahead = Duration::from_nanos(unix_ns - now_unix_ns);
        if ahead > MAX_START_AHEAD {
            return Err(StartAtError::TooFar {
                ahead_s: ahead.as_secs_f64(),
            });
        }
        self.start_in(ahead);
        Ok(())
    }

    fn start_in(&mut self, delay: Duration) {
        if self.started.is_some() {
            return;
        }
        let start_ns = monotonic_ns() + delay.as_nanos() as u64;
        for signal in self.start_signals.drain(..) {
            // A sender that already failed has dropped its receiver; its
            // error comes back when it is joined.
            let _ = signal.send(start_ns);
        }
        self.started = Some(Started {
            start_ns,
            at: Instant::now() + delay,
        });
    }

    /// Time since sending started (zero before).
    pub fn elapsed(&self) -> Duration {
        self.started
            .map_or(Duration::ZERO, |started| now_since(started.at))
    }

    /// When sending started, on the std clock; `None` before [`Session::start`].
    pub fn started_at(&self) -> Option<Instant> {
        self.started.map(|started| started.at)
    }

    /// Every stream's counters now, in stream id order: a cheap read of the
    /// senders' and the receive counters' own counters, no lock taken.
    pub fn counts(&self) -> Vec<StreamCounts> {
        read_counts(&self.plan, &self.counters, &self.rx_ports)
    }

    /// The report for the interval since the last snapshot (or the start).
    pub fn snapshot(&mut self) -> IntervalReport {
        let current = self.counts();
        let elapsed = self.elapsed();
        let mut report = self.aggregator.interval(current, elapsed, false);
        report.endpoints = self.endpoints.as_ref().map(EndpointSet::snapshot);
        report.workers = self.worker_counts();
        report
    }

    /// Each sender's own counters now, in the order of the setup's senders.
    pub fn worker_counts(&self) -> Vec<WorkerCounts> {
        self.counters
            .workers
            .iter()
            .map(|own| WorkerCounts {
                completions: own.completions.load(Ordering::Relaxed),
                ring_full_events: own.ring_full_events.load(Ordering::Relaxed),
                wakeups: own.wakeups.load(Ordering::Relaxed),
            })
            .collect()
    }

    /// True while any sender is still sending (or waiting to start), or
    /// any endpoint is still running.
    pub fn is_sending(&self) -> bool {
        let senders_running = self
            .senders
            .iter()
            .any(|sender| !sender.handle.is_finished());
        match &self.endpoints {
            Some(endpoints) => {
                let frame_count_run =
                    matches!(self.plan.run.stop, StopCondition::FramesPerStream(_));
                if frame_count_run && !senders_running && !self.senders.is_empty() {
                    // A frame-count run ends its endpoints with its streams.
                    endpoints.stop();
                }
                senders_running || !endpoints.is_finished()
            }
            None => senders_running,
        }
    }

    /// Stops sending because the user interrupted the run (Ctrl-C): the
    /// report is marked interrupted and the verdict fails.
    pub fn interrupt(&mut self) {
        self.interrupted = true;
        self.stop_everything();
    }

    /// Passes a stop asked for through [`SessionControl`] on to the senders
    /// and the endpoints.
    fn follow_control(&self) {
        if self.control.stop_requested() {
            self.stop_everything();
        }
    }

    fn stop_everything(&self) {
        self.senders_stop.store(true, Ordering::Relaxed);
        if let Some(endpoints) = &self.endpoints {
            endpoints.stop();
        }
    }

    /// Waits for the senders to end (stopping them first if a stop was
    /// asked for), drains what is in flight, and returns the final report
    /// with the last interval report (marked final).
    pub fn finish(mut self) -> Result<(RunReport, IntervalReport), RunError> {
        self.follow_control();
        // Senders that never got a start time end when their channel closes.
        self.start_signals.clear();
        let mut summaries = Vec::with_capacity(self.senders.len());
        let mut first_error = None;
        for sender in std::mem::take(&mut self.senders) {
            match sender.handle.join() {
                Ok(Ok(summary)) => summaries.push(summary),
                Ok(Err(error)) => {
                    first_error.get_or_insert(error);
                }
                Err(_) => {
                    first_error.get_or_insert(RunError::SenderPanicked {
                        port: self.plan.ports[sender.port].name.clone(),
                    });
                }
            }
        }
        if let Some(error) = first_error {
            return Err(error);
        }
        let stopped_early = summaries.iter().any(|summary| summary.stopped_early);
        let final_counts = drain(&self.plan, &self.counters, &self.rx_ports);
        let mut last = self
            .aggregator
            .interval(final_counts.clone(), self.elapsed(), true);
        last.workers = self.worker_counts();
        let endpoints = self.endpoints.take().map(|endpoints| {
            last.endpoints = Some(endpoints.snapshot());
            endpoints.finish()
        });
        let mut report = self.report(&summaries, final_counts, stopped_early);
        report.endpoints = endpoints;
        if let Some(stations) = self.stations.as_mut() {
            if stations.all_up() {
                stations.refresh();
            }
            report.stations = stations.reports().to_vec();
        }
        Ok((report, last))
    }

    fn report(
        &self,
        summaries: &[TxSummary],
        final_counts: Vec<StreamCounts>,
        stopped_early: bool,
    ) -> RunReport {
        let plan = &self.plan;
        let start_ns = self.started.map_or(0, |started| started.start_ns);
        let duplicate_window = self
            .rx_ports
            .iter()
            .map(|rx| rx.counter.window())
            .min()
            .unwrap_or(0);
        let frames_unknown_stream = self
            .rx_ports
            .iter()
            .filter_map(|rx| rx.counter.totals().ok())
            .map(|totals| totals.frames_unknown_stream)
            .sum();
        let (stream_durations, paused) = stream_send_times(summaries, start_ns, plan);
        let streams = plan
            .streams
            .iter()
            .zip(&final_counts)
            .zip(&stream_durations)
            .zip(&paused)
            .map(|(((stream, counts), duration), was_paused)| StreamResult {
                id: stream.id,
                name: stream.name.clone(),
                latency: latency_summary(counts),
                counts: counts.clone(),
                target_fps: stream.rate.frames_per_second(),
                tx_fps: per_second(counts.frames_sent, *duration),
                rx_fps: per_second(counts.rx.frames, *duration),
                frames_planned: (stream.rate != Rate::Max && !was_paused)
                    .then(|| stream.frames_to_send(plan.run.stop)),
            })
            .collect();
        let workers = self
            .setup
            .tx_ports
            .iter()
            .zip(self.counters.workers.iter())
            .map(|(info, own)| WorkerResult {
                setup: info.clone(),
                frames_sent: {
                    let names: HashSet<&str> = info.streams.iter().map(String::as_str).collect();
                    plan.streams
                        .iter()
                        .filter(|stream| names.contains(stream.name.as_str()))
                        .map(|stream| final_counts[stream.id as usize].frames_sent)
                        .sum()
                },
                completions: own.completions.load(Ordering::Relaxed),
                ring_full_events: own.ring_full_events.load(Ordering::Relaxed),
                wakeups: own.wakeups.load(Ordering::Relaxed),
            })
            .collect();
        RunReport {
            source: plan.source.clone(),
            workers,
            setup: self.setup.clone(),
            send_duration: send_duration(summaries, start_ns),
            streams,
            frames_unknown_stream,
            interrupted: self.interrupted,
            stopped_on_request: !self.interrupted && stopped_early,
            pass: plan.pass.clone(),
            duplicate_window,
            endpoints: None,
            first_frame_unix_ns: first_frame_unix_ns(summaries),
            stations: Vec::new(),
        }
    }
}

impl Drop for Session {
    /// A session dropped without [`Session::finish`] (an error, a server
    /// shutting down) stops its senders and waits for them; the receive
    /// counters detach as their links drop.
    fn drop(&mut self) {
        self.stop_everything();
        self.start_signals.clear();
        for sender in std::mem::take(&mut self.senders) {
            let _ = sender.handle.join();
        }
    }
}

/// Drives a prepared session from start to report: starts it, reports to
/// `observer` at the plan's interval, stops when every sender is done, when
/// `stop` is set (an interrupt: the report says so) or when its control
/// asks, then finishes it. The one run loop every front end uses.
pub fn drive(
    mut session: Session,
    stop: &AtomicBool,
    observer: &mut dyn RunObserver,
) -> Result<RunReport, RunError> {
    session.start();
    let interval = session.plan.run.report_interval;
    let mut next_report = session.started_at().unwrap_or_else(Instant::now) + interval;
    while session.is_sending() {
        if stop.load(Ordering::Relaxed) && !session.interrupted {
            session.interrupt();
        }
        session.follow_control();
        let now = Instant::now();
        if now >= next_report {
            observer.interval(&session.snapshot());
            next_report += interval;
        }
        std::thread::sleep(POLL.min(next_report.saturating_duration_since(now)));
    }
    let (report, last) = session.finish()?;
    observer.interval(&last);
    Ok(report)
}

/// Runs `plan` from preparation to report. `stop` ends sending early when
/// set (the results so far are returned, marked interrupted); `observer`
/// hears of setup and intervals.
pub fn run(
    plan: &Plan,
    options: RunOptions,
    stop: &AtomicBool,
    observer: &mut dyn RunObserver,
) -> Result<RunReport, RunError> {
    let session = Session::prepare(plan, options)?;
    observer.setup_done(session.setup());
    drive(session, stop, observer)
}

/// The first frame any sender produced, turned from the monotonic clock to
/// CLOCK_REALTIME (ns since 1970) with the two clocks' offset now.
fn first_frame_unix_ns(summaries: &[TxSummary]) -> Option<u64> {
    let first = summaries
        .iter()
        .filter_map(|summary| summary.first_frame_ns)
        .min()?;
    let (unix_now, monotonic_now) = (unix_now_ns(), monotonic_ns());
    Some((unix_now.saturating_sub(monotonic_now)).saturating_add(first))
}

fn now_since(instant: Instant) -> Duration {
    Instant::now().saturating_duration_since(instant)
}

/// Per stream, in id order: how long it was sending (from its own start,
/// the common start plus its phase offset, to its last frame, less the time
/// a controller had it stopped), over which its rate is given; and whether
/// a controller stopped it for a while (then it sends fewer frames than
/// planned on purpose).
fn stream_send_times(
    summaries: &[TxSummary],
    start_ns: u64,
    plan: &Plan,
) -> (Vec<Duration>, Vec<bool>) {
    let mut durations = vec![Duration::ZERO; plan.streams.len()];
    let mut paused = vec![false; plan.streams.len()];
    for times in summaries.iter().flat_map(|summary| &summary.stream_times) {
        let index = times.stream_id as usize;
        if let (Some(duration), Some(was_paused), Some(stream)) = (
            durations.get_mut(index),
            paused.get_mut(index),
            plan.streams.get(index),
        ) {
            *was_paused = times.paused_ns > 0;
            // From the stream's own start (its phase offset) to its last
            // frame, less its start delay and the gaps between its bursts,
            // less the time a controller had it stopped.
            let since_own_start = times
                .last_frame_ns
                .saturating_sub(start_ns)
                .saturating_sub(times.start_offset_ns);
            let sending = stream
                .schedule
                .sending_time_ns(stream.rate, since_own_start);
            *duration = Duration::from_nanos(sending.saturating_sub(times.paused_ns));
        }
    }
    (durations, paused)
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

/// Every stream's counters now, in stream id order. The receive side is
/// read first, so that a frame counted as received is always already
/// counted as sent.
fn read_counts(plan: &Plan, counters: &TxCounters, rx_ports: &[RxPort]) -> Vec<StreamCounts> {
    let mut counts = vec![StreamCounts::default(); plan.streams.len()];
    for rx in rx_ports {
        // One batched read of the whole counter, then this port's streams.
        let Ok(mut received) = rx.counter.streams_rx() else {
            continue;
        };
        for &stream_id in &rx.streams {
            if let (Some(entry), Some(stream_rx)) = (
                counts.get_mut(stream_id as usize),
                received.get_mut(stream_id as usize),
            ) {
                entry.rx = std::mem::take(stream_rx);
            }
        }
    }
    for (stream, entry) in plan.streams.iter().zip(&mut counts) {
        let tx = &counters.streams[stream.id as usize];
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
        // A stream counted on another agent (multi-host runs) is drained there.
        let complete = counts
            .iter()
            .zip(&plan.streams)
            .filter(|(_, stream)| !plan.ports[stream.rx_port].remote)
            .all(|(count, _)| count.unique_received() >= count.unique_sent());
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
