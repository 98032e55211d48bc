//! OpenAI chat streams forwarded as they arrive: an OpenAI or OpenAI-compatible provider's
//! events go to the client byte for byte, in the slices the provider's frames already are.
//!
//! Nothing is decoded per event. A byte scan finds the few events that matter: `[DONE]`, the
//! chunk carrying a `usage` object (parsed, and dropped when infermux asked for it on its own),
//! and an `error` member (parsed, and the stream ends as broken). Everything else is forwarded
//! untouched. Events that are not a single `data:` line (comments, `event:`/`id:` fields,
//! `\r\n` line ends, data split over several lines) are rare; they are re-framed as the
//! translated path writes them (`data: <data>\n\n`), and events without data are dropped, so
//! every consumer downstream (the client, the cost layer, the Messages and Responses
//! re-encoders) sees exactly what it saw from the translated path.
//!
//! The end of a stream behaves as in [`TranslatedBody`](super::TranslatedBody): `[DONE]` is
//! sent when the provider ends its body after it, a stream that breaks ends with an SSE error
//! event and no `[DONE]`, and the usage is recorded before the last frame goes out.

use std::{
    collections::VecDeque,
    future::poll_fn,
    pin::Pin,
    task::{Context, Poll, ready},
    time::Duration,
};

use bytes::{Bytes, BytesMut};
use http_body::{Body, Frame};
use infermux_core::{BoxError, StreamText, Usage, UsageSlot};
use infermux_wire::{
    chat_chunk::ChatChunk,
    openai::inspect_chunk,
    scan::{find_byte, trim_cr},
};

use super::stream::{DONE_EVENT, IdleDeadline, failure, sse_data};

/// The bytes of text a frame's events are read into before the buffer first grows: a short
/// answer's escaped text, which the buffer keeps from frame to frame.
const TEXT_CAPACITY: usize = 512;

/// An OpenAI chat stream passed on event by event, watched for usage, `[DONE]` and errors.
pub struct ForwardBody<B> {
    upstream: B,
    /// The start of an event whose end has not arrived yet.
    partial: BytesMut,
    pending: VecDeque<Bytes>,
    client_wants_usage: bool,
    /// The text of the events read since the last frame, for `slot` when it records the
    /// stream's text (the cost layer then reads it there instead of every event).
    text: Option<StreamText>,
    usage: Option<Usage>,
    done: bool,
    /// `[DONE]` went out in the provider's own bytes.
    done_forwarded: bool,
    ended: bool,
    sent_data: bool,
    failure: Option<String>,
    slot: UsageSlot,
    provider: String,
    idle: IdleDeadline,
}

/// What becomes of one event.
enum Action {
    /// Forwarded as it is.
    Keep,
    /// Not forwarded.
    Drop,
    /// Forwarded as its own frame (the usage chunk, which the cost layer amends).
    Alone,
    /// Forwarded re-framed as `data: <data>\n\n`.
    Replace(Bytes),
    /// The stream broke.
    Fail(String),
}

impl<B> ForwardBody<B>
where
    B: Body<Data = Bytes> + Unpin,
    B::Error: std::fmt::Display,
{
    /// Forwards `upstream`; `client_wants_usage` keeps the usage chunk; `idle_timeout` bounds
    /// the wait for each frame. The events' text is recorded in `slot` when it asks for it
    /// ([`UsageSlot::record_text`]).
    pub fn new(
        upstream: B,
        client_wants_usage: bool,
        slot: UsageSlot,
        provider: &str,
        idle_timeout: Duration,
    ) -> Self {
        Self {
            upstream,
            partial: BytesMut::new(),
            pending: VecDeque::new(),
            client_wants_usage,
            text: slot
                .records_text()
                .then(|| StreamText::with_capacity(TEXT_CAPACITY)),
            usage: None,
            done: false,
            done_forwarded: false,
            ended: false,
            sent_data: false,
            failure: None,
            slot,
            provider: provider.to_owned(),
            idle: IdleDeadline::new(idle_timeout),
        }
    }

    /// Waits until the first event is ready, so that a provider failing before sending any is
    /// a failed attempt (dispatch may fail over) rather than a broken stream.
    pub async fn first_chunk(&mut self) -> Result<(), String> {
        poll_fn(|cx| {
            while self.pending.is_empty() && !self.ended {
                ready!(self.poll_step(cx));
            }
            Poll::Ready(())
        })
        .await;
        match self.failure.take() {
            Some(failure) if !self.sent_data => Err(failure),
            _ => Ok(()),
        }
    }

    /// Reads one upstream frame and queues what it completes.
    fn poll_step(&mut self, cx: &mut Context<'_>) -> Poll<()> {
        if let Some(message) = self.idle.poll_expired(cx) {
            self.fail(&message);
            return Poll::Ready(());
        }
        match ready!(Pin::new(&mut self.upstream).poll_frame(cx)) {
            Some(Ok(frame)) => {
                self.idle.reset();
                // A body whose length is known says when its last frame came: the stream's
                // end is handled now, not after another wake-up, and goes out with it.
                let last = self.upstream.is_end_stream();
                if let Ok(data) = frame.into_data() {
                    self.feed(data, last);
                }
                if last {
                    self.upstream_ended();
                }
            }
            Some(Err(error)) => self.fail(&format!("connection to the provider broke: {error}")),
            None => self.upstream_ended(),
        }
        Poll::Ready(())
    }

    /// The provider's body ended: the stream is whole if `[DONE]` came.
    fn upstream_ended(&mut self) {
        if !self.partial.is_empty() {
            // A last event without its blank line still counts.
            self.partial.extend_from_slice(b"\n\n");
            self.feed(Bytes::new(), true);
        }
        if self.ended {
            return;
        }
        if self.done {
            if !self.done_forwarded {
                self.pending.push_back(Bytes::from_static(DONE_EVENT));
            }
            // Whole: the circuit breaker counts the stream a success.
            self.slot.mark_completed();
            self.end();
        } else {
            self.fail("the stream ended before `data: [DONE]`");
        }
    }

    /// Queues the events `data` completes, as slices of it where they pass unchanged; `last`
    /// when the provider's body ends with it.
    fn feed(&mut self, data: Bytes, last: bool) {
        let buf = if self.partial.is_empty() {
            data
        } else {
            self.partial.extend_from_slice(&data);
            self.partial.split().freeze()
        };
        let (mut at, mut emit_from) = (0, 0);
        let (queued, mut alone) = (self.pending.len(), false);
        while let Some((end, single)) = event_end(&buf, at) {
            if last && end == buf.len() && buf[at..end] == *DONE_EVENT {
                // The closing `[DONE]` at the very end of the body goes out as it came.
                self.done = true;
                self.done_forwarded = true;
                at = end;
                break;
            }
            let action = self.event(&buf[at..end], single);
            let cut = !matches!(action, Action::Keep);
            if cut && emit_from < at {
                self.pending.push_back(buf.slice(emit_from..at));
            }
            match action {
                Action::Keep => self.sent_data = true,
                Action::Drop => emit_from = end,
                Action::Alone => {
                    self.sent_data = true;
                    alone = true;
                    self.pending.push_back(buf.slice(at..end));
                    emit_from = end;
                }
                Action::Replace(event) => {
                    self.sent_data = true;
                    self.pending.push_back(event);
                    emit_from = end;
                }
                Action::Fail(message) => {
                    self.fail(&message);
                    return;
                }
            }
            at = end;
        }
        if emit_from < at {
            self.pending.push_back(buf.slice(emit_from..at));
        }
        if at < buf.len() {
            self.partial.extend_from_slice(&buf[at..]);
        }
        if let Some(text) = self.text.as_mut().filter(|text| !text.is_empty()) {
            self.slot.append_text(text);
        }
        if last && !alone && self.pending.len() > queued + 1 {
            // The body's last frame goes out as one frame, not as the slices around an event
            // left out: the cost layer holds the closing `[DONE]` until the cost is recorded,
            // and the client then gets the whole end of the stream in one write.
            let mut joined = BytesMut::new();
            for slice in self.pending.drain(queued..) {
                joined.extend_from_slice(&slice);
            }
            self.pending.push_back(joined.freeze());
        }
    }

    /// Decides what becomes of one whole event; `single` is the range of its data when the
    /// event is exactly one `data:` line ended by `\n\n`.
    fn event(&mut self, event: &[u8], single: Option<(usize, usize)>) -> Action {
        let (data, replaced) = match single {
            Some((start, end)) => (std::borrow::Cow::Borrowed(&event[start..end]), false),
            None => match joined_data(event) {
                Some(data) => (std::borrow::Cow::Owned(data), true),
                None => return Action::Drop,
            },
        };
        if data.trim_ascii() == b"[DONE]" {
            self.done = true;
            return Action::Drop;
        }
        let chunk = ChatChunk::scan(&data);
        if chunk.has_error() || chunk.has_usage_object() {
            match inspect_chunk(&data) {
                Err(message) => return Action::Fail(message),
                Ok(info) => {
                    if let Some(error) = info.error {
                        return Action::Fail(format!("the provider sent an error: {error}"));
                    }
                    if let Some(usage) = info.usage {
                        self.usage = Some(usage);
                        if info.usage_only {
                            if !self.client_wants_usage {
                                return Action::Drop;
                            }
                            if !replaced {
                                return Action::Alone;
                            }
                        }
                    }
                }
            }
        }
        if let Some(text) = self.text.as_mut() {
            chunk.append_text(text);
        }
        if replaced {
            Action::Replace(sse_data(&data))
        } else {
            Action::Keep
        }
    }

    fn fail(&mut self, message: &str) {
        let (event, message) = failure(&self.provider, message);
        self.pending.push_back(event);
        self.failure = Some(message);
        self.end();
    }

    fn end(&mut self) {
        self.ended = true;
        self.slot.set(self.usage.unwrap_or_default());
    }
}

/// The end of the event starting at `at` (just after its blank line), and, when the event is
/// one `data:` line ended by `\n\n`, the range of its data within the event (the one optional
/// space after the colon left out). `None` when the event is not complete in `buf`.
fn event_end(buf: &[u8], at: usize) -> Option<(usize, Option<(usize, usize)>)> {
    let rest = &buf[at..];
    let first = find_byte(rest, b'\n')?;
    if rest.get(first + 1) == Some(&b'\n') {
        let line = &rest[..first];
        let single = line.strip_prefix(b"data:").and_then(|data| {
            if data.last() == Some(&b'\r') {
                return None;
            }
            let start = 5 + usize::from(data.first() == Some(&b' '));
            Some((start, first))
        });
        return Some((at + first + 2, single));
    }
    // Several lines, or `\r\n` ends: the event ends at its first empty line.
    let mut line_start = 0;
    loop {
        let newline = line_start + find_byte(&rest[line_start..], b'\n')?;
        if trim_cr(&rest[line_start..newline]).is_empty() {
            return Some((at + newline + 1, None));
        }
        line_start = newline + 1;
    }
}

/// The data of an event in the general form: its `data:` lines joined with `\n`, as the SSE
/// specification reads them; `None` when it has none (a comment, a lone `event:` or `id:`).
fn joined_data(event: &[u8]) -> Option<Vec<u8>> {
    let mut data: Option<Vec<u8>> = None;
    for line in event.split(|b| *b == b'\n').map(trim_cr) {
        let Some(value) = line.strip_prefix(b"data") else {
            continue;
        };
        let value = match value {
            [] => value,
            [b':', b' ', rest @ ..] | [b':', rest @ ..] => rest,
            _ => continue,
        };
        match &mut data {
            Some(data) => {
                data.push(b'\n');
                data.extend_from_slice(value);
            }
            None => data = Some(value.to_vec()),
        }
    }
    data
}

impl<B> Body for ForwardBody<B>
where
    B: Body<Data = Bytes> + Unpin,
    B::Error: std::fmt::Display,
{
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        // Every field is `Unpin`.
        let this = self.get_mut();
        loop {
            if let Some(bytes) = this.pending.pop_front() {
                return Poll::Ready(Some(Ok(Frame::data(bytes))));
            }
            if this.ended {
                return Poll::Ready(None);
            }
            ready!(this.poll_step(cx));
        }
    }

    fn is_end_stream(&self) -> bool {
        self.pending.is_empty() && self.ended
    }
}

#[cfg(test)]
mod tests {
    use futures_util::stream;
    use http_body_util::{BodyExt, StreamBody};

    use super::*;

    type Upstream = StreamBody<stream::Iter<std::vec::IntoIter<Result<Frame<Bytes>, BoxError>>>>;

    fn upstream(pieces: &[&str]) -> Upstream {
        let frames: Vec<Result<Frame<Bytes>, BoxError>> = pieces
            .iter()
            .map(|p| Ok(Frame::data(Bytes::copy_from_slice(p.as_bytes()))))
            .collect();
        StreamBody::new(stream::iter(frames))
    }

    fn forward(pieces: &[&str], wants_usage: bool) -> (ForwardBody<Upstream>, UsageSlot) {
        let slot = UsageSlot::new();
        let body = ForwardBody::new(
            upstream(pieces),
            wants_usage,
            slot.clone(),
            "p",
            Duration::from_secs(5),
        );
        (body, slot)
    }

    /// The frames the client gets.
    async fn frames(mut body: ForwardBody<Upstream>) -> Vec<String> {
        let mut out = Vec::new();
        while let Some(frame) = body.frame().await {
            let data = frame.expect("frame").into_data().expect("data");
            out.push(String::from_utf8(data.to_vec()).expect("utf-8"));
        }
        out
    }

    const CONTENT: &str = "data: {\"choices\":[{\"delta\":{\"content\":\"Hi \\\"usage\\\": {\"}}],\"usage\":null}\n\n";
    const USAGE: &str =
        "data: {\"choices\":[],\"usage\":{\"prompt_tokens\":8,\"completion_tokens\":2}}\n\n";

    #[tokio::test]
    async fn events_pass_untouched_and_the_added_usage_chunk_is_dropped() {
        let whole = format!("{CONTENT}{CONTENT}{USAGE}data: [DONE]\n\n");
        let (body, slot) = forward(&[&whole], false);
        let out = frames(body).await;
        assert_eq!(out.concat(), format!("{CONTENT}{CONTENT}data: [DONE]\n\n"));
        let usage = slot.get().expect("usage");
        assert_eq!((usage.prompt_tokens, usage.completion_tokens), (8, 2));
        assert!(slot.is_completed(), "a whole stream is marked completed");
    }

    #[tokio::test]
    async fn a_wanted_usage_chunk_is_its_own_frame_whatever_the_split() {
        let whole = format!("{CONTENT}{USAGE}data: [DONE]\n\n");
        for split in [1, 7, CONTENT.len() + 3, whole.len() - 2] {
            let (head, tail) = whole.split_at(split);
            let (body, slot) = forward(&[head, tail], true);
            let out = frames(body).await;
            assert_eq!(out.concat(), whole, "split at {split}");
            assert!(out.contains(&USAGE.to_owned()), "split at {split}: {out:?}");
            assert_eq!(slot.get().map(|u| u.prompt_tokens), Some(8));
        }
    }

    #[tokio::test]
    async fn other_framings_are_re_framed_and_events_without_data_dropped() {
        let (body, _) = forward(
            &[
                ": keep-alive\n\n",
                "event: x\r\ndata:{\"choices\":[]}\r\n\r\n",
                "data: {\"a\":\ndata: 1}\n\n",
                "data:[DONE]\n\n",
            ],
            false,
        );
        let out = frames(body).await;
        assert_eq!(
            out.concat(),
            "data: {\"choices\":[]}\n\ndata: {\"a\":\n1}\n\ndata: [DONE]\n\n"
        );
    }

    #[tokio::test]
    async fn an_error_event_or_a_missing_done_breaks_the_stream() {
        let (body, _) = forward(
            &[
                CONTENT,
                "data: {\"error\":{\"message\":\"overloaded\"}}\n\n",
            ],
            false,
        );
        let out = frames(body).await.concat();
        assert!(out.starts_with(CONTENT), "{out}");
        assert!(
            out.contains("stream_interrupted") && out.contains("overloaded"),
            "{out}"
        );
        assert!(!out.contains("[DONE]"));
        let (body, slot) = forward(&[CONTENT], false);
        let out = frames(body).await.concat();
        assert!(out.contains("ended before `data: [DONE]`"), "{out}");
        assert!(!slot.is_completed(), "a cut stream is not completed");
    }

    #[tokio::test]
    async fn failing_before_the_first_event_is_a_failed_attempt() {
        let (mut b, _) = forward(&["data: {\"error\":{\"message\":\"busy\"}}\n\n"], false);
        assert!(b.first_chunk().await.is_err_and(|e| e.contains("busy")));
        let (mut b, _) = forward(
            &[": comment\n\n", CONTENT, "data: {\"error\":1}\n\n"],
            false,
        );
        assert_eq!(b.first_chunk().await, Ok(()));
    }

    #[tokio::test]
    async fn the_events_text_is_recorded_when_the_slot_asks_for_it() {
        let whole = format!("{CONTENT}{CONTENT}{USAGE}data: [DONE]\n\n");
        let (_, tail) = whole.split_at(7);
        let slot = UsageSlot::new();
        slot.record_text();
        let body = ForwardBody::new(
            upstream(&[&whole[..7], tail]),
            false,
            slot.clone(),
            "p",
            Duration::from_secs(5),
        );
        frames(body).await;
        let text = slot.take_text().expect("recorded").decode();
        assert_eq!(text, "Hi \"usage\": {Hi \"usage\": {");
        let (body, slot) = forward(&[&whole], false);
        frames(body).await;
        assert_eq!(slot.take_text(), None, "not asked, not recorded");
    }

    #[tokio::test]
    async fn a_body_of_known_length_ends_with_its_last_frame() {
        let whole = format!("{CONTENT}{CONTENT}{USAGE}data: [DONE]\n\n");
        let slot = UsageSlot::new();
        let mut body = ForwardBody::new(
            http_body_util::Full::new(Bytes::from(whole.clone())),
            false,
            slot.clone(),
            "p",
            Duration::from_secs(5),
        );
        let frame = body.frame().await.expect("frame").expect("data");
        let sent = format!("{CONTENT}{CONTENT}data: [DONE]\n\n");
        assert_eq!(frame.into_data().expect("data"), sent.as_bytes());
        assert!(
            body.is_end_stream(),
            "the end is known without another poll"
        );
        assert!(slot.is_completed(), "a whole stream is marked completed");
    }

    #[tokio::test]
    async fn a_last_event_without_its_blank_line_still_counts() {
        let (body, _) = forward(&[CONTENT, "data: [DONE]"], false);
        assert_eq!(
            frames(body).await.concat(),
            format!("{CONTENT}data: [DONE]\n\n")
        );
    }
}
