//! Helpers the binary's test files share.

#![allow(dead_code)]

pub mod serve;

/// The id of the XDP program attached to `interface` in `namespace`, as
/// `ip -j link` reports it; `None` when there is none.
pub fn xdp_program_id(namespace: &str, interface: &str) -> Option<u32> {
    let output = std::process::Command::new("ip")
        .args(["-j", "-n", namespace, "link", "show", "dev", interface])
        .output()
        .expect("ip runs");
    let links: serde_json::Value =
        serde_json::from_slice(&output.stdout).expect("ip -j prints JSON");
    links[0]["xdp"]["prog"]["id"]
        .as_u64()
        .and_then(|id| u32::try_from(id).ok())
}
