//! Connection idleness: an I/O wrapper that counts the reads and writes that move bytes, and
//! the future that resolves once a connection has been quiet for the idle timeout.
//!
//! The server then asks hyper to shut the connection down gracefully: a request in flight
//! still finishes (a long non-streamed answer moves no bytes for a while, and that is not
//! idleness), and a connection that only holds a kept-alive socket open is closed.
//!
//! Counting, not stamping: a read or write only bumps a counter (no clock read on the hot
//! path), and [`Activity::idle_for`] looks at the counter a few times per timeout. A quiet
//! connection is therefore closed between one timeout and a quarter more after its last byte,
//! never before.

use std::{
    io,
    pin::Pin,
    sync::{
        Arc,
        atomic::{AtomicU64, Ordering},
    },
    task::{Context, Poll},
    time::Duration,
};

use tokio::{
    io::{AsyncRead, AsyncWrite, ReadBuf},
    time::Instant,
};

/// How many reads and writes have moved bytes on one connection.
#[derive(Debug, Default)]
pub(crate) struct Activity {
    moves: AtomicU64,
}

impl Activity {
    /// Activity that starts now.
    pub(crate) fn new() -> Arc<Self> {
        Arc::new(Self::default())
    }

    fn touch(&self) {
        self.moves.fetch_add(1, Ordering::Relaxed);
    }

    /// Resolves once no byte has moved for `timeout` (and at most a quarter of it more).
    pub(crate) async fn idle_for(&self, timeout: Duration) {
        quiet_for(timeout, || Some(self.moves.load(Ordering::Relaxed))).await;
    }
}

/// Resolves once `look` has seen the same quiet state for `timeout`, and at most a quarter of
/// it more: it looks four times per timeout, and `None` is a busy state, never quiet. A
/// change (or business) seen at a look restarts the wait from that look: the event was at
/// or before it.
pub(crate) async fn quiet_for<T: PartialEq>(
    timeout: Duration,
    mut look: impl FnMut() -> Option<T>,
) {
    let look_every = (timeout / 4).max(Duration::from_millis(1));
    let mut seen = look();
    let mut quiet_since = Instant::now();
    loop {
        tokio::time::sleep(look_every).await;
        let now = look();
        if now.is_none() || now != seen {
            (seen, quiet_since) = (now, Instant::now());
        } else if quiet_since.elapsed() >= timeout {
            return;
        }
    }
}

/// An I/O object that records its [`Activity`].
#[derive(Debug)]
pub(crate) struct Tracked<T> {
    inner: T,
    activity: Arc<Activity>,
}

impl<T> Tracked<T> {
    /// Wraps `inner`, stamping `activity` on every read or write that moves bytes.
    pub(crate) fn new(inner: T, activity: Arc<Activity>) -> Self {
        Self { inner, activity }
    }
}

impl<T: AsyncRead + Unpin> AsyncRead for Tracked<T> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        let result = Pin::new(&mut self.inner).poll_read(cx, buf);
        if matches!(result, Poll::Ready(Ok(()))) && buf.filled().len() > before {
            self.activity.touch();
        }
        result
    }
}

impl<T: AsyncWrite + Unpin> AsyncWrite for Tracked<T> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let result = Pin::new(&mut self.inner).poll_write(cx, buf);
        if matches!(result, Poll::Ready(Ok(n)) if n > 0) {
            self.activity.touch();
        }
        result
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let result = Pin::new(&mut self.inner).poll_write_vectored(cx, bufs);
        if matches!(result, Poll::Ready(Ok(n)) if n > 0) {
            self.activity.touch();
        }
        result
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn a_connection_moving_bytes_is_never_idle_and_a_quiet_one_is_after_the_timeout() {
        let activity = Activity::new();
        let timeout = Duration::from_millis(100);
        let idle = activity.idle_for(timeout);
        tokio::pin!(idle);
        for _ in 0..10 {
            tokio::select! {
                () = &mut idle => panic!("idle while bytes moved"),
                () = tokio::time::sleep(Duration::from_millis(60)) => activity.touch(),
            }
        }
        let last_byte = Instant::now();
        idle.await;
        let quiet_for = last_byte.elapsed();
        assert!(quiet_for >= timeout, "{quiet_for:?}");
        assert!(
            quiet_for <= timeout + timeout / 4 + timeout / 4,
            "{quiet_for:?}"
        );
    }
}
