//! The Redis client of the fleet and of shared rate limits: one server (or
//! primary), or a Redis Cluster (feature `redis-cluster`).
//!
//! Every multi-key operation is one Lua script or one command over keys
//! that share a hash tag, so it runs in one slot of a cluster.

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use crate::error::ConfigError;

/// A connection to one server or to a cluster.
pub(crate) type Conn = Box<dyn redis::ConnectionLike + Send>;

/// Where to connect.
pub(crate) enum Client {
    One(redis::Client),
    #[cfg(feature = "redis-cluster")]
    Cluster {
        cluster: redis::cluster::ClusterClient,
        /// Each node on its own, for subscriptions (a `PUBLISH` reaches
        /// subscribers on every node of a cluster).
        nodes: Vec<redis::Client>,
    },
}

fn invalid(e: redis::RedisError) -> ConfigError {
    ConfigError::RateLimit { reason: format!("invalid redis url: {:?}", e.kind()) }
}

/// A client for one `url` (`redis://`, or `rediss://` with feature
/// `redis-tls`), trusting `root` (a PEM CA certificate) besides the
/// system's roots when given.
fn single(url: &str, root: Option<&[u8]>) -> Result<redis::Client, ConfigError> {
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

impl Client {
    /// One server at `url`, or, when `cluster` lists nodes, that cluster.
    pub(crate) fn new(url: &str, cluster: &[String], root: Option<&[u8]>) -> Result<Self, ConfigError> {
        if cluster.is_empty() {
            return single(url, root).map(Self::One);
        }
        #[cfg(feature = "redis-cluster")]
        {
            if root.is_some() {
                return Err(ConfigError::RateLimit {
                    reason: "a root certificate for a redis cluster is not supported; use the system's roots".into(),
                });
            }
            let nodes = cluster.iter().map(|u| single(u, None)).collect::<Result<_, _>>()?;
            let cluster = redis::cluster::ClusterClient::new(cluster.iter().map(String::as_str)).map_err(invalid)?;
            Ok(Self::Cluster { cluster, nodes })
        }
        #[cfg(not(feature = "redis-cluster"))]
        Err(ConfigError::RateLimit { reason: "redis cluster nodes need the feature redis-cluster".into() })
    }

    /// A connection for commands and scripts, with `timeout` on connect,
    /// reads and writes.
    pub(crate) fn connect(&self, timeout: Duration) -> redis::RedisResult<Conn> {
        match self {
            Self::One(client) => Ok(Box::new(Self::plain(client, timeout)?)),
            #[cfg(feature = "redis-cluster")]
            Self::Cluster { cluster, .. } => {
                let config =
                    redis::cluster::ClusterConfig::new().set_connection_timeout(timeout).set_response_timeout(timeout);
                Ok(Box::new(cluster.get_connection_with_config(config)?))
            }
        }
    }

    /// A plain connection for a subscription: the server, or the first
    /// cluster node that answers.
    pub(crate) fn subscriber(&self, timeout: Duration) -> redis::RedisResult<redis::Connection> {
        match self {
            Self::One(client) => Self::plain(client, timeout),
            #[cfg(feature = "redis-cluster")]
            Self::Cluster { nodes, .. } => {
                let mut last = None;
                for node in nodes {
                    match Self::plain(node, timeout) {
                        Ok(conn) => return Ok(conn),
                        Err(e) => last = Some(e),
                    }
                }
                Err(last.unwrap_or_else(|| std::io::Error::from(std::io::ErrorKind::NotFound).into()))
            }
        }
    }

    fn plain(client: &redis::Client, timeout: Duration) -> redis::RedisResult<redis::Connection> {
        let conn = client.get_connection_with_timeout(timeout)?;
        conn.set_read_timeout(Some(timeout))?;
        conn.set_write_timeout(Some(timeout))?;
        Ok(conn)
    }

    /// Whether keys must be grouped by hash tag (a cluster).
    pub(crate) fn is_cluster(&self) -> bool {
        !matches!(self, Self::One(_))
    }
}

/// Whether a Redis user's last exchange succeeded; a change is one audit
/// event (`<name>_unavailable` / `<name>_recovered`).
#[derive(Debug)]
pub(crate) struct Link {
    up: AtomicBool,
    name: &'static str,
}

impl Link {
    /// Up until told otherwise; `name` is the audit events' stem
    /// (`rate_limit_store`, `fleet`).
    pub(crate) const fn new(name: &'static str) -> Self {
        Self { up: AtomicBool::new(true), name }
    }

    pub(crate) fn is_up(&self) -> bool {
        self.up.load(Ordering::Relaxed)
    }

    /// Records the outcome of an exchange (`error`: the error's kind).
    pub(crate) fn record<T>(&self, result: &redis::RedisResult<T>) {
        match result {
            Ok(_) => self.set(true, ""),
            Err(e) => self.set(false, &format!("{:?}", e.kind())),
        }
    }

    pub(crate) fn set(&self, up: bool, error: &str) {
        if self.up.swap(up, Ordering::Relaxed) != up {
            crate::audit::store_link(self.name, up, error);
        }
    }
}
