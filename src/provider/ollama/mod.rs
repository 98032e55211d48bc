//! Ollama native API adapter.
