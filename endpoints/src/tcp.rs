//! TCP cross-connects: endpoint B listens, endpoint A connects, and each
//! side writes to the other at its own rate (a byte budget that grows with
//! time from the start, spent in writes of the plan's size) while counting
//! what it reads. When the run stops each side half-closes its writing
//! direction, and the other side reads to the end, so bytes sent and bytes
//! received can be compared exactly.

use std::net::SocketAddr;
use std::sync::atomic::Ordering::Relaxed;
use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::{TcpListener, TcpSocket, TcpStream};
use tokio::time::Instant;

use crate::error::ErrorKind;
use crate::plan::{TcpPlan, TcpSide};
use crate::report::{DirectionCounters, ErrorCounters, TcpCounters};
use crate::stop::Stop;

/// How long A waits for B to accept.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// The most write sizes one catch-up write carries.
const CATCH_UP_WRITES: usize = 16;
/// Bytes per read.
const READ_BUFFER: usize = 64 * 1024;

/// A TCP socket for `side`, bound to its device if it names one.
fn side_socket(side: &TcpSide) -> std::io::Result<TcpSocket> {
    let socket = if side.address.is_ipv4() {
        TcpSocket::new_v4()?
    } else {
        TcpSocket::new_v6()?
    };
    socket.set_reuseaddr(true)?;
    if let Some(device) = &side.bind_device {
        socket2::SockRef::from(&socket).bind_device(Some(device.as_bytes()))?;
    }
    Ok(socket)
}

/// B's listener; run on B's namespace runtime. Errors name what to fix.
pub(crate) async fn listen(plan: &TcpPlan) -> Result<TcpListener, String> {
    let address = plan.listen_address();
    let socket =
        side_socket(&plan.b).map_err(|error| format!("cannot make B's socket: {error}"))?;
    socket.bind(address).map_err(|error| {
        format!("B cannot listen on {address}: {error} (is the address on an interface in B's namespace, and the port free?)")
    })?;
    socket
        .listen(8)
        .map_err(|error| format!("B cannot listen on {address}: {error}"))
}

/// B's side: accepts A's connection, then sends and counts.
pub(crate) async fn run_b(
    listener: TcpListener,
    plan: TcpPlan,
    counters: Arc<TcpCounters>,
    mut stop: Stop,
) {
    let accepted = tokio::select! {
        accepted = listener.accept() => accepted,
        _ = stop.stopped() => return,
    };
    drop(listener);
    match accepted {
        Ok((stream, _)) => {
            let link = Link {
                rate_bps: plan.b.rate_bps,
                write_size: plan.write_size,
                sending: Direction::BToA,
            };
            link.run(stream, counters, stop).await;
        }
        Err(error) => counters.errors.record(ErrorKind::of_io(&error), || {
            format!("B could not accept: {error}")
        }),
    }
}

/// A's side: connects to B, then sends and counts.
pub(crate) async fn run_a(plan: TcpPlan, counters: Arc<TcpCounters>, stop: Stop) {
    let target = plan.listen_address();
    let connected = connect(&plan.a, target).await;
    match connected {
        Ok(stream) => {
            let link = Link {
                rate_bps: plan.a.rate_bps,
                write_size: plan.write_size,
                sending: Direction::AToB,
            };
            link.run(stream, counters, stop).await;
        }
        Err((kind, message)) => counters.errors.record(kind, || message),
    }
}

async fn connect(side: &TcpSide, target: SocketAddr) -> Result<TcpStream, (ErrorKind, String)> {
    let failed = |error: std::io::Error, what: &str| {
        (
            ErrorKind::of_io(&error),
            format!("A could not {what} {target}: {error}"),
        )
    };
    let socket = side_socket(side).map_err(|error| failed(error, "make a socket for"))?;
    socket
        .bind(SocketAddr::new(side.address, 0))
        .map_err(|error| failed(error, "bind its address to reach"))?;
    match tokio::time::timeout(CONNECT_TIMEOUT, socket.connect(target)).await {
        Ok(Ok(stream)) => Ok(stream),
        Ok(Err(error)) => Err(failed(error, "connect to")),
        Err(_) => Err((
            ErrorKind::Timeout,
            format!("A could not connect to {target} within {CONNECT_TIMEOUT:?}"),
        )),
    }
}

#[derive(Debug, Clone, Copy)]
enum Direction {
    AToB,
    BToA,
}

/// One side's established connection.
struct Link {
    rate_bps: Option<u64>,
    write_size: usize,
    sending: Direction,
}

impl Link {
    async fn run(self, stream: TcpStream, counters: Arc<TcpCounters>, stop: Stop) {
        let _ = stream.set_nodelay(true);
        let (reader, writer) = stream.into_split();
        let (send, receive) = match self.sending {
            Direction::AToB => (&counters.a_to_b, &counters.b_to_a),
            Direction::BToA => (&counters.b_to_a, &counters.a_to_b),
        };
        tokio::join!(
            self.send(writer, send, &counters.errors, stop),
            count_received(reader, receive, &counters.errors),
        );
    }

    /// Writes at the side's rate until the run stops, then half-closes.
    /// On schedule each write is one write size; a side that has fallen
    /// more than [`CATCH_UP_WRITES`] writes behind (a busy CPU) catches up
    /// with writes of that many write sizes at once, so that fewer system
    /// calls carry the bytes owed.
    async fn send(
        &self,
        mut writer: OwnedWriteHalf,
        counters: &DirectionCounters,
        errors: &ErrorCounters,
        mut stop: Stop,
    ) {
        let buffer = vec![0x5a_u8; self.write_size * CATCH_UP_WRITES];
        let start = Instant::now();
        let unit = self.write_size as u64;
        let mut sent: u64 = 0;
        // Bytes of the current write still to go (a write may be partial).
        let mut pending: usize = 0;
        while !stop.is_stopped() {
            if pending == 0 {
                pending = match self.rate_bps {
                    None => buffer.len(),
                    Some(0) => {
                        stop.stopped().await;
                        break;
                    }
                    Some(rate) => {
                        let owed = owed_units(start, sent, unit, rate);
                        if owed == 0 {
                            let due = due_at(start, sent + unit, rate);
                            if stop.sleep_until(due).await {
                                break;
                            }
                            continue;
                        }
                        // A timer tick's worth owed goes out write by write;
                        // more than CATCH_UP_WRITES owed is a side behind.
                        if owed > CATCH_UP_WRITES as u64 {
                            CATCH_UP_WRITES * self.write_size
                        } else {
                            self.write_size
                        }
                    }
                };
            }
            let written = tokio::select! {
                written = writer.write(&buffer[..pending]) => written,
                _ = stop.stopped() => break,
            };
            match written {
                Ok(0) => break,
                Ok(count) => {
                    sent += count as u64;
                    counters.sent_bytes.fetch_add(count as u64, Relaxed);
                    pending -= count;
                }
                Err(error) => {
                    errors.record(ErrorKind::of_io(&error), || {
                        format!("write failed: {error}")
                    });
                    break;
                }
            }
        }
        let nanos = u64::try_from(start.elapsed().as_nanos()).unwrap_or(u64::MAX);
        counters.send_nanos.store(nanos.max(1), Relaxed);
        if let Err(error) = writer.shutdown().await {
            errors.record(ErrorKind::of_io(&error), || {
                format!("closing the sending direction failed: {error}")
            });
        }
    }
}

/// When `bytes` in all are paid for at `rate` bits per second from `start`.
fn due_at(start: Instant, bytes: u64, rate: u64) -> Instant {
    let nanos = u128::from(bytes) * 8 * 1_000_000_000 / u128::from(rate);
    start + Duration::from_nanos(u64::try_from(nanos).unwrap_or(u64::MAX))
}

/// Whole writes of `unit` bytes paid for by now and not yet sent.
fn owed_units(start: Instant, sent: u64, unit: u64, rate: u64) -> u64 {
    let elapsed = start.elapsed().as_nanos();
    let budget = elapsed * u128::from(rate) / 8 / 1_000_000_000;
    let owed = budget.saturating_sub(u128::from(sent)) / u128::from(unit);
    u64::try_from(owed).unwrap_or(u64::MAX)
}

/// Reads until the other side half-closes, counting bytes.
async fn count_received(
    mut reader: OwnedReadHalf,
    counters: &DirectionCounters,
    errors: &ErrorCounters,
) {
    let mut buffer = vec![0u8; READ_BUFFER];
    loop {
        match reader.read(&mut buffer).await {
            Ok(0) => break,
            Ok(count) => {
                counters.received_bytes.fetch_add(count as u64, Relaxed);
            }
            Err(error) => {
                errors.record(ErrorKind::of_io(&error), || format!("read failed: {error}"));
                break;
            }
        }
    }
}
