//! What the server's test files share: a server started in this process on
//! a free loopback port (stopped and joined on drop, every run it holds
//! stopped first), and a blocking HTTP client for it.

#![allow(dead_code)]

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::mpsc;
use std::thread::JoinHandle;

use linerate_server::{ServeOptions, Server};

/// A server on 127.0.0.1, port chosen by the kernel.
pub struct TestServer {
    /// Where it listens.
    pub addr: SocketAddr,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<JoinHandle<Vec<String>>>,
}

impl TestServer {
    /// Starts a server without a token.
    pub fn start() -> TestServer {
        TestServer::with(None, None)
    }

    /// Starts a server with an optional token and report directory.
    pub fn with(token: Option<&str>, report_dir: Option<PathBuf>) -> TestServer {
        let options = ServeOptions {
            listen: "127.0.0.1:0".parse().expect("an address"),
            token: token.map(str::to_string),
            report_dir,
            clock_state: None,
        };
        let (addr_tx, addr_rx) = mpsc::channel();
        let (shutdown_tx, shutdown_rx) = tokio::sync::oneshot::channel::<()>();
        let thread = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("a runtime");
            runtime.block_on(async move {
                let server = Server::bind(options).await.expect("bind 127.0.0.1:0");
                addr_tx
                    .send(server.local_addr().expect("bound"))
                    .expect("test waits");
                server
                    .run(async move {
                        let _ = shutdown_rx.await;
                    })
                    .await
                    .expect("the server runs")
            })
        });
        let addr = addr_rx.recv().expect("the server started");
        TestServer {
            addr,
            shutdown: Some(shutdown_tx),
            thread: Some(thread),
        }
    }

    /// The URL of `path` on this server.
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    /// Shuts the server down (every run stopped and waited for) and returns
    /// the summary lines of the runs it stopped.
    pub fn stop(mut self) -> Vec<String> {
        self.stop_inner()
    }

    fn stop_inner(&mut self) -> Vec<String> {
        if let Some(shutdown) = self.shutdown.take() {
            let _ = shutdown.send(());
        }
        self.thread
            .take()
            .map(|thread| thread.join().unwrap_or_default())
            .unwrap_or_default()
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        self.stop_inner();
    }
}

/// A blocking client with a generous timeout.
pub fn client() -> reqwest::blocking::Client {
    reqwest::blocking::Client::builder()
        .timeout(std::time::Duration::from_secs(60))
        .build()
        .expect("a client")
}

/// The JSON body of `response`, after checking its status.
pub fn json(response: reqwest::blocking::Response, status: u16) -> serde_json::Value {
    let got = response.status().as_u16();
    let text = response.text().expect("a body");
    assert_eq!(got, status, "status {got}, body {text}");
    serde_json::from_str(&text).unwrap_or_else(|error| panic!("not JSON ({error}): {text}"))
}
