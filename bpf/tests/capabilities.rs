//! Why linerate needs CAP_PERFMON (engine/src/privilege.rs asks for it up
//! front): on a thread that keeps CAP_BPF but drops CAP_PERFMON from its
//! effective set, and CAP_SYS_ADMIN, which implies it (capabilities are per
//! thread), the verifier refuses both
//! of linerate's XDP programs with EACCES ("pointer comparison
//! prohibited": without PERFMON it applies the unprivileged rules); with it
//! back, both load. Needs root.

use linerate_bpf::{CountedFrames, Reflector, RxCounter};

const CAP_SYS_ADMIN: u32 = 21;
const CAP_PERFMON: u32 = 38;
const LINUX_CAPABILITY_VERSION_3: u32 = 0x2008_0522;

#[repr(C)]
struct CapHeader {
    version: u32,
    pid: i32,
}

#[repr(C)]
#[derive(Clone, Copy, Default)]
struct CapData {
    effective: u32,
    permitted: u32,
    inheritable: u32,
}

/// Sets (`on`) or clears CAP_PERFMON and CAP_SYS_ADMIN (the kernel's
/// perfmon_capable() takes either) in this thread's effective set.
fn set_effective_perfmon(on: bool) {
    let mut header = CapHeader {
        version: LINUX_CAPABILITY_VERSION_3,
        pid: 0,
    };
    let mut data = [CapData::default(); 2];
    // SAFETY: capget writes two CapData for version 3 into `data`, and
    // reads `header`; both outlive the call.
    let got = unsafe { libc::syscall(libc::SYS_capget, &mut header, data.as_mut_ptr()) };
    assert_eq!(got, 0, "capget: {}", std::io::Error::last_os_error());
    for capability in [CAP_PERFMON, CAP_SYS_ADMIN] {
        let (word, bit) = ((capability / 32) as usize, capability % 32);
        assert!(
            data[word].permitted & (1 << bit) != 0,
            "run the tests as root"
        );
        if on {
            data[word].effective |= 1 << bit;
        } else {
            data[word].effective &= !(1 << bit);
        }
    }
    // SAFETY: as above; capset only reads them, and changes only the
    // calling thread's capabilities.
    let set = unsafe { libc::syscall(libc::SYS_capset, &mut header, data.as_ptr()) };
    assert_eq!(set, 0, "capset: {}", std::io::Error::last_os_error());
}

/// The error chain of a load, as text, or None when it loaded.
fn load_errors() -> (Option<String>, Option<String>) {
    let chain = |error: &dyn std::error::Error| {
        let mut text = error.to_string();
        let mut source = error.source();
        while let Some(cause) = source {
            text.push_str(&format!(": {cause}"));
            source = cause.source();
        }
        text
    };
    let counter = RxCounter::load(1, CountedFrames::Drop).err();
    let reflector = Reflector::load().err();
    (
        counter.as_ref().map(|error| chain(error)),
        reflector.as_ref().map(|error| chain(error)),
    )
}

#[test]
fn without_perfmon_the_verifier_refuses_both_programs() {
    let (without, with) = std::thread::spawn(|| {
        set_effective_perfmon(false);
        let without = load_errors();
        set_effective_perfmon(true);
        (without, load_errors())
    })
    .join()
    .expect("the thread ends");
    for (program, error) in [("counter", &without.0), ("reflector", &without.1)] {
        let error = error
            .as_deref()
            .unwrap_or_else(|| panic!("the {program} loaded without CAP_PERFMON"));
        assert!(
            error.contains("Permission denied") || error.contains("EACCES"),
            "{program}: {error}"
        );
    }
    assert_eq!(with, (None, None), "both load with CAP_PERFMON back");
}
