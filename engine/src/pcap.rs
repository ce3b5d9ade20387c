//! Writing what a scenario would send to a pcap file, without sending it:
//! each stream's frames from its generator, in the order its pacer would
//! release them, stamped with the times they would fall due.

use std::io::{self, Write};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::frame::{FrameError, FrameGenerator};
use crate::pacer::Pacer;
use crate::scenario::Plan;

/// pcap magic for nanosecond timestamps.
const PCAP_MAGIC_NANOSECONDS: u32 = 0xA1B2_3C4D;
/// LINKTYPE_ETHERNET.
const LINKTYPE_ETHERNET: u32 = 1;
/// Snapshot length: whole frames.
const SNAPLEN: u32 = 65_535;

/// Errors writing a pcap.
#[derive(Debug, thiserror::Error)]
pub enum PcapError {
    /// A stream's frames could not be made.
    #[error("stream {stream:?}: {source}")]
    Frame {
        /// The stream.
        stream: String,
        /// Why.
        #[source]
        source: FrameError,
    },
    /// Writing failed.
    #[error("cannot write the pcap: {0}")]
    Io(#[from] io::Error),
}

/// Writes pcap records (nanosecond timestamps, Ethernet link type).
#[derive(Debug)]
pub struct PcapWriter<W: Write> {
    out: W,
}

impl<W: Write> PcapWriter<W> {
    /// Writes the file header.
    pub fn new(mut out: W) -> io::Result<Self> {
        let mut header = Vec::with_capacity(24);
        header.extend_from_slice(&PCAP_MAGIC_NANOSECONDS.to_le_bytes());
        header.extend_from_slice(&2u16.to_le_bytes());
        header.extend_from_slice(&4u16.to_le_bytes());
        header.extend_from_slice(&0i32.to_le_bytes());
        header.extend_from_slice(&0u32.to_le_bytes());
        header.extend_from_slice(&SNAPLEN.to_le_bytes());
        header.extend_from_slice(&LINKTYPE_ETHERNET.to_le_bytes());
        out.write_all(&header)?;
        Ok(PcapWriter { out })
    }

    /// Writes one frame captured at `time` (since the Unix epoch).
    pub fn write_frame(&mut self, time: Duration, frame: &[u8]) -> io::Result<()> {
        let mut record = Vec::with_capacity(16);
        record.extend_from_slice(&(time.as_secs() as u32).to_le_bytes());
        record.extend_from_slice(&time.subsec_nanos().to_le_bytes());
        record.extend_from_slice(&(frame.len() as u32).to_le_bytes());
        record.extend_from_slice(&(frame.len() as u32).to_le_bytes());
        self.out.write_all(&record)?;
        self.out.write_all(frame)
    }

    /// Flushes and returns the writer.
    pub fn finish(mut self) -> io::Result<W> {
        self.out.flush()?;
        Ok(self.out)
    }
}

/// Writes the first `count` frames `plan` would send (all streams together,
/// in sending order) to `out`. Returns how many were written: fewer than
/// `count` when the scenario sends fewer. Streams with `dst_mac = "router"`
/// must be resolved first ([`crate::run::resolve_router_macs`]).
pub fn write_plan_frames<W: Write>(plan: &Plan, count: u64, out: W) -> Result<u64, PcapError> {
    struct Source {
        generator: FrameGenerator,
        pacer: Pacer,
        buffer: Vec<u8>,
        sequence: u32,
    }
    let mut sources = Vec::with_capacity(plan.streams.len());
    for stream in &plan.streams {
        let generator =
            FrameGenerator::new(&stream.frame, stream.id).map_err(|source| PcapError::Frame {
                stream: stream.name.clone(),
                source,
            })?;
        sources.push(Source {
            buffer: generator.template().to_vec(),
            generator,
            pacer: Pacer::new(
                stream.rate,
                stream.schedule,
                stream.frames_to_send(plan.run.stop),
                1,
                0,
            ),
            sequence: 0,
        });
    }
    let epoch = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    let mut writer = PcapWriter::new(out)?;
    let mut written = 0;
    while written < count {
        let next = sources
            .iter_mut()
            .filter_map(|source| source.pacer.next_due_ns().map(|due| (due, source)))
            .min_by_key(|(due, _)| *due);
        let Some((due_ns, source)) = next else { break };
        let len = source
            .generator
            .fill(&mut source.buffer, source.sequence, due_ns)
            .map_err(|truncated| PcapError::Frame {
                stream: String::new(),
                source: FrameError::Truncated(truncated),
            })?;
        source.sequence = source.sequence.wrapping_add(1);
        source.pacer.released(1);
        writer.write_frame(epoch + Duration::from_nanos(due_ns), &source.buffer[..len])?;
        written += 1;
    }
    writer.finish()?;
    Ok(written)
}
