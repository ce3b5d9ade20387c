//! Whether this process may do what a run needs: load and attach XDP
//! programs, open AF_XDP sockets, pin UMEM and enter network namespaces.
//! Checked once, up front, so that a missing privilege is one clear message
//! rather than an EPERM from deep inside.

/// A Linux capability linerate needs, with its bit in the capability sets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Capability {
    /// Its name, as in capabilities(7).
    pub name: &'static str,
    /// Its number.
    pub bit: u32,
    /// Why linerate needs it.
    pub reason: &'static str,
}

/// Attach XDP programs, configure interfaces.
pub const CAP_NET_ADMIN: Capability = Capability {
    name: "CAP_NET_ADMIN",
    bit: 12,
    reason: "attach XDP programs",
};
/// Open AF_XDP (and AF_PACKET) sockets.
pub const CAP_NET_RAW: Capability = Capability {
    name: "CAP_NET_RAW",
    bit: 13,
    reason: "open AF_XDP sockets",
};
/// Pin UMEM beyond the memlock limit.
pub const CAP_IPC_LOCK: Capability = Capability {
    name: "CAP_IPC_LOCK",
    bit: 14,
    reason: "pin the UMEM",
};
/// Enter network namespaces.
pub const CAP_SYS_ADMIN: Capability = Capability {
    name: "CAP_SYS_ADMIN",
    bit: 21,
    reason: "enter network namespaces",
};
/// Load linerate's XDP programs as the verifier needs: without it
/// (`perfmon_capable()` false) a program loaded with CAP_BPF alone runs
/// under the unprivileged rules, which forbid pointer leaks and add
/// Spectre v1 sanitizing, and the verifier refuses the counter ("pointer
/// -= pointer prohibited": it takes header offsets as packet pointer
/// differences) and the reflector ("pointer comparison prohibited"):
/// bpf/tests/capabilities.rs. CAP_SYS_ADMIN implies it.
pub const CAP_PERFMON: Capability = Capability {
    name: "CAP_PERFMON",
    bit: 38,
    reason: "have the verifier accept the XDP programs' pointer checks",
};
/// Load BPF programs and create maps.
pub const CAP_BPF: Capability = Capability {
    name: "CAP_BPF",
    bit: 39,
    reason: "load the XDP counter",
};

/// The effective capability set of this process, from /proc/self/status.
fn effective_capabilities() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|line| line.starts_with("CapEff:"))?;
    u64::from_str_radix(line.trim_start_matches("CapEff:").trim(), 16).ok()
}

/// The capabilities a run needs that this process lacks (empty: all there,
/// or /proc does not say, in which case the kernel will). Namespaces need
/// CAP_SYS_ADMIN only when `enters_namespaces`.
pub fn missing_for_run(enters_namespaces: bool) -> Vec<Capability> {
    match effective_capabilities() {
        Some(effective) => missing_from(effective, enters_namespaces),
        None => Vec::new(),
    }
}

/// The capabilities a run needs that the capability set `effective` lacks.
fn missing_from(effective: u64, enters_namespaces: bool) -> Vec<Capability> {
    let mut needed = vec![
        CAP_NET_ADMIN,
        CAP_NET_RAW,
        CAP_BPF,
        CAP_PERFMON,
        CAP_IPC_LOCK,
    ];
    if enters_namespaces {
        needed.push(CAP_SYS_ADMIN);
    }
    let has = |capability: Capability| effective & (1u64 << capability.bit) != 0;
    needed
        .into_iter()
        // The kernel takes CAP_SYS_ADMIN for CAP_BPF and CAP_PERFMON
        // (bpf_capable(), perfmon_capable()).
        .filter(|capability| {
            let stood_in = [CAP_BPF, CAP_PERFMON].contains(capability) && has(CAP_SYS_ADMIN);
            !has(*capability) && !stood_in
        })
        .collect()
}

/// One line saying what is missing and what to do, for `missing` not empty.
pub fn explain(missing: &[Capability]) -> String {
    let listed: Vec<String> = missing
        .iter()
        .map(|capability| format!("{} (to {})", capability.name, capability.reason))
        .collect();
    format!(
        "linerate needs root or these capabilities, which this process lacks: {}; run it as root (sudo linerate ...)",
        listed.join(", ")
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_explanation_names_each_missing_capability_and_the_fix() {
        let text = explain(&[CAP_BPF, CAP_SYS_ADMIN]);
        assert!(text.contains("CAP_BPF (to load the XDP counter)"), "{text}");
        assert!(
            text.contains("CAP_SYS_ADMIN (to enter network namespaces)"),
            "{text}"
        );
        assert!(text.contains("run it as root"), "{text}");
    }

    #[test]
    fn perfmon_is_needed_and_named_with_its_reason() {
        let every = [
            CAP_NET_ADMIN,
            CAP_NET_RAW,
            CAP_BPF,
            CAP_PERFMON,
            CAP_IPC_LOCK,
            CAP_SYS_ADMIN,
        ]
        .iter()
        .fold(0u64, |set, capability| set | 1 << capability.bit);
        assert_eq!(CAP_PERFMON.bit, 38);
        assert_eq!(missing_from(every, true), Vec::new());
        // What the DaemonSet adds, less PERFMON: PERFMON is missing.
        let without_perfmon = every & !(1 << CAP_PERFMON.bit) & !(1 << CAP_SYS_ADMIN.bit);
        assert_eq!(missing_from(without_perfmon, false), vec![CAP_PERFMON]);
        assert_eq!(
            missing_from(without_perfmon, true),
            vec![CAP_PERFMON, CAP_SYS_ADMIN]
        );
        // CAP_SYS_ADMIN stands in for it, as in the kernel.
        let sys_admin_only = without_perfmon | 1 << CAP_SYS_ADMIN.bit;
        assert_eq!(missing_from(sys_admin_only, true), Vec::new());
        let text = explain(&[CAP_PERFMON]);
        assert!(
            text.contains(
                "CAP_PERFMON (to have the verifier accept the XDP programs' pointer checks)"
            ),
            "{text}"
        );
    }

    #[test]
    fn effective_capabilities_are_read() {
        // Tests run as root: nothing is missing.
        assert!(effective_capabilities().is_some());
        assert_eq!(missing_for_run(true), Vec::new());
    }
}
