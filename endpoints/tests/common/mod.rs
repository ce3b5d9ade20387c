//! Shared helpers of the endpoint lab tests: real servers (nginx, vsftpd)
//! started inside a lab namespace and killed by pid on drop, a test FTP
//! user removed on drop, a CA and server certificate made with openssl,
//! and a wait for a port to accept inside a namespace.

#![allow(dead_code)]

use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use linerate_engine::netns::NetnsGuard;

/// A server process started by a test: killed (with any children it
/// forked, found by parent pid) and reaped on drop.
pub struct ServerProcess {
    child: Child,
    what: &'static str,
}

impl ServerProcess {
    /// Starts `program args` inside namespace `namespace` (`ip netns exec`
    /// execs it, so the pid is the server's).
    pub fn start(
        what: &'static str,
        namespace: &str,
        program: &str,
        args: &[&str],
    ) -> ServerProcess {
        let child = Command::new("ip")
            .args(["netns", "exec", namespace, program])
            .args(args)
            .stdin(Stdio::null())
            .spawn()
            .unwrap_or_else(|error| panic!("cannot start {what}: {error}"));
        ServerProcess { child, what }
    }

    /// Panics if the server has already exited.
    pub fn assert_running(&mut self) {
        if let Ok(Some(status)) = self.child.try_wait() {
            panic!("{} exited early: {status}", self.what);
        }
    }
}

/// The pids whose parent is `parent`.
fn children_of(parent: u32) -> Vec<i32> {
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    entries
        .filter_map(Result::ok)
        .filter_map(|entry| {
            let pid = entry.file_name().to_string_lossy().parse::<i32>().ok()?;
            let stat = std::fs::read_to_string(entry.path().join("stat")).ok()?;
            // "pid (comm) state ppid ...": comm may hold spaces, so split after ')'.
            let after = &stat[stat.rfind(')')? + 2..];
            let ppid: u32 = after.split_whitespace().nth(1)?.parse().ok()?;
            (ppid == parent).then_some(pid)
        })
        .collect()
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        for child in children_of(self.child.id()) {
            // SAFETY: kill only sends a signal to a pid we found as our server's child.
            unsafe { libc::kill(child, libc::SIGKILL) };
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Waits until `address` accepts a TCP connection from inside `namespace`.
pub fn wait_for_port(namespace: &str, address: SocketAddr) {
    let namespace = namespace.to_string();
    std::thread::spawn(move || {
        let _inside = NetnsGuard::enter(&namespace).expect("enter namespace");
        let deadline = Instant::now() + Duration::from_secs(10);
        while TcpStream::connect_timeout(&address, Duration::from_millis(200)).is_err() {
            assert!(
                Instant::now() < deadline,
                "nothing accepted on {address} in {namespace} within 10 s"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    })
    .join()
    .expect("wait for port");
}

fn run(program: &str, args: &[&str]) {
    let output = Command::new(program)
        .args(args)
        .output()
        .unwrap_or_else(|error| panic!("cannot run {program}: {error}"));
    assert!(
        output.status.success(),
        "{program} {args:?} failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
}

/// A test CA and a server certificate for `ip` signed by it, in `dir`:
/// returns (ca.pem, server.pem, server.key).
pub fn make_certificates(dir: &Path, ip: &str) -> (PathBuf, PathBuf, PathBuf) {
    let path = |name: &str| dir.join(name).to_string_lossy().into_owned();
    run(
        "openssl",
        &[
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:prime256v1",
            "-nodes",
            "-keyout",
            &path("ca.key"),
            "-out",
            &path("ca.pem"),
            "-days",
            "2",
            "-subj",
            "/CN=linerate test CA",
            "-addext",
            "basicConstraints=critical,CA:TRUE",
            "-addext",
            "keyUsage=critical,keyCertSign,cRLSign",
        ],
    );
    run(
        "openssl",
        &[
            "req",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:prime256v1",
            "-nodes",
            "-keyout",
            &path("server.key"),
            "-out",
            &path("server.csr"),
            "-subj",
            &format!("/CN={ip}"),
        ],
    );
    std::fs::write(
        dir.join("server.ext"),
        format!("subjectAltName=IP:{ip}\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\nkeyUsage=digitalSignature\n"),
    )
    .expect("write ext");
    run(
        "openssl",
        &[
            "x509",
            "-req",
            "-in",
            &path("server.csr"),
            "-CA",
            &path("ca.pem"),
            "-CAkey",
            &path("ca.key"),
            "-CAcreateserial",
            "-out",
            &path("server.pem"),
            "-days",
            "2",
            "-extfile",
            &path("server.ext"),
        ],
    );
    (
        dir.join("ca.pem"),
        dir.join("server.pem"),
        dir.join("server.key"),
    )
}

/// nginx serving `www` on `ip` port 80 and, with a certificate, 443, in
/// `namespace`; one process (`master_process off`), files under `dir`.
pub fn start_nginx(
    namespace: &str,
    ip: &str,
    dir: &Path,
    www: &Path,
    tls: Option<(&Path, &Path)>,
) -> ServerProcess {
    let d = dir.display();
    let https = tls
        .map(|(certificate, key)| {
            format!(
                "server {{ listen {ip}:443 ssl; ssl_certificate {}; ssl_certificate_key {}; root {}; }}",
                certificate.display(),
                key.display(),
                www.display()
            )
        })
        .unwrap_or_default();
    let config = format!(
        "master_process off;\npid {d}/nginx.pid;\nerror_log {d}/error.log;\nevents {{ worker_connections 64; }}\n\
         http {{\n access_log off;\n client_body_temp_path {d}/body; proxy_temp_path {d}/proxy;\n \
         fastcgi_temp_path {d}/fastcgi; uwsgi_temp_path {d}/uwsgi; scgi_temp_path {d}/scgi;\n \
         server {{ listen {ip}:80; root {}; }}\n {https}\n}}\n",
        www.display()
    );
    let config_path = dir.join("nginx.conf");
    std::fs::write(&config_path, config).expect("write nginx.conf");
    let config_text = config_path.to_string_lossy().into_owned();
    let prefix = format!("{d}/");
    let error_log = format!("{d}/error.log");
    let server = ServerProcess::start(
        "nginx",
        namespace,
        "nginx",
        &[
            "-p",
            &prefix,
            "-e",
            &error_log,
            "-c",
            &config_text,
            "-g",
            "daemon off;",
        ],
    );
    wait_for_port(namespace, format!("{ip}:80").parse().expect("address"));
    server
}

/// A local user for FTP logins, removed (with nothing else) on drop.
pub struct FtpUser {
    /// The user name.
    pub name: String,
    /// Its password.
    pub password: String,
}

impl FtpUser {
    /// Creates the user with home `home` (which it then owns).
    pub fn create(home: &Path) -> FtpUser {
        let name = format!("lrftp{}", std::process::id() % 100_000);
        let password = "linerate-test-pw".to_string();
        let _ = Command::new("userdel").arg(&name).output();
        run(
            "useradd",
            &["-M", "-d", &home.to_string_lossy(), "-s", "/bin/sh", &name],
        );
        let user = FtpUser { name, password };
        let mut chpasswd = Command::new("chpasswd")
            .stdin(Stdio::piped())
            .spawn()
            .expect("chpasswd");
        use std::io::Write;
        chpasswd
            .stdin
            .take()
            .expect("stdin")
            .write_all(format!("{}:{}\n", user.name, user.password).as_bytes())
            .expect("write password");
        assert!(
            chpasswd.wait().expect("chpasswd").success(),
            "chpasswd failed"
        );
        run("chown", &[&user.name, &home.to_string_lossy()]);
        user
    }
}

impl Drop for FtpUser {
    fn drop(&mut self) {
        let _ = Command::new("userdel").arg(&self.name).output();
    }
}

/// vsftpd on `ip`:21 in `namespace`, local users only, passive mode,
/// files under `dir`.
pub fn start_vsftpd(namespace: &str, ip: &str, dir: &Path, root: &Path) -> ServerProcess {
    let empty = dir.join("empty");
    std::fs::create_dir_all(&empty).expect("empty dir");
    let config = format!(
        "listen=YES\nlisten_ipv6=NO\nlisten_address={ip}\nbackground=NO\nanonymous_enable=NO\nlocal_enable=YES\n\
         write_enable=YES\nlocal_umask=022\nlocal_root={}\nchroot_local_user=NO\npasv_enable=YES\n\
         pasv_address={ip}\npasv_min_port=40000\npasv_max_port=40100\nseccomp_sandbox=NO\n\
         secure_chroot_dir={}\npam_service_name=vsftpd\nxferlog_enable=NO\nvsftpd_log_file={}/vsftpd.log\n\
         isolate_network=NO\nisolate=NO\nuserlist_enable=NO\n",
        root.display(),
        empty.display(),
        dir.display()
    );
    let config_path = dir.join("vsftpd.conf");
    std::fs::write(&config_path, config).expect("write vsftpd.conf");
    let server = ServerProcess::start(
        "vsftpd",
        namespace,
        "vsftpd",
        &[&config_path.to_string_lossy()],
    );
    wait_for_port(namespace, format!("{ip}:21").parse().expect("address"));
    server
}

/// Adds an IPv6 address (no duplicate detection) to a lab end.
pub fn add_ipv6(namespace: &str, interface: &str, address: &str) {
    run(
        "ip",
        &[
            "-n", namespace, "addr", "add", address, "dev", interface, "nodad",
        ],
    );
}
