//! Counting tokens before anything is sent: the pre-send estimate.
//!
//! Ingress counts each request's prompt once, here, into its [`TokenEstimate`]; the
//! `cost_weighted` strategy and budget reservations both price that estimate, and the cost
//! layer counts the text of abandoned streams with the same [`BpeTokenCounter`].
//!
//! * **OpenAI-family models** (every model [tiktoken] knows: `gpt-4o*`, `gpt-4.1*`, `gpt-5*`,
//!   `o1`/`o3`/`o4-mini`, `gpt-4`, `gpt-3.5-turbo`, `text-embedding-*`, fine-tunes of them) are
//!   counted exactly with their BPE tokenizer (`o200k_base` or `cl100k_base`), plus OpenAI's
//!   chat framing: 3 tokens per message, 1 per `name`, 3 to prime the reply. A single user
//!   message `"hi"` is 8 prompt tokens, as OpenAI bills it.
//! * **Other models** (Claude, Llama, Gemini, Mistral, ...) have no public tokenizer to run
//!   offline, so they are approximated as one token per 4 bytes of UTF-8 text, rounded up
//!   (OpenAI's and Anthropic's published rule of thumb for English; CJK text is counted closer
//!   to its real cost than per-character rules do), with the same chat framing.
//! * Images count as 85 tokens each (OpenAI's low-detail figure); tool definitions count as
//!   their name, description and JSON parameters.
//!
//! A prompt's long texts (1 KiB and more) are counted once and then remembered by their hash
//! (`remembered.rs`), since an agent sends its whole conversation again at each turn: a turn
//! costs the count of its new messages, not of everything said so far.
//!
//! It is an estimate: what a request finally costs comes from the usage the provider reports.
//! The tokenizer tables load on first use, on the blocking pool, so an idle process holds none
//! and no runtime worker waits for one (see `tables.rs`). `o200k_base` and `cl100k_base` are
//! compact tables (`compact`): about 20–30 ms to build and, for `o200k_base`, a 1.2 MiB index
//! on the heap over token bytes borrowed from the binary (where tiktoken-rs's `CoreBPE` peaks
//! at 32 MB); the legacy `p50k_base` and `r50k_base` are tiktoken-rs's (about 100 ms and
//! 25 MiB each).
//!
//! [tiktoken]: https://github.com/openai/tiktoken

use infermux_core::{
    RequestBody, TokenCounter, TokenEstimate,
    chat::{ChatMessage, ChatRequest, MessageContent},
};
use serde_json::Value;

mod compact;
mod merge;
mod remembered;
mod tables;
mod threads;
mod vocab;

use tables::Table;

/// Framing tokens of each chat message (OpenAI's `tokens_per_message`).
const TOKENS_PER_MESSAGE: u64 = 3;
/// Extra token of a message's `name`.
const TOKENS_PER_NAME: u64 = 1;
/// Tokens that prime the assistant's reply, once per request.
const REPLY_PRIMING: u64 = 3;
/// Extra tokens of each tool call in a message.
const TOKENS_PER_TOOL_CALL: u64 = 1;
/// The estimate of one image in a message.
const TOKENS_PER_IMAGE: u64 = 85;
/// Bytes of text per token for models without a known tokenizer.
const BYTES_PER_TOKEN: u64 = 4;

/// Counts tokens exactly with OpenAI's BPE tokenizers for OpenAI-family models and
/// approximately (4 bytes per token) for others. A zero-sized handle to process-wide tables:
/// `Copy`, free to clone or share.
#[derive(Clone, Copy, Debug, Default)]
pub struct BpeTokenCounter;

impl BpeTokenCounter {
    /// The counter.
    pub const fn new() -> Self {
        Self
    }

    /// The prompt-token estimate of `body`: chat messages with their framing, or every
    /// embeddings input; and the completion cap the client set, if any. Every text is counted.
    pub fn estimate(&self, body: &RequestBody) -> TokenEstimate {
        self.estimate_in(body, None)
    }

    /// The estimate of `request`, as [`estimate`](Self::estimate) makes it, except that the
    /// long texts its caller (or the API key it presents) sent before are not counted again:
    /// their counts are remembered, for that caller or key only.
    pub fn estimate_request(&self, request: &infermux_core::InferRequest) -> TokenEstimate {
        let scope = remembering_scope(&request.caller, request.client_key.as_ref());
        self.estimate_in(&request.body, Some(scope))
    }

    /// The estimate of `body`, remembering long texts' counts within `scope` if given.
    fn estimate_in(&self, body: &RequestBody, scope: Option<&str>) -> TokenEstimate {
        match body {
            RequestBody::Chat(chat) => TokenEstimate {
                prompt_tokens: self.chat_prompt(&Encoder::new(&chat.model, scope), chat),
                max_completion_tokens: chat.output_limit(),
            },
            RequestBody::Embeddings(embeddings) => TokenEstimate {
                prompt_tokens: self
                    .embeddings_input(&Encoder::new(&embeddings.model, scope), &embeddings.input),
                max_completion_tokens: None,
            },
        }
    }

    fn chat_prompt(&self, encoder: &Encoder<'_>, chat: &ChatRequest) -> u64 {
        let messages: u64 = chat
            .messages
            .iter()
            .map(|message| self.message(encoder, message))
            .sum();
        let tools: u64 = chat
            .tools
            .iter()
            .flatten()
            .map(|tool| {
                let function = &tool.function;
                encoder.count(&function.name)
                    + function
                        .description
                        .as_deref()
                        .map_or(0, |d| encoder.count(d))
                    + function
                        .parameters
                        .as_ref()
                        .map_or(0, |p| encoder.count(&p.to_string()))
            })
            .sum();
        messages + tools + REPLY_PRIMING
    }

    fn message(&self, encoder: &Encoder<'_>, message: &ChatMessage) -> u64 {
        let mut tokens = TOKENS_PER_MESSAGE + encoder.count(&message.role);
        match &message.content {
            Some(MessageContent::Text(text)) => tokens += encoder.count(text),
            Some(MessageContent::Parts(parts)) => {
                for part in parts {
                    if let Some(text) = &part.text {
                        tokens += encoder.count(text);
                    }
                    if part.image_url.is_some() {
                        tokens += TOKENS_PER_IMAGE;
                    }
                }
            }
            None => {}
        }
        if let Some(name) = &message.name {
            tokens += encoder.count(name) + TOKENS_PER_NAME;
        }
        for call in message.tool_calls.iter().flatten() {
            tokens += encoder.count(&call.function.name)
                + encoder.count(&call.function.arguments)
                + TOKENS_PER_TOOL_CALL;
        }
        tokens
    }

    /// Embeddings input: a string, a list of strings, a list of token ids, or a list of
    /// lists of token ids (already counted).
    fn embeddings_input(&self, encoder: &Encoder<'_>, input: &Value) -> u64 {
        match input {
            Value::String(text) => encoder.count(text),
            Value::Array(items) => items
                .iter()
                .map(|item| match item {
                    Value::String(text) => encoder.count(text),
                    Value::Array(ids) => ids.len() as u64,
                    Value::Number(_) => 1,
                    _ => 0,
                })
                .sum(),
            _ => 0,
        }
    }
}

/// Request bodies larger than this are counted on a counting thread, never on a runtime
/// worker: counting costs about 15 ms per MiB (release build, `o200k_base`), so a large
/// prompt counted inline would hold every other request on that worker.
pub const INLINE_ESTIMATE_BYTES: usize = 16 * 1024;

/// Sets `request.estimate` at once when that is cheap (a body of `body_len` bytes up to
/// [`INLINE_ESTIMATE_BYTES`], counted with a table already built) and says whether it did;
/// otherwise [`with_estimate`] counts it.
pub fn estimate_inline(
    counter: BpeTokenCounter,
    request: &mut infermux_core::InferRequest,
    body_len: usize,
) -> bool {
    if body_len > INLINE_ESTIMATE_BYTES || !counter.ready(request.body.model()) {
        return false;
    }
    request.estimate = counter.estimate_request(request);
    true
}

/// Sets `request.estimate`: inline for a body of `body_len` bytes up to
/// [`INLINE_ESTIMATE_BYTES`], else on one of the few threads that count long prompts, so
/// that the request waits for its own count only and other requests on the same worker are
/// not delayed. The first count that needs a tokenizer table builds it on the blocking pool
/// first (once, however many requests wait for it).
///
/// # Errors
///
/// When the count could not finish (it panicked).
pub async fn with_estimate(
    counter: BpeTokenCounter,
    mut request: infermux_core::InferRequest,
    body_len: usize,
) -> Result<infermux_core::InferRequest, tokio::sync::oneshot::error::RecvError> {
    if !counter.ready(request.body.model()) {
        load_table(request.body.model()).await;
    }
    if estimate_inline(counter, &mut request, body_len) {
        return Ok(request);
    }
    let (counted, done) = tokio::sync::oneshot::channel();
    threads::run(move || {
        request.estimate = counter.estimate_request(&request);
        let _ = counted.send(request);
    });
    done.await
}

/// Whether `model` is counted with a BPE table (an OpenAI-family model): the count that
/// costs, where others are a token per four bytes.
pub fn counts_exactly(model: &str) -> bool {
    Table::for_model(model).is_some()
}

/// Leaves the prompt of `request`, a chat request whose client sent `body`, uncounted: its
/// completion cap is read now, and its prompt is counted from `body` only if
/// [`DeferredCount::count`](infermux_core::DeferredCount::count) is called.
pub fn defer_count(
    counter: BpeTokenCounter,
    request: &mut infermux_core::InferRequest,
    body: bytes::Bytes,
) {
    let max_completion_tokens = match &request.body {
        RequestBody::Chat(chat) => chat.output_limit(),
        RequestBody::Embeddings(_) => None,
    };
    request.estimate = TokenEstimate {
        prompt_tokens: 0,
        max_completion_tokens,
    };
    let (caller, key) = (request.caller.clone(), request.client_key.clone());
    request.deferred_count = Some(infermux_core::DeferredCount::new(move || {
        match serde_json::from_slice::<ChatRequest>(&body) {
            Ok(chat) => {
                let scope = remembering_scope(&caller, key.as_ref());
                counter
                    .estimate_in(&RequestBody::Chat(chat), Some(scope))
                    .prompt_tokens
            }
            // It parsed at ingress; should it not now, a token per four bytes.
            Err(_) => (body.len() as u64).div_ceil(BYTES_PER_TOKEN),
        }
    }));
}

/// Builds the table `model` is counted with on the blocking pool, once: requests arriving
/// while it builds wait for it here, on the runtime, rather than each taking a blocking
/// thread (each thread costs a stack and, with glibc, possibly a malloc arena of its own).
async fn load_table(model: &str) {
    static LOADING: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());
    let Some(table) = Table::for_model(model) else {
        return;
    };
    let _loading = LOADING.lock().await;
    if !table.is_loaded() {
        let _ = tokio::task::spawn_blocking(move || {
            let _ = table.get();
        })
        .await;
    }
}

impl TokenCounter for BpeTokenCounter {
    fn count(&self, model: &str, text: &str) -> u64 {
        Encoder::new(model, None).count(text)
    }

    fn ready(&self, model: &str) -> bool {
        Table::for_model(model).is_none_or(Table::is_loaded)
    }
}

/// Loads the BPE tables that `models` are counted with now (20–30 ms and 2–3 MiB for
/// `o200k_base` or `cl100k_base` with their patterns; about 100 ms and 25 MiB for a legacy
/// table). `serve` does not call it: tables load on first use, so that an idle process holds
/// none; benches call it to leave the first load out of their figures. Call it off the async
/// runtime's worker threads (`spawn_blocking`).
pub fn warm_up<'a>(models: impl IntoIterator<Item = &'a str>) {
    for model in models {
        if let Some(table) = Table::for_model(model) {
            let _ = table.get();
        }
    }
}

/// Whose remembered counts a request's texts are looked up in: the API key it presents, or
/// else its caller.
fn remembering_scope<'r>(
    caller: &'r infermux_core::Caller,
    key: Option<&'r infermux_core::ClientKey>,
) -> &'r str {
    key.map_or(caller.as_str(), infermux_core::ClientKey::expose)
}

/// How one model's text is counted.
struct Encoder<'s> {
    /// The model's BPE table; `None`: a token per [`BYTES_PER_TOKEN`] bytes.
    table: Option<Table>,
    /// Whose remembered counts long texts are looked up in; `None`: every text is counted.
    scope: Option<&'s str>,
}

impl<'s> Encoder<'s> {
    fn new(model: &str, scope: Option<&'s str>) -> Self {
        Self {
            table: Table::for_model(model),
            scope,
        }
    }

    /// Counts a prompt's `text`: a long text counted before within the scope, as an agent's
    /// conversation sends its earlier turns again, is remembered rather than counted again.
    fn count(&self, text: &str) -> u64 {
        match (self.table, self.scope) {
            (Some(table), Some(scope)) => remembered::REMEMBERED
                .count(scope, table, text, |text| table.get().count_ordinary(text))
                as u64,
            (Some(table), None) => table.get().count_ordinary(text) as u64,
            (None, _) => (text.len() as u64).div_ceil(BYTES_PER_TOKEN),
        }
    }
}

#[cfg(test)]
mod tests {
    use infermux_core::embeddings::EmbeddingsRequest;

    use super::*;

    fn chat(json: serde_json::Value) -> RequestBody {
        RequestBody::Chat(serde_json::from_value(json).expect("valid chat"))
    }

    #[test]
    fn hi_to_gpt_4o_mini_is_8_prompt_tokens_as_openai_bills_it() {
        let body = chat(serde_json::json!({
            "model": "gpt-4o-mini", "max_tokens": 50,
            "messages": [{"role": "user", "content": "hi"}]
        }));
        let estimate = BpeTokenCounter.estimate(&body);
        assert_eq!(estimate.prompt_tokens, 8);
        assert_eq!(estimate.max_completion_tokens, Some(50));
    }

    #[test]
    fn a_deferred_count_is_the_estimate_ingress_would_have_made() {
        let json = serde_json::json!({
            "model": "gpt-4o-mini", "max_completion_tokens": 64,
            "messages": [
                {"role": "system", "content": "Answer in one line."},
                {"role": "user", "content": "Why is the sky blue? ".repeat(1000)}
            ]
        });
        let bytes = bytes::Bytes::from(json.to_string());
        let mut request = infermux_core::InferRequest::new(chat(json), "a".into(), "r".into());
        let eager = BpeTokenCounter.estimate(&request.body);
        defer_count(BpeTokenCounter, &mut request, bytes);
        assert_eq!(request.estimate.prompt_tokens, 0, "nothing counted yet");
        assert_eq!(
            request.estimate.max_completion_tokens,
            Some(64),
            "the cap read now"
        );
        let deferred = request.deferred_count.expect("a deferred count");
        assert!(eager.prompt_tokens > 5000);
        assert_eq!(deferred.count(), eager.prompt_tokens);
    }

    #[tokio::test]
    async fn ingress_counts_exactly_whether_or_not_the_table_is_loaded_yet() {
        // The first count of a process builds the table on the blocking pool; later ones
        // count inline. Both give the exact figure.
        for _ in 0..2 {
            let body = chat(serde_json::json!({
                "model": "gpt-4o-mini",
                "messages": [{"role": "user", "content": "hi"}]
            }));
            let request = infermux_core::InferRequest::new(
                body,
                infermux_core::Caller::new("bench"),
                infermux_core::RequestId::new("r"),
            );
            let request = with_estimate(BpeTokenCounter, request, 64)
                .await
                .expect("counted");
            assert_eq!(request.estimate.prompt_tokens, 8);
        }
        assert!(BpeTokenCounter.ready("gpt-4o-mini"));
        assert!(
            BpeTokenCounter.ready("claude-haiku-3-5"),
            "no table to load"
        );
    }

    #[test]
    fn only_a_short_prompt_with_its_table_built_is_counted_inline() {
        let request = |model: &str| {
            let body = chat(serde_json::json!({
                "model": model,
                "messages": [{"role": "user", "content": "hi"}]
            }));
            let (caller, id) = (
                infermux_core::Caller::new("c"),
                infermux_core::RequestId::new("r"),
            );
            infermux_core::InferRequest::new(body, caller, id)
        };
        // No table to build for a Claude model: counted at once when short.
        let mut short = request("claude-haiku-3-5");
        assert!(estimate_inline(BpeTokenCounter, &mut short, 64));
        assert!(short.estimate.prompt_tokens > 0);
        let mut long = request("claude-haiku-3-5");
        assert!(!estimate_inline(
            BpeTokenCounter,
            &mut long,
            INLINE_ESTIMATE_BYTES + 1
        ));
        assert_eq!(
            long.estimate.prompt_tokens, 0,
            "left to the counting threads"
        );
    }

    #[tokio::test]
    async fn a_long_prompt_counts_off_the_runtime_as_it_counts_inline() {
        let text = "The quick brown fox jumps over the lazy dog, twice. ".repeat(1_000);
        let body = chat(serde_json::json!({
            "model": "gpt-4o-mini",
            "messages": [{"role": "user", "content": text}]
        }));
        let inline = BpeTokenCounter.estimate(&body);
        let request = infermux_core::InferRequest::new(
            body,
            infermux_core::Caller::new("bench"),
            infermux_core::RequestId::new("r"),
        );
        let request = with_estimate(BpeTokenCounter, request, INLINE_ESTIMATE_BYTES + 1)
            .await
            .expect("counted");
        assert_eq!(request.estimate.prompt_tokens, inline.prompt_tokens);
        assert!(inline.prompt_tokens > 10_000, "{inline:?}");
    }

    #[test]
    fn a_conversation_sent_again_counts_the_same_as_counted_afresh() {
        let history = "The agent reads the failing test and edits the function. ".repeat(200);
        let turn = |last: &str| {
            let body = chat(serde_json::json!({
                "model": "gpt-4o",
                "messages": [
                    {"role": "system", "content": history},
                    {"role": "user", "content": last}
                ]
            }));
            infermux_core::InferRequest::new(body, "agent".into(), "r".into())
        };
        let first = turn("Run the tests.");
        let again = turn("Run the tests again, please.");
        for request in [&first, &again] {
            assert_eq!(
                BpeTokenCounter.estimate_request(request),
                BpeTokenCounter.estimate(&request.body),
                "the remembered history and the new message add up exactly"
            );
        }
        assert!(
            BpeTokenCounter.estimate(&again.body).prompt_tokens > 2_000,
            "the history is long enough to be remembered"
        );
    }

    #[test]
    fn openai_models_count_exactly_with_their_bpe() {
        // "Hello, world!" is 4 tokens in both o200k_base and cl100k_base.
        assert_eq!(BpeTokenCounter.count("gpt-4o", "Hello, world!"), 4);
        assert_eq!(BpeTokenCounter.count("gpt-4", "Hello, world!"), 4);
        assert_eq!(
            BpeTokenCounter.count("text-embedding-3-small", "Hello, world!"),
            4
        );
    }

    #[test]
    fn other_models_are_approximated_at_4_bytes_per_token() {
        assert_eq!(
            BpeTokenCounter.count("claude-haiku-3-5", "Hello, world!"),
            4
        );
        assert_eq!(BpeTokenCounter.count("llama3.2", "hi"), 1);
        assert_eq!(BpeTokenCounter.count("llama3.2", ""), 0);
    }

    #[test]
    fn framing_names_parts_images_and_tools_count() {
        let body = chat(serde_json::json!({
            "model": "gpt-4o-mini",
            "max_completion_tokens": 7, "max_tokens": 50,
            "messages": [
                {"role": "system", "content": "hi", "name": "x"},
                {"role": "user", "content": [
                    {"type": "text", "text": "hi"},
                    {"type": "image_url", "image_url": {"url": "data:image/png;base64,AAAA"}}
                ]}
            ],
            "tools": [{"type": "function", "function": {"name": "f"}}]
        }));
        let estimate = BpeTokenCounter.estimate(&body);
        // system: 3 + role 1 + "hi" 1 + name 1 + 1; user: 3 + 1 + 1 + 85; tool: 1; priming 3.
        assert_eq!(estimate.prompt_tokens, 7 + 90 + 1 + 3);
        assert_eq!(estimate.max_completion_tokens, Some(7));
    }

    #[test]
    fn embeddings_inputs_of_every_shape_count() {
        let body = |input: serde_json::Value| {
            let request: EmbeddingsRequest = serde_json::from_value(serde_json::json!({
                "model": "text-embedding-3-small", "input": input
            }))
            .expect("valid");
            RequestBody::Embeddings(request)
        };
        let count = |input| BpeTokenCounter.estimate(&body(input)).prompt_tokens;
        assert_eq!(count(serde_json::json!("Hello, world!")), 4);
        assert_eq!(count(serde_json::json!(["Hello, world!", "hi"])), 5);
        assert_eq!(count(serde_json::json!([1, 2, 3])), 3);
        assert_eq!(count(serde_json::json!([[1, 2], [3]])), 3);
    }
}
