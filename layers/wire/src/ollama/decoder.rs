//! Ollama's NDJSON stream as a [`ChunkDecoder`] of the shared stream body.

use bytes::Bytes;
use infermux_core::Usage;

use super::NdjsonTranslator;
use crate::ChunkDecoder;

impl ChunkDecoder for NdjsonTranslator {
    type Item = Bytes;

    fn feed(&mut self, bytes: Bytes) -> Result<Vec<String>, String> {
        self.push(&bytes).map_err(|e| e.to_string())
    }

    fn finish(&mut self) -> Result<Vec<String>, String> {
        let chunks = NdjsonTranslator::finish(self).map_err(|e| e.to_string())?;
        if self.is_complete() {
            Ok(chunks)
        } else {
            Err("the stream ended before the final `done: true` line".to_owned())
        }
    }

    fn usage(&self) -> Usage {
        NdjsonTranslator::usage(self)
    }
}
