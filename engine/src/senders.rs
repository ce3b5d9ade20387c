//! The sender threads of a session: one worker per (port, queue) that has
//! streams, each pinned to a core, opening its AF_XDP socket inside its
//! port's namespace, then waiting for the common start time.

use std::collections::BTreeMap;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use crossbeam::channel;

use crate::frame::FrameGenerator;
use crate::netns::NetnsGuard;
use crate::run::{RunError, RunOptions, TxPortInfo};
use crate::scenario::{Phase, Plan, StopCondition, StreamPlan};
use crate::schedule::phase_offset_ns;
use crate::tx::{StreamSwitches, TxCounters, TxError, TxStreamSetup, TxSummary, TxWorker, XskMode};

/// How long after a duration's end unbounded (rate max) streams stop.
const DEADLINE_GRACE: Duration = Duration::from_millis(1);

pub(crate) struct Sender {
    pub(crate) port: usize,
    pub(crate) handle: JoinHandle<Result<TxSummary, RunError>>,
}

pub(crate) type OpenedSenders = (Vec<Sender>, Vec<TxPortInfo>, Vec<channel::Sender<u64>>);

/// One worker per (port, queue) that has streams: a port's streams are
/// dealt to its queues in turn, each stream owned by one worker so that its
/// sequence numbers stay in order.
pub(crate) fn plan_workers(plan: &Plan) -> Vec<((usize, u32), Vec<&StreamPlan>)> {
    let mut by_worker: BTreeMap<(usize, u32), Vec<&StreamPlan>> = BTreeMap::new();
    let mut dealt_per_port: BTreeMap<usize, u32> = BTreeMap::new();
    // A stream sent from another agent's port is only counted here.
    for stream in plan
        .streams
        .iter()
        .filter(|stream| !plan.ports[stream.tx_port].remote)
    {
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
pub(crate) fn open_senders(
    plan: &Plan,
    workers: &[((usize, u32), Vec<&StreamPlan>)],
    options: RunOptions,
    generators: &[FrameGenerator],
    counters: &Arc<TxCounters>,
    switches: &Arc<StreamSwitches>,
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
            .enumerate()
            .map(|(index, stream)| TxStreamSetup {
                stream_id: stream.id,
                generator: generators[stream.id as usize].clone(),
                rate: stream.rate,
                schedule: stream.schedule,
                frames_to_send: stream.frames_to_send(plan.run.stop),
                fault: stream.fault,
                start_offset_ns: match plan.run.phase {
                    Phase::Spread => phase_offset_ns(stream.rate, index, streams.len()),
                    Phase::Aligned => 0,
                },
                tai_clock: plan.crosses_agents(stream),
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
        let switches = Arc::clone(switches);
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
                sleep_until_shortly_before(start_ns, &stop);
                let deadline_ns =
                    deadline.map(|after_start| start_ns + after_start.as_nanos() as u64);
                worker
                    .run(
                        start_ns,
                        deadline_ns,
                        &stop,
                        &switches,
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

/// How long before the start a sender stops sleeping and spins.
const START_SPIN: Duration = Duration::from_micros(200);

/// Sleeps until [`START_SPIN`] before `start_ns` (CLOCK_MONOTONIC), waking
/// every 10 ms to see `stop`: a start set seconds ahead (a coordinator's
/// common start) then costs no core, and senders sharing cores are not
/// held back by each other's spinning when the start comes.
fn sleep_until_shortly_before(start_ns: u64, stop: &AtomicBool) {
    let wake_ns = start_ns.saturating_sub(START_SPIN.as_nanos() as u64);
    loop {
        let now = crate::clock::monotonic_ns();
        if now >= wake_ns || stop.load(std::sync::atomic::Ordering::Relaxed) {
            return;
        }
        std::thread::sleep(Duration::from_nanos((wake_ns - now).min(10_000_000)));
    }
}
