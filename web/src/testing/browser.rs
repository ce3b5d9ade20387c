//! A headless Chromium driven over the DevTools protocol on a pipe
//! (`--remote-debugging-pipe`: commands in on fd 3, answers out on fd 4,
//! each a JSON message ended by a NUL byte), for tests that use a page as a
//! person would — click a button, type a token — and then watch what it
//! shows. In real time, not virtual time, so live streams keep flowing.
//! Ended by its pid on drop; its profile directory is removed.

use std::fs::File;
use std::io::{BufRead, BufReader, Write};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use super::{non_background_share, ChartState, PageError, Profile, CHROMIUM_FLAGS};

/// One page in a headless Chromium under test control.
pub struct Browser {
    child: Child,
    commands: File,
    answers: BufReader<File>,
    session: String,
    next_id: u64,
    /// Longest wait for one answer.
    timeout: Duration,
    _profile: Profile,
}

impl std::fmt::Debug for Browser {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Browser")
            .field("pid", &self.child.id())
            .finish()
    }
}

/// A pipe as (read end, write end), both close-on-exec.
fn pipe() -> Result<(OwnedFd, OwnedFd), PageError> {
    let mut ends = [0; 2];
    // SAFETY: `ends` has room for the two descriptors pipe2 writes.
    let status = unsafe { libc::pipe2(ends.as_mut_ptr(), libc::O_CLOEXEC) };
    if status != 0 {
        return Err(PageError(format!(
            "cannot create a pipe: {}",
            std::io::Error::last_os_error()
        )));
    }
    // SAFETY: pipe2 succeeded, so both are open descriptors owned by nobody else.
    Ok(unsafe { (OwnedFd::from_raw_fd(ends[0]), OwnedFd::from_raw_fd(ends[1])) })
}

/// `fd` copied to a descriptor number of at least 10 (close-on-exec), so
/// that putting the child's ends on 3 and 4 cannot overwrite one another.
fn above_nine(fd: OwnedFd) -> Result<OwnedFd, PageError> {
    // SAFETY: F_DUPFD_CLOEXEC on an open descriptor returns a new one or -1.
    let copy = unsafe { libc::fcntl(fd.as_raw_fd(), libc::F_DUPFD_CLOEXEC, 10) };
    if copy < 0 {
        return Err(PageError(format!(
            "cannot copy a descriptor: {}",
            std::io::Error::last_os_error()
        )));
    }
    // SAFETY: fcntl returned a fresh descriptor that nothing else owns.
    Ok(unsafe { OwnedFd::from_raw_fd(copy) })
}

impl Browser {
    /// Starts Chromium with a `width`×`height` window and opens `url` in it;
    /// returns once the page has loaded.
    pub fn open(url: &str, width: u32, height: u32) -> Result<Browser, PageError> {
        let profile = Profile::create()?;
        let (browser_reads, commands) = pipe()?;
        let (answers, browser_writes) = pipe()?;
        let browser_reads = above_nine(browser_reads)?;
        let browser_writes = above_nine(browser_writes)?;
        let (reads_fd, writes_fd) = (browser_reads.as_raw_fd(), browser_writes.as_raw_fd());
        let stderr = File::create(profile.0.join("stderr.txt"))
            .map_err(|error| PageError(format!("cannot create a log file: {error}")))?;
        let mut command = Command::new("chromium");
        command
            .args(CHROMIUM_FLAGS)
            .arg("--remote-debugging-pipe")
            .arg(format!("--window-size={width},{height}"))
            .arg(format!(
                "--user-data-dir={}",
                profile.0.join("data").display()
            ))
            .arg("about:blank")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(stderr);
        // SAFETY: between fork and exec the closure only calls dup2, which
        // is async-signal-safe; 3 and 4 are then the child's pipe ends
        // (dup2 leaves them without close-on-exec), the originals, above 9,
        // close on exec.
        unsafe {
            command.pre_exec(move || {
                if libc::dup2(reads_fd, 3) < 0 || libc::dup2(writes_fd, 4) < 0 {
                    return Err(std::io::Error::last_os_error());
                }
                Ok(())
            });
        }
        let child = command.spawn().map_err(|error| {
            PageError(format!(
                "cannot start chromium: {error}; install Debian's chromium package"
            ))
        })?;
        drop((browser_reads, browser_writes));
        let mut browser = Browser {
            child,
            commands: File::from(commands),
            answers: BufReader::new(File::from(answers)),
            session: String::new(),
            next_id: 0,
            timeout: Duration::from_secs(30),
            _profile: profile,
        };
        let target = browser.call("Target.createTarget", json!({ "url": "about:blank" }))?;
        let target_id = target["targetId"].clone();
        let attached = browser.call(
            "Target.attachToTarget",
            json!({ "targetId": target_id, "flatten": true }),
        )?;
        browser.session = attached["sessionId"]
            .as_str()
            .ok_or_else(|| PageError(format!("no session in {attached}")))?
            .to_string();
        browser.call("Page.enable", json!({}))?;
        browser.call("Page.navigate", json!({ "url": url }))?;
        browser.wait_for(
            "document.readyState === 'complete'",
            Duration::from_secs(30),
        )?;
        Ok(browser)
    }

    /// Sends one command (to the page once attached) and returns its result.
    fn call(&mut self, method: &str, params: Value) -> Result<Value, PageError> {
        self.next_id += 1;
        let id = self.next_id;
        let mut message = json!({ "id": id, "method": method, "params": params });
        if !self.session.is_empty() {
            message["sessionId"] = json!(self.session);
        }
        let mut bytes = message.to_string().into_bytes();
        bytes.push(0);
        self.commands
            .write_all(&bytes)
            .map_err(|error| PageError(format!("{method}: cannot write to chromium: {error}")))?;
        let started = Instant::now();
        loop {
            if started.elapsed() > self.timeout {
                return Err(PageError(format!(
                    "{method}: no answer within {:?}",
                    self.timeout
                )));
            }
            let mut answer = Vec::new();
            let read = self
                .answers
                .read_until(0, &mut answer)
                .map_err(|error| PageError(format!("{method}: cannot read chromium: {error}")))?;
            if read == 0 {
                return Err(PageError(format!("{method}: chromium closed its pipe")));
            }
            answer.pop();
            let answer: Value = serde_json::from_slice(&answer)
                .map_err(|error| PageError(format!("{method}: bad answer: {error}")))?;
            if answer["id"].as_u64() != Some(id) {
                continue; // an event, or another command's answer
            }
            if let Some(error) = answer.get("error") {
                return Err(PageError(format!("{method}: {error}")));
            }
            return Ok(answer["result"].clone());
        }
    }

    /// Evaluates `expression` in the page (awaiting a promise) and returns
    /// its value; a thrown exception is an error.
    pub fn evaluate(&mut self, expression: &str) -> Result<Value, PageError> {
        let result = self.call(
            "Runtime.evaluate",
            json!({ "expression": expression, "awaitPromise": true, "returnByValue": true }),
        )?;
        if let Some(exception) = result.get("exceptionDetails") {
            return Err(PageError(format!("{expression}: {exception}")));
        }
        Ok(result["result"]["value"].clone())
    }

    /// Evaluates `expression` every 50 ms until it is truthy (returning its
    /// value) or `timeout` passes (an error naming it).
    pub fn wait_for(&mut self, expression: &str, timeout: Duration) -> Result<Value, PageError> {
        let started = Instant::now();
        loop {
            let value = self.evaluate(expression)?;
            let truthy = match &value {
                Value::Null => false,
                Value::Bool(flag) => *flag,
                Value::Number(number) => number.as_f64() != Some(0.0),
                Value::String(text) => !text.is_empty(),
                _ => true,
            };
            if truthy {
                return Ok(value);
            }
            if started.elapsed() > timeout {
                return Err(PageError(format!(
                    "{expression} still {value} after {timeout:?}"
                )));
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Writes a PNG screenshot of the window to `path`; returns the share
    /// of its pixels that differ from its most common colour.
    pub fn screenshot(&mut self, path: &Path) -> Result<f64, PageError> {
        use base64::Engine as _;
        let shot = self.call("Page.captureScreenshot", json!({ "format": "png" }))?;
        let png = base64::engine::general_purpose::STANDARD
            .decode(shot["data"].as_str().unwrap_or_default())
            .map_err(|error| PageError(format!("screenshot: bad base64: {error}")))?;
        std::fs::write(path, png)
            .map_err(|error| PageError(format!("cannot write {}: {error}", path.display())))?;
        non_background_share(path)
    }

    /// Each `.chart` container's id and `data-drawn` value, in page order.
    pub fn charts(&mut self) -> Result<Vec<ChartState>, PageError> {
        let value = self.evaluate(
            "Array.from(document.querySelectorAll('div.chart'))\
             .map(chart => [chart.id, chart.dataset.drawn || null])",
        )?;
        Ok(value
            .as_array()
            .map(|charts| {
                charts
                    .iter()
                    .map(|chart| ChartState {
                        id: chart[0].as_str().unwrap_or_default().to_string(),
                        drawn: chart[1].as_str().map(str::to_string),
                    })
                    .collect()
            })
            .unwrap_or_default())
    }

    /// The page's recorded JavaScript errors (health.js), as text.
    pub fn errors(&mut self) -> Result<Vec<String>, PageError> {
        let value = self.evaluate(
            "window.LinerateHealth ? window.LinerateHealth.messages.slice() \
             : ['health.js did not run']",
        )?;
        Ok(value
            .as_array()
            .map(|messages| {
                messages
                    .iter()
                    .map(|message| message.as_str().unwrap_or_default().to_string())
                    .collect()
            })
            .unwrap_or_default())
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
