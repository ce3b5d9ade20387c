//! Host name resolution for the URL endpoints, on the calling thread (so in
//! its network namespace), with one failure type that the error counters
//! recognise as a DNS failure. Names under `.invalid` fail at once without
//! a query, as RFC 6761 asks of resolvers.

use std::net::{IpAddr, SocketAddr, ToSocketAddrs};

/// A host name that did not resolve.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub(crate) struct DnsFailure(pub(crate) String);

/// The addresses of `host` (a name or an address literal) with `port`.
pub(crate) fn resolve_blocking(host: &str, port: u16) -> Result<Vec<SocketAddr>, DnsFailure> {
    let bare = host.trim_start_matches('[').trim_end_matches(']');
    if let Ok(address) = bare.parse::<IpAddr>() {
        return Ok(vec![SocketAddr::new(address, port)]);
    }
    let lower = bare.trim_end_matches('.').to_ascii_lowercase();
    if lower == "invalid" || lower.ends_with(".invalid") {
        return Err(DnsFailure(format!(
            "host name {host:?} does not resolve (names under .invalid never do)"
        )));
    }
    let addresses: Vec<SocketAddr> = (bare, port)
        .to_socket_addrs()
        .map_err(|error| DnsFailure(format!("host name {host:?} did not resolve: {error}")))?
        .collect();
    if addresses.is_empty() {
        return Err(DnsFailure(format!("host name {host:?} has no address")));
    }
    Ok(addresses)
}

/// reqwest's resolver: [`resolve_blocking`] on the runtime's blocking
/// threads, which are in the endpoint's namespace.
#[derive(Debug, Clone, Copy)]
pub(crate) struct NamespaceResolver;

impl reqwest::dns::Resolve for NamespaceResolver {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        let host = name.as_str().to_string();
        Box::pin(async move {
            let resolved = tokio::task::spawn_blocking(move || resolve_blocking(&host, 0))
                .await
                .map_err(|error| {
                    Box::new(DnsFailure(format!("resolver task failed: {error}")))
                        as Box<dyn std::error::Error + Send + Sync>
                })?;
            match resolved {
                Ok(addresses) => Ok(Box::new(addresses.into_iter()) as reqwest::dns::Addrs),
                Err(failure) => Err(Box::new(failure) as Box<dyn std::error::Error + Send + Sync>),
            }
        })
    }
}
