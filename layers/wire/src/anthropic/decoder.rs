//! Anthropic's event stream as a [`ChunkDecoder`] of the shared stream body.

use infermux_core::Usage;
use sse_stream::Sse;

use super::StreamTranslator;
use crate::ChunkDecoder;

impl ChunkDecoder for StreamTranslator {
    type Item = Sse;

    fn feed(&mut self, event: Sse) -> Result<Vec<String>, String> {
        self.on_event(&event).map_err(|e| e.to_string())
    }

    fn finish(&mut self) -> Result<Vec<String>, String> {
        if self.is_complete() {
            Ok(Vec::new())
        } else {
            Err("the stream ended before `message_stop`".to_owned())
        }
    }

    fn usage(&self) -> Usage {
        StreamTranslator::usage(self)
    }
}
