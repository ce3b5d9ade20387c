//! The station life cycle's plumbing: running a tool in a namespace (an
//! error names the command, or the Debian package to install), reading
//! what `iw` and sysfs say of a station's link, and the files of the
//! stations' private work directory.

use std::path::Path;
use std::process::{Command, Stdio};

use super::stations::WifiError;

/// The interface's `tx_dropped` and `rx_dropped` (sysfs), one a line.
pub(super) fn parse_drop_counters(text: &str) -> Option<super::InterfaceDrops> {
    let mut counters = text.lines().map(|line| line.trim().parse::<u64>().ok());
    Some(super::InterfaceDrops {
        tx: counters.next()??,
        rx: counters.next()??,
    })
}

/// `tx bitrate: 54.0 MBit/s` and `rx bitrate: ...` lines of `iw dev X link`.
pub(super) fn parse_iw_link_bitrates(text: &str) -> (Option<f64>, Option<f64>) {
    let rate = |key: &str| {
        text.lines().find_map(|line| {
            line.trim()
                .strip_prefix(key)
                .and_then(|rest| rest.split_whitespace().next())
                .and_then(|value| value.parse().ok())
        })
    };
    (rate("tx bitrate:"), rate("rx bitrate:"))
}

/// `signal: -30 dBm` of `iw dev X link`.
pub(super) fn parse_iw_signal(text: &str) -> Option<i32> {
    text.lines().find_map(|line| {
        line.trim()
            .strip_prefix("signal:")
            .and_then(|rest| rest.split_whitespace().next())
            .and_then(|value| value.parse().ok())
    })
}

/// A command running `tool` in `namespace` (`ip netns exec NS tool`, which
/// execs it: the child's pid is the tool's), or here without one.
pub(super) fn command_in(namespace: Option<&str>, tool: &str) -> Command {
    match namespace {
        Some(namespace) => {
            let mut command = Command::new("ip");
            command.args(["netns", "exec", namespace, tool]);
            command
        }
        None => Command::new(tool),
    }
}

/// Gives `command` no stdin and one log file, `log` (made anew), for both
/// its stdout and its stderr.
pub(super) fn log_output(command: &mut Command, log: &Path) -> std::io::Result<()> {
    let log_file = std::fs::File::create(log)?;
    let log_copy = log_file.try_clone()?;
    command
        .stdin(Stdio::null())
        .stdout(log_file)
        .stderr(log_copy);
    Ok(())
}

/// Runs `tool arguments` in `namespace` (through `ip netns exec`).
pub(super) fn run_in(
    namespace: Option<&str>,
    station: &str,
    tool: &str,
    arguments: &[&str],
) -> Result<(), WifiError> {
    output_in(namespace, tool, arguments)
        .map(|_| ())
        .map_err(|failure| match failure {
            Failure::NoTool(source) => WifiError::NoTool {
                tool: tool.to_string(),
                package: package_of(tool).to_string(),
                source,
            },
            Failure::Failed(stderr) => WifiError::Command {
                station: station.to_string(),
                command: format!(
                    "{}{tool} {}",
                    namespace.map_or_else(String::new, |namespace| format!(
                        "ip netns exec {namespace} "
                    )),
                    arguments.join(" ")
                ),
                stderr,
            },
        })
}

/// Why a command failed.
pub(super) enum Failure {
    NoTool(std::io::Error),
    Failed(String),
}

pub(super) fn output_in(
    namespace: Option<&str>,
    tool: &str,
    arguments: &[&str],
) -> Result<String, Failure> {
    let output = command_in(namespace, tool)
        .args(arguments)
        .output()
        .map_err(Failure::NoTool)?;
    if output.status.success() {
        Ok(String::from_utf8_lossy(&output.stdout).into_owned())
    } else {
        let stderr = String::from_utf8_lossy(&output.stderr).trim().to_string();
        if stderr.contains("No such file or directory") && stderr.contains(tool) {
            return Err(Failure::NoTool(std::io::Error::from(
                std::io::ErrorKind::NotFound,
            )));
        }
        Err(Failure::Failed(stderr))
    }
}

/// The Debian package with `tool`.
pub(super) fn package_of(tool: &str) -> &'static str {
    match tool {
        "iw" => "iw",
        "wpa_supplicant" => "wpasupplicant",
        "sysctl" => "procps",
        "cat" => "coreutils",
        _ => "iproute2",
    }
}

pub(super) fn create_private_dir(path: &Path) -> Result<(), WifiError> {
    use std::os::unix::fs::DirBuilderExt;
    std::fs::DirBuilder::new()
        .mode(0o700)
        .recursive(true)
        .create(path)
        .map_err(|source| WifiError::Io {
            path: path.to_path_buf(),
            source,
        })
}

/// Writes an executable script (owner only: the work directory is private).
pub(super) fn write_script(path: &Path, text: &str) -> Result<(), WifiError> {
    use std::os::unix::fs::PermissionsExt;
    write_file(path, text)?;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o700)).map_err(|source| {
        WifiError::Io {
            path: path.to_path_buf(),
            source,
        }
    })
}

pub(super) fn write_file(path: &Path, text: &str) -> Result<(), WifiError> {
    std::fs::write(path, text).map_err(|source| WifiError::Io {
        path: path.to_path_buf(),
        source,
    })
}

/// The last two lines of a log, for messages.
pub(super) fn log_tail(path: &Path) -> String {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let lines: Vec<&str> = text
        .lines()
        .filter(|line| !line.trim().is_empty())
        .collect();
    lines[lines.len().saturating_sub(2)..].join(" / ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn interface_drop_counters() {
        assert_eq!(
            parse_drop_counters("1\n3\n"),
            Some(crate::wifi::InterfaceDrops { tx: 1, rx: 3 })
        );
        assert_eq!(parse_drop_counters("1\n"), None);
        assert_eq!(parse_drop_counters("x\ny\n"), None);
    }

    #[test]
    fn iw_link_bitrates_and_signal() {
        let text = "Connected to 02:00:00:00:00:00 (on sta0000)\n\tSSID: testNet\n\tfreq: 2412\n\tsignal: -30 dBm\n\trx bitrate: 1.0 MBit/s\n\ttx bitrate: 54.0 MBit/s\n";
        assert_eq!(parse_iw_link_bitrates(text), (Some(54.0), Some(1.0)));
        assert_eq!(parse_iw_signal(text), Some(-30));
        assert_eq!(parse_iw_link_bitrates("Not connected."), (None, None));
    }
}
