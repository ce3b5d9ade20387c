//! The stop signal every endpoint task watches: the run's deadline, or an
//! explicit stop from the caller, whichever comes first. Usable from async
//! tasks (sleeps that end early) and from blocking threads (a check).

use std::time::Duration;

use tokio::sync::watch;
use tokio::time::Instant;

/// A task's view of when to stop.
#[derive(Debug, Clone)]
pub(crate) struct Stop {
    stopped: watch::Receiver<bool>,
    deadline: Option<Instant>,
}

/// The caller's side: stops every task at once.
#[derive(Debug)]
pub(crate) struct StopSender(watch::Sender<bool>);

impl StopSender {
    /// Stops every task watching.
    pub(crate) fn stop(&self) {
        self.0.send_replace(true);
    }
}

/// A stop signal with an optional deadline `duration` from now.
pub(crate) fn stop_signal(duration: Option<Duration>) -> (StopSender, Stop) {
    let (sender, receiver) = watch::channel(false);
    let deadline = duration.map(|duration| Instant::now() + duration);
    (
        StopSender(sender),
        Stop {
            stopped: receiver,
            deadline,
        },
    )
}

impl Stop {
    /// True once the deadline has passed or a stop was sent.
    pub(crate) fn is_stopped(&self) -> bool {
        *self.stopped.borrow()
            || self
                .deadline
                .is_some_and(|deadline| Instant::now() >= deadline)
    }

    /// Sleeps until `when`, or less if the run stops first. Returns whether
    /// the run has stopped.
    pub(crate) async fn sleep_until(&mut self, when: Instant) -> bool {
        let until = match self.deadline {
            Some(deadline) => when.min(deadline),
            None => when,
        };
        tokio::select! {
            _ = tokio::time::sleep_until(until) => {}
            _ = self.stopped.wait_for(|stopped| *stopped) => {}
        }
        self.is_stopped()
    }

    /// Completes when the run stops.
    pub(crate) async fn stopped(&mut self) {
        let far = Instant::now() + Duration::from_secs(365 * 24 * 3600);
        while !self.sleep_until(far).await {}
    }
}
