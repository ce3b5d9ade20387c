//! The clocks shared by the sender's timestamps and the XDP program:
//! CLOCK_MONOTONIC (`bpf_ktime_get_ns()`) for streams sent and counted on
//! one host, CLOCK_TAI (`bpf_ktime_get_tai_ns()`) for streams counted on
//! another agent: the clock chrony and PTP keep in step across hosts.

/// Nanoseconds of CLOCK_MONOTONIC, the clock the receive program reads.
#[inline]
pub fn monotonic_ns() -> u64 {
    let mut now = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `now` is a valid, writable timespec; CLOCK_MONOTONIC always
    // exists on Linux, so the call cannot fail and only writes `now`.
    unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut now) };
    (now.tv_sec as u64) * 1_000_000_000 + now.tv_nsec as u64
}

/// Nanoseconds of CLOCK_TAI (International Atomic Time since 1970: the
/// system's realtime clock plus the kernel's TAI offset).
#[inline]
pub fn tai_ns() -> u64 {
    let mut now = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `now` is a valid, writable timespec; CLOCK_TAI exists on every
    // kernel linerate runs on (3.10 and later), so the call only writes `now`.
    unsafe { libc::clock_gettime(libc::CLOCK_TAI, &mut now) };
    (now.tv_sec as u64) * 1_000_000_000 + now.tv_nsec as u64
}

#[cfg(test)]
mod tests {
    #[test]
    fn monotonic_clock_advances() {
        let first = super::monotonic_ns();
        std::thread::sleep(std::time::Duration::from_millis(2));
        let second = super::monotonic_ns();
        assert!(second >= first + 2_000_000, "{first} then {second}");
    }

    #[test]
    fn tai_is_realtime_plus_the_tai_offset() {
        let tai = super::tai_ns();
        let unix = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .expect("after 1970")
            .as_nanos() as u64;
        // The kernel's TAI offset is 0 or 37 s (set by chrony or ptp4l).
        let offset = tai.abs_diff(unix);
        assert!(
            offset < 1_000_000_000 || offset.abs_diff(37_000_000_000) < 1_000_000_000,
            "TAI {tai}, realtime {unix}"
        );
    }
}
