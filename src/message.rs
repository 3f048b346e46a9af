//! Messages as the application sees them, and [`Frame`]: a data message as
//! the layers see it, with its JSON parsed at most once.

use std::borrow::Cow;
use std::fmt;
use std::ops::Deref;
use std::sync::Arc;

use bytes::Bytes;
use serde_json::Value;

use crate::close::CloseFrame;
use crate::layer::Discriminator;
use crate::schema::StructureLimits;
use crate::schema::structure::Violation;

/// UTF-8 text backed by reference-counted bytes; cloning is cheap.
///
/// Converting to and from tungstenite's text type costs nothing, so the
/// guard adds no copy to a text message.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct Utf8Bytes(tungstenite::Utf8Bytes);

impl Utf8Bytes {
    /// Text from a static string, without allocating.
    pub const fn from_static(text: &'static str) -> Self {
        Self(tungstenite::Utf8Bytes::from_static(text))
    }

    /// The text.
    pub fn as_str(&self) -> &str {
        self.0.as_str()
    }

    pub(crate) fn into_tungstenite(self) -> tungstenite::Utf8Bytes {
        self.0
    }

    pub(crate) fn from_tungstenite(text: tungstenite::Utf8Bytes) -> Self {
        Self(text)
    }
}

impl Deref for Utf8Bytes {
    type Target = str;
    fn deref(&self) -> &str {
        self.as_str()
    }
}

impl fmt::Debug for Utf8Bytes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self.as_str(), f)
    }
}

impl fmt::Display for Utf8Bytes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl From<String> for Utf8Bytes {
    fn from(text: String) -> Self {
        Self(text.into())
    }
}

impl From<&str> for Utf8Bytes {
    fn from(text: &str) -> Self {
        Self(text.into())
    }
}

impl From<tungstenite::Utf8Bytes> for Utf8Bytes {
    fn from(text: tungstenite::Utf8Bytes) -> Self {
        Self(text)
    }
}

impl From<Utf8Bytes> for tungstenite::Utf8Bytes {
    fn from(text: Utf8Bytes) -> Self {
        text.0
    }
}

impl From<Utf8Bytes> for Bytes {
    fn from(text: Utf8Bytes) -> Self {
        text.0.into()
    }
}

impl PartialEq<str> for Utf8Bytes {
    fn eq(&self, other: &str) -> bool {
        self.as_str() == other
    }
}

impl PartialEq<&str> for Utf8Bytes {
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == *other
    }
}

/// A WebSocket message, as read from or sent to a guarded socket.
///
/// Mirrors tungstenite's `Message` without its raw-frame variant.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Message {
    /// A text message.
    Text(Utf8Bytes),
    /// A binary message.
    Binary(Bytes),
    /// A ping. Guarded sockets answer pings automatically, as tungstenite does.
    Ping(Bytes),
    /// A pong.
    Pong(Bytes),
    /// A close frame, with an optional code and reason.
    Close(Option<CloseFrame>),
}

impl Message {
    /// A text message.
    pub fn text(text: impl Into<Utf8Bytes>) -> Self {
        Self::Text(text.into())
    }

    /// A binary message.
    pub fn binary(data: impl Into<Bytes>) -> Self {
        Self::Binary(data.into())
    }

    /// Whether this is a text or binary message (as opposed to a control frame).
    pub fn is_data(&self) -> bool {
        matches!(self, Self::Text(_) | Self::Binary(_))
    }

    /// The payload length in bytes (0 for a close without a frame).
    pub fn len(&self) -> usize {
        match self {
            Self::Text(t) => t.len(),
            Self::Binary(b) | Self::Ping(b) | Self::Pong(b) => b.len(),
            Self::Close(frame) => frame.as_ref().map_or(0, |f| 2 + f.reason.len()),
        }
    }

    /// Whether the payload is empty.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The text, if this is a text message.
    pub fn as_text(&self) -> Option<&str> {
        match self {
            Self::Text(t) => Some(t.as_str()),
            _ => None,
        }
    }

    pub(crate) fn into_tungstenite(self) -> tungstenite::Message {
        use tungstenite::Message as T;
        match self {
            Self::Text(t) => T::Text(t.into_tungstenite()),
            Self::Binary(b) => T::Binary(b),
            Self::Ping(b) => T::Ping(b),
            Self::Pong(b) => T::Pong(b),
            Self::Close(frame) => T::Close(frame.map(CloseFrame::into_tungstenite)),
        }
    }

    /// `None` for tungstenite's raw `Frame` variant, which a reader never yields.
    pub(crate) fn from_tungstenite(message: tungstenite::Message) -> Option<Self> {
        use tungstenite::Message as T;
        Some(match message {
            T::Text(t) => Self::Text(Utf8Bytes::from_tungstenite(t)),
            T::Binary(b) => Self::Binary(b),
            T::Ping(b) => Self::Ping(b),
            T::Pong(b) => Self::Pong(b),
            T::Close(frame) => Self::Close(frame.map(CloseFrame::from_tungstenite)),
            T::Frame(_) => return None,
        })
    }
}

impl From<Message> for tungstenite::Message {
    fn from(message: Message) -> Self {
        message.into_tungstenite()
    }
}

impl TryFrom<tungstenite::Message> for Message {
    /// tungstenite's raw `Frame` variant, which a reader never yields.
    type Error = tungstenite::Message;

    fn try_from(message: tungstenite::Message) -> Result<Self, Self::Error> {
        match message {
            tungstenite::Message::Frame(frame) => Err(tungstenite::Message::Frame(frame)),
            other => Self::from_tungstenite(other).ok_or(tungstenite::Message::Close(None)),
        }
    }
}

impl From<String> for Message {
    fn from(text: String) -> Self {
        Self::text(text)
    }
}

impl From<&str> for Message {
    fn from(text: &str) -> Self {
        Self::text(text)
    }
}

impl From<Vec<u8>> for Message {
    fn from(data: Vec<u8>) -> Self {
        Self::binary(data)
    }
}

/// Which way a message travels.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Direction {
    /// From the client to the application.
    Inbound,
    /// From the application to the client.
    Outbound,
}

impl Direction {
    /// `"inbound"` or `"outbound"`.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Inbound => "inbound",
            Self::Outbound => "outbound",
        }
    }

    /// 0 for inbound, 1 for outbound: an index into per-direction tables.
    pub(crate) fn index(self) -> usize {
        match self {
            Self::Inbound => 0,
            Self::Outbound => 1,
        }
    }
}

/// The JSON state of a frame.
#[derive(Debug, Clone)]
enum Json {
    /// Not parsed yet.
    Unparsed,
    /// Parsed and equal to the payload.
    Parsed(Value),
    /// Parsed and changed by a layer; the payload is stale until serialized.
    Rewritten(Value),
    /// Binary, or text that is not JSON.
    Absent,
}

/// A data message (text or binary) passing through the layers.
///
/// Layers read the payload with [`text`](Self::text) or
/// [`bytes`](Self::bytes) and the parsed JSON with [`json`](Self::json).
/// However many layers call `json`, the payload is parsed at most once; a
/// layer that rewrites the value with [`json_mut`](Self::json_mut) or
/// [`set_json`](Self::set_json) marks it dirty, and the new text is
/// serialized once, when the frame leaves the pipeline (or when a later layer
/// asks for the text).
#[derive(Debug, Clone)]
pub struct Frame {
    payload: Payload,
    json: Json,
    /// The structural scan of the payload as received, under the limits it
    /// ran with: the rate limit and schema layers share one scan.
    structure: Option<(StructureLimits, Result<(), Violation>)>,
    /// The message type read from the unparsed text, and the discriminator
    /// pointer it was read with.
    message_type: Option<(Arc<str>, Option<Found>)>,
    /// Whether a later layer builds the tree anyway (the guard says so
    /// from its layers): then the type is read from the tree, so the text
    /// is read once.
    tree_wanted: bool,
}

/// Where a message type read from the text is.
#[derive(Debug, Clone)]
enum Found {
    /// In the payload text, as it is.
    At(std::ops::Range<usize>),
    /// Decoded from a string with escapes.
    Decoded(String),
}

#[derive(Debug, Clone)]
enum Payload {
    Text(Utf8Bytes),
    Binary(Bytes),
}

impl Frame {
    /// A text frame.
    pub fn from_text(text: impl Into<Utf8Bytes>) -> Self {
        Self {
            payload: Payload::Text(text.into()),
            json: Json::Unparsed,
            structure: None,
            message_type: None,
            tree_wanted: false,
        }
    }

    /// A binary frame. Binary frames are never parsed as JSON.
    pub fn from_binary(data: impl Into<Bytes>) -> Self {
        Self {
            payload: Payload::Binary(data.into()),
            json: Json::Absent,
            structure: None,
            message_type: None,
            tree_wanted: false,
        }
    }

    /// The frame of a data message; control messages come back unchanged as `Err`.
    pub fn from_message(message: Message) -> Result<Self, Message> {
        match message {
            Message::Text(t) => Ok(Self::from_text(t)),
            Message::Binary(b) => Ok(Self::from_binary(b)),
            other => Err(other),
        }
    }

    /// Whether this is a binary frame.
    pub fn is_binary(&self) -> bool {
        matches!(self.payload, Payload::Binary(_))
    }

    /// The payload length in bytes, as received (or as last serialized after
    /// a rewrite).
    pub fn len(&self) -> usize {
        match &self.payload {
            Payload::Text(t) => t.len(),
            Payload::Binary(b) => b.len(),
        }
    }

    /// Whether the payload is empty.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The text of a text frame, reflecting any JSON rewrite so far.
    pub fn text(&mut self) -> Option<&str> {
        self.serialize_if_rewritten();
        match &self.payload {
            Payload::Text(t) => Some(t.as_str()),
            Payload::Binary(_) => None,
        }
    }

    /// The raw payload bytes, reflecting any JSON rewrite so far.
    pub fn bytes(&mut self) -> &[u8] {
        self.serialize_if_rewritten();
        match &self.payload {
            Payload::Text(t) => t.as_bytes(),
            Payload::Binary(b) => b,
        }
    }

    /// The payload parsed as JSON, or `None` for binary frames and text that
    /// is not JSON. Parses on first call only.
    pub fn json(&mut self) -> Option<&Value> {
        self.parse();
        match &self.json {
            Json::Parsed(v) | Json::Rewritten(v) => Some(v),
            Json::Unparsed | Json::Absent => None,
        }
    }

    /// The message's type under `discriminator`: the string at its pointer
    /// in the payload's JSON, as [`Discriminator::message_type`] reads it
    /// from [`json`](Self::json); `None` for binary frames, text that is
    /// not JSON, and a missing or non-string value.
    ///
    /// Until something needs the parsed value, the type is read from the
    /// text by the same parser without building the tree: every byte is
    /// still read and checked, so the answer is the tree's (the last of
    /// duplicate keys wins, and text `json` could not read has no type),
    /// at a fraction of the cost and with no allocation unless the type
    /// has escapes. The answer is kept for the next layer that asks.
    ///
    /// # Examples
    ///
    /// ```
    /// use wsguard::Frame;
    /// use wsguard::layer::Discriminator;
    ///
    /// let by_type = Discriminator::default();
    /// // The last of duplicate keys wins, as in the parsed value.
    /// let mut frame = Frame::from_text(r#"{"type":"chat","type":"join","room":"lobby"}"#);
    /// assert_eq!(frame.message_type(&by_type), Some("join"));
    /// // Text that does not parse as JSON has no type.
    /// let mut broken = Frame::from_text(r#"{"type":"chat"} and more"#);
    /// assert_eq!(broken.message_type(&by_type), None);
    /// ```
    ///
    /// [`Discriminator::message_type`]: crate::layer::Discriminator::message_type
    pub fn message_type(&mut self, discriminator: &Discriminator) -> Option<&str> {
        if matches!(self.json, Json::Unparsed) && !self.tree_wanted {
            let Payload::Text(text) = &self.payload else { return None };
            let pointer = discriminator.shared_pointer();
            if self.message_type.as_ref().is_none_or(|(read_with, _)| read_with != pointer) {
                let text = text.as_str();
                #[cfg(test)]
                counters::TYPE_READS.with(|c| c.set(c.get() + 1));
                let found = match discriminator.message_type_in(text) {
                    Ok(found) => found,
                    // What the parser cannot read, `json` would not either.
                    Err(_) => {
                        self.json = Json::Absent;
                        return None;
                    }
                };
                let found = found.map(|t| match t {
                    Cow::Borrowed(t) => {
                        let start = t.as_ptr() as usize - text.as_ptr() as usize;
                        Found::At(start..start + t.len())
                    }
                    Cow::Owned(t) => Found::Decoded(t),
                });
                self.message_type = Some((Arc::clone(pointer), found));
            }
            let (Some((_, found)), Payload::Text(text)) = (&self.message_type, &self.payload) else { return None };
            return match found.as_ref()? {
                Found::At(range) => text.as_str().get(range.clone()),
                Found::Decoded(t) => Some(t),
            };
        }
        let value = self.json()?;
        discriminator.message_type(value)
    }

    /// Says that a layer after the first to ask for the message type
    /// builds the tree anyway, so the type is read from the tree.
    pub(crate) fn want_tree(&mut self, wanted: bool) {
        self.tree_wanted = wanted;
    }

    /// Whether the payload starts like a JSON object or array (after JSON
    /// whitespace and byte-order marks) but [`json`](Self::json) cannot
    /// read it: a number out of range (`1e999`), a lone surrogate escape,
    /// nesting deeper than 128 levels, or a binary frame holding JSON.
    ///
    /// Clients are more lenient than this parser (a browser's `JSON.parse`
    /// reads `1e999` as `Infinity` and keeps lone surrogates), so a layer
    /// that must not let such a message through fails closed on it.
    pub fn is_unreadable_json(&mut self) -> bool {
        // A type read from the text means the parser read all of it.
        if (matches!(self.json, Json::Unparsed) && self.message_type.is_some()) || self.json().is_some() {
            return false;
        }
        let mut body = self.bytes();
        // Byte-order marks anywhere among the leading whitespace: some
        // decoders drop them.
        loop {
            body = match body {
                [b' ' | b'\t' | b'\n' | b'\r', rest @ ..] | [0xEF, 0xBB, 0xBF, rest @ ..] => rest,
                _ => break,
            };
        }
        matches!(body.first(), Some(b'{' | b'['))
    }

    /// The structural scan of a text frame under `limits` (depth, string,
    /// array and object bounds), run at most once per frame and set of
    /// limits: layers that guard their parse with it share the result.
    /// `Ok` for binary frames, which are never parsed.
    pub(crate) fn check_structure(&mut self, limits: &StructureLimits) -> Result<(), Violation> {
        if let Some((checked, result)) = &self.structure
            && checked == limits
        {
            return result.clone();
        }
        #[cfg(test)]
        counters::SCANS.with(|c| c.set(c.get() + 1));
        let result = match self.text() {
            Some(text) => limits.check(text),
            None => Ok(()),
        };
        self.structure = Some((*limits, result.clone()));
        result
    }

    /// Mutable access to the parsed JSON; marks the frame rewritten.
    pub fn json_mut(&mut self) -> Option<&mut Value> {
        self.parse();
        self.structure = None;
        self.message_type = None;
        self.json = match std::mem::replace(&mut self.json, Json::Absent) {
            Json::Parsed(v) | Json::Rewritten(v) => Json::Rewritten(v),
            other => other,
        };
        match &mut self.json {
            Json::Rewritten(v) => Some(v),
            _ => None,
        }
    }

    /// Replaces the message with `value`, serialized when the frame leaves
    /// the pipeline. A binary frame becomes a text frame.
    pub fn set_json(&mut self, value: Value) {
        self.structure = None;
        self.message_type = None;
        if let Payload::Binary(_) = self.payload {
            self.payload = Payload::Text(Utf8Bytes::default());
        }
        self.json = Json::Rewritten(value);
    }

    /// Whether a layer rewrote the JSON value.
    pub fn is_rewritten(&self) -> bool {
        matches!(self.json, Json::Rewritten(_))
    }

    /// The message to put on the wire, serializing a rewritten value once.
    pub fn into_message(mut self) -> Message {
        self.serialize_if_rewritten();
        match self.payload {
            Payload::Text(t) => Message::Text(t),
            Payload::Binary(b) => Message::Binary(b),
        }
    }

    fn parse(&mut self) {
        if let (Json::Unparsed, Payload::Text(text)) = (&self.json, &self.payload) {
            self.json = match parse_json(text) {
                Some(v) => Json::Parsed(v),
                None => Json::Absent,
            };
        }
    }

    fn serialize_if_rewritten(&mut self) {
        self.json = match std::mem::replace(&mut self.json, Json::Unparsed) {
            Json::Rewritten(value) => {
                self.payload = Payload::Text(serialize_json(&value).into());
                Json::Parsed(value)
            }
            other => other,
        };
    }
}

fn parse_json(text: &str) -> Option<Value> {
    #[cfg(test)]
    counters::PARSES.with(|c| c.set(c.get() + 1));
    serde_json::from_str(text).ok()
}

fn serialize_json(value: &Value) -> String {
    #[cfg(test)]
    counters::SERIALIZES.with(|c| c.set(c.get() + 1));
    // Serializing a `Value` cannot fail: its map keys are strings.
    serde_json::to_string(value).unwrap_or_default()
}

/// Per-thread counts of JSON parses and serializations, so tests can prove
/// "parse once, serialize once".
#[cfg(test)]
pub(crate) mod counters {
    use std::cell::Cell;
    thread_local! {
        pub(crate) static PARSES: Cell<usize> = const { Cell::new(0) };
        pub(crate) static SERIALIZES: Cell<usize> = const { Cell::new(0) };
        /// Structural scans ([`Frame::check_structure`](super::Frame::check_structure)).
        pub(crate) static SCANS: Cell<usize> = const { Cell::new(0) };
        /// Types read from the text without a tree ([`Frame::message_type`](super::Frame::message_type)).
        pub(crate) static TYPE_READS: Cell<usize> = const { Cell::new(0) };
    }
    /// Resets both counters and returns nothing; read them with `get`.
    pub(crate) fn reset() {
        PARSES.with(|c| c.set(0));
        SERIALIZES.with(|c| c.set(0));
        SCANS.with(|c| c.set(0));
        TYPE_READS.with(|c| c.set(0));
    }

    pub(crate) fn type_reads() -> usize {
        TYPE_READS.with(Cell::get)
    }

    pub(crate) fn scans() -> usize {
        SCANS.with(Cell::get)
    }
    pub(crate) fn get() -> (usize, usize) {
        (PARSES.with(Cell::get), SERIALIZES.with(Cell::get))
    }
}
