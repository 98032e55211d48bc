//! [`Http1Pool`]: one plain-HTTP provider's own keep-alive connections, and
//! [`UpstreamBody`], a provider's response body that brings its connection back.
//!
//! hyper-util's pooled client serves any origin over any protocol, so each request pays for a
//! checkout keyed by origin, a `Host` header formatted anew and a task spawned to put its
//! connection back. A plain-HTTP provider has one origin and speaks HTTP/1.1, so its idle
//! connections sit in a stack of their own: a request takes the newest (or dials), and the
//! connection goes back when its response body has been read to the end. A body dropped before
//! its end takes its connection with it, as hyper closes a connection whose answer was not read.

use std::{
    pin::Pin,
    sync::{Arc, Mutex, PoisonError},
    task::{Context, Poll, ready},
    time::Duration,
};

use bytes::Bytes;
use http::{HeaderValue, Request, Response, Uri, header::HOST, uri::Scheme};
use http_body::{Body, Frame, SizeHint};
use http_body_util::Full;
use hyper::{body::Incoming, client::conn::http1};
use hyper_util::client::legacy::connect::HttpConnector;
use infermux_core::BoxError;
use tokio::time::Instant;
use tower::ServiceExt;

/// How long a connection may sit idle before it is closed rather than reused; servers drop
/// quiet connections on their own, and a connection they dropped must not be written to.
const IDLE_TIMEOUT: Duration = Duration::from_secs(90);

type Sender = http1::SendRequest<Full<Bytes>>;

/// The keep-alive connections of one plain-HTTP origin.
#[derive(Clone)]
pub(crate) struct Http1Pool {
    shared: Arc<Shared>,
}

struct Shared {
    /// `http://host:port`, what the connector dials.
    origin: Uri,
    /// The `Host` header of every request: the origin's host, and its port unless it is 80.
    host: HeaderValue,
    connector: HttpConnector,
    /// Idle connections, oldest first.
    idle: Mutex<Vec<Idle>>,
}

struct Idle {
    sender: Sender,
    since: Instant,
}

impl Http1Pool {
    /// A pool for `base_url` when it is a plain-HTTP URL with a host; `None` otherwise.
    pub(crate) fn for_url(base_url: &Uri, connector: HttpConnector) -> Option<Self> {
        if base_url.scheme() != Some(&Scheme::HTTP) {
            return None;
        }
        let authority = base_url.authority()?;
        let host = match authority.port_u16() {
            Some(port) if port != 80 => format!("{}:{port}", authority.host()),
            _ => authority.host().to_owned(),
        };
        let origin = Uri::builder()
            .scheme(Scheme::HTTP)
            .authority(authority.clone())
            .path_and_query("/")
            .build()
            .ok()?;
        Some(Self {
            shared: Arc::new(Shared {
                origin,
                host: HeaderValue::from_str(&host).ok()?,
                connector,
                idle: Mutex::new(Vec::new()),
            }),
        })
    }

    /// Sends `request`, whose URI is the path (origin form), on an idle connection or a new
    /// one. A request that an idle connection closed before taking goes on another.
    pub(crate) async fn send(
        &self,
        mut request: Request<Full<Bytes>>,
    ) -> Result<Response<UpstreamBody>, BoxError> {
        request.headers_mut().insert(HOST, self.shared.host.clone());
        loop {
            let (mut sender, reused) = match self.take_idle().await {
                Some(sender) => (sender, true),
                // Boxed: dialing is rare, and its futures would triple the size of every send.
                None => (Box::pin(self.connect()).await?, false),
            };
            match sender.try_send_request(request).await {
                Ok(response) => {
                    let home = Homecoming {
                        pool: self.shared.clone(),
                        sender,
                    };
                    return Ok(response.map(|body| UpstreamBody::pooled(body, home)));
                }
                Err(mut error) => match error.take_message() {
                    Some(unsent) if reused => request = unsent,
                    _ => return Err(error.into_error().into()),
                },
            }
        }
    }

    /// The newest idle connection that is still open, once it can take a request.
    ///
    /// The newest connection that can take one now is preferred: one that just came back may
    /// not have finished its last exchange yet, and waiting for it would cost the request
    /// another wake-up.
    async fn take_idle(&self) -> Option<Sender> {
        loop {
            let idle = {
                let mut idle = self
                    .shared
                    .idle
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner);
                let newest = idle.last()?;
                if newest.since.elapsed() >= IDLE_TIMEOUT {
                    // The others went idle earlier still.
                    idle.clear();
                    return None;
                }
                match idle.iter().rposition(|conn| conn.sender.is_ready()) {
                    Some(ready) => idle.remove(ready),
                    None => idle.pop()?,
                }
            };
            let mut sender = idle.sender;
            if sender.ready().await.is_ok() {
                return Some(sender);
            }
        }
    }

    async fn connect(&self) -> Result<Sender, BoxError> {
        let connector = self.shared.connector.clone();
        let io = connector.oneshot(self.shared.origin.clone()).await?;
        let (sender, connection) = http1::handshake(io).await?;
        tokio::spawn(async move {
            if let Err(error) = connection.await {
                tracing::debug!(?error, "upstream connection ended");
            }
        });
        Ok(sender)
    }
}

impl Shared {
    /// Puts `sender` back as the newest idle connection, closing those idle too long.
    fn put_back(&self, sender: Sender) {
        let now = Instant::now();
        let mut idle = self.idle.lock().unwrap_or_else(PoisonError::into_inner);
        let expired = idle
            .iter()
            .take_while(|conn| now.duration_since(conn.since) >= IDLE_TIMEOUT)
            .count();
        idle.drain(..expired);
        idle.push(Idle { sender, since: now });
    }
}

/// A connection on its way back to its pool.
struct Homecoming {
    pool: Arc<Shared>,
    sender: Sender,
}

/// A provider's response body: hyper's own, and for a pooled connection the way back.
pub(crate) struct UpstreamBody {
    incoming: Incoming,
    home: Option<Homecoming>,
}

impl UpstreamBody {
    /// A body whose connection is not this process's to return (hyper-util's client's).
    pub(crate) fn unpooled(incoming: Incoming) -> Self {
        Self {
            incoming,
            home: None,
        }
    }

    fn pooled(incoming: Incoming, home: Homecoming) -> Self {
        let mut body = Self {
            incoming,
            home: Some(home),
        };
        // An empty body (`Content-Length: 0`) may never be polled.
        if body.incoming.is_end_stream() {
            body.go_home();
        }
        body
    }

    fn go_home(&mut self) {
        if let Some(home) = self.home.take() {
            home.pool.put_back(home.sender);
        }
    }
}

impl Body for UpstreamBody {
    type Data = Bytes;
    type Error = hyper::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, hyper::Error>>> {
        let this = self.get_mut();
        let frame = ready!(Pin::new(&mut this.incoming).poll_frame(cx));
        match &frame {
            // A broken connection is not reused: dropping it closes it.
            Some(Err(_)) => this.home = None,
            None => this.go_home(),
            // A reader that stops at `is_end_stream` never sees the `None`.
            Some(Ok(_)) if this.incoming.is_end_stream() => this.go_home(),
            Some(Ok(_)) => {}
        }
        Poll::Ready(frame)
    }

    fn is_end_stream(&self) -> bool {
        self.incoming.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.incoming.size_hint()
    }
}

#[cfg(test)]
mod tests;
