//! A File-IO write the kernel holds past the run's end does not hold the
//! run up: here the endpoint's first file is a FIFO nobody reads, so its
//! open blocks as a write on a hard NFS mount whose server is gone would.
//! The set must report finished the drain time (5 s) after the deadline,
//! and count the given-up task as one `timeout`.

use std::os::unix::fs::OpenOptionsExt;
use std::time::{Duration, Instant};

use linerate_endpoints::{EndpointPlans, EndpointSet, FileIoPlan};

#[test]
fn a_blocked_file_io_task_is_given_up_after_the_drain() {
    let dir = tempfile::tempdir().expect("temp dir");
    // The endpoint's first file: linerate-<name>-<pid>-0.dat.
    let fifo = dir
        .path()
        .join(format!("linerate-blocked-{}-0.dat", std::process::id()));
    let made = std::process::Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .expect("mkfifo runs");
    assert!(made.success(), "mkfifo {}", fifo.display());
    let plan =
        FileIoPlan::new("blocked", dir.path().to_path_buf(), 4096, 4096, 1_000_000).expect("valid");
    let started = Instant::now();
    let set = EndpointSet::start(
        EndpointPlans {
            file_io: vec![plan],
            ..Default::default()
        },
        Some(Duration::from_secs(1)),
    )
    .expect("start");
    std::thread::sleep(Duration::from_millis(3000));
    assert!(
        !set.is_finished(),
        "the task is blocked opening the FIFO and the drain has not passed"
    );
    while !set.is_finished() {
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "still not finished {:?} after the start (1 s run, 5 s drain)",
            started.elapsed()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    let finished = started.elapsed();
    assert!(
        finished >= Duration::from_secs(6),
        "finished after {finished:?}, before the drain had passed"
    );
    let report = set.finish();
    assert!(
        started.elapsed() < finished + Duration::from_secs(3),
        "finish took {:?}",
        started.elapsed() - finished
    );
    let files = &report.file_io[0];
    assert_eq!(files.counts.files_written, 0);
    assert_eq!(files.counts.errors.timeout, 1, "{:?}", files.first_error);
    assert_eq!(files.counts.errors.total(), 1);
    let first = files.first_error.as_deref().unwrap_or_default();
    assert!(first.contains("given up"), "{first}");
    // Let the abandoned open complete (a reader arrives, without waiting
    // for a writer); the task then sees the stop and removes its file.
    let reader = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK)
        .open(&fifo)
        .expect("open the FIFO for reading");
    drop(reader);
}
