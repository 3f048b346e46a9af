//! A read buffer that exists only while it holds data.
//!
//! tungstenite reads at most `read_buffer_size` bytes per call and keeps that
//! buffer zero-filled and resident for the connection's lifetime. A small
//! buffer saves memory on idle connections but costs extra read calls on big
//! messages. [`Coalesce`] lets the guard use a small tungstenite buffer and
//! still read up to [`CHUNK`] bytes per system call: it reads into an
//! uninitialised buffer, serves tungstenite from it, and frees it as soon as
//! it is drained or the read would block.

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll, ready};

use bytes::{Buf, BytesMut};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

/// Bytes read from the socket per call under load.
const CHUNK: usize = 64 * 1024;

#[derive(Debug)]
pub(crate) struct Coalesce<S> {
    pub(crate) inner: S,
    buf: BytesMut,
}

impl<S> Coalesce<S> {
    pub(crate) fn new(inner: S) -> Self {
        Self { inner, buf: BytesMut::new() }
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for Coalesce<S> {
    fn poll_read(self: Pin<&mut Self>, cx: &mut Context<'_>, out: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        if this.buf.is_empty() {
            if out.remaining() >= CHUNK {
                return Pin::new(&mut this.inner).poll_read(cx, out);
            }
            this.buf.reserve(CHUNK);
            let polled = tokio_util::io::poll_read_buf(Pin::new(&mut this.inner), cx, &mut this.buf);
            if this.buf.is_empty() {
                // Pending, EOF or error: hold no memory while waiting.
                this.buf = BytesMut::new();
            }
            if ready!(polled)? == 0 {
                return Poll::Ready(Ok(()));
            }
        }
        let n = out.remaining().min(this.buf.len());
        out.put_slice(&this.buf[..n]);
        this.buf.advance(n);
        if this.buf.is_empty() {
            this.buf = BytesMut::new();
        }
        Poll::Ready(Ok(()))
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for Coalesce<S> {
    fn poll_write(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().inner).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().inner).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    use super::*;

    #[tokio::test]
    async fn serves_small_reads_from_one_big_read_and_frees_the_buffer() {
        let (mut writer, reader) = tokio::io::duplex(256 * 1024);
        let data: Vec<u8> = (0..100_000u32).map(|i| i as u8).collect();
        writer.write_all(&data).await.unwrap();
        drop(writer);
        let mut reader = Coalesce::new(reader);
        let mut chunk = [0u8; 1000];
        assert_eq!(reader.read(&mut chunk).await.unwrap(), 1000);
        assert_eq!(reader.buf.len(), CHUNK - 1000, "one read call fetched a whole chunk");
        let mut out = chunk.to_vec();
        loop {
            let n = reader.read(&mut chunk).await.unwrap();
            if n == 0 {
                break;
            }
            out.extend_from_slice(&chunk[..n]);
            if reader.buf.is_empty() {
                assert_eq!(reader.buf.capacity(), 0, "a drained buffer is freed");
            }
        }
        assert_eq!(out, data);
    }
}
