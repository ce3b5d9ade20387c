//! The scenario's endpoint tables — `[[tcp]]`, `[[url]]`, `[[ping]]` and
//! `[[file_io]]` — as serde reads them (every value spanned), and their
//! validation into the endpoints crate's plans with the same
//! file:line:column errors as the rest of the scenario. An endpoint is
//! placed either on a `[[port]]` (`port = "a"`: its namespace and
//! interface) or by `namespace` and `interface` directly.

use std::collections::HashMap;
use std::net::IpAddr;
use std::ops::Range;
use std::path::PathBuf;
use std::time::Duration;

use linerate_endpoints::plan::{
    EndpointPlans, FileIoPlan, PingPlan, TcpPlan, TcpSide, TlsTrust, UrlDirection, UrlPlan,
};
use linerate_endpoints::EndpointError;
use serde::Deserialize;
use toml::Spanned;

use super::raw::NumberOrText;
use super::{units, PortPlan, ScenarioError, Validator};

/// Default B listening port of a `[[tcp]]` cross-connect.
pub const DEFAULT_TCP_PORT: u16 = 5001;
/// Default TCP write size: one segment's payload at MTU 1500.
pub const DEFAULT_WRITE_SIZE: usize = 1460;
/// Default time allowed for one URL request.
pub const DEFAULT_URL_TIMEOUT: Duration = Duration::from_secs(10);
/// Default time between pings.
pub const DEFAULT_PING_INTERVAL: Duration = Duration::from_secs(1);
/// Default ping payload (as ping(8)).
pub const DEFAULT_PING_PAYLOAD: usize = 56;
/// Default wait for a ping's answer: longer than ARP's 3 s, so that an
/// address nobody answers for counts as unreachable rather than lost.
pub const DEFAULT_PING_TIMEOUT: Duration = Duration::from_secs(5);

/// The endpoint tables of the file, taken out of [`super::raw::RawScenario`].
#[derive(Debug, Default)]
pub struct RawEndpoints {
    /// `[[tcp]]` tables.
    pub tcp: Vec<Spanned<RawTcp>>,
    /// `[[url]]` tables.
    pub url: Vec<Spanned<RawUrl>>,
    /// `[[ping]]` tables.
    pub ping: Vec<Spanned<RawPing>>,
    /// `[[file_io]]` tables.
    pub file_io: Vec<Spanned<RawFileIo>>,
}

/// One side of `[[tcp]]`: `a = { port = "a", address = "198.18.0.1", rate = "100Mbps" }`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawTcpSide {
    /// A `[[port]]` whose namespace and interface the side uses.
    pub port: Option<Spanned<String>>,
    /// Or: the namespace.
    pub namespace: Option<Spanned<String>>,
    /// Or: the interface to bind to.
    pub interface: Option<Spanned<String>>,
    /// The side's IP address (B listens on it).
    pub address: Spanned<String>,
    /// What the side sends: "100Mbps", "max", or 0 for nothing.
    pub rate: Spanned<NumberOrText>,
}

/// `[[tcp]]`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawTcp {
    /// The endpoint's name.
    pub name: Spanned<String>,
    /// The connecting side.
    pub a: Spanned<RawTcpSide>,
    /// The listening side.
    pub b: Spanned<RawTcpSide>,
    /// B's TCP port (default 5001).
    pub listen_port: Option<Spanned<i64>>,
    /// Bytes per write (default 1460).
    pub write_size: Option<Spanned<i64>>,
}

/// `[[url]]`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawUrl {
    /// The endpoint's name.
    pub name: Spanned<String>,
    /// http://, https:// or ftp:// URL.
    pub url: Spanned<String>,
    /// A `[[port]]` whose namespace and interface the endpoint uses.
    pub port: Option<Spanned<String>>,
    /// Or: the namespace.
    pub namespace: Option<Spanned<String>>,
    /// Or: the interface to bind to.
    pub interface: Option<Spanned<String>>,
    /// Local address to bind to.
    pub address: Option<Spanned<String>>,
    /// Target requests per ten minutes (default: as fast as possible).
    pub requests_per_ten: Option<Spanned<i64>>,
    /// Stop after this many requests.
    pub max_requests: Option<Spanned<i64>>,
    /// Time allowed per request (default "10s").
    pub timeout: Option<Spanned<String>>,
    /// Where downloads go (default: discarded, as /dev/null).
    pub destination: Option<Spanned<String>>,
    /// Upload this many bytes per request instead of downloading.
    pub upload_size: Option<Spanned<i64>>,
    /// PEM file of CA certificates to trust for https.
    pub ca_file: Option<Spanned<String>>,
    /// Trust any certificate (https).
    pub insecure: Option<Spanned<bool>>,
}

/// `[[ping]]`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawPing {
    /// The endpoint's name.
    pub name: Spanned<String>,
    /// IPv4 or IPv6 address to ping.
    pub destination: Spanned<String>,
    /// A `[[port]]` whose namespace and interface the endpoint uses.
    pub port: Option<Spanned<String>>,
    /// Or: the namespace.
    pub namespace: Option<Spanned<String>>,
    /// Or: the interface to bind to.
    pub interface: Option<Spanned<String>>,
    /// Local address to bind to.
    pub address: Option<Spanned<String>>,
    /// Time between requests (default "1s").
    pub interval: Option<Spanned<String>>,
    /// Requests to send (default: until the run ends).
    pub count: Option<Spanned<i64>>,
    /// Payload bytes (default 56).
    pub payload_size: Option<Spanned<i64>>,
    /// Wait for an answer (default "5s").
    pub timeout: Option<Spanned<String>>,
}

/// `[[file_io]]`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawFileIo {
    /// The endpoint's name.
    pub name: Spanned<String>,
    /// With `[[agent]]` tables: the agent whose host writes the files (a
    /// File-IO endpoint has no port to take it from).
    pub agent: Option<Spanned<String>>,
    /// The directory (an NFS or CIFS mount in practice).
    pub directory: Spanned<String>,
    /// Smallest file, bytes.
    pub min_size: Spanned<i64>,
    /// Largest file, bytes.
    pub max_size: Spanned<i64>,
    /// Write rate, e.g. "100Mbps".
    pub rate: Spanned<NumberOrText>,
    /// Stop after this many files.
    pub max_files: Option<Spanned<i64>>,
    /// fsync each file before reading it back (default true).
    pub sync: Option<Spanned<bool>>,
    /// Keep the files (default: removed once verified).
    pub keep_files: Option<Spanned<bool>>,
}

/// Where an endpoint's sockets go.
struct Place {
    namespace: Option<String>,
    interface: Option<String>,
}

impl Validator<'_> {
    /// Every endpoint table, validated; names unique across all kinds.
    pub(super) fn endpoints(
        &self,
        raw: RawEndpoints,
        port_index: &HashMap<String, usize>,
        ports: &[PortPlan],
    ) -> Result<EndpointPlans, ScenarioError> {
        let mut plans = EndpointPlans::default();
        let mut names: Vec<String> = Vec::new();
        let mut unique = |name: &Spanned<String>, field: String| {
            if names.contains(name.get_ref()) {
                return Err(self.error(
                    name.span(),
                    &field,
                    format!(
                        "another endpoint is already named {:?}; endpoint names must be unique",
                        name.get_ref()
                    ),
                ));
            }
            names.push(name.get_ref().clone());
            Ok(())
        };
        for (index, table) in raw.tcp.into_iter().enumerate() {
            unique(&table.get_ref().name, format!("tcp[{index}].name"))?;
            plans.tcp.push(self.tcp(index, table, port_index, ports)?);
        }
        for (index, table) in raw.url.into_iter().enumerate() {
            unique(&table.get_ref().name, format!("url[{index}].name"))?;
            plans.url.push(self.url(index, table, port_index, ports)?);
        }
        for (index, table) in raw.ping.into_iter().enumerate() {
            unique(&table.get_ref().name, format!("ping[{index}].name"))?;
            plans.ping.push(self.ping(index, table, port_index, ports)?);
        }
        for (index, table) in raw.file_io.into_iter().enumerate() {
            unique(&table.get_ref().name, format!("file_io[{index}].name"))?;
            plans.file_io.push(self.file_io(index, table)?);
        }
        Ok(plans)
    }

    /// With agents, which agent runs each endpoint: the agent of the
    /// `[[port]]` it is on (both sides' of a `[[tcp]]`, which must be one
    /// agent: its two sides run in one process), or for a `[[file_io]]` the
    /// agent its `agent` key names. An endpoint placed by namespace and
    /// interface has no agent: refused with agents. Empty without agents
    /// (where a `[[file_io]]` `agent` key is refused); an unknown port is
    /// left for the endpoint's own validation to name.
    pub(super) fn endpoint_agents(
        &self,
        raw: &RawEndpoints,
        port_index: &HashMap<String, usize>,
        ports: &[PortPlan],
    ) -> Result<HashMap<String, String>, ScenarioError> {
        let mut agents = HashMap::new();
        if ports.iter().all(|port| port.agent.is_none()) {
            let stray = raw
                .file_io
                .iter()
                .enumerate()
                .find_map(|(index, table)| Some((index, table.get_ref().agent.as_ref()?)));
            if let Some((index, agent)) = stray {
                return Err(self.error(
                    agent.span(),
                    &format!("file_io[{index}].agent"),
                    "the scenario has no [[agent]] tables: leave agent out, or add the agents",
                ));
            }
            return Ok(agents);
        }
        let agent_of = |port: &Option<Spanned<String>>, span: Range<usize>, field: String| {
            let Some(port) = port else {
                return Err(self.error(
                    span,
                    &field,
                    "with [[agent]] tables an endpoint goes on a [[port]] (port = \"name\"): the port's agent runs it",
                ));
            };
            Ok(port_index
                .get(port.get_ref())
                .and_then(|index| ports[*index].agent.clone()))
        };
        for (index, table) in raw.tcp.iter().enumerate() {
            let tcp = table.get_ref();
            let a = agent_of(
                &tcp.a.get_ref().port,
                tcp.a.span(),
                format!("tcp[{index}].a.port"),
            )?;
            let b = agent_of(
                &tcp.b.get_ref().port,
                tcp.b.span(),
                format!("tcp[{index}].b.port"),
            )?;
            if let (Some(a), Some(b)) = (&a, &b) {
                if a != b {
                    return Err(self.error(
                        tcp.b.span(),
                        &format!("tcp[{index}].b.port"),
                        format!("side a is on agent {a:?} and side b on agent {b:?}: a [[tcp]] cross-connect runs in one process, so put both sides on ports of one agent"),
                    ));
                }
            }
            if let Some(agent) = a {
                agents.insert(tcp.name.get_ref().clone(), agent);
            }
        }
        for (index, table) in raw.url.iter().enumerate() {
            let url = table.get_ref();
            if let Some(agent) = agent_of(&url.port, table.span(), format!("url[{index}].port"))? {
                agents.insert(url.name.get_ref().clone(), agent);
            }
        }
        for (index, table) in raw.ping.iter().enumerate() {
            let ping = table.get_ref();
            if let Some(agent) = agent_of(&ping.port, table.span(), format!("ping[{index}].port"))?
            {
                agents.insert(ping.name.get_ref().clone(), agent);
            }
        }
        for (index, table) in raw.file_io.iter().enumerate() {
            let file_io = table.get_ref();
            let field = format!("file_io[{index}].agent");
            let Some(agent) = &file_io.agent else {
                return Err(self.error(
                    table.span(),
                    &field,
                    "with [[agent]] tables a [[file_io]] endpoint names the agent whose host writes the files (agent = \"name\")",
                ));
            };
            if !ports
                .iter()
                .any(|port| port.agent.as_ref() == Some(agent.get_ref()))
            {
                return Err(self.error(
                    agent.span(),
                    &field,
                    format!(
                        "no port is on agent {:?}: name an agent of the scenario's ports",
                        agent.get_ref()
                    ),
                ));
            }
            agents.insert(file_io.name.get_ref().clone(), agent.get_ref().clone());
        }
        Ok(agents)
    }

    /// An error from a plan constructor, at the table.
    fn endpoint_error(
        &self,
        span: Range<usize>,
        path: &str,
        error: EndpointError,
    ) -> ScenarioError {
        match error {
            EndpointError::Invalid { field, message, .. } => {
                self.error(span, &format!("{path}.{field}"), message)
            }
            other => self.error(span, path, other.to_string()),
        }
    }

    fn place(
        &self,
        path: &str,
        port: &Option<Spanned<String>>,
        namespace: &Option<Spanned<String>>,
        interface: &Option<Spanned<String>>,
        port_index: &HashMap<String, usize>,
        ports: &[PortPlan],
    ) -> Result<Place, ScenarioError> {
        let Some(port) = port else {
            return Ok(Place {
                namespace: namespace.as_ref().map(|value| value.get_ref().clone()),
                interface: interface.as_ref().map(|value| value.get_ref().clone()),
            });
        };
        if let Some(given) = namespace.as_ref().or(interface.as_ref()) {
            return Err(self.error(
                given.span(),
                &format!("{path}.port"),
                "give either port, or namespace and interface, not both",
            ));
        }
        let Some(&index) = port_index.get(port.get_ref()) else {
            let known: Vec<&str> = ports.iter().map(|port| port.name.as_str()).collect();
            return Err(self.error(
                port.span(),
                &format!("{path}.port"),
                format!(
                    "no [[port]] named {:?}; ports: {}",
                    port.get_ref(),
                    known.join(", ")
                ),
            ));
        };
        Ok(Place {
            namespace: ports[index].namespace.clone(),
            interface: Some(ports[index].interface.clone()),
        })
    }

    fn ip_address(&self, value: &Spanned<String>, field: &str) -> Result<IpAddr, ScenarioError> {
        value.get_ref().parse().map_err(|_| {
            self.error(
                value.span(),
                field,
                format!("{:?} is not an IPv4 or IPv6 address", value.get_ref()),
            )
        })
    }

    /// Bits per second; `None` for "max" when `max_allowed`.
    fn bit_rate(
        &self,
        value: &Spanned<NumberOrText>,
        field: &str,
        max_allowed: bool,
    ) -> Result<Option<u64>, ScenarioError> {
        let expected = "give a bit rate like \"100Mbps\" or \"1Gbps\"";
        match value.get_ref() {
            NumberOrText::Integer(bits) if *bits >= 0 => Ok(Some(*bits as u64)),
            NumberOrText::Text(text) => match units::parse_rate(text) {
                Ok(units::RateText::Bits(bits)) => Ok(Some(bits.round() as u64)),
                Ok(units::RateText::Max) if max_allowed => Ok(None),
                Ok(units::RateText::FramesMilli(0)) => Ok(Some(0)),
                Ok(_) => Err(self.error(value.span(), field, expected)),
                Err(message) => Err(self.error(value.span(), field, message)),
            },
            _ => Err(self.error(value.span(), field, expected)),
        }
    }

    fn duration_text(
        &self,
        value: &Option<Spanned<String>>,
        field: &str,
        default: Duration,
    ) -> Result<Duration, ScenarioError> {
        match value {
            None => Ok(default),
            Some(text) => units::parse_duration(text.get_ref())
                .map_err(|message| self.error(text.span(), field, message)),
        }
    }

    fn positive(&self, value: &Spanned<i64>, field: &str) -> Result<u64, ScenarioError> {
        match u64::try_from(*value.get_ref()) {
            Ok(count) if count > 0 => Ok(count),
            _ => Err(self.error(value.span(), field, "must be 1 or more")),
        }
    }

    fn tcp_side(
        &self,
        path: &str,
        raw: &Spanned<RawTcpSide>,
        port_index: &HashMap<String, usize>,
        ports: &[PortPlan],
    ) -> Result<TcpSide, ScenarioError> {
        let side = raw.get_ref();
        let place = self.place(
            path,
            &side.port,
            &side.namespace,
            &side.interface,
            port_index,
            ports,
        )?;
        Ok(TcpSide {
            namespace: place.namespace,
            bind_device: place.interface,
            address: self.ip_address(&side.address, &format!("{path}.address"))?,
            rate_bps: self.bit_rate(&side.rate, &format!("{path}.rate"), true)?,
        })
    }

    fn tcp(
        &self,
        index: usize,
        table: Spanned<RawTcp>,
        port_index: &HashMap<String, usize>,
        ports: &[PortPlan],
    ) -> Result<TcpPlan, ScenarioError> {
        let path = format!("tcp[{index}]");
        let span = table.span();
        let raw = table.into_inner();
        let a = self.tcp_side(&format!("{path}.a"), &raw.a, port_index, ports)?;
        let b = self.tcp_side(&format!("{path}.b"), &raw.b, port_index, ports)?;
        let port = match &raw.listen_port {
            None => DEFAULT_TCP_PORT,
            Some(value) => u16::try_from(*value.get_ref())
                .ok()
                .filter(|&port| port > 0)
                .ok_or_else(|| {
                    self.error(
                        value.span(),
                        &format!("{path}.listen_port"),
                        "must be 1 to 65535",
                    )
                })?,
        };
        let write_size = match &raw.write_size {
            None => DEFAULT_WRITE_SIZE,
            Some(value) => self.positive(value, &format!("{path}.write_size"))? as usize,
        };
        TcpPlan::new(raw.name.get_ref(), a, b, port, write_size)
            .map_err(|error| self.endpoint_error(span, &path, error))
    }

    fn url(
        &self,
        index: usize,
        table: Spanned<RawUrl>,
        port_index: &HashMap<String, usize>,
        ports: &[PortPlan],
    ) -> Result<UrlPlan, ScenarioError> {
        let path = format!("url[{index}]");
        let span = table.span();
        let raw = table.into_inner();
        let place = self.place(
            &path,
            &raw.port,
            &raw.namespace,
            &raw.interface,
            port_index,
            ports,
        )?;
        let address = raw
            .address
            .as_ref()
            .map(|value| self.ip_address(value, &format!("{path}.address")))
            .transpose()?;
        let direction = match (&raw.upload_size, &raw.destination) {
            (Some(size), None) => UrlDirection::Upload {
                size: self.positive(size, &format!("{path}.upload_size"))?,
            },
            (None, destination) => UrlDirection::Download {
                destination: destination
                    .as_ref()
                    .map(|value| value.get_ref().as_str())
                    .filter(|value| *value != "/dev/null")
                    .map(PathBuf::from),
            },
            (Some(size), Some(_)) => {
                return Err(self.error(
                    size.span(),
                    &format!("{path}.upload_size"),
                    "an upload has no destination; give upload_size or destination, not both",
                ))
            }
        };
        let requests_per_ten = raw
            .requests_per_ten
            .as_ref()
            .map(|value| self.positive(value, &format!("{path}.requests_per_ten")))
            .transpose()?;
        let timeout = self.duration_text(
            &raw.timeout,
            &format!("{path}.timeout"),
            DEFAULT_URL_TIMEOUT,
        )?;
        let insecure = raw.insecure.as_ref().is_some_and(|value| *value.get_ref());
        let tls = match (&raw.ca_file, insecure) {
            (Some(file), false) => TlsTrust::CaFile(PathBuf::from(file.get_ref())),
            (None, true) => TlsTrust::Insecure,
            (None, false) => TlsTrust::PublicRoots,
            (Some(file), true) => {
                return Err(self.error(
                    file.span(),
                    &format!("{path}.ca_file"),
                    "give ca_file or insecure = true, not both",
                ))
            }
        };
        let mut plan = UrlPlan::new(
            raw.name.get_ref(),
            raw.url.get_ref(),
            direction,
            requests_per_ten,
            timeout,
            tls,
        )
        .map_err(|error| match error {
            EndpointError::Invalid {
                field: "url",
                message,
                ..
            } => self.error(raw.url.span(), &format!("{path}.url"), message),
            other => self.endpoint_error(span, &path, other),
        })?
        .placed(place.namespace, place.interface, address);
        plan.max_requests = raw
            .max_requests
            .as_ref()
            .map(|value| self.positive(value, &format!("{path}.max_requests")))
            .transpose()?;
        Ok(plan)
    }

    fn ping(
        &self,
        index: usize,
        table: Spanned<RawPing>,
        port_index: &HashMap<String, usize>,
        ports: &[PortPlan],
    ) -> Result<PingPlan, ScenarioError> {
        let path = format!("ping[{index}]");
        let span = table.span();
        let raw = table.into_inner();
        let place = self.place(
            &path,
            &raw.port,
            &raw.namespace,
            &raw.interface,
            port_index,
            ports,
        )?;
        let destination = self.ip_address(&raw.destination, &format!("{path}.destination"))?;
        let address = raw
            .address
            .as_ref()
            .map(|value| self.ip_address(value, &format!("{path}.address")))
            .transpose()?;
        let interval = self.duration_text(
            &raw.interval,
            &format!("{path}.interval"),
            DEFAULT_PING_INTERVAL,
        )?;
        let timeout = self.duration_text(
            &raw.timeout,
            &format!("{path}.timeout"),
            DEFAULT_PING_TIMEOUT,
        )?;
        let count = raw
            .count
            .as_ref()
            .map(|value| self.positive(value, &format!("{path}.count")))
            .transpose()?;
        let payload_size = match &raw.payload_size {
            None => DEFAULT_PING_PAYLOAD,
            Some(value) => usize::try_from(*value.get_ref()).map_err(|_| {
                self.error(
                    value.span(),
                    &format!("{path}.payload_size"),
                    "must be zero or more",
                )
            })?,
        };
        PingPlan::new(
            raw.name.get_ref(),
            destination,
            interval,
            count,
            payload_size,
            timeout,
        )
        .map(|plan| plan.placed(place.namespace, place.interface, address))
        .map_err(|error| self.endpoint_error(span, &path, error))
    }

    fn file_io(
        &self,
        index: usize,
        table: Spanned<RawFileIo>,
    ) -> Result<FileIoPlan, ScenarioError> {
        let path = format!("file_io[{index}]");
        let span = table.span();
        let raw = table.into_inner();
        let min_size = self.positive(&raw.min_size, &format!("{path}.min_size"))?;
        let max_size = self.positive(&raw.max_size, &format!("{path}.max_size"))?;
        let rate = self
            .bit_rate(&raw.rate, &format!("{path}.rate"), false)?
            .unwrap_or_default();
        let mut plan = FileIoPlan::new(
            raw.name.get_ref(),
            PathBuf::from(raw.directory.get_ref()),
            min_size,
            max_size,
            rate,
        )
        .map_err(|error| match error {
            EndpointError::Invalid {
                field: "directory",
                message,
                ..
            } => self.error(raw.directory.span(), &format!("{path}.directory"), message),
            other => self.endpoint_error(span, &path, other),
        })?;
        plan.max_files = raw
            .max_files
            .as_ref()
            .map(|value| self.positive(value, &format!("{path}.max_files")))
            .transpose()?;
        plan.sync = raw.sync.as_ref().is_none_or(|value| *value.get_ref());
        plan.keep_files = raw
            .keep_files
            .as_ref()
            .is_some_and(|value| *value.get_ref());
        Ok(plan)
    }
}
