//! The broker's error type. Messages name the address or value at fault.

use std::net::SocketAddr;

#[derive(Debug, thiserror::Error)]
pub enum BrokerError {
    #[error("cannot bind MQTT listener {addr}: {reason}")]
    Bind {
        addr: SocketAddr,
        reason: String,
        #[source]
        source: std::io::Error,
    },
    #[error("invalid broker configuration: {0}")]
    Config(String),
    #[error("cannot attach the local link to the MQTT router: {0}")]
    LocalLink(String),
    #[error("invalid MQTT client id {0:?}")]
    InvalidClientId(String),
    #[error("the MQTT broker has stopped")]
    Stopped,
}

impl BrokerError {
    pub(crate) fn bind(addr: SocketAddr, source: std::io::Error) -> Self {
        let reason = match source.kind() {
            std::io::ErrorKind::AddrInUse => "address in use".to_string(),
            std::io::ErrorKind::AddrNotAvailable => "address not available".to_string(),
            std::io::ErrorKind::PermissionDenied => "permission denied".to_string(),
            _ => source.to_string(),
        };
        BrokerError::Bind {
            addr,
            reason,
            source,
        }
    }
}
