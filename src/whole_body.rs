//! Reading a whole body into one buffer.
//!
//! `http_body_util`'s `collect` keeps each chunk in a list (a heap allocation of its own) and
//! joins them at the end. Most bodies infermux reads, a client's request or a provider's
//! complete answer, arrive in one chunk; [`whole_body`] returns that chunk itself, and only a
//! body of several chunks is copied into one buffer.

use bytes::{Bytes, BytesMut};
use http_body::Body;
use http_body_util::BodyExt;

/// Every data frame of `body`, in one buffer (trailers are dropped).
pub(crate) async fn whole_body<B>(body: B) -> Result<Bytes, B::Error>
where
    B: Body<Data = Bytes>,
{
    let mut body = std::pin::pin!(body);
    let mut first: Option<Bytes> = None;
    let mut joined: Option<BytesMut> = None;
    while let Some(frame) = body.frame().await {
        let Ok(data) = frame?.into_data() else {
            continue;
        };
        match (&mut joined, first.take()) {
            (Some(joined), _) => joined.extend_from_slice(&data),
            (None, Some(earlier)) => {
                let mut buffer = BytesMut::with_capacity(earlier.len() + data.len());
                buffer.extend_from_slice(&earlier);
                buffer.extend_from_slice(&data);
                joined = Some(buffer);
            }
            (None, None) => first = Some(data),
        }
        // A body that knows it ended (its `Content-Length` is in) is not polled again: the
        // end of a body arriving through a channel would cost its reader another wake-up.
        if body.is_end_stream() {
            break;
        }
    }
    Ok(joined.map_or_else(|| first.unwrap_or_default(), BytesMut::freeze))
}

#[cfg(test)]
mod tests {
    use std::convert::Infallible;

    use futures_util::stream;
    use http_body::Frame;
    use http_body_util::{Full, StreamBody};

    use super::*;

    fn chunks(
        parts: &[&'static str],
    ) -> StreamBody<impl futures_util::Stream<Item = Result<Frame<Bytes>, Infallible>>> {
        let frames = parts
            .iter()
            .map(|p| Ok(Frame::data(Bytes::from_static(p.as_bytes()))))
            .chain([Ok(Frame::trailers(http::HeaderMap::new()))]);
        StreamBody::new(stream::iter(frames.collect::<Vec<_>>()))
    }

    #[tokio::test]
    async fn a_body_in_one_chunk_is_that_chunk_not_a_copy() {
        let chunk = Bytes::from_static(b"{\"model\":\"m\"}");
        let whole = whole_body(Full::new(chunk.clone())).await.expect("read");
        assert_eq!(whole, chunk);
        assert_eq!(whole.as_ptr(), chunk.as_ptr());
    }

    #[tokio::test]
    async fn chunks_are_joined_in_order_and_trailers_dropped() {
        let whole = whole_body(chunks(&["{\"a\":", "1,", "\"b\":2}"]))
            .await
            .expect("read");
        assert_eq!(whole, Bytes::from_static(b"{\"a\":1,\"b\":2}"));
    }

    /// Data, then nothing ever again, though it says it has ended.
    struct EndsWithItsData(Option<Bytes>);

    impl Body for EndsWithItsData {
        type Data = Bytes;
        type Error = Infallible;

        fn poll_frame(
            mut self: std::pin::Pin<&mut Self>,
            _cx: &mut std::task::Context<'_>,
        ) -> std::task::Poll<Option<Result<Frame<Bytes>, Infallible>>> {
            match self.0.take() {
                Some(data) => std::task::Poll::Ready(Some(Ok(Frame::data(data)))),
                None => std::task::Poll::Pending,
            }
        }

        fn is_end_stream(&self) -> bool {
            self.0.is_none()
        }
    }

    #[test]
    fn a_body_that_says_it_ended_is_not_waited_for_again() {
        use futures_util::FutureExt;
        let body = EndsWithItsData(Some(Bytes::from_static(b"{}")));
        let whole = whole_body(body).now_or_never().expect("read in one poll");
        assert_eq!(whole.expect("read"), "{}");
    }

    #[tokio::test]
    async fn an_empty_body_is_empty() {
        assert!(whole_body(chunks(&[])).await.expect("read").is_empty());
    }
}
