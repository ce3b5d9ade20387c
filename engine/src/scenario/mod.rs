//! Scenario files: TOML text is read into the plain structs of `raw`, then
//! validated into the immutable [`Plan`] the engine runs. Every error names
//! the file, line, column and field.

mod agents;
mod copies;
mod endpoints;
mod error;
mod line_rate;
mod mix;
mod modes;
mod plan;
mod raw;
pub mod rfc2544;
pub mod stations;
mod unicast;
pub mod units;

use std::collections::{HashMap, HashSet};
use std::net::IpAddr;
use std::ops::Range;
use std::path::Path;
use std::time::Duration;

use toml::Spanned;

pub use agents::{AgentPlan, RawAgent};
pub use error::ScenarioError;
pub use plan::{
    Bursts, LatencyLimit, PassCriteria, Phase, Plan, PortPlan, Rate, RunPlan, Schedule,
    StopCondition, StreamPlan, DEFAULT_MIN_RATE_PERCENT,
};
pub use rfc2544::{Rfc2544Plan, SuiteRate, SuiteTest};
pub use unicast::is_group_mac;

use crate::frame::{
    mac_to_u128, FrameSpec, IpHeader, PayloadPattern, SizeRule, Sweep, SweepCombine, SweepField,
    SweepMode, Vlan,
};
use crate::sequence::{FaultKind, FaultTrigger, SequenceFault};
use crate::wire::vlan::MAX_VLAN_ID;
use crate::wire::MacAddr;
use error::SourceMap;
use raw::{
    NumberOrText, RawFault, RawPass, RawPort, RawRun, RawScenario, RawStream, RawSweep, SizeValue,
};

/// The largest frame linerate sends (jumbo): bytes without FCS. Frames
/// longer than one UMEM chunk go out as multi-buffer descriptor chains.
pub const MAX_FRAME_SIZE: usize = 9000;
/// Longest usable interface name (IFNAMSIZ less the terminating NUL).
pub const MAX_INTERFACE_NAME: usize = 15;
/// The default frame size: 64 bytes on the wire with the FCS.
pub const DEFAULT_FRAME_SIZE: usize = 60;
/// Report interval named `fast`.
pub const FAST_INTERVAL: Duration = Duration::from_secs(1);
/// Report interval named `slow`.
pub const SLOW_INTERVAL: Duration = Duration::from_secs(10);
/// Most TX queues a port may send on.
pub const MAX_QUEUES: u32 = 64;
/// Bytes of a frame's FCS.
pub const FCS_BYTES: usize = 4;
/// Bytes a frame costs on the wire beyond itself: FCS (4), preamble and
/// start delimiter (8), inter-frame gap (12).
pub const L1_OVERHEAD_BYTES: usize = FCS_BYTES + 8 + 12;
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
        let message = suggest_known_key(error.message().trim());
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

/// serde's "unknown field `frame_sise`, expected one of `name`, ..." with
/// the nearest valid key put first: "unknown key `frame_sise`: did you mean
/// `frame_size`? (valid here: ...)". Other messages are returned as they are.
fn suggest_known_key(message: &str) -> String {
    let Some(rest) = message.strip_prefix("unknown field `") else {
        return message.to_string();
    };
    let Some((unknown, expected)) = rest.split_once('`') else {
        return message.to_string();
    };
    let valid: Vec<&str> = expected.split('`').skip(1).step_by(2).collect();
    let nearest = valid
        .iter()
        .map(|key| (edit_distance(unknown, key), *key))
        .min();
    let listed = valid
        .iter()
        .map(|key| format!("`{key}`"))
        .collect::<Vec<_>>()
        .join(", ");
    match nearest {
        // Close enough to be a slip: at most a third of the key changed.
        Some((distance, key)) if distance * 3 <= key.len().max(3) => {
            format!("unknown key `{unknown}`: did you mean `{key}`? (valid here: {listed})")
        }
        _ => format!("unknown key `{unknown}` (valid here: {listed})"),
    }
}

/// Levenshtein distance between two keys (they are short).
fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut previous: Vec<usize> = (0..=b.len()).collect();
    for (i, a_char) in a.chars().enumerate() {
        let mut current = vec![i + 1; b.len() + 1];
        for (j, b_char) in b.iter().enumerate() {
            let substitution = previous[j] + usize::from(a_char != *b_char);
            current[j + 1] = substitution.min(previous[j + 1] + 1).min(current[j] + 1);
        }
        previous = current;
    }
    previous[b.len()]
}

struct Validator<'a> {
    map: &'a SourceMap<'a>,
    source: &'a str,
}

impl Validator<'_> {
    /// A `namespace` key's value checked as a network namespace name (a
    /// file name under /run/netns); `None` when the key is absent.
    fn namespace_name(
        &self,
        namespace: Option<&Spanned<String>>,
        field: &str,
    ) -> Result<Option<String>, ScenarioError> {
        let Some(namespace) = namespace else {
            return Ok(None);
        };
        let value = namespace.get_ref().clone();
        if value.is_empty() || value.contains(['/', '\0']) || value == "." || value == ".." {
            return Err(self.error(
                namespace.span(),
                field,
                format!(
                    "{value:?} is not a network namespace name (as `ip netns list` shows them)"
                ),
            ));
        }
        Ok(Some(value))
    }

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
        let port_agents: Vec<Option<Spanned<String>>> = raw
            .ports
            .iter()
            .map(|port| port.get_ref().agent.clone())
            .collect();
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
        let agents = self.agents(raw.agents, &port_agents, &mut ports)?;
        let stations = self.stations(raw.stations, &mut ports, &mut port_index)?;
        let has_endpoints = !(raw.tcp.is_empty()
            && raw.url.is_empty()
            && raw.ping.is_empty()
            && raw.file_io.is_empty());
        if raw.streams.is_empty() && !has_endpoints {
            return Err(self.map.file_error(
                "no [[stream]] tables (nor [[tcp]], [[url]], [[ping]] or [[file_io]]): add at least one",
            ));
        }
        let streams = self.streams(raw.streams, &port_index, &ports, &stations)?;
        let pass = match raw.pass {
            Some(pass) => self.pass_criteria(pass.into_inner())?,
            None => PassCriteria::default(),
        };
        let raw_endpoints = endpoints::RawEndpoints {
            tcp: raw.tcp,
            url: raw.url,
            ping: raw.ping,
            file_io: raw.file_io,
        };
        let endpoint_agents = self.endpoint_agents(&raw_endpoints, &port_index, &ports)?;
        let endpoints = self.endpoints(raw_endpoints, &port_index, &ports)?;
        let rfc2544 = match raw.rfc2544 {
            Some(table) => Some(self.rfc2544(table.get_ref(), table.span(), &streams)?),
            None => None,
        };
        Ok(Plan {
            source: self.source.to_string(),
            run,
            ports,
            streams,
            pass,
            endpoints,
            rfc2544,
            agents,
            endpoint_agents,
            stations,
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
        let phase = self.phase(run.phase.as_ref())?;
        Ok(RunPlan {
            stop,
            report_interval,
            drain,
            phase,
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
        let namespace = self.namespace_name(port.namespace.as_ref(), &field("namespace"))?;
        let queues = match &port.queues {
            None => 1,
            Some(queues) if (1..=i64::from(MAX_QUEUES)).contains(queues.get_ref()) => {
                *queues.get_ref() as u32
            }
            Some(queues) => {
                return Err(self.error(
                    queues.span(),
                    &field("queues"),
                    format!("must be 1 to {MAX_QUEUES} (one sending worker per queue)"),
                ))
            }
        };
        let cores = match &port.cores {
            None => Vec::new(),
            Some(cores) => {
                if cores.get_ref().is_empty()
                    || cores
                        .get_ref()
                        .iter()
                        .any(|core| !(0..=4095).contains(core))
                {
                    return Err(self.error(
                        cores.span(),
                        &field("cores"),
                        "give core numbers like [1, 2] (see `nproc`), or leave cores out to choose automatically",
                    ));
                }
                cores.get_ref().iter().map(|core| *core as usize).collect()
            }
        };
        let xsk_mode = match &port.xsk_mode {
            None => None,
            Some(mode) => Some(match mode.get_ref().as_str() {
                "auto" => crate::types::XskModeRequest::Auto,
                "copy" => crate::types::XskModeRequest::Copy,
                "zero-copy" => crate::types::XskModeRequest::ZeroCopy,
                other => {
                    return Err(self.error(
                        mode.span(),
                        &field("xsk_mode"),
                        format!(
                            "{other:?} is not an AF_XDP mode: \"auto\", \"copy\" or \"zero-copy\""
                        ),
                    ))
                }
            }),
        };
        Ok(PortPlan {
            name,
            interface,
            namespace,
            queues,
            cores,
            xsk_mode,
            reflect: port.reflect.is_some_and(|reflect| *reflect.get_ref()),
            agent: None,
            remote: false,
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
        if ports[rx_port].reflect {
            return Err(self.error(
                stream.rx.span(),
                &field("rx"),
                format!(
                    "port {:?} reflects (reflect = true), so it counts no stream; count on the sending port (rx = {:?}) to measure the round trip",
                    ports[rx_port].name, ports[tx_port].name
                ),
            ));
        }
        let mac = |value: &Spanned<String>, key: &str| {
            value
                .get_ref()
                .parse::<MacAddr>()
                .map_err(|error| self.error(value.span(), &field(key), error.to_string()))
        };
        let ip = |value: &Spanned<String>, key: &str| {
            value.get_ref().parse::<IpAddr>().map_err(|_| {
                self.error(
                    value.span(),
                    &field(key),
                    format!(
                        "invalid IP address {:?}: expected IPv4 like 198.18.0.1 or IPv6 like 2001:db8::1",
                        value.get_ref()
                    ),
                )
            })
        };
        let ttl = stream.ttl.as_ref().map(|ttl| *ttl.get_ref()).unwrap_or(64);
        let tos = stream.tos.as_ref().map(|tos| *tos.get_ref()).unwrap_or(0);
        let ip_header = match (ip(&stream.src_ip, "src_ip")?, ip(&stream.dst_ip, "dst_ip")?) {
            (IpAddr::V4(src), IpAddr::V4(dst)) => IpHeader::V4 { src, dst, ttl, tos },
            (IpAddr::V6(src), IpAddr::V6(dst)) => IpHeader::V6 {
                src,
                dst,
                hop_limit: ttl,
                traffic_class: tos,
            },
            _ => {
                return Err(self.error(
                    stream.dst_ip.span(),
                    &field("dst_ip"),
                    "src_ip and dst_ip must both be IPv4 or both IPv6",
                ))
            }
        };
        let vlan = match &stream.vlan {
            None => {
                if let Some(priority) = &stream.vlan_priority {
                    return Err(self.error(
                        priority.span(),
                        &field("vlan_priority"),
                        "needs vlan = <id> as well",
                    ));
                }
                None
            }
            Some(id) => {
                let value = *id.get_ref();
                if !(0..=i64::from(MAX_VLAN_ID)).contains(&value) {
                    return Err(self.error(
                        id.span(),
                        &field("vlan"),
                        format!("{value} is not a VLAN id (0 to {MAX_VLAN_ID})"),
                    ));
                }
                let priority = match &stream.vlan_priority {
                    None => 0,
                    Some(priority) if (0..=7).contains(priority.get_ref()) => {
                        *priority.get_ref() as u8
                    }
                    Some(priority) => {
                        return Err(self.error(
                            priority.span(),
                            &field("vlan_priority"),
                            "must be 0 to 7",
                        ))
                    }
                };
                Some(Vlan {
                    id: value as u16,
                    priority,
                })
            }
        };
        let dst_mac_from_router = stream.dst_mac.get_ref() == "router";
        let src_mac = mac(&stream.src_mac, "src_mac")?;
        self.unicast_source(src_mac, stream.src_mac.span(), &field("src_mac"))?;
        let mut spec = FrameSpec {
            src_mac,
            dst_mac: if dst_mac_from_router {
                MacAddr::default()
            } else {
                mac(&stream.dst_mac, "dst_mac")?
            },
            vlan,
            ip: ip_header,
            src_port: *stream.src_port.get_ref(),
            dst_port: *stream.dst_port.get_ref(),
            size: SizeRule::Fixed(DEFAULT_FRAME_SIZE),
            pattern: PayloadPattern::Zeros,
            sweeps: Vec::new(),
            combine: SweepCombine::Lockstep,
        };
        spec.size = self.size_rule(&stream, &spec, &field)?;
        spec.pattern = self.pattern(&stream, &field)?;
        spec.combine = match &stream.sweep_combine {
            None => SweepCombine::Lockstep,
            Some(text) => match text.get_ref().as_str() {
                "lockstep" => SweepCombine::Lockstep,
                "product" => SweepCombine::Product,
                other => {
                    return Err(self.error(
                        text.span(),
                        &field("sweep_combine"),
                        format!(
                            "{other:?} is not a way to combine sweeps: \"lockstep\" or \"product\""
                        ),
                    ))
                }
            },
        };
        for (sweep_index, sweep) in stream.sweeps.iter().enumerate() {
            let path = format!("stream[{index}].sweep[{sweep_index}]");
            let raw_sweep = sweep.get_ref();
            if dst_mac_from_router
                && raw_sweep.field.get_ref() == "dst_mac"
                && raw_sweep.start.is_none()
            {
                return Err(self.error(
                    raw_sweep.field.span(),
                    &format!("{path}.field"),
                    "a dst_mac sweep on a stream with dst_mac = \"router\" needs start = <first MAC>",
                ));
            }
            let swept_lease = match raw_sweep.field.get_ref().as_str() {
                "src_ip" => stream.src_ip_dhcp.as_ref(),
                "dst_ip" => stream.dst_ip_dhcp.as_ref(),
                _ => None,
            };
            if let (Some(station), None) = (swept_lease, &raw_sweep.start) {
                return Err(self.error(
                    raw_sweep.field.span(),
                    &format!("{path}.field"),
                    format!("station {station:?} gets its address by DHCP, known only at run time: give the sweep start = <first address>"),
                ));
            }
            let sweep = self.sweep(raw_sweep, &spec, &path)?;
            if sweep.field == SweepField::SrcMac {
                // Point at the start when it is the group address, else at
                // how far the sweep goes.
                let place = match (&raw_sweep.start, &raw_sweep.count, &raw_sweep.end) {
                    (Some(start), _, _) if sweep.start & (1 << 40) != 0 => (start.span(), "start"),
                    (_, Some(count), _) => (count.span(), "count"),
                    (_, None, Some(end)) => (end.span(), "end"),
                    _ => (raw_sweep.field.span(), "field"),
                };
                self.unicast_source_sweep(&sweep, place.0, &format!("{path}.{}", place.1))?;
            }
            if spec
                .sweeps
                .iter()
                .any(|earlier| earlier.field == sweep.field)
            {
                return Err(self.error(
                    stream.sweeps[sweep_index].get_ref().field.span(),
                    &format!("{path}.field"),
                    format!("{} is swept twice in this stream", sweep.field.name()),
                ));
            }
            spec.sweeps.push(sweep);
        }
        let line_percent = self.line_percent(&stream, &field)?;
        let rate = match line_percent {
            Some(_) => Rate::Max,
            None => self.rate(&stream, &spec, &field)?,
        };
        let schedule = self.schedule(&stream, &field)?;
        let fault = match &stream.fault {
            Some(fault) => Some(self.fault(fault.get_ref(), &field)?),
            None => None,
        };
        Ok(StreamPlan {
            id: index as u32,
            name,
            tx_port,
            rx_port,
            frame: spec,
            dst_mac_from_router,
            src_ip_dhcp: stream.src_ip_dhcp.clone(),
            dst_ip_dhcp: stream.dst_ip_dhcp.clone(),
            rate,
            line_percent,
            schedule,
            fault,
        })
    }

    /// `[stream.fault]`: a kind and either `every` or `probability`.
    fn fault(
        &self,
        raw: &RawFault,
        field: &dyn Fn(&str) -> String,
    ) -> Result<SequenceFault, ScenarioError> {
        let kind = match raw.kind.get_ref().as_str() {
            "skip" => FaultKind::Skip,
            "repeat" => FaultKind::Repeat,
            "swap" => FaultKind::Swap,
            other => {
                return Err(self.error(
                    raw.kind.span(),
                    &field("fault.kind"),
                    format!("{other:?} is not a fault: \"skip\", \"repeat\" or \"swap\""),
                ))
            }
        };
        let trigger = match (&raw.every, &raw.probability) {
            (Some(every), None) => {
                if *every.get_ref() < 2 {
                    return Err(self.error(
                        every.span(),
                        &field("fault.every"),
                        "must be at least 2 (one fault every N frames)",
                    ));
                }
                FaultTrigger::Every(*every.get_ref() as u64)
            }
            (None, Some(probability)) => {
                let value = self.number(probability, &field("fault.probability"))?;
                if !(0.0..=0.5).contains(&value) {
                    return Err(self.error(
                        probability.span(),
                        &field("fault.probability"),
                        "must be between 0 and 0.5 (a fraction of frames)",
                    ));
                }
                let seed = match &raw.seed {
                    Some(seed) => *seed.get_ref() as u64,
                    None => 1,
                };
                FaultTrigger::Probability {
                    probability: value,
                    seed,
                }
            }
            (Some(every), Some(_)) => {
                return Err(self.error(
                    every.span(),
                    &field("fault.every"),
                    "give either every or probability, not both",
                ))
            }
            (None, None) => {
                return Err(self.error(
                    raw.kind.span(),
                    &field("fault"),
                    "say how often: every = 1000 (frames) or probability = 0.001",
                ))
            }
        };
        Ok(SequenceFault { kind, trigger })
    }

    /// A plain number (integer or float) at `field`.
    fn number(&self, value: &Spanned<NumberOrText>, field: &str) -> Result<f64, ScenarioError> {
        match value.get_ref() {
            NumberOrText::Integer(integer) => Ok(*integer as f64),
            NumberOrText::Float(float) if float.is_finite() => Ok(*float),
            _ => Err(self.error(value.span(), field, "must be a number")),
        }
    }

    /// A count of zero or more at `field`.
    fn count(&self, value: &Spanned<i64>, field: &str) -> Result<u64, ScenarioError> {
        u64::try_from(*value.get_ref())
            .map_err(|_| self.error(value.span(), field, "must be zero or more"))
    }

    /// A percentage, 0 to 100, at `field`.
    fn percent(&self, value: &Spanned<NumberOrText>, field: &str) -> Result<f64, ScenarioError> {
        let percent = self.number(value, field)?;
        if !(0.0..=100.0).contains(&percent) {
            return Err(self.error(value.span(), field, "must be a percentage from 0 to 100"));
        }
        Ok(percent)
    }

    /// `[pass]`: only the criteria given are checked.
    fn pass_criteria(&self, raw: RawPass) -> Result<PassCriteria, ScenarioError> {
        let mut max_latency = Vec::new();
        if let Some(limits) = &raw.max_latency {
            for (index, limit) in limits.get_ref().iter().enumerate() {
                let field = format!("pass.max_latency[{index}]");
                let span = limit.span();
                let limit = limit.get_ref();
                let percentile = match limit.percentile {
                    NumberOrText::Integer(value) => value as f64,
                    NumberOrText::Float(value) => value,
                    NumberOrText::Text(_) => f64::NAN,
                };
                if !(0.0..=100.0).contains(&percentile) {
                    return Err(self.error(
                        span,
                        &format!("{field}.percentile"),
                        "must be a number from 0 to 100, e.g. 99.9",
                    ));
                }
                let max = units::parse_duration(&limit.max)
                    .map_err(|message| self.error(span, &format!("{field}.max"), message))?;
                max_latency.push(LatencyLimit { percentile, max });
            }
        }
        Ok(PassCriteria {
            max_loss_frames: match &raw.max_loss_frames {
                Some(value) => Some(self.count(value, "pass.max_loss_frames")?),
                None => None,
            },
            max_loss_percent: match &raw.max_loss_percent {
                Some(value) => Some(self.percent(value, "pass.max_loss_percent")?),
                None => None,
            },
            max_reorder: match &raw.max_reorder {
                Some(value) => Some(self.count(value, "pass.max_reorder")?),
                None => None,
            },
            max_duplicates: match &raw.max_duplicates {
                Some(value) => Some(self.count(value, "pass.max_duplicates")?),
                None => None,
            },
            max_latency,
            min_rate_percent: match &raw.min_rate_percent {
                Some(value) => Some(self.percent(value, "pass.min_rate_percent")?),
                None => None,
            },
            endpoints: self.endpoint_criteria(&raw)?,
        })
    }

    /// The endpoint keys of `[pass]`, each defaulting as without one.
    fn endpoint_criteria(
        &self,
        raw: &RawPass,
    ) -> Result<linerate_endpoints::EndpointCriteria, ScenarioError> {
        let mut criteria = linerate_endpoints::EndpointCriteria::default();
        let percents = [
            (
                &raw.tcp_min_rate_percent,
                "pass.tcp_min_rate_percent",
                &mut criteria.tcp_min_rate_percent,
            ),
            (
                &raw.url_min_rate_percent,
                "pass.url_min_rate_percent",
                &mut criteria.url_min_rate_percent,
            ),
            (
                &raw.file_io_min_rate_percent,
                "pass.file_io_min_rate_percent",
                &mut criteria.file_io_min_rate_percent,
            ),
            (
                &raw.max_ping_loss_percent,
                "pass.max_ping_loss_percent",
                &mut criteria.max_ping_loss_percent,
            ),
        ];
        for (value, field, slot) in percents {
            if let Some(value) = value {
                *slot = self.percent(value, field)?;
            }
        }
        if let Some(value) = &raw.max_endpoint_errors {
            criteria.max_errors = self.count(value, "pass.max_endpoint_errors")?;
        }
        Ok(criteria)
    }

    /// The rate in frames per second; bit rates from the stream's average
    /// frame size: at L1 each frame also costs its FCS, preamble and
    /// inter-frame gap, at L2 its FCS.
    fn rate(
        &self,
        stream: &RawStream,
        spec: &FrameSpec,
        field: &dyn Fn(&str) -> String,
    ) -> Result<Rate, ScenarioError> {
        let span = stream.rate.span();
        let layer_overhead = match &stream.rate_layer {
            None => L1_OVERHEAD_BYTES,
            Some(layer) => match layer.get_ref().to_ascii_lowercase().as_str() {
                "l1" => L1_OVERHEAD_BYTES,
                "l2" => FCS_BYTES,
                other => {
                    return Err(self.error(
                        layer.span(),
                        &field("rate_layer"),
                        format!("{other:?} is not a layer: \"l1\" (preamble, gap and FCS counted) or \"l2\" (FCS counted)"),
                    ))
                }
            },
        };
        let text = match stream.rate.get_ref() {
            NumberOrText::Integer(value) if *value >= 0 => {
                return Ok(Rate::FramesPerSecond {
                    millipps: (*value as u64).saturating_mul(1000),
                })
            }
            NumberOrText::Float(value) if *value >= 0.0 && value.is_finite() => {
                return Ok(Rate::FramesPerSecond {
                    millipps: (value * 1000.0).round() as u64,
                })
            }
            NumberOrText::Text(text) => text,
            _ => {
                return Err(self.error(
                    span,
                    &field("rate"),
                    "must be zero or more frames per second",
                ))
            }
        };
        Ok(
            match units::parse_rate(text)
                .map_err(|message| self.error(span.clone(), &field("rate"), message))?
            {
                units::RateText::FramesMilli(millipps) => Rate::FramesPerSecond { millipps },
                units::RateText::Max => Rate::Max,
                units::RateText::Bits(bits) => {
                    let average_frame = spec.size.average();
                    let bits_per_frame = (average_frame + layer_overhead as f64) * 8.0;
                    Rate::FramesPerSecond {
                        millipps: (bits / bits_per_frame * 1000.0).round() as u64,
                    }
                }
            },
        )
    }

    /// The size rule from `frame_size` or `udp_payload`, checked against
    /// the headers' minimum and the largest frame this version sends.
    fn size_rule(
        &self,
        stream: &RawStream,
        spec: &FrameSpec,
        field: &dyn Fn(&str) -> String,
    ) -> Result<SizeRule, ScenarioError> {
        let minimum = spec.min_frame_size();
        let (value, key, overhead) = match (&stream.frame_size, &stream.udp_payload) {
            (Some(_), Some(payload)) => {
                return Err(self.error(
                    payload.span(),
                    &field("udp_payload"),
                    "give frame_size or udp_payload, not both",
                ))
            }
            (Some(size), None) => (size, "frame_size", 0),
            (None, Some(payload)) => (payload, "udp_payload", spec.headers_len()),
            (None, None) => return Ok(SizeRule::Fixed(DEFAULT_FRAME_SIZE.max(minimum))),
        };
        let span = value.span();
        let to_frame = |size: i64| -> Result<usize, ScenarioError> {
            let frame = size.saturating_add(overhead as i64);
            if frame < minimum as i64 || frame > MAX_FRAME_SIZE as i64 {
                let (low, high) = (
                    (minimum - overhead) as i64,
                    (MAX_FRAME_SIZE - overhead) as i64,
                );
                return Err(self.error(
                    span.clone(),
                    &field(key),
                    format!(
                        "{size} is out of range: {key} is {low} to {high} bytes for these headers \
                         (frames are {minimum} to {MAX_FRAME_SIZE} bytes without FCS; {minimum} holds the headers \
                         and the linerate payload header)"
                    ),
                ));
            }
            Ok(frame as usize)
        };
        Ok(match value.get_ref() {
            SizeValue::Fixed(size) => SizeRule::Fixed(to_frame(*size)?),
            SizeValue::Mix(mix) => return self.size_mix(mix, span, &field(key), minimum),
            SizeValue::Range(range) => {
                let (min, max) = (to_frame(range.min)?, to_frame(range.max)?);
                if min > max {
                    return Err(self.error(
                        span,
                        &field(key),
                        format!("min {} is larger than max {}", range.min, range.max),
                    ));
                }
                match range.mode.as_deref() {
                    None | Some("increment") => SizeRule::Increment { min, max },
                    Some("random") => SizeRule::Random {
                        min,
                        max,
                        seed: range.seed.unwrap_or(1) as u64,
                    },
                    Some(other) => {
                        return Err(self.error(
                            span,
                            &field(key),
                            format!("size mode {other:?} is not \"increment\" or \"random\""),
                        ))
                    }
                }
            }
        })
    }

    fn pattern(
        &self,
        stream: &RawStream,
        field: &dyn Fn(&str) -> String,
    ) -> Result<PayloadPattern, ScenarioError> {
        let seed = stream
            .payload_seed
            .as_ref()
            .map(|seed| *seed.get_ref() as u64)
            .unwrap_or(1);
        match (&stream.payload, &stream.payload_hex) {
            (Some(name), Some(_)) => {
                Err(self.error(name.span(), &field("payload"), "give payload or payload_hex, not both"))
            }
            (None, Some(hex)) => {
                let text: String = hex.get_ref().chars().filter(|c| !c.is_whitespace() && *c != ':').collect();
                let text = text.strip_prefix("0x").unwrap_or(&text);
                let bytes: Option<Vec<u8>> = if text.is_empty() || text.len() % 2 != 0 {
                    None
                } else {
                    (0..text.len())
                        .step_by(2)
                        .map(|at| text.get(at..at + 2).and_then(|pair| u8::from_str_radix(pair, 16).ok()))
                        .collect()
                };
                bytes.map(PayloadPattern::Repeat).ok_or_else(|| {
                    self.error(hex.span(), &field("payload_hex"), "expected an even number of hex digits, like \"deadbeef\"")
                })
            }
            (Some(name), None) => match name.get_ref().as_str() {
                "zeros" => Ok(PayloadPattern::Zeros),
                "increasing" => Ok(PayloadPattern::Increasing),
                "decreasing" => Ok(PayloadPattern::Decreasing),
                "random" => Ok(PayloadPattern::Random { seed }),
                other => Err(self.error(
                    name.span(),
                    &field("payload"),
                    format!("{other:?} is not a payload pattern: zeros, increasing, decreasing, random (or payload_hex)"),
                )),
            },
            (None, None) => Ok(PayloadPattern::Zeros),
        }
    }

    /// Every stream of the scenario: one per table, or `count` copies of a
    /// table with steps, each with its own id; names checked unique.
    fn streams(
        &self,
        raw_streams: Vec<Spanned<RawStream>>,
        port_index: &HashMap<String, usize>,
        ports: &[PortPlan],
        stations: &[crate::wifi::StationGroupPlan],
    ) -> Result<Vec<StreamPlan>, ScenarioError> {
        let mut streams: Vec<StreamPlan> = Vec::with_capacity(raw_streams.len());
        let mut names: HashSet<String> = HashSet::with_capacity(raw_streams.len());
        let raw_streams = raw_streams
            .into_iter()
            .enumerate()
            .map(|(index, stream)| {
                let span = stream.span();
                self.per_station_streams(index, stream.into_inner(), stations)
                    .map(|made| made.into_iter().map(move |one| (index, span.clone(), one)))
            })
            .collect::<Result<Vec<_>, _>>()?;
        for (index, table_span, mut stream) in raw_streams.into_iter().flatten() {
            let name_span = match &stream.name {
                Some(name) => name.span(),
                None => table_span.clone(),
            };
            let (count, steps) = self.copies(index, &mut stream)?;
            let table = self.stream(index, stream, port_index, ports)?;
            let max_streams = u64::from(linerate_bpf::abi::MAX_STREAMS);
            if streams.len() as u64 + count > max_streams {
                return Err(self.error(
                    table_span,
                    &format!("stream[{index}]"),
                    format!("at most {max_streams} streams per scenario"),
                ));
            }
            for copy_index in 0..count {
                let mut copy = table.clone();
                copy.id = streams.len() as u32;
                if count > 1 || copies::has_placeholder(&table.name) {
                    copy.name = copies::copy_name(&table.name, copy_index, count);
                    copies::apply_steps(&mut copy.frame, &steps, copy_index).map_err(
                        |(field, message)| {
                            self.error(
                                table_span.clone(),
                                &format!("stream[{index}].step.{}", field.name()),
                                message,
                            )
                        },
                    )?;
                }
                if !names.insert(copy.name.clone()) {
                    let which = if count > 1 {
                        format!(" (copy {copy_index})")
                    } else {
                        String::new()
                    };
                    return Err(self.error(
                        name_span,
                        &format!("stream[{index}].name"),
                        format!(
                            "another stream is already named {:?}{which}; stream names must be unique",
                            copy.name
                        ),
                    ));
                }
                streams.push(copy);
            }
        }
        Ok(streams)
    }

    /// `[run] phase`: "spread" (the default) or "aligned".
    fn phase(&self, phase: Option<&Spanned<String>>) -> Result<Phase, ScenarioError> {
        Ok(match phase {
            None => Phase::Spread,
            Some(text) => match text.get_ref().as_str() {
                "spread" => Phase::Spread,
                "aligned" => Phase::Aligned,
                _ => {
                    return Err(self.error(
                        text.span(),
                        "run.phase",
                        "must be \"spread\" (streams start spread over their period) or \"aligned\" (all at once)",
                    ))
                }
            },
        })
    }

    /// A stream table's `count` (default 1) and `step` fields, taken out
    /// of it and checked.
    fn copies(
        &self,
        index: usize,
        stream: &mut RawStream,
    ) -> Result<(u64, Vec<copies::FieldStep>), ScenarioError> {
        let field = |name: &str| format!("stream[{index}].{name}");
        let count = match stream.count.take() {
            None => 1,
            Some(count) => {
                let value = *count.get_ref();
                if value < 1 || value > i64::from(linerate_bpf::abi::MAX_STREAMS) {
                    return Err(self.error(
                        count.span(),
                        &field("count"),
                        format!("must be 1 to {} streams", linerate_bpf::abi::MAX_STREAMS),
                    ));
                }
                value as u64
            }
        };
        let mut steps = Vec::new();
        if let Some(table) = stream.step.take() {
            if count == 1 {
                return Err(self.error(
                    table.span(),
                    &field("step"),
                    "steps need copies: add count = N to the stream table",
                ));
            }
            for (key, step) in table.into_inner() {
                let Some(stepped) = copies::step_field(&key) else {
                    return Err(self.error(
                        step.span(),
                        &field(&format!("step.{key}")),
                        format!("{key:?} cannot be stepped: src_mac, dst_mac, src_ip, dst_ip, src_port, dst_port or vlan"),
                    ));
                };
                let swept = stream.sweeps.iter().any(|sweep| {
                    copies::step_field(sweep.get_ref().field.get_ref()) == Some(stepped)
                });
                if swept {
                    return Err(self.error(
                        step.span(),
                        &field(&format!("step.{key}")),
                        format!("the stream also sweeps {key}: step a field it does not sweep"),
                    ));
                }
                steps.push(copies::FieldStep {
                    field: stepped,
                    step: *step.get_ref(),
                });
            }
        }
        if count > 1 {
            if let Some(name) = &stream.name {
                if !copies::has_placeholder(name.get_ref()) && name.get_ref().contains('{') {
                    return Err(self.error(
                        name.span(),
                        &field("name"),
                        "the only placeholder is {index} (or {index:04} for zero-padded numbers)",
                    ));
                }
            }
        }
        Ok((count, steps))
    }

    fn sweep(&self, raw: &RawSweep, spec: &FrameSpec, path: &str) -> Result<Sweep, ScenarioError> {
        let key = |name: &str| format!("{path}.{name}");
        let is_ipv6 = matches!(spec.ip, IpHeader::V6 { .. });
        let field = match raw.field.get_ref().as_str() {
            "src_mac" => SweepField::SrcMac,
            "dst_mac" => SweepField::DstMac,
            "src_ip" => SweepField::SrcIp,
            "dst_ip" => SweepField::DstIp,
            "src_port" => SweepField::SrcPort,
            "dst_port" => SweepField::DstPort,
            "vlan" => SweepField::VlanId,
            other => {
                return Err(self.error(
                    raw.field.span(),
                    &key("field"),
                    format!("{other:?} cannot be swept: src_mac, dst_mac, src_ip, dst_ip, src_port, dst_port or vlan"),
                ))
            }
        };
        let (default_start, max) = match field {
            SweepField::SrcMac => (mac_to_u128(spec.src_mac), (1u128 << 48) - 1),
            SweepField::DstMac => (mac_to_u128(spec.dst_mac), (1u128 << 48) - 1),
            SweepField::SrcIp | SweepField::DstIp => {
                let (src, dst, max) = match spec.ip {
                    IpHeader::V4 { src, dst, .. } => (
                        u128::from(u32::from(src)),
                        u128::from(u32::from(dst)),
                        u128::from(u32::MAX),
                    ),
                    IpHeader::V6 { src, dst, .. } => (u128::from(src), u128::from(dst), u128::MAX),
                };
                (if field == SweepField::SrcIp { src } else { dst }, max)
            }
            SweepField::SrcPort => (u128::from(spec.src_port), u128::from(u16::MAX)),
            SweepField::DstPort => (u128::from(spec.dst_port), u128::from(u16::MAX)),
            SweepField::VlanId => match spec.vlan {
                Some(vlan) => (u128::from(vlan.id), u128::from(MAX_VLAN_ID)),
                None => {
                    return Err(self.error(
                        raw.field.span(),
                        &key("field"),
                        "a vlan sweep needs vlan = <id> on the stream",
                    ))
                }
            },
        };
        let value = |value: &Spanned<NumberOrText>, name: &str| -> Result<u128, ScenarioError> {
            let error = |message: String| self.error(value.span(), &key(name), message);
            let parsed = match (field, value.get_ref()) {
                (SweepField::SrcMac | SweepField::DstMac, NumberOrText::Text(text)) => text
                    .parse::<MacAddr>()
                    .map(mac_to_u128)
                    .map_err(|e| error(e.to_string()))?,
                (SweepField::SrcIp | SweepField::DstIp, NumberOrText::Text(text)) => {
                    match text.parse::<IpAddr>() {
                        Ok(IpAddr::V4(v4)) if !is_ipv6 => u128::from(u32::from(v4)),
                        Ok(IpAddr::V6(v6)) if is_ipv6 => u128::from(v6),
                        _ => {
                            let family = if is_ipv6 { "IPv6" } else { "IPv4" };
                            return Err(error(format!(
                                "expected an {family} address like the stream's, got {text:?}"
                            )));
                        }
                    }
                }
                (
                    SweepField::SrcPort | SweepField::DstPort | SweepField::VlanId,
                    NumberOrText::Integer(number),
                ) if *number >= 0 => *number as u128,
                _ => {
                    let expected = match field {
                        SweepField::SrcMac | SweepField::DstMac => "a MAC address string",
                        SweepField::SrcIp | SweepField::DstIp => "an IP address string",
                        _ => "a whole number",
                    };
                    return Err(error(format!("expected {expected}")));
                }
            };
            if parsed > max {
                return Err(error(format!(
                    "{parsed} is beyond the largest {} value {max}",
                    field.name()
                )));
            }
            Ok(parsed)
        };
        let start = match &raw.start {
            Some(start) => value(start, "start")?,
            None => default_start,
        };
        let step = match &raw.step {
            None => 1u128,
            Some(step) if *step.get_ref() >= 1 => *step.get_ref() as u128,
            Some(step) => return Err(self.error(step.span(), &key("step"), "must be 1 or more")),
        };
        let mode = match raw
            .mode
            .as_ref()
            .map(|mode| (mode, mode.get_ref().as_str()))
        {
            None | Some((_, "increment")) => SweepMode::Increment,
            Some((_, "decrement")) => SweepMode::Decrement,
            Some((_, "random")) => SweepMode::Random {
                seed: raw
                    .seed
                    .as_ref()
                    .map(|seed| *seed.get_ref() as u64)
                    .unwrap_or(1),
            },
            Some((mode, other)) => {
                return Err(self.error(
                    mode.span(),
                    &key("mode"),
                    format!("{other:?} is not a sweep mode: increment, decrement or random"),
                ))
            }
        };
        let count = match (&raw.end, &raw.count) {
            (Some(end), Some(_)) => {
                return Err(self.error(end.span(), &key("end"), "give end or count, not both"))
            }
            (None, None) => {
                return Err(self.error(
                    raw.field.span(),
                    &key("field"),
                    "say how far to sweep: end = <last value> or count = <n>",
                ))
            }
            (None, Some(count)) if *count.get_ref() >= 1 => *count.get_ref() as u64,
            (None, Some(count)) => {
                return Err(self.error(count.span(), &key("count"), "must be 1 or more"))
            }
            (Some(end), None) => {
                let last = value(end, "end")?;
                let distance = if mode == SweepMode::Decrement {
                    start.checked_sub(last)
                } else {
                    last.checked_sub(start)
                };
                let Some(distance) = distance else {
                    let direction = if mode == SweepMode::Decrement {
                        "at or below"
                    } else {
                        "at or above"
                    };
                    return Err(self.error(
                        end.span(),
                        &key("end"),
                        format!(
                            "must be {direction} the start ({}) for this sweep's mode; swap them or set mode",
                            raw.start.as_ref().map(|_| "as given").unwrap_or("the stream's own value")
                        ),
                    ));
                };
                u64::try_from(distance / step + 1).map_err(|_| {
                    self.error(
                        end.span(),
                        &key("end"),
                        "the sweep has more than 2^64 values",
                    )
                })?
            }
        };
        let span = u128::from(count - 1).checked_mul(step);
        let fits = match (span, mode) {
            (Some(span), SweepMode::Decrement) => start >= span,
            (Some(span), _) => start.checked_add(span).is_some_and(|last| last <= max),
            (None, _) => false,
        };
        if !fits {
            let place = raw
                .count
                .as_ref()
                .map(|count| (count.span(), "count"))
                .or(raw.end.as_ref().map(|end| (end.span(), "end")));
            let (span, name) = place.unwrap_or((raw.field.span(), "field"));
            return Err(self.error(
                span,
                &key(name),
                format!(
                    "{count} values {step} apart from the start run past the {} field's range",
                    field.name()
                ),
            ));
        }
        Ok(Sweep {
            field,
            start,
            count,
            step,
            mode,
        })
    }
}

#[cfg(test)]
mod suite_tests;
#[cfg(test)]
mod tests;
