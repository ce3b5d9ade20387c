//! Following the stations' association once they are up: what one
//! station's wpa_supplicant events add up to ([`AssociationLog`]: each loss
//! of association with its time and reason, the time spent without one),
//! and the thread that reads every station's attached event socket for as
//! long as the run lasts ([`StationWatch`]: one poll(2) over all of them,
//! never a thread per station).

use std::os::fd::AsRawFd;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use super::control::{failure_reason, ControlSocket, Event};
use super::StationReport;

/// How long one poll(2) waits before the stop flag is looked at again.
const POLL_MS: i32 = 200;
/// How long a readable socket is read for its next event.
const READ_WAIT: Duration = Duration::from_millis(1);

/// One station's association as its events tell it, from its first
/// association on.
#[derive(Debug, Clone)]
pub(crate) struct AssociationLog {
    /// What times are counted from (when the stations' wpa_supplicant started).
    base: Instant,
    /// Associated (handshake completed) as last seen.
    connected: bool,
    /// Associated at least once.
    ever_connected: bool,
    /// Losses of association after the first one.
    disconnections: u32,
    /// The last loss: seconds from `base` and the reason.
    last_loss: Option<(f64, String)>,
    /// Since when the station is without association, while it is.
    lost_since: Option<Instant>,
    /// Time without association after the first one, up to `lost_since`.
    without: Duration,
}

impl AssociationLog {
    /// A log for a station whose wpa_supplicant started at `base`.
    pub(crate) fn new(base: Instant) -> AssociationLog {
        AssociationLog {
            base,
            connected: false,
            ever_connected: false,
            disconnections: 0,
            last_loss: None,
            lost_since: None,
            without: Duration::ZERO,
        }
    }

    /// Whether the station is associated as last seen.
    pub(crate) fn is_connected(&self) -> bool {
        self.connected
    }

    /// The station associated (an event, or STATUS COMPLETED) at `now`.
    pub(crate) fn associated(&mut self, now: Instant) {
        if let Some(since) = self.lost_since.take() {
            self.without += now.saturating_duration_since(since);
        }
        self.connected = true;
        self.ever_connected = true;
    }

    /// The station lost its association at `now`, for `reason`. Before the
    /// first association a failed attempt is not a loss.
    pub(crate) fn lost(&mut self, now: Instant, reason: String) {
        if !self.connected {
            return;
        }
        self.connected = false;
        self.disconnections += 1;
        self.last_loss = Some((
            now.saturating_duration_since(self.base).as_secs_f64(),
            reason,
        ));
        self.lost_since = Some(now);
    }

    /// Applies one event seen at `now`.
    pub(crate) fn note(&mut self, event: &Event, now: Instant) {
        match event.name.as_str() {
            "CTRL-EVENT-CONNECTED" => self.associated(now),
            "CTRL-EVENT-DISCONNECTED" => {
                let reason = failure_reason(event).unwrap_or_else(|| event.text.clone());
                self.lost(now, reason);
            }
            _ => {}
        }
    }

    /// The loss sentence: "at 31.2 s: disconnected (reason=15: …)".
    pub(crate) fn last_loss(&self) -> Option<String> {
        self.last_loss
            .as_ref()
            .map(|(at_s, reason)| format!("at {at_s:.1} s: {reason}"))
    }

    /// Writes the counts into `report` as of `now`; a station without
    /// association at `now` (having had one) gets its failure sentence.
    pub(crate) fn fill(&self, report: &mut StationReport, now: Instant) {
        if !self.ever_connected {
            return;
        }
        let open = self
            .lost_since
            .map_or(Duration::ZERO, |since| now.saturating_duration_since(since));
        report.disconnections = self.disconnections;
        report.time_without_association_s = (self.without + open).as_secs_f64();
        report.last_disconnection = self.last_loss();
        if !self.connected && report.failure.is_none() {
            report.failure = Some(format!(
                "lost its association {} and was not associated again by the end of the run",
                self.last_loss()
                    .unwrap_or_else(|| "during the run".to_string())
            ));
        }
    }
}

/// The thread reading every station's events while the run lasts.
#[derive(Debug)]
pub(crate) struct StationWatch {
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<Vec<AssociationLog>>>,
}

impl StationWatch {
    /// Starts reading `sockets` (attached event sockets, one per station,
    /// in the order of `logs`). `None` when no thread could be started:
    /// the logs then stay as they are (the caller keeps a copy).
    pub(crate) fn start(
        sockets: Vec<ControlSocket>,
        logs: Vec<AssociationLog>,
    ) -> Option<StationWatch> {
        let stop = Arc::new(AtomicBool::new(false));
        let flag = Arc::clone(&stop);
        std::thread::Builder::new()
            .name("linerate-stations".to_string())
            .spawn(move || watch(&sockets, logs, &flag))
            .ok()
            .map(|thread| StationWatch {
                stop,
                thread: Some(thread),
            })
    }

    /// Stops the thread; the logs as of now (`None` if it panicked).
    pub(crate) fn finish(mut self) -> Option<Vec<AssociationLog>> {
        self.stop.store(true, Ordering::Relaxed);
        self.thread.take().and_then(|thread| thread.join().ok())
    }
}

impl Drop for StationWatch {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// The thread's loop: poll(2) every socket, apply what arrives, until `stop`.
fn watch(
    sockets: &[ControlSocket],
    mut logs: Vec<AssociationLog>,
    stop: &AtomicBool,
) -> Vec<AssociationLog> {
    let mut polled: Vec<libc::pollfd> = sockets
        .iter()
        .map(|socket| libc::pollfd {
            fd: socket.as_raw_fd(),
            events: libc::POLLIN,
            revents: 0,
        })
        .collect();
    // After the stop, one more pass without waiting: what arrived until
    // then still counts.
    loop {
        let stopping = stop.load(Ordering::Relaxed);
        // SAFETY: `polled` is a live, correctly sized array of pollfd for
        // the whole call; the fds belong to `sockets`, open until we return.
        let ready = unsafe {
            libc::poll(
                polled.as_mut_ptr(),
                polled.len() as libc::nfds_t,
                if stopping { 0 } else { POLL_MS },
            )
        };
        if ready < 0 && std::io::Error::last_os_error().kind() != std::io::ErrorKind::Interrupted {
            break;
        }
        for ((entry, socket), log) in polled.iter_mut().zip(sockets).zip(&mut logs) {
            if entry.revents == 0 {
                continue;
            }
            entry.revents = 0;
            while let Ok(Some(event)) = socket.next_event(READ_WAIT) {
                log.note(&event, Instant::now());
            }
        }
        if stopping {
            break;
        }
    }
    logs
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(text: &str) -> Event {
        Event::parse(text).expect("an event")
    }

    #[test]
    fn a_loss_counts_only_after_the_first_association() {
        let base = Instant::now();
        let mut log = AssociationLog::new(base);
        log.note(
            &event("<3>CTRL-EVENT-DISCONNECTED bssid=02:00:00:00:00:00 reason=15"),
            base,
        );
        let mut report = StationReport::default();
        log.fill(&mut report, base);
        assert_eq!(report.disconnections, 0);
        assert!(report.failure.is_none());

        log.note(
            &event("<3>CTRL-EVENT-CONNECTED - Connection to 02:00:00:00:00:00 completed"),
            base + Duration::from_secs(10),
        );
        log.note(
            &event("<3>CTRL-EVENT-DISCONNECTED bssid=02:00:00:00:00:00 reason=15"),
            base + Duration::from_secs(12),
        );
        log.note(
            &event("<3>CTRL-EVENT-CONNECTED - Connection to 02:00:00:00:00:00 completed"),
            base + Duration::from_secs(15),
        );
        let mut report = StationReport::default();
        log.fill(&mut report, base + Duration::from_secs(20));
        assert_eq!(report.disconnections, 1);
        assert!((report.time_without_association_s - 3.0).abs() < 1e-9);
        assert_eq!(
            report.last_disconnection.as_deref(),
            Some("at 12.0 s: disconnected (reason=15: 4-way handshake timeout, by the AP)")
        );
        assert!(report.failure.is_none(), "back by the end: not a failure");
    }

    /// A client socket attached to a fake supplicant's socket at `server`
    /// (answering the ATTACH), and the client's address for events.
    fn attached(
        dir: &std::path::Path,
        name: &str,
    ) -> (
        ControlSocket,
        std::os::unix::net::UnixDatagram,
        std::path::PathBuf,
    ) {
        let path = dir.join(name);
        let server = std::os::unix::net::UnixDatagram::bind(&path).expect("bind the fake");
        let client = ControlSocket::connect(&path, dir).expect("connect");
        let address = std::thread::scope(|scope| {
            let answer = scope.spawn(|| {
                let mut buffer = [0u8; 64];
                let (_, from) = server.recv_from(&mut buffer).expect("the ATTACH");
                let from = from.as_pathname().expect("a bound client").to_path_buf();
                server.send_to(b"OK\n", &from).expect("answer");
                from
            });
            client.attach(Duration::from_secs(5)).expect("attached");
            answer.join().expect("the fake's thread")
        });
        (client, server, address)
    }

    #[test]
    fn the_watch_follows_every_station_on_one_thread() {
        let dir = std::env::temp_dir().join(format!("linerate-watch-test-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("test dir");
        let (first, first_server, first_address) = attached(&dir, "sta0000");
        let (second, second_server, second_address) = attached(&dir, "sta0001");
        let base = Instant::now();
        let mut logs = vec![AssociationLog::new(base), AssociationLog::new(base)];
        for log in &mut logs {
            log.associated(base);
        }
        let watch = StationWatch::start(vec![first, second], logs).expect("the thread");
        second_server
            .send_to(
                b"<3>CTRL-EVENT-DISCONNECTED bssid=02:00:00:00:00:00 reason=15",
                &second_address,
            )
            .expect("send");
        first_server
            .send_to(b"<2>CTRL-EVENT-SCAN-STARTED ", &first_address)
            .expect("send");
        // Whether read in a poll or in the pass after the stop, both count.
        let logs = watch.finish().expect("the logs");
        assert!(logs[0].is_connected());
        assert!(!logs[1].is_connected());
        let mut report = StationReport::default();
        logs[1].fill(&mut report, Instant::now());
        assert_eq!(report.disconnections, 1);
        assert!(report
            .failure
            .as_deref()
            .is_some_and(|failure| failure.contains("reason=15: 4-way handshake timeout")));
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn a_station_without_association_at_the_end_fails_with_the_reason() {
        let base = Instant::now();
        let mut log = AssociationLog::new(base);
        log.associated(base + Duration::from_secs(5));
        log.note(
            &event(
                "<3>CTRL-EVENT-DISCONNECTED bssid=02:00:00:00:00:00 reason=4 locally_generated=1",
            ),
            base + Duration::from_secs(8),
        );
        let mut report = StationReport::default();
        log.fill(&mut report, base + Duration::from_secs(18));
        assert_eq!(report.disconnections, 1);
        assert!((report.time_without_association_s - 10.0).abs() < 1e-9);
        assert_eq!(
            report.failure.as_deref(),
            Some("lost its association at 8.0 s: disconnected (reason=4: inactivity, by the station) and was not associated again by the end of the run")
        );
    }
}
