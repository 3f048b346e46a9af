//! The Redis client of the fleet and of shared rate limits.

use crate::error::ConfigError;

/// A client for `url` (`redis://`, or `rediss://` with feature
/// `redis-tls`), trusting `root` (a PEM CA certificate) besides the
/// system's roots when given.
pub(crate) fn client(url: &str, root: Option<&[u8]>) -> Result<redis::Client, ConfigError> {
    let invalid =
        |e: redis::RedisError| ConfigError::RateLimit { reason: format!("invalid redis url: {:?}", e.kind()) };
    match root {
        None => redis::Client::open(url).map_err(invalid),
        #[cfg(feature = "redis-tls")]
        Some(pem) => {
            let certificates = redis::TlsCertificates { client_tls: None, root_cert: Some(pem.to_vec()) };
            redis::Client::build_with_tls(url, certificates).map_err(invalid)
        }
        #[cfg(not(feature = "redis-tls"))]
        Some(_) => {
            Err(ConfigError::RateLimit { reason: "a redis root certificate needs the feature redis-tls".into() })
        }
    }
}
