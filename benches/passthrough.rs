//! Same-protocol passthrough next to today's stream path, per chunk, in process.
//!
//! One streamed Anthropic answer of 64 text deltas (plus `message_start`, the block events,
//! `message_delta` and `message_stop`), as the provider's bytes:
//!
//! - `anthropic_stream/forward_only`: the floor: each chunk handed on untouched;
//! - `anthropic_stream/passthrough_observe`: what a `/v1/messages` client gets from an
//!   `anthropic` provider: each chunk handed on untouched while
//!   `infermux_wire::passthrough::UsageObserver` looks for usage (only the two `data:` lines
//!   that carry `"usage"` are parsed);
//! - `anthropic_stream/translate_to_openai`: the translated path that a chat client takes on an
//!   `anthropic` provider: every event parsed and re-encoded as an OpenAI chunk
//!   (`infermux_wire::anthropic::StreamTranslator`; SSE framing already done, so this
//!   understates it);
//! - `openai_stream/stream_filter`: one `serde_json` probe per chunk
//!   (`infermux_wire::openai::StreamFilter`), 64 chunks;
//! - `openai_stream/chunk_scan`: what the chat passthrough on an `openai` provider does per
//!   chunk: one search for the `error`, `usage`, `tool_calls` and `content` members at once,
//!   and the content's text recorded (`infermux_wire::chat_chunk::ChatChunk`);
//! - `openai_stream/search_per_member`: the same facts found the way it was done before, one
//!   search per member name.
//!
//! Run with `cargo bench --bench passthrough` (append `-- --measurement-time 3
//! --warm-up-time 1` for a quicker pass). Results: `docs/PERFORMANCE.md`, "Passthrough".

use std::hint::black_box;

use bytes::Bytes;
use criterion::{BatchSize, Criterion, Throughput, criterion_group, criterion_main};
use infermux_core::StreamText;
use infermux_wire::{
    ChunkDecoder,
    anthropic::StreamTranslator,
    chat_chunk::ChatChunk,
    openai::StreamFilter,
    passthrough::UsageObserver,
    scan::{Key, Needle, keys, string_end},
};
use serde_json::json;
use sse_stream::Sse;

const DELTAS: usize = 64;

/// The Anthropic events of one answer: (event name, data).
fn anthropic_events() -> Vec<(String, String)> {
    let mut events = vec![(
        "message_start".to_owned(),
        json!({"type": "message_start", "message": {"id": "msg_1", "type": "message", "role": "assistant",
            "model": "claude-sonnet-4-5", "content": [], "stop_reason": null, "stop_sequence": null,
            "usage": {"input_tokens": 812, "cache_creation_input_tokens": 0, "cache_read_input_tokens": 0, "output_tokens": 1}}})
        .to_string(),
    )];
    events.push((
        "content_block_start".to_owned(),
        json!({"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}}).to_string(),
    ));
    for i in 0..DELTAS {
        events.push((
            "content_block_delta".to_owned(),
            json!({"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": format!("word{i} ")}}).to_string(),
        ));
    }
    events.push((
        "content_block_stop".to_owned(),
        json!({"type": "content_block_stop", "index": 0}).to_string(),
    ));
    events.push((
        "message_delta".to_owned(),
        json!({"type": "message_delta", "delta": {"stop_reason": "end_turn", "stop_sequence": null}, "usage": {"output_tokens": 64}}).to_string(),
    ));
    events.push((
        "message_stop".to_owned(),
        json!({"type": "message_stop"}).to_string(),
    ));
    events
}

fn bench(c: &mut Criterion) {
    let events = anthropic_events();
    let chunks: Vec<Bytes> = events
        .iter()
        .map(|(name, data)| Bytes::from(format!("event: {name}\ndata: {data}\n\n")))
        .collect();
    let parsed: Vec<Sse> = events
        .iter()
        .map(|(name, data)| Sse {
            event: Some(name.clone()),
            data: Some(data.clone()),
            ..Sse::default()
        })
        .collect();

    let mut group = c.benchmark_group("anthropic_stream");
    group.throughput(Throughput::Elements(chunks.len() as u64));
    group.bench_function("forward_only", |b| {
        b.iter(|| {
            for chunk in &chunks {
                black_box(chunk.clone());
            }
        });
    });
    group.bench_function("passthrough_observe", |b| {
        b.iter(|| {
            let mut observer = UsageObserver::new();
            for chunk in &chunks {
                observer.observe(chunk);
                black_box(chunk.clone());
            }
            black_box(observer.usage())
        });
    });
    group.bench_function("translate_to_openai", |b| {
        b.iter_batched(
            || parsed.clone(),
            |events| {
                let mut translator = StreamTranslator::new(0, false);
                for event in events {
                    black_box(translator.feed(event).ok());
                }
                black_box(ChunkDecoder::usage(&translator))
            },
            BatchSize::SmallInput,
        );
    });
    group.finish();

    let openai: Vec<Sse> = (0..DELTAS)
        .map(|i| Sse {
            data: Some(
                json!({"id": "chatcmpl-1", "object": "chat.completion.chunk", "created": 0, "model": "gpt-4o-mini",
                    "choices": [{"index": 0, "delta": {"content": format!("word{i} ")}, "finish_reason": null}]})
                .to_string(),
            ),
            ..Sse::default()
        })
        .collect();
    let mut group = c.benchmark_group("openai_stream");
    group.throughput(Throughput::Elements(openai.len() as u64));
    group.bench_function("stream_filter", |b| {
        b.iter_batched(
            || openai.clone(),
            |events| {
                let mut filter = StreamFilter::new(false);
                for event in events {
                    black_box(filter.feed(event).ok());
                }
            },
            BatchSize::SmallInput,
        );
    });
    let chunks: Vec<Vec<u8>> = openai
        .iter()
        .filter_map(|event| event.data.clone())
        .map(String::into_bytes)
        .collect();
    group.bench_function("chunk_scan", |b| {
        b.iter(|| {
            let mut text = StreamText::default();
            for json in &chunks {
                let chunk = ChatChunk::scan(json);
                black_box((chunk.has_error(), chunk.has_usage_object()));
                chunk.append_text(&mut text);
            }
            text
        });
    });
    let (tool_calls, content) = (Needle::new(b"\"tool_calls\""), Key::new("\"content\""));
    group.bench_function("search_per_member", |b| {
        b.iter(|| {
            let mut text = StreamText::default();
            for json in &chunks {
                black_box(keys::ERROR.first_value(json).is_some());
                black_box(keys::USAGE.has_object(json));
                black_box(tool_calls.is_in(json));
                for at in content.values(json) {
                    if let Some(end) = string_end(json, at) {
                        text.push_raw(&json[at + 1..end - 1]);
                    }
                }
            }
            text
        });
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
