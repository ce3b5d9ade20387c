//! File-IO endpoints: files of sizes drawn between the plan's bounds are
//! written into its directory at its rate (paced chunk by chunk from the
//! start, so the rate holds however the sizes fall), each read back and its
//! CRC-32 compared with the one computed while writing, then removed.
//! Errors are counted by kind (`ErrorKind::of_file`: timeout, stale handle,
//! no space, mount gone, access denied, I/O). Runs on a blocking thread; a
//! write or read the kernel holds past the run's end (a network mount whose
//! server went away) is abandoned by the endpoint set after its drain time,
//! so it cannot hold the run up, and is not counted.

use std::fs::File;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::Ordering::Relaxed;
use std::time::{Duration, Instant};

use crate::error::ErrorKind;
use crate::plan::FileIoPlan;
use crate::report::FileIoCounters;
use crate::stop::Stop;

/// Bytes per write and per read.
const CHUNK: usize = 64 * 1024;
/// The longest sleep between checks of the stop signal.
const STOP_CHECK: Duration = Duration::from_millis(20);
/// The pause after a failed file before the next one, so that a dead mount
/// answering at once is not hammered (and counted) thousands of times a
/// second.
const ERROR_PAUSE: Duration = Duration::from_millis(100);

/// A small deterministic generator for sizes and contents.
struct XorShift(u64);

impl XorShift {
    fn new(seed: u64) -> XorShift {
        XorShift(seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1)
    }

    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    fn fill(&mut self, buffer: &mut [u8]) {
        for word in buffer.chunks_mut(8) {
            let bytes = self.next().to_le_bytes();
            word.copy_from_slice(&bytes[..word.len()]);
        }
    }
}

/// The endpoint's pacing: when the byte after `written` may go.
struct Pace {
    start: Instant,
    bytes_per_second: f64,
}

impl Pace {
    /// Sleeps until `bytes` in all have been paid for; false if the run
    /// stopped first.
    fn wait_for(&self, bytes: u64, stop: &Stop) -> bool {
        let due = self.start + Duration::from_secs_f64(bytes as f64 / self.bytes_per_second);
        loop {
            if stop.is_stopped() {
                return false;
            }
            let now = Instant::now();
            if now >= due {
                return true;
            }
            std::thread::sleep((due - now).min(STOP_CHECK));
        }
    }
}

/// Sleeps `length`, or less if the run stops first.
fn pause(length: Duration, stop: &Stop) {
    let until = Instant::now() + length;
    while !stop.is_stopped() {
        let now = Instant::now();
        if now >= until {
            return;
        }
        std::thread::sleep((until - now).min(STOP_CHECK));
    }
}

/// Runs the endpoint until the run stops or its file limit is met.
pub(crate) fn run(plan: &FileIoPlan, counters: &FileIoCounters, stop: &Stop) {
    let pace = Pace {
        start: Instant::now(),
        bytes_per_second: plan.rate_bps as f64 / 8.0,
    };
    let mut sizes = XorShift::new(plan.rate_bps ^ plan.max_size);
    let mut buffer = vec![0u8; CHUNK];
    let mut written_total: u64 = 0;
    let tag: String = plan
        .name
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
        .collect();
    for index in 0_u64.. {
        if stop.is_stopped() || plan.max_files.is_some_and(|max| index >= max) {
            break;
        }
        let size = plan.min_size + sizes.next() % (plan.max_size - plan.min_size + 1);
        let path = plan
            .directory
            .join(format!("linerate-{tag}-{}-{index}.dat", std::process::id()));
        let file = WrittenFile {
            path,
            size,
            seed: index,
            sync: plan.sync,
        };
        let written = file.write(&mut buffer, &pace, &mut written_total, counters, stop);
        match written {
            Ok(Some(crc)) => {
                counters.files_written.fetch_add(1, Relaxed);
                file.verify(crc, &mut buffer, counters);
            }
            Ok(None) => {}
            Err(error) => {
                counters.errors.record(ErrorKind::of_file(&error), || {
                    format!("writing {}: {error}", file.path.display())
                });
                pause(ERROR_PAUSE, stop);
            }
        }
        if !plan.keep_files {
            let _ = std::fs::remove_file(&file.path);
        }
    }
    let nanos = u64::try_from(pace.start.elapsed().as_nanos()).unwrap_or(u64::MAX);
    counters.write_nanos.store(nanos.max(1), Relaxed);
}

/// One file of the run.
struct WrittenFile {
    path: PathBuf,
    size: u64,
    seed: u64,
    /// fsync before reading back.
    sync: bool,
}

impl WrittenFile {
    /// Writes the file, paced; its CRC-32, or `None` if the run stopped
    /// part-way.
    fn write(
        &self,
        buffer: &mut [u8],
        pace: &Pace,
        written_total: &mut u64,
        counters: &FileIoCounters,
        stop: &Stop,
    ) -> std::io::Result<Option<u32>> {
        let mut file = File::create(&self.path)?;
        let mut content = XorShift::new(self.seed);
        let mut crc = crc32fast::Hasher::new();
        let mut left = self.size;
        while left > 0 {
            let count = left.min(CHUNK as u64) as usize;
            if !pace.wait_for(*written_total + count as u64, stop) {
                return Ok(None);
            }
            content.fill(&mut buffer[..count]);
            file.write_all(&buffer[..count])?;
            crc.update(&buffer[..count]);
            *written_total += count as u64;
            counters.bytes_written.fetch_add(count as u64, Relaxed);
            left -= count as u64;
        }
        if self.sync {
            file.sync_all()?;
        }
        Ok(Some(crc.finalize()))
    }

    /// Reads the file back and counts it verified or not.
    fn verify(&self, crc: u32, buffer: &mut [u8], counters: &FileIoCounters) {
        match read_checksum(&self.path, buffer, counters) {
            Ok((length, read_crc)) => {
                counters.files_read.fetch_add(1, Relaxed);
                if length != self.size || read_crc != crc {
                    counters.verify_failures.fetch_add(1, Relaxed);
                    counters.errors.record(ErrorKind::Io, || {
                        format!(
                            "{} read back {length} bytes with CRC-32 {read_crc:08x}; {} bytes with {crc:08x} were written",
                            self.path.display(),
                            self.size
                        )
                    });
                }
            }
            Err(error) => counters.errors.record(ErrorKind::of_file(&error), || {
                format!("reading {} back: {error}", self.path.display())
            }),
        }
    }
}

/// The length and CRC-32 of a file, counting the bytes read.
fn read_checksum(
    path: &Path,
    buffer: &mut [u8],
    counters: &FileIoCounters,
) -> std::io::Result<(u64, u32)> {
    let mut file = File::open(path)?;
    let mut crc = crc32fast::Hasher::new();
    let mut length = 0u64;
    loop {
        let count = file.read(buffer)?;
        if count == 0 {
            return Ok((length, crc.finalize()));
        }
        crc.update(&buffer[..count]);
        length += count as u64;
        counters.bytes_read.fetch_add(count as u64, Relaxed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_changed_byte_fails_verification() {
        let directory =
            std::env::temp_dir().join(format!("lrtest-fileio-unit-{}", std::process::id()));
        std::fs::create_dir_all(&directory).expect("temp dir");
        let (_sender, stop) = crate::stop::stop_signal(None);
        let counters = FileIoCounters::default();
        let pace = Pace {
            start: Instant::now(),
            bytes_per_second: 1e12,
        };
        let file = WrittenFile {
            path: directory.join("f.dat"),
            size: 100_000,
            seed: 3,
            sync: true,
        };
        let mut buffer = vec![0u8; CHUNK];
        let mut total = 0;
        let crc = file
            .write(&mut buffer, &pace, &mut total, &counters, &stop)
            .expect("write")
            .expect("not stopped");
        file.verify(crc, &mut buffer, &counters);
        assert_eq!(counters.verify_failures.load(Relaxed), 0);
        let mut bytes = std::fs::read(&file.path).expect("read");
        bytes[54_321] ^= 0x01;
        std::fs::write(&file.path, bytes).expect("rewrite");
        file.verify(crc, &mut buffer, &counters);
        assert_eq!(counters.verify_failures.load(Relaxed), 1);
        assert_eq!(counters.files_read.load(Relaxed), 2);
        std::fs::remove_dir_all(&directory).expect("clean up");
    }
}
