//! Black-box tests of the mock servers, through a raw hyper client over loopback.

mod anthropic;
mod faults;
mod ollama;
mod openai;
mod support;
