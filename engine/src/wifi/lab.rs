//! The WiFi lab (`linerate lab up --wifi N`, for a VM or a machine with
//! `mac80211_hwsim`): loads the module with N station radios and one AP
//! radio; the AP radio goes to namespace `lrlab-ap`, where hostapd
//! (WPA2-PSK, or WPA3-SAE with `--security wpa3`; ssid `testNet`,
//! passphrase `testPass`) runs with its WLAN interface in bridge `br0`
//! together with veth `lrap-wired`, whose far end is the wired port `eth1`
//! (10.77.0.1/24) in namespace `lrlab-wired`; br0 has 10.77.0.2/24 and
//! busybox `udhcpd` serves it leases from 10.77.0.100 to 10.77.0.199
//! (router 10.77.0.1); the station radios are renamed `wiphy0`.. and
//! moved to `lrlab-sta`, for a scenario's `[[station]]` tables. hostapd's
//! and udhcpd's pids and what was loaded are kept in the lab's run
//! directory, so that [`down`] removes exactly what [`up`] made: hostapd
//! and udhcpd by pid, the namespaces, the module if the lab loaded it.

use std::fmt;
use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use crate::netns::NETNS_RUN_DIR;
use crate::wire::MacAddr;

/// The lab's run directory: hostapd's configuration, log and pid, and the state file.
pub const RUN_DIR: &str = "/run/linerate/wifi-lab";
/// How long hostapd may take to enable the AP (under emulation: seconds).
const AP_TIMEOUT: Duration = Duration::from_secs(60);
/// How long the radios may take to appear after modprobe.
const RADIO_TIMEOUT: Duration = Duration::from_secs(10);

/// How the lab's AP authenticates its stations.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LabSecurity {
    /// An open network: no authentication, no encryption.
    Open,
    /// WPA2-Personal (PSK).
    Wpa2,
    /// WPA3-Personal (SAE, management frame protection required).
    Wpa3,
}

impl LabSecurity {
    /// How the scenario's `security` key names it.
    pub fn name(self) -> &'static str {
        match self {
            LabSecurity::Open => "open",
            LabSecurity::Wpa2 => "wpa2",
            LabSecurity::Wpa3 => "wpa3",
        }
    }

    /// The mode [`LabSecurity::name`] calls `name`.
    pub fn from_name(name: &str) -> Option<LabSecurity> {
        [LabSecurity::Open, LabSecurity::Wpa2, LabSecurity::Wpa3]
            .into_iter()
            .find(|security| security.name() == name)
    }

    /// hostapd's security lines for `passphrase`.
    fn hostapd_lines(self, passphrase: &str) -> String {
        match self {
            LabSecurity::Open => String::new(),
            LabSecurity::Wpa2 => format!(
                "wpa=2\nwpa_key_mgmt=WPA-PSK\nrsn_pairwise=CCMP\nwpa_passphrase={passphrase}\n"
            ),
            // sae_pwe=2: hunting-and-pecking and hash-to-element both.
            LabSecurity::Wpa3 => format!(
                "wpa=2\nwpa_key_mgmt=SAE\nrsn_pairwise=CCMP\nieee80211w=2\nsae_pwe=2\nsae_password={passphrase}\n"
            ),
        }
    }
}

/// What the WiFi lab is made of.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WifiLabSpec {
    /// Station radios (the module gets one more, for the AP).
    pub station_radios: u32,
    /// The AP's namespace (hostapd, the bridge).
    pub ap_namespace: String,
    /// The stations' namespace (the radios `wiphy0`..).
    pub station_namespace: String,
    /// The wired port's namespace.
    pub wired_namespace: String,
    /// The wired port.
    pub wired_interface: String,
    /// The wired port's MAC.
    pub wired_mac: MacAddr,
    /// The wired port's IPv4 address with prefix.
    pub wired_address: String,
    /// The AP's SSID.
    pub ssid: String,
    /// The AP's WPA2 passphrase or WPA3 password.
    pub passphrase: String,
    /// WPA2-PSK or WPA3-SAE.
    pub security: LabSecurity,
    /// The AP bridge's (br0's) address with prefix: udhcpd's server address.
    pub ap_address: String,
    /// The first and last address udhcpd leases (outside the wired port's
    /// address and the scenarios' static ones).
    pub dhcp_pool: (Ipv4Addr, Ipv4Addr),
    /// The router udhcpd offers (the wired port's address).
    pub dhcp_router: Ipv4Addr,
}

impl WifiLabSpec {
    /// The lab with `station_radios` station radios and the default names.
    pub fn standard(station_radios: u32) -> WifiLabSpec {
        WifiLabSpec {
            station_radios,
            ap_namespace: "lrlab-ap".to_string(),
            station_namespace: "lrlab-sta".to_string(),
            wired_namespace: "lrlab-wired".to_string(),
            wired_interface: "eth1".to_string(),
            wired_mac: MacAddr([0x02, 0x4c, 0x57, 0xff, 0x00, 0x01]),
            wired_address: "10.77.0.1/24".to_string(),
            ssid: "testNet".to_string(),
            passphrase: "testPass".to_string(),
            security: LabSecurity::Wpa2,
            ap_address: "10.77.0.2/24".to_string(),
            dhcp_pool: (Ipv4Addr::new(10, 77, 0, 100), Ipv4Addr::new(10, 77, 0, 199)),
            dhcp_router: Ipv4Addr::new(10, 77, 0, 1),
        }
    }

    /// The same lab with the AP using `security`.
    pub fn with_security(mut self, security: LabSecurity) -> WifiLabSpec {
        self.security = security;
        self
    }

    fn namespaces(&self) -> [&str; 3] {
        [
            self.ap_namespace.as_str(),
            self.station_namespace.as_str(),
            self.wired_namespace.as_str(),
        ]
    }
}

impl fmt::Display for WifiLabSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let radios = match self.station_radios {
            0 | 1 => "radio wiphy0".to_string(),
            count => format!("radios wiphy0..wiphy{}", count - 1),
        };
        let security = match self.security {
            LabSecurity::Open => "open".to_string(),
            LabSecurity::Wpa2 => format!("WPA2-PSK, passphrase {:?}", self.passphrase),
            LabSecurity::Wpa3 => format!("WPA3-SAE, passphrase {:?}", self.passphrase),
        };
        writeln!(f, "AP:       hostapd in namespace {} ({security}, ssid {:?}), its WLAN interface bridged (br0) with veth lrap-wired", self.ap_namespace, self.ssid)?;
        writeln!(
            f,
            "DHCP:     udhcpd on br0 ({}), leases {} to {}, router {}",
            self.ap_address, self.dhcp_pool.0, self.dhcp_pool.1, self.dhcp_router
        )?;
        writeln!(
            f,
            "wired:    {} in namespace {}, mac {}, ipv4 {}",
            self.wired_interface, self.wired_namespace, self.wired_mac, self.wired_address
        )?;
        writeln!(
            f,
            "stations: {radios} in namespace {} (no interfaces yet: a scenario's [[station]] tables make them)",
            self.station_namespace
        )?;
        write!(
            f,
            "use:      [[station]] radio = \"wiphy0\", namespace = \"{}\", ssid = \"{}\", security = \"{}\", passphrase = \"{}\", ipv4 = \"dhcp\" (or static, e.g. \"10.77.0.10/24\"); \
             [[port]] interface = \"{}\", namespace = \"{}\" (see scenarios/wifi-stations.toml)",
            self.station_namespace, self.ssid, self.security.name(), self.passphrase, self.wired_interface, self.wired_namespace
        )
    }
}

/// Errors building or removing the WiFi lab.
#[derive(Debug, thiserror::Error)]
pub enum WifiLabError {
    /// A command failed or could not run.
    #[error("`{command}` failed: {message}")]
    Command {
        /// The command line.
        command: String,
        /// What it printed, or why it could not run.
        message: String,
    },
    /// The module was there already: the lab would not know its radios.
    #[error("mac80211_hwsim is already loaded; the WiFi lab loads it itself with its own radios: `linerate lab down` (if a lab made it) or `modprobe -r mac80211_hwsim`, then try again")]
    ModuleLoaded,
    /// The radios did not appear.
    #[error("mac80211_hwsim gave {found} radios within {waited_s} s, {wanted} were asked for")]
    Radios {
        /// How many were seen.
        found: usize,
        /// How many were asked for.
        wanted: usize,
        /// How long we waited.
        waited_s: u64,
    },
    /// hostapd did not enable the AP.
    #[error("hostapd did not enable the AP within {waited_s} s: {log}")]
    Hostapd {
        /// How long we waited.
        waited_s: u64,
        /// The end of its log.
        log: String,
    },
    /// A file of the run directory.
    #[error("{path}: {message}")]
    File {
        /// The path.
        path: PathBuf,
        /// What went wrong.
        message: String,
    },
}

fn command_error(program: &str, arguments: &[&str], message: String) -> WifiLabError {
    WifiLabError::Command {
        command: format!("{program} {}", arguments.join(" ")),
        message,
    }
}

/// Runs a command; its stdout, or an error with its stderr.
fn run(program: &str, arguments: &[&str]) -> Result<String, WifiLabError> {
    let output = Command::new(program)
        .args(arguments)
        .output()
        .map_err(|error| {
            command_error(program, arguments, format!("{error} (is it installed?)"))
        })?;
    if output.status.success() {
        Ok(String::from_utf8_lossy(&output.stdout).into_owned())
    } else {
        Err(command_error(
            program,
            arguments,
            String::from_utf8_lossy(&output.stderr).trim().to_string(),
        ))
    }
}

fn file_error(path: &Path, error: impl fmt::Display) -> WifiLabError {
    WifiLabError::File {
        path: path.to_path_buf(),
        message: error.to_string(),
    }
}

/// True when `mac80211_hwsim` is loaded.
fn module_loaded() -> bool {
    Path::new("/sys/module/mac80211_hwsim").exists()
}

/// The hwsim radios (phy names) in this namespace, in creation order.
fn hwsim_radios() -> Vec<String> {
    let mut radios: Vec<(u32, String)> = std::fs::read_dir("/sys/class/ieee80211")
        .map(|entries| {
            entries
                .filter_map(Result::ok)
                .filter(|entry| {
                    std::fs::read_link(entry.path().join("device/driver"))
                        .map(|driver| driver.ends_with("mac80211_hwsim"))
                        .unwrap_or(false)
                })
                .filter_map(|entry| {
                    let name = entry.file_name().to_string_lossy().into_owned();
                    let index = std::fs::read_to_string(entry.path().join("index"))
                        .ok()?
                        .trim()
                        .parse()
                        .ok()?;
                    Some((index, name))
                })
                .collect()
        })
        .unwrap_or_default();
    radios.sort();
    radios.into_iter().map(|(_, name)| name).collect()
}

/// The network interfaces of radio `phy` (in this namespace).
fn radio_interfaces(phy: &str) -> Vec<String> {
    std::fs::read_dir(format!("/sys/class/ieee80211/{phy}/device/net"))
        .map(|entries| {
            entries
                .filter_map(Result::ok)
                .map(|entry| entry.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default()
}

/// True when the lab's state file exists (a lab was made and not removed).
pub fn is_up() -> bool {
    Path::new(RUN_DIR).join("state").exists()
}

/// The security of the lab that is up, from its state file (WPA2 when
/// none is recorded).
pub fn security_up() -> LabSecurity {
    let state = std::fs::read_to_string(Path::new(RUN_DIR).join("state")).unwrap_or_default();
    state
        .lines()
        .find_map(|line| line.strip_prefix("security="))
        .and_then(LabSecurity::from_name)
        .unwrap_or(LabSecurity::Wpa2)
}

/// Builds the WiFi lab. Already up: an error saying so (remove it first).
/// Anything half made is removed on failure.
pub fn up(spec: &WifiLabSpec) -> Result<(), WifiLabError> {
    if is_up() {
        return Err(WifiLabError::File {
            path: PathBuf::from(RUN_DIR).join("state"),
            message: "a WiFi lab is already up: `linerate lab down` first".to_string(),
        });
    }
    if module_loaded() {
        return Err(WifiLabError::ModuleLoaded);
    }
    std::fs::create_dir_all(RUN_DIR).map_err(|error| file_error(Path::new(RUN_DIR), error))?;
    let built = build(spec);
    if built.is_err() {
        let _ = down(spec);
    }
    built
}

fn build(spec: &WifiLabSpec) -> Result<(), WifiLabError> {
    let radios = spec.station_radios as usize + 1;
    run("modprobe", &["mac80211_hwsim", &format!("radios={radios}")])?;
    write_state("module_loaded=1\n")?;
    let deadline = Instant::now() + RADIO_TIMEOUT;
    let mut found = hwsim_radios();
    while found.len() < radios && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
        found = hwsim_radios();
    }
    if found.len() < radios {
        return Err(WifiLabError::Radios {
            found: found.len(),
            wanted: radios,
            waited_s: RADIO_TIMEOUT.as_secs(),
        });
    }
    for namespace in spec.namespaces() {
        run("ip", &["netns", "add", namespace])?;
        run("ip", &["-n", namespace, "link", "set", "lo", "up"])?;
    }
    let ap_radio = found[0].clone();
    let ap_interface = radio_interfaces(&ap_radio)
        .into_iter()
        .next()
        .ok_or_else(|| {
            command_error(
                "ls",
                &[&ap_radio],
                "the AP radio has no interface".to_string(),
            )
        })?;
    for (index, radio) in found[1..radios].iter().enumerate() {
        for interface in radio_interfaces(radio) {
            run("iw", &["dev", &interface, "del"])?;
        }
        let name = format!("wiphy{index}");
        run("iw", &["phy", radio, "set", "name", &name])?;
        run(
            "iw",
            &[
                "phy",
                &name,
                "set",
                "netns",
                "name",
                &spec.station_namespace,
            ],
        )?;
    }
    run(
        "iw",
        &["phy", &ap_radio, "set", "netns", "name", &spec.ap_namespace],
    )?;
    add_state(&format!("security={}", spec.security.name()))?;
    wired_side(spec)?;
    start_udhcpd(spec)?;
    start_hostapd(spec, &ap_interface)
}

/// The bridge and veth in the AP namespace, the wired port at the far end.
fn wired_side(spec: &WifiLabSpec) -> Result<(), WifiLabError> {
    let ap = spec.ap_namespace.as_str();
    let wired = spec.wired_namespace.as_str();
    let mac = spec.wired_mac.to_string();
    run("ip", &["-n", ap, "link", "add", "br0", "type", "bridge"])?;
    run(
        "ip",
        &[
            "link",
            "add",
            "lrap-wired",
            "netns",
            ap,
            "type",
            "veth",
            "peer",
            "name",
            &spec.wired_interface,
            "netns",
            wired,
            "address",
            &mac,
        ],
    )?;
    run(
        "ip",
        &["-n", ap, "link", "set", "lrap-wired", "master", "br0"],
    )?;
    for (namespace, interface) in [
        (ap, "lrap-wired"),
        (ap, "br0"),
        (wired, spec.wired_interface.as_str()),
    ] {
        run("ip", &["-n", namespace, "link", "set", interface, "up"])?;
    }
    run(
        "ip",
        &[
            "-n",
            wired,
            "addr",
            "add",
            &spec.wired_address,
            "dev",
            &spec.wired_interface,
        ],
    )?;
    Ok(())
}

/// Starts hostapd (in its own process group, outliving this command) and
/// waits for AP-ENABLED in its log.
fn start_hostapd(spec: &WifiLabSpec, ap_interface: &str) -> Result<(), WifiLabError> {
    let run_dir = Path::new(RUN_DIR);
    let config = run_dir.join("hostapd.conf");
    let log = run_dir.join("hostapd.log");
    let text = format!(
        "interface={ap_interface}\nbridge=br0\ndriver=nl80211\nssid={}\nhw_mode=g\nchannel=1\n{}ctrl_interface={}\n",
        spec.ssid,
        spec.security.hostapd_lines(&spec.passphrase),
        run_dir.join("hostapd-ctrl").display()
    );
    std::fs::write(&config, text).map_err(|error| file_error(&config, error))?;
    let config_text = config.display().to_string();
    let pid = start_daemon(&spec.ap_namespace, "hostapd", &[&config_text], &log)?;
    let deadline = Instant::now() + AP_TIMEOUT;
    loop {
        let text = std::fs::read_to_string(&log).unwrap_or_default();
        if text.contains("AP-ENABLED") {
            return Ok(());
        }
        if Instant::now() >= deadline || !process_running(pid) {
            let tail: Vec<&str> = text.lines().rev().take(3).collect();
            return Err(WifiLabError::Hostapd {
                waited_s: AP_TIMEOUT.as_secs(),
                log: tail.into_iter().rev().collect::<Vec<_>>().join(" / "),
            });
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// br0's address and busybox udhcpd serving it (in its own process
/// group, outliving this command; its pid in the state file), once it
/// runs (a bad configuration ends it at once).
fn start_udhcpd(spec: &WifiLabSpec) -> Result<(), WifiLabError> {
    let ap = spec.ap_namespace.as_str();
    run(
        "ip",
        &["-n", ap, "addr", "add", &spec.ap_address, "dev", "br0"],
    )?;
    let run_dir = Path::new(RUN_DIR);
    let config = run_dir.join("udhcpd.conf");
    let leases = run_dir.join("udhcpd.leases");
    let log = run_dir.join("udhcpd.log");
    let (first, last) = spec.dhcp_pool;
    let prefix = spec
        .ap_address
        .split_once('/')
        .and_then(|(_, prefix)| prefix.parse::<u32>().ok())
        .filter(|prefix| (1..=32).contains(prefix))
        .unwrap_or(24);
    let mask = Ipv4Addr::from(u32::MAX << (32 - prefix));
    let text = format!(
        "start {first}\nend {last}\ninterface br0\nmax_leases {}\nlease_file {}\npidfile {}\n\
         opt subnet {mask}\nopt router {}\nopt lease 86400\n",
        u32::from(last).saturating_sub(u32::from(first)) + 1,
        leases.display(),
        run_dir.join("udhcpd.pid").display(),
        spec.dhcp_router
    );
    std::fs::write(&config, text).map_err(|error| file_error(&config, error))?;
    std::fs::write(&leases, "").map_err(|error| file_error(&leases, error))?;
    let config_text = config.display().to_string();
    let pid = start_daemon(ap, "busybox", &["udhcpd", "-f", &config_text], &log)?;
    // udhcpd checks br0 and its configuration at start: give it a moment
    // to fail, and say why when it does.
    let deadline = Instant::now() + Duration::from_secs(2);
    while Instant::now() < deadline {
        if !process_running(pid) {
            let text = std::fs::read_to_string(&log).unwrap_or_default();
            return Err(command_error(
                "busybox udhcpd",
                &["-f", &config_text],
                format!(
                    "ended at once: {} (install busybox-static if it is missing)",
                    text.lines().last().unwrap_or("no output")
                ),
            ));
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    Ok(())
}

/// Starts daemon `tool arguments` in `namespace`, its output in `log`, in
/// its own process group (it outlives this command), and records its pid
/// in the state file as `NAME_pid` (NAME: the first of `tool arguments`
/// that is not busybox, so `lab down` ends it by that pid).
fn start_daemon(
    namespace: &str,
    tool: &str,
    arguments: &[&str],
    log: &Path,
) -> Result<u32, WifiLabError> {
    use std::os::unix::process::CommandExt;
    let mut command = super::tools::command_in(Some(namespace), tool);
    super::tools::log_output(&mut command, log).map_err(|error| file_error(log, error))?;
    let name = if tool == "busybox" {
        arguments.first().copied().unwrap_or(tool)
    } else {
        tool
    };
    let child = command
        .args(arguments)
        .process_group(0)
        .spawn()
        .map_err(|error| command_error(tool, arguments, error.to_string()))?;
    let pid = child.id();
    add_state(&format!("{name}_pid={pid}"))?;
    Ok(pid)
}

/// Adds a `key=value` line to the state file.
fn add_state(line: &str) -> Result<(), WifiLabError> {
    let path = Path::new(RUN_DIR).join("state");
    let mut text = std::fs::read_to_string(&path).unwrap_or_default();
    text.push_str(line);
    text.push('\n');
    write_state(&text)
}

fn write_state(text: &str) -> Result<(), WifiLabError> {
    let path = Path::new(RUN_DIR).join("state");
    std::fs::write(&path, text).map_err(|error| file_error(&path, error))
}

/// Whether `pid` exists and has not ended (a zombie has ended).
fn process_running(pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|stat| {
        stat.rsplit_once(')')
            .and_then(|(_, rest)| rest.split_whitespace().next())
            .is_some_and(|state| state != "Z")
    })
}

/// Whether `pid` runs a program named `name`, or busybox's applet `name`
/// (so a reused pid is never signalled).
fn process_named(pid: u32, name: &str) -> bool {
    let comm = std::fs::read_to_string(format!("/proc/{pid}/comm")).unwrap_or_default();
    if comm.trim() == name {
        return true;
    }
    let command_line = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
    let mut words = command_line.split(|byte| *byte == 0);
    comm.trim() == "busybox"
        && words
            .next()
            .is_some_and(|program| program.ends_with(b"busybox"))
        && words.next() == Some(name.as_bytes())
}

/// Removes the WiFi lab: hostapd and udhcpd by the pids in the state file, the
/// namespaces, the module if the lab loaded it, the run directory.
/// Returns whether there was a lab to remove.
pub fn down(spec: &WifiLabSpec) -> Result<bool, WifiLabError> {
    let state_path = Path::new(RUN_DIR).join("state");
    let state = std::fs::read_to_string(&state_path).unwrap_or_default();
    let mut removed = !state.is_empty();
    let value = |key: &str| {
        state.lines().find_map(|line| {
            line.strip_prefix(key)?
                .strip_prefix('=')
                .map(str::to_string)
        })
    };
    for (key, name) in [("hostapd_pid", "hostapd"), ("udhcpd_pid", "udhcpd")] {
        if let Some(pid) = value(key).and_then(|pid| pid.parse::<u32>().ok()) {
            stop_process(pid, name);
        }
    }
    for namespace in spec.namespaces() {
        if Path::new(NETNS_RUN_DIR).join(namespace).exists() {
            run("ip", &["netns", "del", namespace])?;
            removed = true;
        }
    }
    if value("module_loaded").as_deref() == Some("1") && module_loaded() {
        // The radios come back from the deleted namespaces asynchronously:
        // retry the unload for a while.
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            match run("modprobe", &["-r", "mac80211_hwsim"]) {
                Ok(_) => break,
                Err(error) if Instant::now() >= deadline => return Err(error),
                Err(_) => std::thread::sleep(Duration::from_millis(200)),
            }
        }
    }
    let _ = std::fs::remove_dir_all(RUN_DIR);
    // /run/linerate too, when nothing else of linerate's is in it.
    if let Some(parent) = Path::new(RUN_DIR).parent() {
        let _ = std::fs::remove_dir(parent);
    }
    Ok(removed)
}

/// SIGTERM to `pid` if it runs `name`, SIGKILL after 3 s.
fn stop_process(pid: u32, name: &str) {
    let Ok(raw) = i32::try_from(pid) else { return };
    if !process_named(pid, name) {
        return;
    }
    // SAFETY: kill(2) on a pid just checked to run `name`.
    unsafe {
        libc::kill(raw, libc::SIGTERM);
    }
    // Ended means gone or a zombie: `lab up` has exited, so hostapd's
    // parent is init, which reaps it when it gets to it.
    let deadline = Instant::now() + Duration::from_secs(3);
    while process_running(pid) && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
    }
    if process_running(pid) && process_named(pid, name) {
        // SAFETY: as above; it did not end on SIGTERM.
        unsafe {
            libc::kill(raw, libc::SIGKILL);
        }
    }
}
