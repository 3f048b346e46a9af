//! The async driver of a [`Connection`] over any WebSocket transport that is
//! a `Stream + Sink` of its own message type: tokio-tungstenite's stream
//! (the tokio adapter) and axum's socket (the axum adapter) share it, so
//! they behave the same: error replies, closes, pings, every deadline, the
//! revocation wake-up and slow consumers.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll, ready};
use std::time::{Duration, Instant};

use futures_util::{Sink, Stream};
use tokio::time::Sleep;

use crate::connection::{Connection, Handshake, ReadFailure, Timeout};
use crate::{CloseFrame, Error, Message, Rejection, Verdict};

/// How long a refused client gets to read its answer (an HTTP error, or a
/// close frame in accept-then-close mode) before the connection is dropped.
pub(crate) const REJECTION_GRACE: Duration = Duration::from_secs(2);

/// Implements `Stream` and `Sink` of [`Message`] for a public socket type
/// by handing every call to its `driver` field: one behaviour for every
/// async adapter.
macro_rules! delegate_to_driver {
    (impl[$($generics:tt)*] $socket:ty $(where $($bounds:tt)+)?) => {
        impl<$($generics)*> futures_util::Stream for $socket $(where $($bounds)+)? {
            type Item = Result<crate::Message, crate::Error>;

            fn poll_next(
                self: std::pin::Pin<&mut Self>,
                cx: &mut std::task::Context<'_>,
            ) -> std::task::Poll<Option<Self::Item>> {
                self.get_mut().driver.poll_next(cx)
            }
        }

        impl<$($generics)*> futures_util::Sink<crate::Message> for $socket $(where $($bounds)+)? {
            type Error = crate::Error;

            fn poll_ready(
                self: std::pin::Pin<&mut Self>,
                cx: &mut std::task::Context<'_>,
            ) -> std::task::Poll<Result<(), crate::Error>> {
                self.get_mut().driver.poll_ready(cx)
            }

            fn start_send(self: std::pin::Pin<&mut Self>, message: crate::Message) -> Result<(), crate::Error> {
                self.get_mut().driver.start_send(message)
            }

            fn poll_flush(
                self: std::pin::Pin<&mut Self>,
                cx: &mut std::task::Context<'_>,
            ) -> std::task::Poll<Result<(), crate::Error>> {
                self.get_mut().driver.poll_flush(cx)
            }

            fn poll_close(
                self: std::pin::Pin<&mut Self>,
                cx: &mut std::task::Context<'_>,
            ) -> std::task::Poll<Result<(), crate::Error>> {
                self.get_mut().driver.poll_close(cx)
            }
        }
    };
}
pub(crate) use delegate_to_driver;

/// Real time until the connection's next deadline on the guard's clock.
pub(crate) fn remaining(conn: &Connection) -> Duration {
    conn.poll_timeout().map_or(Duration::from_secs(3600), |at| at.saturating_duration_since(conn.guard().now()))
}

/// Answers the upgrade `request`, awaiting an async verifier, within the
/// connection's handshake deadline. When the verifier outlives it, the
/// refusal (408) comes once the guard's clock agrees (at once, unless it is
/// a manual clock in a test).
pub(crate) async fn handshake_in_time(conn: &mut Connection, request: &http::Request<()>) -> Handshake {
    if let Ok(answer) = tokio::time::timeout(remaining(conn), conn.handshake_async(request)).await {
        return answer;
    }
    loop {
        if let Some(Timeout::Refuse(answer)) = conn.handle_timeout(conn.guard().now()) {
            return answer;
        }
        tokio::time::sleep(remaining(conn)).await;
    }
}

/// A WebSocket transport: its message type and errors, converted at the edge.
pub(crate) trait Transport:
    Stream<Item = Result<Self::Wire, Self::Failure>> + Sink<Self::Wire, Error = Self::Failure> + Unpin
{
    /// The transport's message type.
    type Wire;
    /// The transport's error type.
    type Failure;
    fn to_wire(message: Message) -> Self::Wire;
    /// `None` for what is not a message (tungstenite's raw frames).
    fn from_wire(wire: Self::Wire) -> Option<Message>;
    /// A read error the connection answers with a close (1009, 1007).
    fn read_failure(error: &Self::Failure) -> Option<ReadFailure>;
    fn error(error: Self::Failure) -> Error;
}

/// A [`Connection`] driven over a [`Transport`], on tokio's timers.
#[derive(Debug)]
pub(crate) struct Driver<T> {
    pub(crate) ws: T,
    pub(crate) conn: Connection,
    /// A reply, ping or close frame produced while reading, not yet handed
    /// to the transport.
    pending: Option<Message>,
    /// Whether replies may still sit in the transport's write buffer.
    unflushed: bool,
    /// A guard-initiated close to report once its frame is flushed.
    closing: Option<Rejection>,
    /// Fires at the connection's next deadline; `armed` is that deadline
    /// on the guard's clock.
    timer: Pin<Box<Sleep>>,
    armed: Option<Instant>,
}

impl<T: Transport> Driver<T> {
    pub(crate) fn new(ws: T, conn: Connection) -> Self {
        let timer = Box::pin(tokio::time::sleep(Duration::ZERO));
        Self { ws, conn, pending: None, unflushed: false, closing: None, timer, armed: None }
    }

    /// Hands a pending reply, ping or close frame to the transport.
    fn poll_send_pending(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Error>> {
        if let Some(message) = self.pending.take() {
            match Pin::new(&mut self.ws).poll_ready(cx) {
                Poll::Ready(Ok(())) => {
                    Pin::new(&mut self.ws).start_send(T::to_wire(message)).map_err(T::error)?;
                    self.unflushed = true;
                }
                Poll::Ready(Err(e)) => return Poll::Ready(Err(T::error(e))),
                Poll::Pending => {
                    self.pending = Some(message);
                    return Poll::Pending;
                }
            }
        }
        Poll::Ready(Ok(()))
    }

    /// Once a guard-initiated close frame is flushed, the error to report.
    fn poll_closing(&mut self, cx: &mut Context<'_>) -> Poll<Option<Error>> {
        if self.closing.is_none() {
            return Poll::Ready(None);
        }
        // Best effort: a flush failure must not hide the rejection.
        let _ = ready!(Pin::new(&mut self.ws).poll_flush(cx));
        self.unflushed = false;
        Poll::Ready(self.closing.take().map(|r| Error::Closed(Box::new(r))))
    }

    /// Acts on what the connection has due (a ping, a close, an abort), and
    /// otherwise arranges to be woken at its next deadline or revocation.
    /// `Ready(None)` when something was queued (the caller loops),
    /// `Ready(Some(error))` on an abort, `Pending` when nothing is due.
    fn poll_deadlines(&mut self, cx: &mut Context<'_>) -> Poll<Option<Error>> {
        self.conn.register_waker(cx.waker());
        loop {
            let now = self.conn.guard().now();
            let due = self.conn.poll_timeout();
            // A revocation has no deadline: the waker brought us here.
            if due.is_some_and(|at| at <= now) || self.conn.session().is_revoked() {
                match self.conn.handle_timeout(now) {
                    Some(Timeout::Ping) => self.pending = Some(Message::Ping(Default::default())),
                    Some(Timeout::Close { frame, rejection }) => self.start_close(frame, rejection),
                    Some(Timeout::Abort(rejection)) => return Poll::Ready(Some(Error::Closed(Box::new(rejection)))),
                    Some(Timeout::Refuse(_)) | None => return Poll::Pending,
                }
                return Poll::Ready(None);
            }
            let Some(at) = due else { return Poll::Pending };
            // Activity only moves deadlines later, so a timer armed for an
            // earlier one is left alone (it wakes us early once, and is
            // re-armed then): no timer-wheel update per message.
            if self.armed.is_none_or(|armed| armed > at) || self.timer.is_elapsed() {
                let wait = at.saturating_duration_since(now);
                self.timer.as_mut().reset(tokio::time::Instant::now() + wait);
                self.armed = Some(at);
            }
            if self.timer.as_mut().poll(cx).is_pending() {
                return Poll::Pending;
            }
            self.armed = None;
        }
    }

    /// Records whether a send waits for the peer, and aborts a slow consumer
    /// once it has waited the write timeout.
    fn poll_stall(&mut self, cx: &mut Context<'_>, waiting: bool) -> Option<Error> {
        if !waiting {
            self.conn.set_write_blocked(None);
            return None;
        }
        let now = self.conn.guard().now();
        self.conn.set_write_blocked(Some(now));
        match self.poll_deadlines(cx) {
            Poll::Ready(Some(error)) => Some(error),
            _ => None,
        }
    }

    fn start_close(&mut self, frame: CloseFrame, rejection: Rejection) {
        self.pending = Some(Message::Close(Some(frame)));
        self.closing = Some(rejection);
    }

    /// The next message every layer passed; see `GuardedStream`.
    pub(crate) fn poll_next(&mut self, cx: &mut Context<'_>) -> Poll<Option<Result<Message, Error>>> {
        loop {
            if let Err(e) = ready!(self.poll_send_pending(cx)) {
                return Poll::Ready(Some(Err(e)));
            }
            if let Some(error) = ready!(self.poll_closing(cx)) {
                return Poll::Ready(Some(Err(error)));
            }
            if self.conn.is_open() {
                match self.poll_deadlines(cx) {
                    Poll::Ready(Some(error)) => return Poll::Ready(Some(Err(error))),
                    Poll::Ready(None) => continue,
                    Poll::Pending => {}
                }
            }
            // Push replies out without holding up reading; a pending flush
            // has registered the waker and is retried on the next poll.
            if self.unflushed
                && let Poll::Ready(flushed) = Pin::new(&mut self.ws).poll_flush(cx)
            {
                self.unflushed = false;
                flushed.map_err(T::error)?;
            }
            let message = match ready!(Pin::new(&mut self.ws).poll_next(cx)) {
                Some(Ok(message)) => message,
                Some(Err(e)) => {
                    if let Some(failure) = T::read_failure(&e) {
                        let (frame, rejection) = self.conn.handle_read_failure(failure);
                        self.start_close(frame, rejection);
                        continue;
                    }
                    self.conn.handle_closed();
                    return Poll::Ready(Some(Err(T::error(e))));
                }
                None => {
                    self.conn.handle_closed();
                    return Poll::Ready(None);
                }
            };
            let Some(message) = T::from_wire(message) else { continue };
            match self.conn.handle_inbound(message) {
                Verdict::Deliver(message) => return Poll::Ready(Some(Ok(message))),
                Verdict::Drop { reply } => self.pending = reply,
                Verdict::Close { frame, rejection } => self.start_close(frame, rejection),
            }
        }
    }

    pub(crate) fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Error>> {
        ready!(self.poll_send_pending(cx))?;
        let ready = Pin::new(&mut self.ws).poll_ready(cx);
        if let Some(error) = self.poll_stall(cx, ready.is_pending()) {
            return Poll::Ready(Err(error));
        }
        ready.map_err(T::error)
    }

    pub(crate) fn start_send(&mut self, message: Message) -> Result<(), Error> {
        match self.conn.send(message) {
            Verdict::Deliver(message) => Pin::new(&mut self.ws).start_send(T::to_wire(message)).map_err(T::error),
            Verdict::Drop { .. } => Ok(()),
            Verdict::Close { frame, rejection } => {
                // Reported by the next flush, once the close frame is out.
                self.start_close(frame, rejection);
                Ok(())
            }
        }
    }

    pub(crate) fn poll_flush(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Error>> {
        ready!(self.poll_send_pending(cx))?;
        if let Some(error) = ready!(self.poll_closing(cx)) {
            return Poll::Ready(Err(error));
        }
        let flushed = Pin::new(&mut self.ws).poll_flush(cx);
        if let Some(error) = self.poll_stall(cx, flushed.is_pending()) {
            return Poll::Ready(Err(error));
        }
        ready!(flushed).map_err(T::error)?;
        self.unflushed = false;
        Poll::Ready(Ok(()))
    }

    pub(crate) fn poll_close(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Error>> {
        ready!(self.poll_send_pending(cx))?;
        self.conn.handle_closed();
        Pin::new(&mut self.ws).poll_close(cx).map_err(T::error)
    }
}
