//! The one interface of the provider stream decoders.

use infermux_core::Usage;

/// Turns one provider's stream items into OpenAI chunk JSON documents.
pub trait ChunkDecoder: Send + 'static {
    /// What the upstream stream yields (an SSE event, a block of bytes).
    type Item: Send + 'static;

    /// Decodes one item into zero or more chunk JSON documents; an error ends the stream.
    fn feed(&mut self, item: Self::Item) -> Result<Vec<String>, String>;

    /// Called once the upstream stream ended: the last documents, or an error when the stream
    /// ended before the provider's terminal event.
    fn finish(&mut self) -> Result<Vec<String>, String>;

    /// The usage seen so far.
    fn usage(&self) -> Usage;
}
