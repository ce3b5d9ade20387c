//! Resources in the scenario: the `[[agent]]` tables (the hosts a
//! multi-host run spreads over: name, agent URL, token file) and the
//! `agent = "name"` key of a `[[port]]`, which says on which agent the port
//! is. A scenario without agents runs locally as always. [`Plan::for_agent`]
//! gives the part one agent runs: every stream kept (stream ids stay the
//! same everywhere, so frames sent on one agent are recognised by the
//! counter on another), the other agents' ports marked remote, so that a
//! stream whose sending port is remote is only counted here and one whose
//! counting port is remote is only sent. Each endpoint on kernel sockets
//! runs on the agent of the port it is on.

use std::collections::HashMap;
use std::path::PathBuf;

use serde::Deserialize;
use toml::Spanned;

use super::plan::{Plan, PortPlan, StreamPlan};
use super::{ScenarioError, Validator};

/// `[[agent]]` as serde reads it.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawAgent {
    /// The name ports use (`agent = "name"`).
    pub name: Spanned<String>,
    /// The agent's base URL, e.g. `http://10.0.0.11:8080`.
    pub url: Spanned<String>,
    /// A file holding the agent's bearer token.
    pub token_file: Option<Spanned<String>>,
}

/// An agent (a `linerate serve` on some host) that runs part of the scenario.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AgentPlan {
    /// The name ports use.
    pub name: String,
    /// Base URL, without a trailing slash.
    pub url: String,
    /// The token file as written (relative paths are the caller's to resolve).
    pub token_file: Option<PathBuf>,
}

impl Validator<'_> {
    /// Validates the `[[agent]]` tables and every port's `agent` key
    /// (`port_agents[i]` is port i's): names unique, URLs http, every port
    /// on a declared agent once there are agents.
    pub(super) fn agents(
        &self,
        raw: Vec<Spanned<RawAgent>>,
        port_agents: &[Option<Spanned<String>>],
        ports: &mut [PortPlan],
    ) -> Result<Vec<AgentPlan>, ScenarioError> {
        let mut agents: Vec<AgentPlan> = Vec::with_capacity(raw.len());
        for (index, agent) in raw.into_iter().enumerate() {
            let agent = agent.into_inner();
            let field = |name: &str| format!("agent[{index}].{name}");
            let name = agent.name.get_ref().trim().to_string();
            if name.is_empty() {
                return Err(self.error(agent.name.span(), &field("name"), "must not be empty"));
            }
            if agents.iter().any(|known| known.name == name) {
                return Err(self.error(
                    agent.name.span(),
                    &field("name"),
                    format!("another agent is already named {name:?}; agent names must be unique"),
                ));
            }
            let url = agent.url.get_ref().trim().trim_end_matches('/').to_string();
            let host = url.strip_prefix("http://").unwrap_or_default();
            if host.is_empty() || host.contains(['/', ' ']) {
                return Err(self.error(
                    agent.url.span(),
                    &field("url"),
                    format!("{url:?} is not an agent address: give http://HOST:PORT, where `linerate serve --listen` listens"),
                ));
            }
            let token_file = match &agent.token_file {
                Some(path) if path.get_ref().trim().is_empty() => {
                    return Err(self.error(path.span(), &field("token_file"), "must not be empty"))
                }
                Some(path) => Some(PathBuf::from(path.get_ref())),
                None => None,
            };
            agents.push(AgentPlan {
                name,
                url,
                token_file,
            });
        }
        for (index, (port, agent)) in ports.iter_mut().zip(port_agents).enumerate() {
            match agent {
                Some(agent) if !agents.iter().any(|known| &known.name == agent.get_ref()) => {
                    let known: Vec<String> =
                        agents.iter().map(|known| format!("{:?}", known.name)).collect();
                    return Err(self.error(
                        agent.span(),
                        &format!("port[{index}].agent"),
                        if known.is_empty() {
                            format!("no [[agent]] table is named {:?}: add [[agent]] name = {:?} url = \"http://HOST:PORT\"", agent.get_ref(), agent.get_ref())
                        } else {
                            format!("no [[agent]] is named {:?}; the agents are {}", agent.get_ref(), known.join(", "))
                        },
                    ));
                }
                Some(agent) => port.agent = Some(agent.get_ref().clone()),
                None if !agents.is_empty() => {
                    return Err(self.map.file_error(format!(
                        "port {:?} names no agent: with [[agent]] tables every [[port]] says which agent it is on (agent = \"name\")",
                        port.name
                    )))
                }
                None => {}
            }
        }
        Ok(agents)
    }
}

impl Plan {
    /// True when the scenario spreads over agents (`[[agent]]` tables).
    pub fn has_agents(&self) -> bool {
        !self.agents.is_empty()
    }

    /// True when `stream` is sent on one agent and counted on another: its
    /// sender stamps CLOCK_TAI and its counter reads CLOCK_TAI (one-way
    /// latency across hosts, as good as their clock synchronization);
    /// every other stream stays on CLOCK_MONOTONIC.
    pub fn crosses_agents(&self, stream: &StreamPlan) -> bool {
        let agent_of = |port: usize| self.ports.get(port).and_then(|port| port.agent.as_deref());
        match (agent_of(stream.tx_port), agent_of(stream.rx_port)) {
            (Some(tx), Some(rx)) => tx != rx,
            _ => false,
        }
    }

    /// The part agent `name` runs: the whole plan with every port of
    /// another agent marked remote (nothing is opened on it there). Stream
    /// ids are kept. `None` for an agent the plan does not have.
    pub fn for_agent(&self, name: &str) -> Option<Plan> {
        if !self.agents.iter().any(|agent| agent.name == name) {
            return None;
        }
        let mut part = self.clone();
        for port in &mut part.ports {
            port.remote = port.agent.as_deref() != Some(name);
        }
        // Each endpoint runs on its port's agent only.
        let here =
            |endpoint: &str| self.endpoint_agents.get(endpoint).map(String::as_str) == Some(name);
        part.endpoints.tcp.retain(|tcp| here(&tcp.name));
        part.endpoints.url.retain(|url| here(&url.name));
        part.endpoints.ping.retain(|ping| here(&ping.name));
        part.endpoints.file_io.retain(|file_io| here(&file_io.name));
        Some(part)
    }

    /// The names of the agents each port is on, by port index.
    pub fn port_agents(&self) -> HashMap<String, String> {
        self.ports
            .iter()
            .filter_map(|port| Some((port.name.clone(), port.agent.clone()?)))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::super::parse;

    const TWO_AGENTS: &str = r#"
[run]
frames = 10

[[agent]]
name = "one"
url = "http://198.18.200.2:8080/"
token_file = "token"

[[agent]]
name = "two"
url = "http://198.18.200.6:8080"

[[port]]
name = "a"
interface = "veth-a"
agent = "one"

[[port]]
name = "b"
interface = "veth-b"
namespace = "ns-b"
agent = "two"

[[stream]]
name = "ab"
tx = "a"
rx = "b"
src_mac = "02:00:00:00:00:01"
dst_mac = "02:00:00:00:00:02"
src_ip = "10.0.0.1"
dst_ip = "10.0.0.2"
src_port = 9000
dst_port = 9000
frame_size = 64
rate = "1kpps"
"#;

    #[test]
    fn agents_and_port_agents_are_read_and_each_part_marks_the_other_ports_remote() {
        let plan = parse(TWO_AGENTS, "multi.toml").expect("valid");
        assert!(plan.has_agents());
        assert_eq!(plan.agents[0].url, "http://198.18.200.2:8080");
        assert_eq!(
            plan.agents[0].token_file.as_deref(),
            Some(std::path::Path::new("token"))
        );
        assert_eq!(plan.ports[1].agent.as_deref(), Some("two"));
        let one = plan.for_agent("one").expect("agent one");
        assert_eq!(
            one.ports.iter().map(|port| port.remote).collect::<Vec<_>>(),
            [false, true]
        );
        let two = plan.for_agent("two").expect("agent two");
        assert_eq!(
            two.ports.iter().map(|port| port.remote).collect::<Vec<_>>(),
            [true, false]
        );
        assert_eq!(
            one.streams, two.streams,
            "stream ids stay the same in every part"
        );
        assert!(plan.for_agent("three").is_none());
    }

    #[test]
    fn bad_agent_keys_are_one_line_errors_naming_the_field() {
        let unknown = TWO_AGENTS.replacen("agent = \"two\"", "agent = \"tw0\"", 1);
        let error = parse(&unknown, "multi.toml").expect_err("refused");
        assert_eq!(error.field.as_deref(), Some("port[1].agent"), "{error}");
        assert!(error.to_string().contains("\"one\", \"two\""), "{error}");
        let missing = TWO_AGENTS.replacen("agent = \"two\"\n", "", 1);
        let error = parse(&missing, "multi.toml").expect_err("refused");
        assert!(
            error.to_string().contains("port \"b\" names no agent"),
            "{error}"
        );
        let bad_url = TWO_AGENTS.replacen("http://198.18.200.6:8080", "198.18.200.6", 1);
        let error = parse(&bad_url, "multi.toml").expect_err("refused");
        assert_eq!(error.field.as_deref(), Some("agent[1].url"), "{error}");
        let twice = TWO_AGENTS.replacen("name = \"two\"", "name = \"one\"", 1);
        let error = parse(&twice, "multi.toml").expect_err("refused");
        assert_eq!(error.field.as_deref(), Some("agent[1].name"), "{error}");
        for error in [unknown, missing, bad_url, twice]
            .iter()
            .map(|text| parse(text, "multi.toml").expect_err("refused").to_string())
        {
            assert!(!error.contains('\n'), "{error}");
        }
    }
}
