//! [`Jwks`]: an identity provider's JWK set, fetched over HTTPS and kept
//! fresh in the background (feature `jwks`).

use std::fmt;
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use arc_swap::ArcSwap;

use super::jwt::{Key, parse_jwk_set};
use crate::error::ConfigError;

/// The largest JWK set read (real ones are a few KiB).
const MAX_BODY: u64 = 1024 * 1024;

/// An identity provider's JWK set at a URL (its `jwks_uri`), for
/// [`JwtBuilder::jwks`](super::JwtBuilder::jwks).
///
/// [`JwksBuilder::build`] fetches the set once, then a background thread
/// keeps it fresh:
///
/// - it refetches when the response's `Cache-Control: max-age` runs out
///   (clamped to [`min_refresh`](JwksBuilder::min_refresh) and
///   [`max_refresh`](JwksBuilder::max_refresh); without `max-age`, after
///   [`default_refresh`](JwksBuilder::default_refresh));
/// - a token naming a `kid` the set does not have asks for a refetch at
///   once, at most once per [`unknown_kid_interval`](JwksBuilder::unknown_kid_interval)
///   (so forged `kid`s cannot make it hammer the provider). That token is
///   refused; a client retrying after the refetch (milliseconds) is let in;
/// - a failed fetch (network, HTTP status, invalid set) keeps the last good
///   set and is retried after `min_refresh`; it is logged as the audit
///   event `jwks_fetch_failed` (the error's kind, never the URL's query).
///
/// Verification only reads the current set (an atomic load): no handshake
/// or message ever waits on the network. The thread ends when the last
/// clone of the `Jwks` (and of the verifiers holding it) is dropped.
///
/// ```no_run
/// use wsguard::auth::{Jwks, JwtAlgorithm, JwtVerifier};
///
/// let jwks = Jwks::builder("https://idp.example.com/.well-known/jwks.json").build()?;
/// let verifier = JwtVerifier::builder()
///     .algorithms([JwtAlgorithm::RS256])
///     .issuer("https://idp.example.com/")
///     .jwks(jwks)
///     .build()?;
/// # Ok::<(), wsguard::ConfigError>(())
/// ```
#[derive(Clone)]
pub struct Jwks {
    shared: Arc<Shared>,
    /// Stops the refresh thread when the last clone goes.
    _owner: Arc<Owner>,
}

/// Configures a [`Jwks`].
///
/// | setting | default |
/// |---------|---------|
/// | [`min_refresh`](Self::min_refresh) | 60 s: the shortest time between fetches, and the retry delay after a failure |
/// | [`max_refresh`](Self::max_refresh) | 24 h |
/// | [`default_refresh`](Self::default_refresh) | 5 min, when the response has no `max-age` |
/// | [`unknown_kid_interval`](Self::unknown_kid_interval) | 30 s |
/// | [`timeout`](Self::timeout) | 10 s per fetch |
/// | trusted roots | the operating system's, plus [`root_certificate`](Self::root_certificate) |
#[must_use]
pub struct JwksBuilder {
    url: String,
    settings: Settings,
    roots: Vec<Vec<u8>>,
    system_roots: bool,
    errors: Vec<String>,
}

#[derive(Clone, Copy, Debug)]
struct Settings {
    min_refresh: Duration,
    max_refresh: Duration,
    default_refresh: Duration,
    unknown_kid_interval: Duration,
    timeout: Duration,
}

struct Shared {
    url: String,
    agent: ureq::Agent,
    settings: Settings,
    keys: ArcSwap<Vec<Key>>,
    state: Mutex<State>,
    wake: Condvar,
}

#[derive(Debug)]
struct State {
    next_fetch: Instant,
    /// When a refetch for an unknown `kid` last started.
    last_unknown_kid_fetch: Option<Instant>,
    refetch_now: bool,
    stop: bool,
    fetches: u64,
    failures: u64,
}

struct Owner(Arc<Shared>);

impl Drop for Owner {
    fn drop(&mut self) {
        self.0.lock().stop = true;
        self.0.wake.notify_all();
    }
}

impl fmt::Debug for Jwks {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let kids: Vec<String> =
            self.shared.keys.load().iter().map(|k| k.kid.clone().unwrap_or_else(|| "-".into())).collect();
        f.debug_struct("Jwks").field("kids", &kids).finish_non_exhaustive()
    }
}

impl fmt::Debug for JwksBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("JwksBuilder").field("settings", &self.settings).finish_non_exhaustive()
    }
}

impl Jwks {
    /// Starts configuring the JWK set at `url` (`https://` only).
    pub fn builder(url: impl Into<String>) -> JwksBuilder {
        JwksBuilder {
            url: url.into(),
            settings: Settings {
                min_refresh: Duration::from_secs(60),
                max_refresh: Duration::from_secs(24 * 3600),
                default_refresh: Duration::from_secs(300),
                unknown_kid_interval: Duration::from_secs(30),
                timeout: Duration::from_secs(10),
            },
            roots: Vec::new(),
            system_roots: true,
            errors: Vec::new(),
        }
    }

    /// The current keys (an atomic load).
    pub(crate) fn keys(&self) -> Arc<Vec<Key>> {
        self.shared.keys.load_full()
    }

    /// A token named a `kid` the set lacks: refetch now, unless one was
    /// started for that reason within the last `unknown_kid_interval`.
    pub(crate) fn unknown_kid(&self) {
        let now = Instant::now();
        let mut state = self.shared.lock();
        let interval = self.shared.settings.unknown_kid_interval;
        if state.refetch_now || state.last_unknown_kid_fetch.is_some_and(|at| now.duration_since(at) < interval) {
            return;
        }
        state.last_unknown_kid_fetch = Some(now);
        state.refetch_now = true;
        self.shared.wake.notify_all();
    }

    /// Fetches completed, successful or not (for tests and monitoring).
    pub fn fetches(&self) -> u64 {
        self.shared.lock().fetches
    }

    /// Fetches that failed; the last good set stayed in use.
    pub fn failures(&self) -> u64 {
        self.shared.lock().failures
    }

    /// The key ids of the current set.
    pub fn kids(&self) -> Vec<String> {
        self.shared.keys.load().iter().filter_map(|k| k.kid.clone()).collect()
    }
}

impl JwksBuilder {
    /// The shortest time between two scheduled fetches (a `max-age` below
    /// it is raised to it), and the delay before retrying a failed fetch.
    pub fn min_refresh(mut self, interval: Duration) -> Self {
        self.settings.min_refresh = interval;
        self
    }

    /// The longest a fetched set is kept before refetching.
    pub fn max_refresh(mut self, interval: Duration) -> Self {
        self.settings.max_refresh = interval;
        self
    }

    /// How long a set is kept when its response has no `max-age`.
    pub fn default_refresh(mut self, interval: Duration) -> Self {
        self.settings.default_refresh = interval;
        self
    }

    /// At most one refetch for unknown `kid`s per this interval.
    pub fn unknown_kid_interval(mut self, interval: Duration) -> Self {
        self.settings.unknown_kid_interval = interval;
        self
    }

    /// The time one fetch may take, connection included.
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.settings.timeout = timeout;
        self
    }

    /// Also trusts this CA certificate (PEM), e.g. a private CA's.
    pub fn root_certificate(mut self, pem: &[u8]) -> Self {
        match ureq::tls::Certificate::from_pem(pem) {
            Ok(cert) => self.roots.push(cert.der().to_vec()),
            Err(_) => self.errors.push("jwks root certificate is not a PEM certificate".into()),
        }
        self
    }

    /// Trusts only the certificates given with
    /// [`root_certificate`](Self::root_certificate), not the operating
    /// system's.
    pub fn only_given_roots(mut self) -> Self {
        self.system_roots = false;
        self
    }

    /// Fetches the set once and starts the refresh thread.
    ///
    /// # Errors
    ///
    /// [`ConfigError::Jwt`] for a URL that is not `https://`, unusable
    /// settings, no trusted root, or a first fetch that fails (the
    /// provider must be reachable at start: a guard without keys would
    /// refuse everyone).
    pub fn build(self) -> Result<Jwks, ConfigError> {
        let fail = |reason: String| Err(ConfigError::Jwt { reason });
        if let Some(error) = self.errors.into_iter().next() {
            return fail(error);
        }
        if !self.url.starts_with("https://") {
            return fail("the jwks url must start with https://".into());
        }
        let s = self.settings;
        if s.min_refresh > s.max_refresh || s.timeout.is_zero() {
            return fail("jwks min_refresh must not exceed max_refresh, and the timeout must be positive".into());
        }
        let mut roots: Vec<ureq::tls::Certificate<'static>> =
            self.roots.iter().map(|der| ureq::tls::Certificate::from_der(der).to_owned()).collect();
        if self.system_roots {
            let native = rustls_native_certs::load_native_certs();
            roots.extend(native.certs.iter().map(|c| ureq::tls::Certificate::from_der(c.as_ref()).to_owned()));
        }
        if roots.is_empty() {
            return fail("no trusted root certificate for the jwks url".into());
        }
        let tls = ureq::tls::TlsConfig::builder()
            .provider(ureq::tls::TlsProvider::Rustls)
            .root_certs(ureq::tls::RootCerts::new_with_certs(&roots))
            .unversioned_rustls_crypto_provider(Arc::new(rustls::crypto::aws_lc_rs::default_provider()))
            .build();
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .tls_config(tls)
            .timeout_global(Some(s.timeout))
            .http_status_as_error(false)
            .max_redirects(0)
            .build()
            .into();
        let now = Instant::now();
        let shared = Arc::new(Shared {
            url: self.url,
            agent,
            settings: s,
            keys: ArcSwap::from_pointee(Vec::new()),
            state: Mutex::new(State {
                next_fetch: now,
                last_unknown_kid_fetch: None,
                refetch_now: false,
                stop: false,
                fetches: 0,
                failures: 0,
            }),
            wake: Condvar::new(),
        });
        if let Err(error) = shared.refresh() {
            return fail(format!("first jwks fetch failed: {error}"));
        }
        let thread = shared.clone();
        std::thread::Builder::new()
            .name("wsguard-jwks".into())
            .spawn(move || thread.run())
            .map_err(|e| ConfigError::Jwt { reason: format!("cannot start the jwks thread: {}", e.kind()) })?;
        Ok(Jwks { _owner: Arc::new(Owner(shared.clone())), shared })
    }
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The refresh loop: sleeps until the next fetch is due or a refetch
    /// is asked for, until the owner goes.
    fn run(&self) {
        loop {
            {
                let mut state = self.lock();
                loop {
                    if state.stop {
                        return;
                    }
                    let now = Instant::now();
                    if state.refetch_now || now >= state.next_fetch {
                        state.refetch_now = false;
                        break;
                    }
                    let wait = state.next_fetch - now;
                    state = self.wake.wait_timeout(state, wait).unwrap_or_else(PoisonError::into_inner).0;
                }
            }
            if let Err(error) = self.refresh() {
                crate::audit::jwks_fetch_failed(error);
            }
        }
    }

    /// One fetch: on success the new set and the next fetch from its
    /// `max-age`; on failure the old set, and a retry after `min_refresh`.
    fn refresh(&self) -> Result<(), &'static str> {
        let result = self.fetch();
        let s = self.settings;
        let mut state = self.lock();
        state.fetches += 1;
        let (after, result) = match result {
            Ok((keys, max_age)) => {
                self.keys.store(Arc::new(keys));
                (max_age.unwrap_or(s.default_refresh).clamp(s.min_refresh, s.max_refresh), Ok(()))
            }
            Err(error) => {
                state.failures += 1;
                (s.min_refresh, Err(error))
            }
        };
        state.next_fetch = Instant::now() + after;
        result
    }

    fn fetch(&self) -> Result<(Vec<Key>, Option<Duration>), &'static str> {
        let mut response = self.agent.get(&self.url).call().map_err(|e| match e {
            ureq::Error::Timeout(_) => "timeout",
            ureq::Error::Tls(_) | ureq::Error::Rustls(_) => "tls",
            // A refused certificate surfaces as an I/O error around rustls's.
            ureq::Error::Io(e) if e.get_ref().is_some_and(|inner| inner.is::<rustls::Error>()) => "tls",
            ureq::Error::Io(_) | ureq::Error::ConnectionFailed | ureq::Error::HostNotFound => "connection",
            _ => "http",
        })?;
        if !response.status().is_success() {
            return Err("http status");
        }
        let max_age =
            response.headers().get(http::header::CACHE_CONTROL).and_then(|v| v.to_str().ok()).and_then(max_age);
        let body = response.body_mut().with_config().limit(MAX_BODY).read_to_string().map_err(|_| "body")?;
        // Keys this crate cannot use (an encryption key, another curve) are
        // skipped: the provider's other keys still verify.
        let (keys, _unusable) = parse_jwk_set(&body).map_err(|_| "invalid jwk set")?;
        if keys.is_empty() {
            return Err("empty jwk set");
        }
        Ok((keys, max_age))
    }
}

/// `max-age` of a `Cache-Control` value (`no-store` and `no-cache` as 0).
fn max_age(value: &str) -> Option<Duration> {
    value.split(',').map(str::trim).find_map(|directive| {
        let directive = directive.to_ascii_lowercase();
        if directive == "no-store" || directive == "no-cache" {
            return Some(Duration::ZERO);
        }
        let seconds = directive.strip_prefix("max-age=")?.trim_matches('"').parse::<u64>().ok()?;
        Some(Duration::from_secs(seconds))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn max_age_is_read_from_cache_control() {
        assert_eq!(max_age("public, max-age=3600, must-revalidate"), Some(Duration::from_secs(3600)));
        assert_eq!(max_age("MAX-AGE=\"60\""), Some(Duration::from_secs(60)));
        assert_eq!(max_age("no-store"), Some(Duration::ZERO));
        assert_eq!(max_age("public"), None);
        assert_eq!(max_age("max-age=soon"), None);
        assert_eq!(max_age("max-age=99999999999999999999999"), None);
    }

    #[test]
    fn only_https_is_fetched() {
        let e = Jwks::builder("http://idp.example/jwks.json").build().unwrap_err();
        assert!(e.to_string().contains("https://"), "{e}");
        let e = Jwks::builder("https://idp.example/jwks.json").root_certificate(b"junk").build().unwrap_err();
        assert!(e.to_string().contains("PEM"), "{e}");
    }
}
