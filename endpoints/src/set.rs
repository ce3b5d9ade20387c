//! The runner: starts every endpoint of a run together, from sync code, on
//! tokio runtimes of their own (one per network namespace, whose threads
//! enter the namespace as they start, so each socket is made there), and
//! gives cumulative snapshots while they run, a stop, and the final report.

use std::collections::BTreeMap;
use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::runtime::Runtime;
use tokio::task::JoinHandle;

use crate::error::{EndpointError, ErrorKind};
use crate::netns::Namespace;
use crate::plan::{EndpointPlans, UrlPlan};
use crate::report::{
    self, EndpointsReport, EndpointsSnapshot, FileIoCounters, PingCounters, TcpCounters,
    UrlCounters,
};
use crate::stop::{stop_signal, Stop, StopSender};
use crate::url::Transport;

/// Longest wait, after the stop, for TCP receivers to read to the end and
/// for other tasks to wind up (ping waits its own timeout on top).
const DRAIN: Duration = Duration::from_secs(5);
/// Worker threads per runtime.
const WORKERS: usize = 1;
/// Blocking threads per runtime (FTP transfers, name lookups, File-IO).
const BLOCKING_THREADS: usize = 16;

/// The endpoints of one run, running.
pub struct EndpointSet {
    plans: EndpointPlans,
    runtimes: BTreeMap<Option<String>, Runtime>,
    /// Every task, with a File-IO endpoint's counters for the File-IO
    /// ones (a File-IO task given up at the end is counted there).
    tasks: Vec<(JoinHandle<()>, Option<Arc<FileIoCounters>>)>,
    stop_sender: StopSender,
    stop: Stop,
    started: Instant,
    duration: Option<Duration>,
    stopped_at: Mutex<Option<Instant>>,
    tcp: Vec<Arc<TcpCounters>>,
    url: Vec<Arc<UrlCounters>>,
    ping: Vec<Arc<PingCounters>>,
    file_io: Vec<Arc<FileIoCounters>>,
    drain: Duration,
}

/// A runtime whose threads live in `namespace` (or linerate's own).
fn namespace_runtime(
    namespace: Option<&Namespace>,
    endpoint: &str,
) -> Result<Runtime, EndpointError> {
    let mut builder = tokio::runtime::Builder::new_multi_thread();
    builder
        .worker_threads(WORKERS)
        .max_blocking_threads(BLOCKING_THREADS)
        .thread_name("linerate-endpoints")
        .enable_all();
    if let Some(namespace) = namespace.cloned() {
        builder.on_thread_start(move || {
            // Namespace::open entered it once already, from a scratch thread
            // with the same privileges and the same open namespace file, so
            // this cannot fail short of the process losing CAP_SYS_ADMIN.
            if let Err(message) = namespace.enter_this_thread() {
                eprintln!("linerate: {message}");
            }
        });
    }
    builder.build().map_err(|error| EndpointError::Setup {
        kind: "endpoint",
        endpoint: endpoint.to_string(),
        message: format!("cannot start a runtime: {error}"),
    })
}

impl EndpointSet {
    /// Starts every endpoint in `plans`; each stops after `duration`
    /// (`None`: when [`EndpointSet::stop`] is called). Fails, with nothing
    /// left running, when a namespace is missing, a listener cannot bind, a
    /// raw socket cannot be opened or a CA file cannot be read.
    pub fn start(
        plans: EndpointPlans,
        duration: Option<Duration>,
    ) -> Result<EndpointSet, EndpointError> {
        let (stop_sender, stop) = stop_signal(duration);
        let drain = plans
            .ping
            .iter()
            .map(|plan| plan.timeout)
            .max()
            .unwrap_or_default()
            + DRAIN;
        let mut set = EndpointSet {
            plans: EndpointPlans::default(),
            runtimes: BTreeMap::new(),
            tasks: Vec::new(),
            stop_sender,
            stop,
            started: Instant::now(),
            duration,
            stopped_at: Mutex::new(None),
            tcp: Vec::new(),
            url: Vec::new(),
            ping: Vec::new(),
            file_io: Vec::new(),
            drain,
        };
        let started = set.start_all(&plans);
        set.plans = plans;
        if let Err(error) = started {
            set.stop();
            set.shut_down();
            return Err(error);
        }
        Ok(set)
    }

    fn start_all(&mut self, plans: &EndpointPlans) -> Result<(), EndpointError> {
        for plan in &plans.tcp {
            self.start_tcp(plan)?;
        }
        for plan in &plans.url {
            self.start_url(plan)?;
        }
        for plan in &plans.ping {
            let counters = Arc::new(PingCounters::default());
            self.ping.push(counters.clone());
            let opening = plan.clone();
            let socket = self
                .run_in(plan.namespace.as_deref(), &plan.name, async move {
                    crate::ping::open_socket(&opening)
                })?
                .map_err(|message| setup("ping", &plan.name, message))?;
            let pinger = crate::ping::Pinger::new(plan.clone(), socket, counters);
            let stop = self.stop.clone();
            self.spawn(plan.namespace.as_deref(), &plan.name, pinger.run(stop))?;
        }
        for plan in &plans.file_io {
            let counters = Arc::new(FileIoCounters::default());
            self.file_io.push(counters.clone());
            let (plan, stop, task_counters) = (plan.clone(), self.stop.clone(), counters.clone());
            let handle = self
                .runtime(None, &plan.name)?
                .spawn_blocking(move || crate::file_io::run(&plan, &task_counters, &stop));
            self.tasks.push((handle, Some(counters)));
        }
        Ok(())
    }

    fn start_tcp(&mut self, plan: &crate::plan::TcpPlan) -> Result<(), EndpointError> {
        let counters = Arc::new(TcpCounters::default());
        self.tcp.push(counters.clone());
        let listening = plan.clone();
        let listener = self
            .run_in(plan.b.namespace.as_deref(), &plan.name, async move {
                crate::tcp::listen(&listening).await
            })?
            .map_err(|message| setup("tcp", &plan.name, message))?;
        let stop = self.stop.clone();
        self.spawn(
            plan.b.namespace.as_deref(),
            &plan.name,
            crate::tcp::run_b(listener, plan.clone(), counters.clone(), stop),
        )?;
        let stop = self.stop.clone();
        self.spawn(
            plan.a.namespace.as_deref(),
            &plan.name,
            crate::tcp::run_a(plan.clone(), counters, stop),
        )
    }

    fn start_url(&mut self, plan: &UrlPlan) -> Result<(), EndpointError> {
        let counters = Arc::new(UrlCounters::default());
        self.url.push(counters.clone());
        let parsed =
            crate::url::parse(&plan.url).map_err(|message| setup("url", &plan.name, message))?;
        let transport = if parsed.scheme == "ftp" {
            Transport::Ftp
        } else {
            Transport::Http(
                crate::http::client(plan).map_err(|message| setup("url", &plan.name, message))?,
            )
        };
        let stop = self.stop.clone();
        self.spawn(
            plan.namespace.as_deref(),
            &plan.name,
            crate::url::run(Arc::new(plan.clone()), transport, counters, stop),
        )
    }

    /// The runtime for `namespace`, made on first use.
    fn runtime(
        &mut self,
        namespace: Option<&str>,
        endpoint: &str,
    ) -> Result<&Runtime, EndpointError> {
        let key = namespace.map(str::to_string);
        if !self.runtimes.contains_key(&key) {
            let opened = namespace
                .map(Namespace::open)
                .transpose()
                .map_err(|message| EndpointError::Namespace {
                    endpoint: endpoint.to_string(),
                    message,
                })?;
            let runtime = namespace_runtime(opened.as_ref(), endpoint)?;
            self.runtimes.insert(key.clone(), runtime);
        }
        self.runtimes
            .get(&key)
            .ok_or_else(|| setup("endpoint", endpoint, "runtime missing".to_string()))
    }

    fn spawn<F>(
        &mut self,
        namespace: Option<&str>,
        endpoint: &str,
        task: F,
    ) -> Result<(), EndpointError>
    where
        F: Future<Output = ()> + Send + 'static,
    {
        let handle = self.runtime(namespace, endpoint)?.spawn(task);
        self.tasks.push((handle, None));
        Ok(())
    }

    /// Runs `task` on a worker of `namespace`'s runtime and waits for it.
    fn run_in<F, T>(
        &mut self,
        namespace: Option<&str>,
        endpoint: &str,
        task: F,
    ) -> Result<T, EndpointError>
    where
        F: Future<Output = T> + Send + 'static,
        T: Send + 'static,
    {
        let runtime = self.runtime(namespace, endpoint)?;
        let handle = runtime.spawn(task);
        runtime
            .block_on(handle)
            .map_err(|error| setup("endpoint", endpoint, format!("setup task failed: {error}")))
    }

    /// Every endpoint's counters so far (cumulative).
    pub fn snapshot(&self) -> EndpointsSnapshot {
        EndpointsSnapshot {
            elapsed_s: self.started.elapsed().as_secs_f64(),
            tcp: self
                .plans
                .tcp
                .iter()
                .zip(&self.tcp)
                .map(|(plan, c)| c.counts(&plan.name))
                .collect(),
            url: self
                .plans
                .url
                .iter()
                .zip(&self.url)
                .map(|(plan, c)| c.counts(&plan.name))
                .collect(),
            ping: self
                .plans
                .ping
                .iter()
                .zip(&self.ping)
                .map(|(plan, c)| c.counts(&plan.name))
                .collect(),
            file_io: self
                .plans
                .file_io
                .iter()
                .zip(&self.file_io)
                .map(|(plan, c)| c.counts(&plan.name))
                .collect(),
        }
    }

    /// Stops every endpoint (senders stop; receivers and pings drain).
    pub fn stop(&self) {
        let mut stopped_at = self
            .stopped_at
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if stopped_at.is_none() {
            *stopped_at = Some(Instant::now());
        }
        self.stop_sender.stop();
    }

    /// True once every endpoint has finished (the deadline passed and they
    /// drained, or each reached its count), or the drain time has passed
    /// since the run stopped: a task the kernel still holds then (a File-IO
    /// write on a network mount whose server went away) is given up, so it
    /// cannot hold the run up.
    pub fn is_finished(&self) -> bool {
        self.tasks.iter().all(|(task, _)| task.is_finished())
            || self
                .stopped_at_or_deadline()
                .is_some_and(|end| Instant::now() >= end + self.drain)
    }

    /// When the run stopped: the stop if one was asked for, else the
    /// deadline (which may be still to come).
    fn stopped_at_or_deadline(&self) -> Option<Instant> {
        let stopped = *self
            .stopped_at
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let deadline = self.duration.map(|duration| self.started + duration);
        match (stopped, deadline) {
            (Some(stopped), Some(deadline)) => Some(stopped.min(deadline)),
            (stopped, deadline) => stopped.or(deadline),
        }
    }

    /// Stops, waits for the endpoints to drain, and reports.
    pub fn finish(mut self) -> EndpointsReport {
        // The run's own length: until the deadline, or the stop if earlier.
        let deadline = self.duration.map(|duration| self.started + duration);
        let now = Instant::now();
        let end = match deadline {
            Some(deadline) if deadline < now => deadline,
            _ => now,
        };
        {
            let mut stopped_at = self
                .stopped_at
                .lock()
                .unwrap_or_else(|poisoned| poisoned.into_inner());
            stopped_at.get_or_insert(end);
        }
        self.stop();
        let ended = self
            .stopped_at
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .unwrap_or(end);
        self.wait_for_tasks(ended);
        let seconds = ended.saturating_duration_since(self.started).as_secs_f64();
        let report = EndpointsReport {
            duration_s: seconds,
            tcp: self
                .plans
                .tcp
                .iter()
                .zip(&self.tcp)
                .map(|(plan, c)| report::tcp_report(plan, c, seconds))
                .collect(),
            url: self
                .plans
                .url
                .iter()
                .zip(&self.url)
                .map(|(plan, c)| report::url_report(plan, c, seconds))
                .collect(),
            ping: self
                .plans
                .ping
                .iter()
                .zip(&self.ping)
                .map(|(plan, c)| report::ping_report(plan, c))
                .collect(),
            file_io: self
                .plans
                .file_io
                .iter()
                .zip(&self.file_io)
                .map(|(plan, c)| report::file_io_report(plan, c, seconds))
                .collect(),
        };
        self.shut_down();
        report
    }

    /// Waits for the tasks until the drain time after `ended` (the stop),
    /// then gives up on those still running.
    fn wait_for_tasks(&mut self, ended: Instant) {
        let tasks = std::mem::take(&mut self.tasks);
        let Some(runtime) = self.runtimes.values().next() else {
            return;
        };
        let drain = self.drain;
        let give_up = tokio::time::Instant::from_std(ended + drain);
        runtime.block_on(async move {
            for (task, file_io) in tasks {
                let abort = task.abort_handle();
                if tokio::time::timeout_at(give_up, task).await.is_err() {
                    abort.abort();
                    if let Some(counters) = file_io {
                        counters.errors.record(ErrorKind::Timeout, || {
                            format!(
                                "a write or read was still blocked in the kernel {} s after the run stopped (a hard mount whose server is gone?); given up",
                                drain.as_secs()
                            )
                        });
                    }
                }
            }
        });
    }

    fn shut_down(&mut self) {
        for (_, runtime) in std::mem::take(&mut self.runtimes) {
            runtime.shutdown_timeout(Duration::from_secs(1));
        }
    }
}

impl Drop for EndpointSet {
    fn drop(&mut self) {
        self.stop_sender.stop();
        self.shut_down();
    }
}

fn setup(kind: &'static str, endpoint: &str, message: String) -> EndpointError {
    EndpointError::Setup {
        kind,
        endpoint: endpoint.to_string(),
        message,
    }
}
