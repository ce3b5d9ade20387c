//! linerate's endpoints on kernel sockets, run beside the AF_XDP UDP
//! streams: TCP cross-connects (linerate is both ends), URL fetches over
//! HTTP, HTTPS and FTP, ICMP echo (ping) and File-IO (write, read back,
//! verify). Callers build validated plans ([`plan`]), start them together
//! ([`EndpointSet::start`]), read cumulative counters while they run
//! ([`EndpointSet::snapshot`]), and get final results ([`EndpointSet::finish`])
//! and a verdict ([`verdict::failures`]). Knows nothing of TOML, clap or
//! HTTP serving.

pub mod error;
pub mod file_io;
mod ftp;
mod http;
mod netns;
pub mod ping;
pub mod plan;
pub mod report;
mod resolve;
mod set;
mod stop;
pub mod tcp;
pub mod url;
pub mod verdict;

pub use error::{EndpointError, ErrorKind};
pub use plan::{
    EndpointPlans, FileIoPlan, PingPlan, TcpPlan, TcpSide, TlsTrust, UrlDirection, UrlPlan,
};
pub use report::{EndpointsReport, EndpointsSnapshot};
pub use set::EndpointSet;
pub use verdict::{failures, EndpointCriteria};
