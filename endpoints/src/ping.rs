//! Ping endpoints: ICMP echo requests (IPv4 or IPv6, raw sockets) to one
//! destination every interval, matched to their replies, or to the
//! destination-unreachable notices the stack sends back when the next hop
//! does not answer ARP or neighbour discovery, by identifier and sequence
//! number. Round trips are measured from the send to the reply's arrival.

use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicU16, Ordering::Relaxed};
use std::sync::Arc;

use socket2::{Domain, Protocol, SockAddr, Socket, Type};
use tokio::net::UdpSocket;
use tokio::time::Instant;

use crate::error::ErrorKind;
use crate::plan::PingPlan;
use crate::report::PingCounters;
use crate::stop::Stop;

/// Sequence numbers are 16 bits: the probe table holds one entry for each.
const SEQUENCES: usize = 1 << 16;
/// The receive buffer: the largest IPv4 datagram.
const RECEIVE_BUFFER: usize = 65_536;

/// A raw ICMP socket for the plan, bound as it asks, handed to tokio. Call
/// on a thread of the endpoint's namespace runtime.
pub(crate) fn open_socket(plan: &PingPlan) -> Result<UdpSocket, String> {
    let (domain, protocol) = match plan.destination {
        IpAddr::V4(_) => (Domain::IPV4, Protocol::ICMPV4),
        IpAddr::V6(_) => (Domain::IPV6, Protocol::ICMPV6),
    };
    let socket = Socket::new(domain, Type::RAW, Some(protocol)).map_err(|error| {
        format!("cannot open a raw ICMP socket: {error} (linerate needs root or CAP_NET_RAW)")
    })?;
    if let Some(device) = &plan.bind_device {
        socket
            .bind_device(Some(device.as_bytes()))
            .map_err(|error| format!("cannot bind to interface {device:?}: {error}"))?;
    }
    if let Some(address) = plan.bind_address {
        socket
            .bind(&SockAddr::from(SocketAddr::new(address, 0)))
            .map_err(|error| format!("cannot bind to {address}: {error} (is it an address in the endpoint's namespace?)"))?;
    }
    socket
        .set_nonblocking(true)
        .map_err(|error| format!("cannot make the ICMP socket non-blocking: {error}"))?;
    let std_socket: std::net::UdpSocket = socket.into();
    UdpSocket::from_std(std_socket)
        .map_err(|error| format!("cannot register the ICMP socket: {error}"))
}

/// A probe's state, by sequence number.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Probe {
    Unused,
    Pending(Instant),
    Answered,
}

/// What one received ICMP message says about our probes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Answer {
    Reply(u16),
    Unreachable(u16),
}

/// A ping endpoint's run.
pub(crate) struct Pinger {
    plan: PingPlan,
    socket: UdpSocket,
    identifier: u16,
    counters: Arc<PingCounters>,
    probes: Vec<Probe>,
    outstanding: u64,
}

impl Pinger {
    /// A pinger on `socket` with an identifier no other in this process uses.
    pub(crate) fn new(plan: PingPlan, socket: UdpSocket, counters: Arc<PingCounters>) -> Pinger {
        static NEXT: AtomicU16 = AtomicU16::new(0);
        let identifier = (std::process::id() as u16)
            .wrapping_mul(31)
            .wrapping_add(NEXT.fetch_add(1, Relaxed));
        Pinger {
            plan,
            socket,
            identifier,
            counters,
            probes: vec![Probe::Unused; SEQUENCES],
            outstanding: 0,
        }
    }

    /// Sends every interval until the count is sent or the run stops, then
    /// waits up to the timeout for the answers still outstanding.
    pub(crate) async fn run(mut self, mut stop: Stop) {
        let mut request = echo_request(
            self.plan.destination,
            self.identifier,
            self.plan.payload_size,
        );
        let mut buffer = vec![0u8; RECEIVE_BUFFER];
        let destination = SocketAddr::new(self.plan.destination, 0);
        let start = Instant::now();
        let mut sent: u64 = 0;
        let mut last_send = start;
        loop {
            let sending = !stop.is_stopped() && self.plan.count.is_none_or(|count| sent < count);
            if !sending && (self.outstanding == 0 || last_send.elapsed() >= self.plan.timeout) {
                break;
            }
            let next_send = start + self.plan.interval.mul_f64(sent as f64);
            let wake = if sending {
                next_send
            } else {
                last_send + self.plan.timeout
            };
            tokio::select! {
                received = self.socket.recv_from(&mut buffer) => match received {
                    Ok((length, _)) => self.answer(&buffer[..length]),
                    Err(error) => self.counters.errors.record(ErrorKind::Other, || format!("receiving: {error}")),
                },
                _ = stop.sleep_until(wake), if sending => {
                    if stop.is_stopped() || Instant::now() < next_send {
                        continue;
                    }
                    let sequence = sent as u16;
                    set_sequence(&mut request, self.plan.destination, sequence);
                    last_send = Instant::now();
                    sent += 1;
                    self.send(&request, destination, sequence, last_send).await;
                }
                _ = tokio::time::sleep_until(wake), if !sending => {}
            }
        }
    }

    async fn send(&mut self, request: &[u8], destination: SocketAddr, sequence: u16, now: Instant) {
        self.counters.sent.fetch_add(1, Relaxed);
        self.probes[usize::from(sequence)] = Probe::Pending(now);
        self.outstanding += 1;
        if let Err(error) = self.socket.send_to(request, destination).await {
            self.probes[usize::from(sequence)] = Probe::Answered;
            self.outstanding -= 1;
            match error.raw_os_error() {
                Some(libc::EHOSTUNREACH | libc::ENETUNREACH | libc::EADDRNOTAVAIL) => {
                    self.counters.unreachable.fetch_add(1, Relaxed);
                }
                _ => self.counters.errors.record(ErrorKind::Other, || {
                    format!("sending to {}: {error}", self.plan.destination)
                }),
            }
        }
    }

    fn answer(&mut self, message: &[u8]) {
        let answer = match self.plan.destination {
            IpAddr::V4(_) => parse_v4(message, self.identifier),
            IpAddr::V6(_) => parse_v6(message, self.identifier),
        };
        let (sequence, replied) = match answer {
            Some(Answer::Reply(sequence)) => (sequence, true),
            Some(Answer::Unreachable(sequence)) => (sequence, false),
            None => return,
        };
        let Probe::Pending(sent_at) = self.probes[usize::from(sequence)] else {
            return;
        };
        let rtt = sent_at.elapsed();
        if rtt > self.plan.timeout {
            return;
        }
        self.probes[usize::from(sequence)] = Probe::Answered;
        self.outstanding -= 1;
        if replied {
            self.counters.record_rtt(rtt);
        } else {
            self.counters.unreachable.fetch_add(1, Relaxed);
        }
    }
}

/// An echo request with sequence 0 and a patterned payload.
fn echo_request(destination: IpAddr, identifier: u16, payload_size: usize) -> Vec<u8> {
    let mut message = vec![0u8; 8 + payload_size];
    message[0] = if destination.is_ipv4() { 8 } else { 128 };
    message[4..6].copy_from_slice(&identifier.to_be_bytes());
    for (index, byte) in message[8..].iter_mut().enumerate() {
        *byte = (index % 251) as u8;
    }
    set_sequence(&mut message, destination, 0);
    message
}

/// Writes the sequence number, and for IPv4 the checksum (the kernel fills
/// in ICMPv6's).
fn set_sequence(message: &mut [u8], destination: IpAddr, sequence: u16) {
    message[6..8].copy_from_slice(&sequence.to_be_bytes());
    if destination.is_ipv4() {
        message[2..4].copy_from_slice(&[0, 0]);
        let checksum = internet_checksum(message);
        message[2..4].copy_from_slice(&checksum.to_be_bytes());
    }
}

fn internet_checksum(data: &[u8]) -> u16 {
    let mut sum: u32 = data
        .chunks(2)
        .map(|pair| u32::from(u16::from_be_bytes([pair[0], *pair.get(1).unwrap_or(&0)])))
        .sum();
    while sum >> 16 != 0 {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    !(sum as u16)
}

/// The identifier and sequence of an echo message, if it is ours.
fn echo_of(icmp: &[u8], echo_type: u8, identifier: u16) -> Option<u16> {
    let header = icmp.get(..8)?;
    (header[0] == echo_type && u16::from_be_bytes([header[4], header[5]]) == identifier)
        .then(|| u16::from_be_bytes([header[6], header[7]]))
}

/// An IPv4 raw socket's datagram (IP header included).
fn parse_v4(datagram: &[u8], identifier: u16) -> Option<Answer> {
    let header_length = usize::from(datagram.first()? & 0x0f) * 4;
    let icmp = datagram.get(header_length..)?;
    match icmp.first()? {
        0 => echo_of(icmp, 0, identifier).map(Answer::Reply),
        3 => {
            // Destination unreachable: the original IP header and 8 bytes of its ICMP.
            let original = icmp.get(8..)?;
            let original_length = usize::from(original.first()? & 0x0f) * 4;
            if *original.get(9)? != 1 {
                return None;
            }
            echo_of(original.get(original_length..)?, 8, identifier).map(Answer::Unreachable)
        }
        _ => None,
    }
}

/// An ICMPv6 raw socket's message (no IP header).
fn parse_v6(icmp: &[u8], identifier: u16) -> Option<Answer> {
    match icmp.first()? {
        129 => echo_of(icmp, 129, identifier).map(Answer::Reply),
        1 => {
            // Destination unreachable: the original IPv6 header, then its ICMPv6.
            let original = icmp.get(8..)?;
            if *original.get(6)? != 58 {
                return None;
            }
            echo_of(original.get(40..)?, 128, identifier).map(Answer::Unreachable)
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn checksum_of_an_echo_request_verifies() {
        let message = echo_request("198.18.0.2".parse().expect("address"), 0x1234, 56);
        assert_eq!(
            internet_checksum(&message),
            0,
            "a correct checksum sums to zero"
        );
        assert_eq!(echo_of(&message, 8, 0x1234), Some(0));
        assert_eq!(echo_of(&message, 8, 0x1235), None);
    }

    #[test]
    fn unreachable_notices_are_matched_to_their_probe() {
        let destination: IpAddr = "198.18.0.99".parse().expect("address");
        let mut request = echo_request(destination, 77, 8);
        set_sequence(&mut request, destination, 5);
        let mut original = vec![0x45, 0, 0, 0, 0, 0, 0, 0, 64, 1];
        original.resize(20, 0);
        original.extend_from_slice(&request[..8]);
        let mut notice = vec![0x45];
        notice.resize(20, 0);
        notice.extend_from_slice(&[3, 1, 0, 0, 0, 0, 0, 0]);
        notice.extend_from_slice(&original);
        assert_eq!(parse_v4(&notice, 77), Some(Answer::Unreachable(5)));
        assert_eq!(parse_v4(&notice, 78), None);
    }
}
