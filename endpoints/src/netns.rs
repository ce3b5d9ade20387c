//! Entering a named network namespace (`/run/netns/NAME`, as `ip netns`
//! makes them) on the calling thread. The endpoints' runtime threads enter
//! their namespace once, when they start, and stay there, so every socket a
//! task creates belongs to that namespace. (The engine has the same few
//! lines; this crate sits below it.)

use std::fs::File;
use std::os::fd::AsRawFd;
use std::sync::Arc;

/// Where `ip netns` keeps named namespaces.
const NETNS_RUN_DIR: &str = "/run/netns";

/// An open handle on a named network namespace.
#[derive(Debug, Clone)]
pub(crate) struct Namespace {
    name: String,
    file: Arc<File>,
}

impl Namespace {
    /// Opens `/run/netns/NAME`, and checks it can be entered (on a scratch
    /// thread, so the caller's own namespace is untouched).
    pub(crate) fn open(name: &str) -> Result<Namespace, String> {
        let file = File::open(format!("{NETNS_RUN_DIR}/{name}")).map_err(|error| {
            if error.kind() == std::io::ErrorKind::NotFound {
                format!("network namespace {name:?} does not exist (see `ip netns list`; `linerate lab up` creates the lab's)")
            } else {
                format!("cannot open network namespace {name:?}: {error}")
            }
        })?;
        let namespace = Namespace {
            name: name.to_string(),
            file: Arc::new(file),
        };
        let probe = namespace.clone();
        std::thread::spawn(move || probe.enter_this_thread())
            .join()
            .map_err(|_| {
                format!("cannot enter network namespace {name:?}: the probe thread died")
            })??;
        Ok(namespace)
    }

    /// Moves the calling thread into the namespace, for good.
    pub(crate) fn enter_this_thread(&self) -> Result<(), String> {
        // SAFETY: the fd is open for as long as `self.file` lives; setns
        // only reads it and changes the calling thread's network namespace.
        let result = unsafe { libc::setns(self.file.as_raw_fd(), libc::CLONE_NEWNET) };
        if result == 0 {
            Ok(())
        } else {
            Err(format!(
                "cannot enter network namespace {:?}: {} (linerate needs root or CAP_SYS_ADMIN)",
                self.name,
                std::io::Error::last_os_error()
            ))
        }
    }
}
