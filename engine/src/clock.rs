//! The monotonic clock shared by the sender's timestamps and the XDP
//! program's `bpf_ktime_get_ns()`: CLOCK_MONOTONIC in nanoseconds.

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

#[cfg(test)]
mod tests {
    #[test]
    fn monotonic_clock_advances() {
        let first = super::monotonic_ns();
        std::thread::sleep(std::time::Duration::from_millis(2));
        let second = super::monotonic_ns();
        assert!(second >= first + 2_000_000, "{first} then {second}");
    }
}
