//! `linerate reflect` end to end: started on the lab's b end, it sends a
//! run's frames back to a, where the run counts them (rx = tx) with exact
//! counts; Ctrl-C ends it with exit 0 and the total reflected, leaving no
//! XDP program behind; a second reflector on the same port, or a missing
//! interface, is a one-line error with exit 2. Needs root.

use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use linerate_engine::lab::{Lab, LabHost, LabSpec};

/// The verdict checks loss only: the achieved rate depends on how busy
/// the machine is, which is not what this test is about.
const PASS: &str = "\n[pass]\nmax_loss_frames = 0\n";
const FRAMES: u64 = 20_000;

fn linerate(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_linerate"))
        .args(args)
        .output()
        .expect("the linerate binary runs")
}

/// A `linerate reflect` child, killed by its pid if the test ends first.
struct Reflecting(Option<Child>);

impl Reflecting {
    fn start(host: &LabHost) -> Reflecting {
        let child = Command::new(env!("CARGO_BIN_EXE_linerate"))
            .args(["reflect", &host.interface, "--namespace", &host.namespace])
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("linerate reflect starts");
        Reflecting(Some(child))
    }

    /// Sends SIGINT and waits for the child's exit and output.
    fn interrupt(mut self) -> Output {
        let child = self.0.take().expect("still running");
        // SAFETY: sending a signal to our own child process.
        let sent = unsafe { libc::kill(child.id() as libc::pid_t, libc::SIGINT) };
        assert_eq!(sent, 0);
        child.wait_with_output().expect("linerate reflect ends")
    }
}

impl Drop for Reflecting {
    fn drop(&mut self) {
        if let Some(mut child) = self.0.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// The name of the XDP program on `host`'s interface, if any.
fn xdp_program_name(host: &LabHost) -> Option<String> {
    let output = Command::new("ip")
        .args([
            "-j",
            "-d",
            "-n",
            &host.namespace,
            "link",
            "show",
            "dev",
            &host.interface,
        ])
        .output()
        .expect("ip runs");
    let links: serde_json::Value =
        serde_json::from_slice(&output.stdout).expect("ip -j prints JSON");
    links[0]["xdp"]["prog"]["name"].as_str().map(str::to_string)
}

fn wait_for_program(host: &LabHost) -> Option<String> {
    let deadline = Instant::now() + Duration::from_secs(10);
    while Instant::now() < deadline {
        if let Some(name) = xdp_program_name(host) {
            return Some(name);
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    None
}

#[test]
fn reflect_sends_a_runs_frames_back_until_ctrl_c_and_leaves_nothing() {
    let lab = Lab::create(LabSpec::unique()).expect("build the lab (run the tests as root)");
    let spec = lab.spec();
    let reflecting = Reflecting::start(&spec.b);
    assert_eq!(
        wait_for_program(&spec.b).as_deref(),
        Some("lr_reflector"),
        "the reflector is attached to b"
    );

    // A second reflector on the same port is refused, naming the first.
    let second = linerate(&[
        "reflect",
        &spec.b.interface,
        "--namespace",
        &spec.b.namespace,
    ]);
    assert_eq!(second.status.code(), Some(2));
    let error = String::from_utf8_lossy(&second.stderr).into_owned();
    assert!(
        error.contains("another XDP program is already attached: \"lr_reflector\"")
            && error.lines().count() == 1,
        "{error}"
    );

    // A run from a, counted back on a.
    let dir = std::env::temp_dir().join(format!("linerate-reflect-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let path = dir.join("round-trip.toml");
    std::fs::write(
        &path,
        format!(
            "[run]\nframes = {FRAMES}\nreport_interval = \"200ms\"\n{}{}{PASS}",
            spec.port_tables(),
            spec.stream_table("rtt", "a", 128, "20kpps")
        ),
    )
    .expect("write scenario");
    let run = linerate(&["run", path.to_str().expect("utf-8 path")]);
    let _ = std::fs::remove_dir_all(&dir);
    let text = String::from_utf8_lossy(&run.stdout).into_owned();
    assert_eq!(
        run.status.code(),
        Some(0),
        "{text}\n{}",
        String::from_utf8_lossy(&run.stderr)
    );
    let summary: Vec<&str> = text
        .lines()
        .find(|line| line.starts_with("rtt "))
        .expect("summary line")
        .split_whitespace()
        .collect();
    assert_eq!(
        summary[1..4],
        [FRAMES.to_string(), FRAMES.to_string(), "0".to_string()],
        "sent, received back, lost: {text}"
    );

    let output = reflecting.interrupt();
    let text = String::from_utf8_lossy(&output.stdout).into_owned();
    assert_eq!(output.status.code(), Some(0), "{text}");
    assert!(
        text.contains(&format!("total: {FRAMES} frames reflected")),
        "{text}"
    );
    assert_eq!(xdp_program_name(&spec.b), None, "nothing left on b");
}

#[test]
fn reflect_on_a_missing_interface_exits_2_with_one_line() {
    let output = linerate(&["reflect", "lrtest-nosuch0"]);
    assert_eq!(output.status.code(), Some(2));
    let error = String::from_utf8_lossy(&output.stderr).into_owned();
    assert!(
        error.starts_with("linerate: error: port \"lrtest-nosuch0\"") && error.lines().count() == 1,
        "{error}"
    );
}
