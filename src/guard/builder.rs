use std::sync::Arc;
use std::sync::atomic::AtomicU64;

use tungstenite::protocol::WebSocketConfig;

use super::{Guard, HandshakeRejection, Inner};
use crate::close::CloseCode;
use crate::error::ConfigError;
use crate::layer::{Layer, Limits};
use crate::rejection::RejectionKind;
use crate::time::{Clock, SystemClock};

/// The default read buffer of a guarded connection: 8 KiB instead of
/// tungstenite's 128 KiB, which is zero-filled and stays resident for every
/// connection. See [`manual::defaults`](crate::manual::defaults) for the
/// measurements behind it.
pub(crate) const DEFAULT_READ_BUFFER: usize = 8 * 1024;

/// Builds a [`Guard`]. Obtain one with [`Guard::builder`].
///
/// | setting | default |
/// |---------|---------|
/// | layers | none besides [`Limits`] |
/// | [`limits`](Self::limits) | [`Limits::default()`] (64 KiB messages) |
/// | [`clock`](Self::clock) | [`SystemClock`] |
/// | [`websocket_config`](Self::websocket_config) | tungstenite's defaults with an 8 KiB read buffer |
/// | [`handshake_rejection`](Self::handshake_rejection) | [`HandshakeRejection::Http`] |
/// | [`close_code`](Self::close_code) | the table in [`RejectionKind::wire`] |
#[must_use]
#[derive(Debug)]
pub struct GuardBuilder {
    layers: Vec<Arc<dyn Layer>>,
    limits: Limits,
    clock: Arc<dyn Clock>,
    websocket_config: WebSocketConfig,
    handshake_rejection: HandshakeRejection,
    close_code_overrides: Vec<(RejectionKind, CloseCode)>,
}

impl GuardBuilder {
    pub(super) fn new() -> Self {
        Self {
            layers: Vec::new(),
            limits: Limits::default(),
            clock: Arc::new(SystemClock),
            websocket_config: WebSocketConfig::default().read_buffer_size(DEFAULT_READ_BUFFER),
            handshake_rejection: HandshakeRejection::default(),
            close_code_overrides: Vec::new(),
        }
    }

    /// Appends a layer. Layers run in the order they are added.
    pub fn layer(self, layer: impl Layer) -> Self {
        self.shared_layer(Arc::new(layer))
    }

    /// Appends a layer that is already shared, e.g. one chosen at run time
    /// from configuration.
    pub fn shared_layer(mut self, layer: Arc<dyn Layer>) -> Self {
        self.layers.push(layer);
        self
    }

    /// Appends `layer` if it is `Some`.
    pub fn option_layer(self, layer: Option<impl Layer>) -> Self {
        match layer {
            Some(layer) => self.layer(layer),
            None => self,
        }
    }

    /// Replaces the size and time limits.
    pub fn limits(mut self, limits: Limits) -> Self {
        self.limits = limits;
        self
    }

    /// Replaces the clock (use [`ManualClock`](crate::time::ManualClock) in tests).
    pub fn clock(mut self, clock: impl Clock) -> Self {
        self.clock = Arc::new(clock);
        self
    }

    /// Replaces the tungstenite configuration. Its message and frame sizes
    /// are lowered to the [`Limits`] if they are larger.
    pub fn websocket_config(mut self, config: WebSocketConfig) -> Self {
        self.websocket_config = config;
        self
    }

    /// Chooses how refused handshakes are answered.
    pub fn handshake_rejection(mut self, mode: HandshakeRejection) -> Self {
        self.handshake_rejection = mode;
        self
    }

    /// Overrides the close code sent for one kind of rejection.
    pub fn close_code(mut self, kind: RejectionKind, code: CloseCode) -> Self {
        self.close_code_overrides.retain(|(k, _)| *k != kind);
        self.close_code_overrides.push((kind, code));
        self
    }

    /// Validates the configuration and builds the guard.
    ///
    /// # Errors
    ///
    /// [`ConfigError::InvalidLimit`] for an unusable limit and
    /// [`ConfigError::UnsendableCloseCode`] for a close-code override that
    /// may not be sent on the wire.
    pub fn build(self) -> Result<Guard, ConfigError> {
        self.limits.validate()?;
        if let Some((_, code)) = self.close_code_overrides.iter().find(|(_, c)| !c.is_sendable()) {
            return Err(ConfigError::UnsendableCloseCode { code: code.get() });
        }
        let limits = Arc::new(self.limits);
        let mut layers: Vec<Arc<dyn Layer>> = Vec::with_capacity(self.layers.len() + 1);
        layers.push(limits.clone());
        layers.extend(self.layers);
        Ok(Guard {
            inner: Arc::new(Inner {
                layers,
                limits,
                clock: self.clock,
                websocket_config: self.websocket_config,
                handshake_rejection: self.handshake_rejection,
                close_code_overrides: self.close_code_overrides,
                next_id: AtomicU64::new(1),
            }),
        })
    }
}
