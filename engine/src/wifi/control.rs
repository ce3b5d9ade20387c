//! A client for wpa_supplicant's control interface: the UNIX datagram
//! socket it makes per interface in its `ctrl_interface` directory. A
//! request is one datagram, its answer one datagram; after `ATTACH` the
//! socket also receives events (`<3>CTRL-EVENT-CONNECTED ...`). Here are
//! the socket ([`ControlSocket`]) and the parsing of what comes back:
//! `STATUS` and `SIGNAL_POLL` (key=value lines) and events ([`Event`],
//! with [`failure_reason`] turning the ones that mean "will not connect"
//! into a sentence).

use std::collections::HashMap;
use std::io;
use std::os::unix::net::UnixDatagram;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

/// The largest answer or event read (wpa_supplicant's own limit is 4096).
const MAX_MESSAGE: usize = 8192;

/// Errors talking to wpa_supplicant.
#[derive(Debug, thiserror::Error)]
pub enum ControlError {
    /// The socket could not be made or reached.
    #[error("wpa_supplicant's control socket {path}: {source}")]
    Socket {
        /// The socket.
        path: PathBuf,
        /// The OS error.
        #[source]
        source: io::Error,
    },
    /// No answer within the time allowed.
    #[error("wpa_supplicant did not answer {command:?} on {path} within {waited_ms} ms")]
    NoAnswer {
        /// The request.
        command: String,
        /// The socket.
        path: PathBuf,
        /// How long we waited.
        waited_ms: u64,
    },
    /// The answer was FAIL (or not OK where OK was expected).
    #[error("wpa_supplicant answered {answer:?} to {command:?}")]
    Refused {
        /// The request.
        command: String,
        /// What came back.
        answer: String,
    },
}

/// One client socket bound in a directory of ours and connected to
/// wpa_supplicant's socket for one interface. Its own socket file is
/// removed on drop.
#[derive(Debug)]
pub struct ControlSocket {
    socket: UnixDatagram,
    server: PathBuf,
    local: PathBuf,
}

impl ControlSocket {
    /// Binds a client socket in `local_dir` and connects it to `server`
    /// (`<ctrl_interface>/<interface>`).
    pub fn connect(server: &Path, local_dir: &Path) -> Result<ControlSocket, ControlError> {
        static NEXT: AtomicU32 = AtomicU32::new(0);
        let local = local_dir.join(format!(
            "c{}-{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        ));
        let socket_error = |path: &Path, source| ControlError::Socket {
            path: path.to_path_buf(),
            source,
        };
        let _ = std::fs::remove_file(&local);
        let socket = UnixDatagram::bind(&local).map_err(|error| socket_error(&local, error))?;
        let client = ControlSocket {
            socket,
            server: server.to_path_buf(),
            local,
        };
        client
            .socket
            .connect(server)
            .map_err(|error| socket_error(server, error))?;
        Ok(client)
    }

    /// The server socket's path.
    pub fn server(&self) -> &Path {
        &self.server
    }

    /// Sends `command` and returns the answer, skipping any event that
    /// arrives first (an attached socket gets both).
    pub fn request(&self, command: &str, timeout: Duration) -> Result<String, ControlError> {
        self.socket
            .send(command.as_bytes())
            .map_err(|source| ControlError::Socket {
                path: self.server.clone(),
                source,
            })?;
        let deadline = std::time::Instant::now() + timeout;
        loop {
            let left = deadline.saturating_duration_since(std::time::Instant::now());
            match self.receive(left)? {
                Some(message) if is_event(&message) => continue,
                Some(message) => return Ok(message),
                None => {
                    return Err(ControlError::NoAnswer {
                        command: command.to_string(),
                        path: self.server.clone(),
                        waited_ms: timeout.as_millis() as u64,
                    })
                }
            }
        }
    }

    /// `ATTACH`: from now on the socket receives events.
    pub fn attach(&self, timeout: Duration) -> Result<(), ControlError> {
        let answer = self.request("ATTACH", timeout)?;
        if answer.trim() == "OK" {
            Ok(())
        } else {
            Err(ControlError::Refused {
                command: "ATTACH".to_string(),
                answer: answer.trim().to_string(),
            })
        }
    }

    /// The next event within `timeout`, `None` when none came. Answers
    /// (not events) that arrive are skipped.
    pub fn next_event(&self, timeout: Duration) -> Result<Option<Event>, ControlError> {
        let deadline = std::time::Instant::now() + timeout;
        loop {
            let left = deadline.saturating_duration_since(std::time::Instant::now());
            match self.receive(left)? {
                Some(message) => {
                    if let Some(event) = Event::parse(&message) {
                        return Ok(Some(event));
                    }
                }
                None => return Ok(None),
            }
        }
    }

    /// One datagram within `timeout`; `None` on timeout.
    fn receive(&self, timeout: Duration) -> Result<Option<String>, ControlError> {
        let socket_error = |source| ControlError::Socket {
            path: self.server.clone(),
            source,
        };
        // A zero timeout means "block forever" to the socket: wait 1 ms.
        self.socket
            .set_read_timeout(Some(timeout.max(Duration::from_millis(1))))
            .map_err(socket_error)?;
        let mut buffer = vec![0u8; MAX_MESSAGE];
        match self.socket.recv(&mut buffer) {
            Ok(length) => Ok(Some(
                String::from_utf8_lossy(&buffer[..length]).into_owned(),
            )),
            Err(error)
                if matches!(
                    error.kind(),
                    io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                ) =>
            {
                Ok(None)
            }
            Err(error) => Err(socket_error(error)),
        }
    }
}

impl std::os::fd::AsRawFd for ControlSocket {
    /// The client socket, for poll(2) over many stations.
    fn as_raw_fd(&self) -> std::os::fd::RawFd {
        self.socket.as_raw_fd()
    }
}

impl Drop for ControlSocket {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.local);
    }
}

/// Whether a datagram is an event (`<level>TEXT`) rather than an answer.
fn is_event(message: &str) -> bool {
    message.starts_with('<') && message[1..].find('>').is_some_and(|end| end <= 2)
}

/// `key=value` lines (STATUS, SIGNAL_POLL) as a map.
pub fn parse_key_values(text: &str) -> HashMap<String, String> {
    text.lines()
        .filter_map(|line| line.split_once('='))
        .map(|(key, value)| (key.trim().to_string(), value.trim().to_string()))
        .collect()
}

/// One event: `<3>CTRL-EVENT-SSID-TEMP-DISABLED id=0 ssid="testNet" reason=WRONG_KEY`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Event {
    /// The priority level in the angle brackets.
    pub level: u8,
    /// The event's name (`CTRL-EVENT-CONNECTED`, `WPA:`, ...): the first word.
    pub name: String,
    /// `key=value` words after the name (quotes removed).
    pub fields: HashMap<String, String>,
    /// The whole text after the level.
    pub text: String,
}

impl Event {
    /// Parses an event datagram; `None` for anything else.
    pub fn parse(message: &str) -> Option<Event> {
        if !is_event(message) {
            return None;
        }
        let end = message.find('>')?;
        let level = message[1..end].parse().ok()?;
        let text = message[end + 1..].trim().to_string();
        let name = text.split_whitespace().next()?.to_string();
        let fields = split_words(&text[name.len()..])
            .into_iter()
            .filter_map(|word| {
                word.split_once('=')
                    .map(|(key, value)| (key.to_string(), value.trim_matches('"').to_string()))
            })
            .collect();
        Some(Event {
            level,
            name,
            fields,
            text,
        })
    }

    /// The value of field `key`.
    pub fn field(&self, key: &str) -> Option<&str> {
        self.fields.get(key).map(String::as_str)
    }
}

/// Words separated by spaces, a double-quoted part kept whole.
fn split_words(text: &str) -> Vec<String> {
    let mut words = Vec::new();
    let mut current = String::new();
    let mut quoted = false;
    for character in text.chars() {
        match character {
            '"' => {
                quoted = !quoted;
                current.push(character);
            }
            ' ' if !quoted => {
                if !current.is_empty() {
                    words.push(std::mem::take(&mut current));
                }
            }
            _ => current.push(character),
        }
    }
    if !current.is_empty() {
        words.push(current);
    }
    words
}

/// The event's meaning when it says the station cannot connect (or lost
/// its connection), as a sentence for the report; `None` for the others.
pub fn failure_reason(event: &Event) -> Option<String> {
    match event.name.as_str() {
        "CTRL-EVENT-SSID-TEMP-DISABLED" => Some(match event.field("reason") {
            Some("WRONG_KEY") => {
                "wrong passphrase (wpa_supplicant: CTRL-EVENT-SSID-TEMP-DISABLED reason=WRONG_KEY)"
                    .to_string()
            }
            Some(reason) => format!(
                "network disabled for now (wpa_supplicant: CTRL-EVENT-SSID-TEMP-DISABLED reason={reason})"
            ),
            None => "network disabled for now (CTRL-EVENT-SSID-TEMP-DISABLED)".to_string(),
        }),
        "CTRL-EVENT-ASSOC-REJECT" => Some(format!(
            "association rejected by the AP (status_code={})",
            event.field("status_code").unwrap_or("?")
        )),
        "CTRL-EVENT-AUTH-REJECT" => Some(format!(
            "authentication rejected by the AP (status_code={})",
            event.field("status_code").unwrap_or("?")
        )),
        "CTRL-EVENT-NETWORK-NOT-FOUND" => {
            Some("no AP with the network's SSID was found in the scans".to_string())
        }
        "CTRL-EVENT-DISCONNECTED" => {
            let code = event.field("reason").unwrap_or("?");
            let name = code
                .parse()
                .ok()
                .and_then(reason_name)
                .map_or_else(String::new, |name| format!(": {name}"));
            let by = if event.field("locally_generated") == Some("1") {
                "by the station"
            } else {
                "by the AP"
            };
            Some(format!("disconnected (reason={code}{name}, {by})"))
        }
        "CTRL-EVENT-SCAN-FAILED" => Some(format!(
            "the radio's scan failed (ret={})",
            event.field("ret").unwrap_or("?")
        )),
        "CTRL-EVENT-SAE-UNKNOWN-PASSWORD-IDENTIFIER" => {
            Some("the AP does not know the SAE password identifier".to_string())
        }
        _ => None,
    }
}

/// The IEEE 802.11 reason codes a station most often sees (802.11-2020
/// table 9-49), by name.
pub fn reason_name(code: u16) -> Option<&'static str> {
    Some(match code {
        1 => "unspecified",
        2 => "previous authentication no longer valid",
        3 => "deauthenticated, leaving",
        4 => "inactivity",
        5 => "AP cannot handle all associated stations",
        6 => "class 2 frame from a nonauthenticated station",
        7 => "class 3 frame from a nonassociated station",
        8 => "disassociated, leaving the BSS",
        9 => "not authenticated",
        14 => "MIC failure",
        15 => "4-way handshake timeout",
        16 => "group key handshake timeout",
        23 => "IEEE 802.1X authentication failed",
        34 => "too many frames not acknowledged",
        _ => return None,
    })
}

/// Whether a failure reason is a final one (a wrong key) rather than a
/// step wpa_supplicant retries past.
pub fn is_wrong_key(reason: &str) -> bool {
    reason.starts_with("wrong passphrase")
}
