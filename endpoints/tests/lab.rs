//! The endpoints against real parts in a lab of two network namespaces
//! joined by a veth pair: TCP both ends at 100 Mbit/s each way, nginx over
//! HTTP and HTTPS, vsftpd, the kernel answering pings (and not answering
//! for an unused address), File-IO on a temporary directory, and the
//! errors of a refused connection, an unresolvable name and an unknown
//! scheme. Each test builds and removes its own lab and servers.

mod common;

use std::net::IpAddr;
use std::time::{Duration, Instant};

use linerate_endpoints::plan::{
    EndpointPlans, FileIoPlan, PingPlan, TcpPlan, TcpSide, TlsTrust, UrlDirection, UrlPlan,
};
use linerate_endpoints::{failures, EndpointCriteria, EndpointError, EndpointSet};
use linerate_engine::lab::{Lab, LabSpec};

fn lab() -> Lab {
    Lab::create(LabSpec::unique()).expect("lab up")
}

fn discard() -> UrlDirection {
    UrlDirection::Download { destination: None }
}

/// A URL plan placed in the lab's namespace a, bound to its interface.
fn url_from_a(lab: &Lab, name: &str, url: &str, per_ten: Option<u64>, tls: TlsTrust) -> UrlPlan {
    let a = &lab.spec().a;
    UrlPlan::new(name, url, discard(), per_ten, Duration::from_secs(5), tls)
        .expect("valid url plan")
        .placed(
            Some(a.namespace.clone()),
            Some(a.interface.clone()),
            Some(IpAddr::V4(a.address)),
        )
}

/// Runs until every endpoint finishes by itself (request or file limits).
fn run_to_completion(plans: EndpointPlans) -> linerate_endpoints::EndpointsReport {
    let set = EndpointSet::start(plans, None).expect("start");
    let deadline = Instant::now() + Duration::from_secs(60);
    while !set.is_finished() {
        assert!(
            Instant::now() < deadline,
            "endpoints did not finish within 60 s"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    set.finish()
}

#[test]
fn tcp_100_mbit_each_way_for_10_s() {
    let lab = lab();
    let spec = lab.spec();
    let side = |host: &linerate_engine::lab::LabHost| TcpSide {
        namespace: Some(host.namespace.clone()),
        bind_device: Some(host.interface.clone()),
        address: IpAddr::V4(host.address),
        rate_bps: Some(100_000_000),
    };
    let plan = TcpPlan::new("cx", side(&spec.a), side(&spec.b), 5001, 1460).expect("valid");
    let set = EndpointSet::start(
        EndpointPlans {
            tcp: vec![plan],
            ..Default::default()
        },
        Some(Duration::from_secs(10)),
    )
    .expect("start");
    std::thread::sleep(Duration::from_secs(5));
    let halfway = set.snapshot();
    std::thread::sleep(Duration::from_secs(5));
    let report = set.finish();
    let tcp = &report.tcp[0];
    eprintln!("{}", serde_json::to_string_pretty(tcp).expect("json"));
    assert!(
        halfway.tcp[0].a_to_b.sent_bytes > 0
            && halfway.tcp[0].a_to_b.sent_bytes < tcp.a_to_b.sent_bytes
    );
    for direction in [&tcp.a_to_b, &tcp.b_to_a] {
        let ratio = direction.achieved_bps / 100e6;
        assert!(
            (0.98..=1.02).contains(&ratio),
            "rate {:.0} bit/s is not within 2 % of 100 Mbit/s",
            direction.achieved_bps
        );
        assert_eq!(
            direction.sent_bytes, direction.received_bytes,
            "bytes sent = bytes received"
        );
        // 10 s at 12.5 MB/s, give or take the pacing's last write and the start.
        assert!(
            direction.sent_bytes.abs_diff(125_000_000) < 2_500_000,
            "{} bytes",
            direction.sent_bytes
        );
    }
    assert_eq!(tcp.errors.total(), 0, "{:?}", tcp.first_error);
    assert!(failures(&report, &EndpointCriteria::default()).is_empty());
}

#[test]
fn url_at_600_per_ten_for_30_s_with_404_and_https() {
    let lab = lab();
    let b = lab.spec().b.address.to_string();
    let dir = tempfile::tempdir().expect("temp dir");
    let www = dir.path().join("www");
    std::fs::create_dir_all(&www).expect("www");
    std::fs::write(www.join("index.html"), vec![b'x'; 44 * 1024]).expect("index");
    let (ca, certificate, key) = common::make_certificates(dir.path(), &b);
    let _nginx = common::start_nginx(
        &lab.spec().b.namespace,
        &b,
        dir.path(),
        &www,
        Some((&certificate, &key)),
    );
    let plans = EndpointPlans {
        url: vec![
            url_from_a(
                &lab,
                "web",
                &format!("http://{b}/"),
                Some(600),
                TlsTrust::PublicRoots,
            ),
            url_from_a(
                &lab,
                "missing",
                &format!("http://{b}/no-such-file"),
                Some(600),
                TlsTrust::PublicRoots,
            ),
            url_from_a(
                &lab,
                "secure",
                &format!("https://{b}/"),
                Some(600),
                TlsTrust::CaFile(ca.clone()),
            ),
            url_from_a(
                &lab,
                "untrusted",
                &format!("https://{b}/"),
                Some(60),
                TlsTrust::PublicRoots,
            ),
        ],
        ..Default::default()
    };
    let set = EndpointSet::start(plans, Some(Duration::from_secs(30))).expect("start");
    std::thread::sleep(Duration::from_secs(30));
    let report = set.finish();
    eprintln!(
        "{}",
        serde_json::to_string_pretty(&report.url).expect("json")
    );
    let [web, missing, secure, untrusted] = &report.url[..] else {
        panic!("four url reports")
    };
    assert!(
        web.completed.abs_diff(30) <= 1,
        "web: {} requests, 30 ± 1 expected",
        web.completed
    );
    assert_eq!(web.errors.total(), 0, "{:?}", web.first_error);
    assert_eq!(
        web.rx_bytes,
        web.completed * 44 * 1024,
        "every body counted in full"
    );
    assert_eq!(missing.completed, 0);
    assert!(
        missing.errors.http_4xx.abs_diff(30) <= 1,
        "404s counted as 4xx: {:?}",
        missing.errors
    );
    assert_eq!(missing.errors.total(), missing.errors.http_4xx);
    assert!(
        secure.completed.abs_diff(30) <= 1 && secure.errors.total() == 0,
        "https with the CA file: {secure:?}"
    );
    assert_eq!(untrusted.completed, 0);
    assert_eq!(
        untrusted.errors.tls,
        untrusted.errors.total(),
        "{:?}",
        untrusted.errors
    );
    assert!(untrusted.errors.tls >= 2);
    let first = untrusted.first_error.as_deref().expect("message");
    assert!(
        first.contains("certificate") || first.contains("UnknownIssuer"),
        "unclear TLS error: {first}"
    );

    let failed = failures(&report, &EndpointCriteria::default());
    eprintln!("{failed:#?}");
    assert!(
        failed
            .iter()
            .any(|line| line.contains("\"missing\"") && line.contains("http_4xx")),
        "{failed:?}"
    );
    assert!(
        failed
            .iter()
            .any(|line| line.contains("\"untrusted\"") && line.contains("tls")),
        "{failed:?}"
    );
    assert!(
        !failed
            .iter()
            .any(|line| line.contains("\"web\"") || line.contains("\"secure\"")),
        "{failed:?}"
    );
}

#[test]
fn ftp_download_of_10_mb_upload_and_wrong_password() {
    let lab = lab();
    let b = lab.spec().b.address.to_string();
    let dir = tempfile::tempdir().expect("temp dir");
    let root = dir.path().join("ftp");
    std::fs::create_dir_all(&root).expect("ftp root");
    // The FTP user reaches its home through the temporary directory.
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).expect("chmod");
    let size = 10 * 1024 * 1024 + 17;
    std::fs::write(root.join("big.bin"), vec![7u8; size]).expect("big file");
    let user = common::FtpUser::create(&root);
    let mut vsftpd = common::start_vsftpd(&lab.spec().b.namespace, &b, dir.path(), &root);
    let download_to = dir.path().join("downloaded.bin");
    let mut download = url_from_a(
        &lab,
        "ftp-get",
        &format!("ftp://{}:{}@{b}/big.bin", user.name, user.password),
        None,
        TlsTrust::PublicRoots,
    );
    download.direction = UrlDirection::Download {
        destination: Some(download_to.clone()),
    };
    download.max_requests = Some(1);
    let mut upload = url_from_a(
        &lab,
        "ftp-put",
        &format!("ftp://{}:{}@{b}/up.bin", user.name, user.password),
        None,
        TlsTrust::PublicRoots,
    );
    upload.direction = UrlDirection::Upload { size: 1_000_003 };
    upload.max_requests = Some(1);
    let mut wrong = url_from_a(
        &lab,
        "ftp-wrong",
        &format!("ftp://{}:wrong@{b}/big.bin", user.name),
        None,
        TlsTrust::PublicRoots,
    );
    wrong.max_requests = Some(1);
    let report = run_to_completion(EndpointPlans {
        url: vec![download, upload, wrong],
        ..Default::default()
    });
    vsftpd.assert_running();
    eprintln!(
        "{}",
        serde_json::to_string_pretty(&report.url).expect("json")
    );
    let [get, put, denied] = &report.url[..] else {
        panic!("three url reports")
    };
    assert_eq!(
        (get.completed, get.errors.total()),
        (1, 0),
        "{:?}",
        get.first_error
    );
    assert_eq!(get.rx_bytes, size as u64, "bytes = the file's size");
    assert_eq!(std::fs::read(&download_to).expect("downloaded").len(), size);
    assert_eq!(
        (put.completed, put.tx_bytes),
        (1, 1_000_003),
        "{:?}",
        put.first_error
    );
    assert_eq!(
        std::fs::metadata(root.join("up.bin"))
            .expect("uploaded")
            .len(),
        1_000_003
    );
    assert_eq!(
        (
            denied.completed,
            denied.errors.access_denied,
            denied.errors.total()
        ),
        (0, 1, 1)
    );
    let failed = failures(&report, &EndpointCriteria::default());
    assert!(
        failed
            .iter()
            .any(|line| line.contains("\"ftp-wrong\"") && line.contains("access_denied")),
        "{failed:?}"
    );
    assert_eq!(failed.len(), 1, "{failed:?}");
}

#[test]
fn ping_b_v4_and_v6_and_an_unused_address() {
    let lab = lab();
    let (a, b) = (&lab.spec().a, &lab.spec().b);
    common::add_ipv6(&a.namespace, &a.interface, "fd00:4c52::1/64");
    common::add_ipv6(&b.namespace, &b.interface, "fd00:4c52::2/64");
    let ping = |name: &str, destination: &str, count: u64| {
        PingPlan::new(
            name,
            destination.parse().expect("address"),
            Duration::from_millis(100),
            Some(count),
            56,
            Duration::from_secs(5),
        )
        .expect("valid")
        .placed(Some(a.namespace.clone()), Some(a.interface.clone()), None)
    };
    let plans = EndpointPlans {
        ping: vec![
            ping("to-b", &b.address.to_string(), 20),
            ping("to-b-v6", "fd00:4c52::2", 20),
            ping("nobody", "198.18.0.99", 5),
            ping("nobody-v6", "fd00:4c52::99", 3),
        ],
        ..Default::default()
    };
    let report = run_to_completion(plans);
    eprintln!(
        "{}",
        serde_json::to_string_pretty(&report.ping).expect("json")
    );
    let [v4, v6, nobody, nobody_v6] = &report.ping[..] else {
        panic!("four ping reports")
    };
    for reachable in [v4, v6] {
        assert_eq!(
            (
                reachable.counts.sent,
                reachable.counts.replies,
                reachable.counts.unreachable
            ),
            (20, 20, 0)
        );
        assert_eq!(reachable.loss_percent, 0.0);
        assert!(
            reachable.counts.rtt_min_ns > 0
                && reachable.counts.rtt_min_ns <= reachable.counts.rtt_avg_ns
        );
        assert!(reachable.counts.rtt_avg_ns <= reachable.counts.rtt_max_ns);
    }
    assert_eq!(
        (
            nobody.counts.sent,
            nobody.counts.replies,
            nobody.counts.unreachable
        ),
        (5, 0, 5)
    );
    assert_eq!(
        (
            nobody_v6.counts.sent,
            nobody_v6.counts.replies,
            nobody_v6.counts.unreachable
        ),
        (3, 0, 3)
    );
    let failed = failures(&report, &EndpointCriteria::default());
    eprintln!("{failed:#?}");
    assert!(failed
        .iter()
        .any(|line| line.contains("\"nobody\"") && line.contains("unreachable")));
    assert!(failed
        .iter()
        .any(|line| line.contains("\"nobody\"") && line.contains("no results")));
    assert!(
        !failed
            .iter()
            .any(|line| line.contains("\"to-b\"") || line.contains("\"to-b-v6\"")),
        "{failed:?}"
    );
}

#[test]
fn file_io_verifies_every_file_at_its_write_rate() {
    let dir = tempfile::tempdir().expect("temp dir");
    let plan = FileIoPlan::new(
        "files",
        dir.path().to_path_buf(),
        2 * 1024,
        1024 * 1024,
        40_000_000,
    )
    .expect("valid");
    let set = EndpointSet::start(
        EndpointPlans {
            file_io: vec![plan],
            ..Default::default()
        },
        Some(Duration::from_secs(5)),
    )
    .expect("start");
    std::thread::sleep(Duration::from_secs(5));
    let report = set.finish();
    let files = &report.file_io[0];
    eprintln!("{}", serde_json::to_string_pretty(files).expect("json"));
    assert!(
        files.counts.files_written >= 10,
        "{} files",
        files.counts.files_written
    );
    assert_eq!(
        files.counts.files_read, files.counts.files_written,
        "every file read back"
    );
    assert_eq!(files.counts.verify_failures, 0);
    assert_eq!(files.counts.errors.total(), 0, "{:?}", files.first_error);
    let ratio = files.write_bps / 40e6;
    assert!(
        (0.95..=1.05).contains(&ratio),
        "write rate {:.0} bit/s not within 5 % of 40 Mbit/s",
        files.write_bps
    );
    assert_eq!(
        std::fs::read_dir(dir.path()).expect("dir").count(),
        0,
        "verified files are removed"
    );
    assert!(failures(&report, &EndpointCriteria::default()).is_empty());
}

#[test]
fn refused_unresolvable_and_unknown_scheme_are_clear_errors() {
    // Known before the run: an unknown scheme is refused by validation.
    let invalid = UrlPlan::new(
        "odd",
        "gopher://198.18.0.2/",
        discard(),
        Some(600),
        Duration::from_secs(5),
        TlsTrust::PublicRoots,
    )
    .expect_err("gopher is refused");
    let message = invalid.to_string();
    assert!(
        message.contains("\"odd\"") && message.contains("unknown URL scheme \"gopher\""),
        "{message}"
    );
    assert!(matches!(
        invalid,
        EndpointError::Invalid { field: "url", .. }
    ));

    // A TCP listener on an address that is not here fails the start.
    let side = |address: &str| TcpSide {
        namespace: None,
        bind_device: None,
        address: address.parse().expect("address"),
        rate_bps: Some(1_000_000),
    };
    let plan = TcpPlan::new(
        "nowhere",
        side("127.0.0.1"),
        side("198.18.77.77"),
        5001,
        1460,
    )
    .expect("valid");
    let error = EndpointSet::start(
        EndpointPlans {
            tcp: vec![plan],
            ..Default::default()
        },
        Some(Duration::from_secs(1)),
    )
    .err()
    .expect("cannot listen there");
    assert!(
        error.to_string().contains("\"nowhere\"") && error.to_string().contains("cannot listen"),
        "{error}"
    );

    // Met during the run: counted, with a message naming the cause.
    let closed_port = std::net::TcpListener::bind("127.0.0.1:0")
        .expect("bind")
        .local_addr()
        .expect("addr")
        .port();
    let once = |name: &str, url: &str| {
        let mut plan = UrlPlan::new(
            name,
            url,
            discard(),
            None,
            Duration::from_secs(5),
            TlsTrust::PublicRoots,
        )
        .expect("valid");
        plan.max_requests = Some(1);
        plan
    };
    let report = run_to_completion(EndpointPlans {
        url: vec![
            once("refused", &format!("http://127.0.0.1:{closed_port}/")),
            once("unresolvable", "http://no-such-host.invalid/"),
            once(
                "ftp-refused",
                &format!("ftp://127.0.0.1:{closed_port}/file"),
            ),
        ],
        ..Default::default()
    });
    let [refused, unresolvable, ftp_refused] = &report.url[..] else {
        panic!("three url reports")
    };
    assert_eq!(
        (refused.errors.connection_refused, refused.errors.total()),
        (1, 1),
        "{:?}",
        refused.first_error
    );
    assert!(
        refused
            .first_error
            .as_deref()
            .is_some_and(|m| m.contains("refused")),
        "{:?}",
        refused.first_error
    );
    assert_eq!(
        (unresolvable.errors.dns_failure, unresolvable.errors.total()),
        (1, 1),
        "{:?}",
        unresolvable.first_error
    );
    assert!(unresolvable
        .first_error
        .as_deref()
        .is_some_and(|m| m.contains("no-such-host.invalid")));
    assert_eq!(
        (
            ftp_refused.errors.connection_refused,
            ftp_refused.errors.total()
        ),
        (1, 1),
        "{:?}",
        ftp_refused.first_error
    );
    let failed = failures(&report, &EndpointCriteria::default());
    for name in ["refused", "unresolvable", "ftp-refused"] {
        assert!(
            failed
                .iter()
                .any(|line| line.contains(&format!("\"{name}\""))),
            "{name}: {failed:?}"
        );
    }
}
