//! Scenario files: TOML text is read into the plain structs of `raw`, then
//! validated into the immutable [`Plan`] the engine runs. Every error names
//! the file, line, column and field.

mod error;
mod plan;
mod raw;
pub mod units;

use std::collections::HashMap;
use std::net::Ipv4Addr;
use std::ops::Range;
use std::path::Path;
use std::time::Duration;

use toml::Spanned;

pub use error::ScenarioError;
pub use plan::{Plan, PortPlan, Rate, RunPlan, StopCondition, StreamPlan};

use crate::template::{FrameSpec, MIN_FRAME_SIZE};
use crate::wire::MacAddr;
use error::SourceMap;
use raw::{NumberOrText, RawPort, RawRun, RawScenario, RawStream};

/// The largest frame this version sends: one UMEM frame, one buffer.
pub const MAX_FRAME_SIZE: usize = 3840;
/// Longest usable interface name (IFNAMSIZ less the terminating NUL).
pub const MAX_INTERFACE_NAME: usize = 15;
/// The default frame size: 64 bytes on the wire with the FCS.
pub const DEFAULT_FRAME_SIZE: usize = 60;
/// Report interval named `fast`.
pub const FAST_INTERVAL: Duration = Duration::from_secs(1);
/// Report interval named `slow`.
pub const SLOW_INTERVAL: Duration = Duration::from_secs(10);
/// Default longest wait for frames in flight.
pub const DEFAULT_DRAIN: Duration = Duration::from_secs(2);

/// Reads and validates the scenario at `path`.
pub fn load(path: &Path) -> Result<Plan, ScenarioError> {
    let file = path.display().to_string();
    let text = std::fs::read_to_string(path).map_err(|error| ScenarioError {
        file: file.clone(),
        line: 0,
        column: 0,
        field: None,
        message: format!("cannot read the scenario file: {error}"),
    })?;
    parse(&text, &file)
}

/// Parses and validates scenario `text`; `file` names it in errors.
pub fn parse(text: &str, file: &str) -> Result<Plan, ScenarioError> {
    let map = SourceMap::new(file, text);
    let raw: RawScenario = toml::from_str(text).map_err(|error| {
        let message = error.message().trim().to_string();
        match error.span() {
            Some(span) => map.error(span.clone(), map.field_at(span.start), message),
            None => map.file_error(message),
        }
    })?;
    Validator {
        map: &map,
        source: file,
    }
    .plan(raw)
}

struct Validator<'a> {
    map: &'a SourceMap<'a>,
    source: &'a str,
}

impl Validator<'_> {
    fn error(&self, span: Range<usize>, field: &str, message: impl Into<String>) -> ScenarioError {
        self.map.error(span, Some(field.to_string()), message)
    }

    fn plan(&self, raw: RawScenario) -> Result<Plan, ScenarioError> {
        let run = match raw.run {
            Some(run) => {
                let span = run.span();
                self.run(run.into_inner(), span)?
            }
            None => {
                return Err(self.map.file_error(
                    "missing [run] table: add [run] with duration = \"10s\" or frames = 100000",
                ))
            }
        };
        if raw.ports.is_empty() {
            return Err(self.map.file_error(
                "no [[port]] tables: add one per interface, e.g. [[port]] name = \"a\" interface = \"eth4\"",
            ));
        }
        let mut ports = Vec::with_capacity(raw.ports.len());
        let mut port_index: HashMap<String, usize> = HashMap::new();
        for (index, port) in raw.ports.into_iter().enumerate() {
            let name_span = port.get_ref().name.span();
            let port = self.port(index, port.into_inner())?;
            if port_index.contains_key(&port.name) {
                return Err(self.error(
                    name_span,
                    &format!("port[{index}].name"),
                    format!(
                        "another port is already named {:?}; port names must be unique",
                        port.name
                    ),
                ));
            }
            port_index.insert(port.name.clone(), ports.len());
            ports.push(port);
        }
        if raw.streams.is_empty() {
            return Err(self
                .map
                .file_error("no [[stream]] tables: add at least one stream"));
        }
        if raw.streams.len() > usize::from(u16::MAX) {
            let span = raw.streams[usize::from(u16::MAX)].span();
            return Err(self.error(
                span,
                "stream",
                format!("at most {} streams per scenario", u16::MAX),
            ));
        }
        let mut streams: Vec<StreamPlan> = Vec::with_capacity(raw.streams.len());
        for (index, stream) in raw.streams.into_iter().enumerate() {
            let name_span = match &stream.get_ref().name {
                Some(name) => name.span(),
                None => stream.span(),
            };
            let stream = self.stream(index, stream.into_inner(), &port_index, &ports)?;
            if streams.iter().any(|earlier| earlier.name == stream.name) {
                return Err(self.error(
                    name_span,
                    &format!("stream[{index}].name"),
                    format!(
                        "another stream is already named {:?}; stream names must be unique",
                        stream.name
                    ),
                ));
            }
            streams.push(stream);
        }
        Ok(Plan {
            source: self.source.to_string(),
            run,
            ports,
            streams,
        })
    }

    fn run(&self, run: RawRun, span: Range<usize>) -> Result<RunPlan, ScenarioError> {
        let stop = match (run.duration, run.frames) {
            (Some(duration), None) => {
                let value = self.duration(&duration, "run.duration")?;
                if value.is_zero() {
                    return Err(self.error(
                        duration.span(),
                        "run.duration",
                        "must be longer than zero",
                    ));
                }
                StopCondition::Duration(value)
            }
            (None, Some(frames)) => {
                let count = *frames.get_ref();
                if count <= 0 {
                    return Err(self.error(
                        frames.span(),
                        "run.frames",
                        "must be a positive number of frames per stream",
                    ));
                }
                StopCondition::FramesPerStream(count as u64)
            }
            (Some(duration), Some(_)) => {
                return Err(self.error(
                    duration.span(),
                    "run.duration",
                    "give either duration or frames, not both",
                ))
            }
            (None, None) => {
                return Err(self.error(
                    span,
                    "run",
                    "say when to stop: duration = \"10s\" or frames = 100000 (per stream)",
                ))
            }
        };
        let report_interval = match &run.report_interval {
            None => FAST_INTERVAL,
            Some(text) => match text.get_ref().as_str() {
                "fast" => FAST_INTERVAL,
                "slow" => SLOW_INTERVAL,
                other => {
                    let interval = units::parse_duration(other).map_err(|message| {
                        self.error(
                            text.span(),
                            "run.report_interval",
                            format!("{message}, or \"fast\" or \"slow\""),
                        )
                    })?;
                    if interval < Duration::from_millis(10) {
                        return Err(self.error(
                            text.span(),
                            "run.report_interval",
                            "must be at least 10ms",
                        ));
                    }
                    interval
                }
            },
        };
        let drain = match &run.drain {
            None => DEFAULT_DRAIN,
            Some(text) => units::parse_duration(text.get_ref())
                .map_err(|message| self.error(text.span(), "run.drain", message))?,
        };
        Ok(RunPlan {
            stop,
            report_interval,
            drain,
        })
    }

    fn duration(
        &self,
        value: &Spanned<NumberOrText>,
        field: &str,
    ) -> Result<Duration, ScenarioError> {
        match value.get_ref() {
            NumberOrText::Text(text) => units::parse_duration(text)
                .map_err(|message| self.error(value.span(), field, message)),
            NumberOrText::Integer(_) | NumberOrText::Float(_) => Err(self.error(
                value.span(),
                field,
                "give the unit: a string like \"10s\" or \"500ms\"",
            )),
        }
    }

    fn port(&self, index: usize, port: RawPort) -> Result<PortPlan, ScenarioError> {
        let field = |name: &str| format!("port[{index}].{name}");
        let name = port.name.get_ref().trim().to_string();
        if name.is_empty() {
            return Err(self.error(port.name.span(), &field("name"), "must not be empty"));
        }
        let interface = port.interface.get_ref().clone();
        if interface.is_empty()
            || interface.len() > MAX_INTERFACE_NAME
            || interface.contains(['/', ' ', '\0'])
        {
            return Err(self.error(
                port.interface.span(),
                &field("interface"),
                format!("{interface:?} is not an interface name (1 to {MAX_INTERFACE_NAME} characters, no '/' or spaces)"),
            ));
        }
        let namespace = match port.namespace {
            None => None,
            Some(namespace) => {
                let value = namespace.get_ref().clone();
                if value.is_empty() || value.contains(['/', '\0']) || value == "." || value == ".."
                {
                    return Err(self.error(
                        namespace.span(),
                        &field("namespace"),
                        format!("{value:?} is not a network namespace name (as `ip netns list` shows them)"),
                    ));
                }
                Some(value)
            }
        };
        Ok(PortPlan {
            name,
            interface,
            namespace,
        })
    }

    fn stream(
        &self,
        index: usize,
        stream: RawStream,
        port_index: &HashMap<String, usize>,
        ports: &[PortPlan],
    ) -> Result<StreamPlan, ScenarioError> {
        let field = |name: &str| format!("stream[{index}].{name}");
        let name = match &stream.name {
            Some(name) if name.get_ref().trim().is_empty() => {
                return Err(self.error(name.span(), &field("name"), "must not be empty"))
            }
            Some(name) => name.get_ref().trim().to_string(),
            None => format!("stream{index}"),
        };
        let find_port = |value: &Spanned<String>, key: &str| {
            port_index.get(value.get_ref()).copied().ok_or_else(|| {
                let known: Vec<&str> = ports.iter().map(|port| port.name.as_str()).collect();
                self.error(
                    value.span(),
                    &field(key),
                    format!(
                        "no port named {:?}; the ports are {}",
                        value.get_ref(),
                        known.join(", ")
                    ),
                )
            })
        };
        let tx_port = find_port(&stream.tx, "tx")?;
        let rx_port = find_port(&stream.rx, "rx")?;
        let mac = |value: &Spanned<String>, key: &str| {
            value
                .get_ref()
                .parse::<MacAddr>()
                .map_err(|error| self.error(value.span(), &field(key), error.to_string()))
        };
        let ipv4 = |value: &Spanned<String>, key: &str| {
            value.get_ref().parse::<Ipv4Addr>().map_err(|_| {
                self.error(
                    value.span(),
                    &field(key),
                    format!(
                        "invalid IPv4 address {:?}: expected dotted quad like 198.18.0.1",
                        value.get_ref()
                    ),
                )
            })
        };
        let frame_size = match &stream.frame_size {
            None => DEFAULT_FRAME_SIZE,
            Some(size) => {
                let value = *size.get_ref();
                if value < MIN_FRAME_SIZE as i64 || value > MAX_FRAME_SIZE as i64 {
                    return Err(self.error(
                        size.span(),
                        &field("frame_size"),
                        format!(
                            "{value} is out of range: frames are {MIN_FRAME_SIZE} to {MAX_FRAME_SIZE} bytes without FCS \
                             ({MIN_FRAME_SIZE} holds Ethernet, IPv4, UDP and the linerate payload header)"
                        ),
                    ));
                }
                value as usize
            }
        };
        let rate = match stream.rate.get_ref() {
            NumberOrText::Integer(value) if *value >= 0 => Rate::FramesPerSecond {
                millipps: (*value as u64).saturating_mul(1000),
            },
            NumberOrText::Float(value) if *value >= 0.0 && value.is_finite() => {
                Rate::FramesPerSecond {
                    millipps: (value * 1000.0).round() as u64,
                }
            }
            NumberOrText::Text(text) => Rate::FramesPerSecond {
                millipps: units::parse_frame_rate_milli(text)
                    .map_err(|message| self.error(stream.rate.span(), &field("rate"), message))?,
            },
            _ => {
                return Err(self.error(
                    stream.rate.span(),
                    &field("rate"),
                    "must be zero or more frames per second",
                ))
            }
        };
        Ok(StreamPlan {
            id: index as u16,
            name,
            tx_port,
            rx_port,
            frame: FrameSpec {
                src_mac: mac(&stream.src_mac, "src_mac")?,
                dst_mac: mac(&stream.dst_mac, "dst_mac")?,
                src_ip: ipv4(&stream.src_ip, "src_ip")?,
                dst_ip: ipv4(&stream.dst_ip, "dst_ip")?,
                src_port: *stream.src_port.get_ref(),
                dst_port: *stream.dst_port.get_ref(),
                frame_size,
                ttl: stream.ttl.as_ref().map(|ttl| *ttl.get_ref()).unwrap_or(64),
            },
            rate,
        })
    }
}

#[cfg(test)]
mod tests;
