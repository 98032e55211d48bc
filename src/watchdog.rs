//! A connection's watchdog: the task that tells one connection to drain or to stop.
//!
//! A connection must drain (finish what is in flight, then close) when the server shuts down
//! or the connection has been idle too long, and stop at once when the drain times out. The
//! watchdog waits for those events in a task of its own and raises a [`Signal`]; the
//! connection's task only loads an atomic each time it is polled. Waiting for the three events
//! inside the connection's task instead would poll two cancellation tokens and a timer every
//! time a request wakes it, several times per request.

use std::{
    future::{Future, poll_fn},
    pin::pin,
    sync::{
        Arc,
        atomic::{AtomicU8, Ordering},
    },
    task::Poll,
    time::Duration,
};

use futures_util::task::AtomicWaker;
use tokio_util::{sync::CancellationToken, task::AbortOnDropHandle};

use crate::{head_timeout::Requests, idle::Activity};

/// What the watchdog asks of its connection.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub(crate) enum Ask {
    /// Serve on.
    Serve = 0,
    /// Finish the requests in flight, then close.
    Drain = 1,
    /// Close now.
    Stop = 2,
}

/// The watchdog's word to one connection, and the connection's waker to deliver it.
#[derive(Debug, Default)]
pub(crate) struct Signal {
    ask: AtomicU8,
    waker: AtomicWaker,
}

impl Signal {
    fn raise(&self, ask: Ask) {
        self.ask.fetch_max(ask as u8, Ordering::AcqRel);
        self.waker.wake();
    }

    fn ask(&self) -> Ask {
        match self.ask.load(Ordering::Acquire) {
            0 => Ask::Serve,
            1 => Ask::Drain,
            _ => Ask::Stop,
        }
    }
}

/// What a connection is watched for: the server's shutdown (drain), its own idleness
/// (drain), a wait for a request's headers past `header_read_timeout` (stop), and the end of
/// the drain (stop).
#[derive(Clone, Debug)]
pub(crate) struct Watch {
    /// Cancelled when the server stops accepting.
    pub(crate) shutdown: CancellationToken,
    /// Cancelled when the drain times out.
    pub(crate) cut: CancellationToken,
    /// How long a connection may move no byte before it drains.
    pub(crate) idle: Duration,
    /// How long an HTTP/1 connection may have no request in flight before it stops.
    pub(crate) header_read: Duration,
}

impl Watch {
    /// Spawns the watchdog of a connection whose bytes `activity` counts and whose requests
    /// `requests` counts; it ends when the returned handle is dropped.
    pub(crate) fn start(
        &self,
        activity: Arc<Activity>,
        requests: Arc<Requests>,
    ) -> (Arc<Signal>, AbortOnDropHandle<()>) {
        let signal = Arc::new(Signal::default());
        let (watch, raised) = (self.clone(), signal.clone());
        let task = tokio::spawn(async move {
            let ask = tokio::select! {
                () = watch.shutdown.cancelled() => Ask::Drain,
                () = activity.idle_for(watch.idle) => {
                    tracing::debug!("closing an idle connection");
                    Ask::Drain
                }
                // No request is in flight: nothing is lost by closing at once.
                () = requests.waiting_for(watch.header_read) => {
                    tracing::debug!("closing a connection that sent no request headers in time");
                    Ask::Stop
                }
                () = watch.cut.cancelled() => Ask::Drain,
            };
            raised.raise(ask);
            watch.cut.cancelled().await;
            raised.raise(Ask::Stop);
        });
        (signal, AbortOnDropHandle::new(task))
    }
}

/// Drives `connection` to its end, draining it with `drain` when `signal` asks; `None` when
/// the signal stopped it first.
pub(crate) async fn serve<C: Future>(
    connection: C,
    signal: &Signal,
    drain: impl Fn(std::pin::Pin<&mut C>),
) -> Option<C::Output> {
    let mut connection = pin!(connection);
    let mut draining = false;
    poll_fn(|cx| {
        signal.waker.register(cx.waker());
        match signal.ask() {
            Ask::Stop => return Poll::Ready(None),
            Ask::Drain if !draining => {
                draining = true;
                drain(connection.as_mut());
            }
            Ask::Drain | Ask::Serve => {}
        }
        connection.as_mut().poll(cx).map(Some)
    })
    .await
}

#[cfg(test)]
mod tests {
    use std::{
        future::pending,
        sync::{
            Mutex,
            atomic::{AtomicUsize, Ordering},
        },
    };

    use tokio::sync::oneshot;

    use super::*;

    fn watch() -> Watch {
        Watch {
            shutdown: CancellationToken::new(),
            cut: CancellationToken::new(),
            idle: Duration::from_secs(3600),
            header_read: Duration::from_secs(3600),
        }
    }

    #[tokio::test]
    async fn a_shutdown_drains_the_connection_once_and_it_finishes_its_work() {
        let watch = watch();
        let (signal, _watchdog) = watch.start(Activity::new(), Requests::new());
        let (finish, finished) = oneshot::channel::<u8>();
        let finish = Mutex::new(Some(finish));
        let drains = AtomicUsize::new(0);
        let served = serve(finished, &signal, |_| {
            drains.fetch_add(1, Ordering::Relaxed);
            if let Some(finish) = finish.lock().expect("lock").take() {
                let _ = finish.send(7);
            }
        });
        watch.shutdown.cancel();
        assert_eq!(served.await, Some(Ok(7)));
        assert_eq!(drains.load(Ordering::Relaxed), 1);
    }

    #[tokio::test]
    async fn the_end_of_the_drain_stops_a_connection_that_would_not_finish() {
        let watch = watch();
        let (signal, _watchdog) = watch.start(Activity::new(), Requests::new());
        let drains = AtomicUsize::new(0);
        let served = serve(pending::<()>(), &signal, |_| {
            drains.fetch_add(1, Ordering::Relaxed);
        });
        watch.shutdown.cancel();
        watch.cut.cancel();
        assert_eq!(served.await, None);
        assert!(drains.load(Ordering::Relaxed) <= 1);
    }

    #[tokio::test(start_paused = true)]
    async fn an_idle_connection_is_drained() {
        let watch = Watch {
            idle: Duration::from_millis(200),
            ..watch()
        };
        let (signal, _watchdog) = watch.start(Activity::new(), Requests::new());
        let drained = tokio::sync::Notify::new();
        let started = tokio::time::Instant::now();
        let served = serve(pending::<()>(), &signal, |_| drained.notify_one());
        tokio::select! {
            _ = served => panic!("an idle connection is drained, not stopped"),
            () = drained.notified() => {}
        }
        let idle_for = started.elapsed();
        assert!(idle_for >= Duration::from_millis(200), "{idle_for:?}");
        assert!(idle_for <= Duration::from_millis(270), "{idle_for:?}");
    }

    #[tokio::test(start_paused = true)]
    async fn a_connection_without_a_request_past_the_header_timeout_is_stopped() {
        let watch = Watch {
            header_read: Duration::from_millis(200),
            ..watch()
        };
        let (signal, _watchdog) = watch.start(Activity::new(), Requests::new());
        let drains = AtomicUsize::new(0);
        let started = tokio::time::Instant::now();
        let served = serve(pending::<()>(), &signal, |_| {
            drains.fetch_add(1, Ordering::Relaxed);
        });
        assert_eq!(served.await, None);
        assert_eq!(drains.load(Ordering::Relaxed), 0, "stopped, not drained");
        let waited = started.elapsed();
        assert!(waited >= Duration::from_millis(200), "{waited:?}");
        assert!(waited <= Duration::from_millis(270), "{waited:?}");
    }

    #[tokio::test]
    async fn a_connection_that_ends_takes_its_watchdog_with_it() {
        let watch = watch();
        let (signal, watchdog) = watch.start(Activity::new(), Requests::new());
        assert_eq!(serve(async { 3 }, &signal, |_| {}).await, Some(3));
        let task = watchdog.abort_handle();
        drop(watchdog);
        while !task.is_finished() {
            tokio::task::yield_now().await;
        }
    }
}
