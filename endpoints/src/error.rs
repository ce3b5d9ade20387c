//! The errors of the endpoints: what stops a set from starting
//! ([`EndpointError`]), and the kinds of error counted while one runs
//! ([`ErrorKind`]).

use serde::Serialize;

/// Why endpoints could not be validated or started.
#[derive(Debug, thiserror::Error)]
pub enum EndpointError {
    /// A plan's field is wrong; what to do is in the message.
    #[error("{kind} endpoint {endpoint:?}: {field}: {message}")]
    Invalid {
        /// "tcp", "url", "ping" or "file_io".
        kind: &'static str,
        /// The endpoint's name.
        endpoint: String,
        /// The field at fault.
        field: &'static str,
        /// What is wrong and what to do.
        message: String,
    },
    /// A network namespace could not be found or entered.
    #[error("endpoint {endpoint:?}: {message}")]
    Namespace {
        /// The endpoint's name.
        endpoint: String,
        /// What went wrong.
        message: String,
    },
    /// A socket, listener, file or runtime could not be set up.
    #[error("{kind} endpoint {endpoint:?}: {message}")]
    Setup {
        /// "tcp", "url", "ping" or "file_io".
        kind: &'static str,
        /// The endpoint's name.
        endpoint: String,
        /// What went wrong and what to do.
        message: String,
    },
}

/// The kinds of error an endpoint counts while it runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorKind {
    /// The server refused the credentials (HTTP 401/403, FTP 530).
    AccessDenied,
    /// The URL could not be used as given.
    BadUrl,
    /// HTTP 4xx other than 401/403.
    Http4xx,
    /// HTTP 5xx.
    Http5xx,
    /// No answer within the timeout.
    Timeout,
    /// Nothing listened at the address (TCP RST).
    ConnectionRefused,
    /// The host name did not resolve.
    DnsFailure,
    /// The TLS handshake failed (for instance an unknown certificate issuer).
    Tls,
    /// The server refused the transfer (an FTP 4xx/5xx reply other than a login refusal).
    ServerRefused,
    /// A file could not be written, read or removed (EIO and anything
    /// without a kind of its own).
    Io,
    /// A network file system's file handle went stale (ESTALE: the export
    /// was withdrawn or the file removed on the server).
    StaleHandle,
    /// The file system is full (ENOSPC, EDQUOT).
    NoSpace,
    /// The mount's server is gone (ENOTCONN, EHOSTDOWN, EHOSTUNREACH,
    /// ENETUNREACH, ECONNRESET, ESHUTDOWN, ENODEV, ENXIO) or the directory
    /// is no longer there (ENOENT).
    MountGone,
    /// Anything else.
    Other,
}

impl ErrorKind {
    /// Every kind, in report order.
    pub const ALL: [ErrorKind; 14] = [
        ErrorKind::AccessDenied,
        ErrorKind::BadUrl,
        ErrorKind::Http4xx,
        ErrorKind::Http5xx,
        ErrorKind::Timeout,
        ErrorKind::ConnectionRefused,
        ErrorKind::DnsFailure,
        ErrorKind::Tls,
        ErrorKind::ServerRefused,
        ErrorKind::Io,
        ErrorKind::StaleHandle,
        ErrorKind::NoSpace,
        ErrorKind::MountGone,
        ErrorKind::Other,
    ];

    /// The kind's name in reports ("http_4xx", ...).
    pub fn name(self) -> &'static str {
        match self {
            ErrorKind::AccessDenied => "access_denied",
            ErrorKind::BadUrl => "bad_url",
            ErrorKind::Http4xx => "http_4xx",
            ErrorKind::Http5xx => "http_5xx",
            ErrorKind::Timeout => "timeout",
            ErrorKind::ConnectionRefused => "connection_refused",
            ErrorKind::DnsFailure => "dns_failure",
            ErrorKind::Tls => "tls",
            ErrorKind::ServerRefused => "server_refused",
            ErrorKind::Io => "io",
            ErrorKind::StaleHandle => "stale_handle",
            ErrorKind::NoSpace => "no_space",
            ErrorKind::MountGone => "mount_gone",
            ErrorKind::Other => "other",
        }
    }

    /// The kind of an I/O error met on a socket.
    pub fn of_io(error: &std::io::Error) -> ErrorKind {
        match error.kind() {
            std::io::ErrorKind::ConnectionRefused => ErrorKind::ConnectionRefused,
            std::io::ErrorKind::TimedOut | std::io::ErrorKind::WouldBlock => ErrorKind::Timeout,
            _ => ErrorKind::Other,
        }
    }

    /// The kind of an error met writing, reading or removing a file: EACCES
    /// and EPERM are `access_denied`; ETIMEDOUT (an NFS `soft,softerr`
    /// mount whose server stopped answering) is `timeout`; then
    /// `stale_handle`, `no_space` and `mount_gone` as their errno says;
    /// everything else (EIO above all) is `io`.
    pub fn of_file(error: &std::io::Error) -> ErrorKind {
        match error.raw_os_error() {
            Some(libc::EACCES | libc::EPERM | libc::EROFS) => ErrorKind::AccessDenied,
            Some(libc::ETIMEDOUT) => ErrorKind::Timeout,
            Some(libc::ESTALE) => ErrorKind::StaleHandle,
            Some(libc::ENOSPC | libc::EDQUOT) => ErrorKind::NoSpace,
            Some(
                libc::ENOTCONN
                | libc::EHOSTDOWN
                | libc::EHOSTUNREACH
                | libc::ENETUNREACH
                | libc::ECONNRESET
                | libc::ECONNREFUSED
                | libc::ESHUTDOWN
                | libc::ENODEV
                | libc::ENXIO
                | libc::ENOENT,
            ) => ErrorKind::MountGone,
            _ => ErrorKind::Io,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_errors_get_their_kinds() {
        let kind = |errno| ErrorKind::of_file(&std::io::Error::from_raw_os_error(errno));
        assert_eq!(kind(libc::EACCES), ErrorKind::AccessDenied);
        assert_eq!(kind(libc::ETIMEDOUT), ErrorKind::Timeout);
        assert_eq!(kind(libc::ESTALE), ErrorKind::StaleHandle);
        assert_eq!(kind(libc::ENOSPC), ErrorKind::NoSpace);
        assert_eq!(kind(libc::EHOSTDOWN), ErrorKind::MountGone);
        assert_eq!(kind(libc::ENOENT), ErrorKind::MountGone);
        assert_eq!(kind(libc::EIO), ErrorKind::Io);
        assert_eq!(
            ErrorKind::of_file(&std::io::Error::other("no errno")),
            ErrorKind::Io
        );
    }

    #[test]
    fn every_kind_has_a_distinct_name() {
        let mut names: Vec<&str> = ErrorKind::ALL.iter().map(|kind| kind.name()).collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), ErrorKind::ALL.len());
    }
}
