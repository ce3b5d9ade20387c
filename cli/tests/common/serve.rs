//! `linerate serve` for the tests that talk to it: the binary on a free
//! loopback port, killed by pid on drop, and a blocking HTTP client.

use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

/// `linerate serve` on a free loopback port; killed (SIGKILL, by pid) on drop.
pub struct ServeProcess {
    child: Option<Child>,
    /// The server's base URL, e.g. `http://127.0.0.1:40123`.
    pub base: String,
}

impl ServeProcess {
    pub fn start(extra: &[&str]) -> ServeProcess {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|listener| listener.local_addr())
            .expect("a free port")
            .port();
        let listen = format!("127.0.0.1:{port}");
        let child = Command::new(env!("CARGO_BIN_EXE_linerate"))
            .args(["serve", "--listen", &listen])
            .args(extra)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("linerate serve starts");
        let server = ServeProcess {
            child: Some(child),
            base: format!("http://{listen}"),
        };
        let deadline = Instant::now() + Duration::from_secs(10);
        while client().get(server.url("/runs")).send().is_err() {
            assert!(Instant::now() < deadline, "linerate serve never answered");
            std::thread::sleep(Duration::from_millis(50));
        }
        server
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    pub fn pid(&self) -> i32 {
        self.child.as_ref().expect("running").id() as i32
    }

    /// Sends `signal` and waits (at most 30 s) for the process to end.
    pub fn signal_and_wait(mut self, signal: i32) -> Output {
        // SAFETY: kill(2) on the pid of a child this test started and has
        // not reaped yet, so the pid is still ours.
        unsafe {
            libc::kill(self.pid(), signal);
        }
        let mut child = self.child.take().expect("running");
        let deadline = Instant::now() + Duration::from_secs(30);
        while child.try_wait().expect("wait").is_none() {
            if Instant::now() > deadline {
                let _ = child.kill();
                panic!("linerate serve did not end after signal {signal}");
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        child.wait_with_output().expect("its output")
    }
}

impl Drop for ServeProcess {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

pub fn client() -> reqwest::blocking::Client {
    reqwest::blocking::Client::builder()
        .timeout(Duration::from_secs(60))
        .build()
        .expect("a client")
}

pub fn json(response: reqwest::blocking::Response, status: u16) -> Value {
    let got = response.status().as_u16();
    let text = response.text().expect("a body");
    assert_eq!(got, status, "status {got}, body {text}");
    serde_json::from_str(&text).unwrap_or_else(|error| panic!("not JSON ({error}): {text}"))
}
