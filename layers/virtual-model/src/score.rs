//! The complexity scorer: a request -> a score in [0, 1] and the signals behind it.
//!
//! Local and deterministic: no network, no model, no allocation proportional to the prompt.
//! It reads the request's shape (prompt tokens, tools, images, structured output, turns,
//! requested reasoning effort) and counts marker phrases ([`crate::markers`]) in at most
//! [`SCAN_BUDGET`] bytes of text: the head of the system prompt and the head and tail of the
//! last user turn. A long prompt therefore costs what a 10 KB one does; its length is a
//! signal of its own.
//!
//! The score is a logistic function of a weighted sum of the signals' features
//! ([`Weights`]), so it reads as "how likely this request needs the strong tier"; tiers are
//! chosen by thresholds on it.

use std::{
    fmt::{self, Write as _},
    sync::OnceLock,
};

use aho_corasick::{AhoCorasick, AhoCorasickKind, MatchKind};
use infermux_core::chat::{ChatRequest, MessageContent};
use serde_json::Value;

use crate::{Weights, markers::Marker};

/// Bytes of the last user turn read from its start.
const USER_HEAD: usize = 3 * 1024;
/// Bytes of the last user turn read from its end, when it is longer than the head.
const USER_TAIL: usize = 1024;
/// Bytes of the system prompt read from its start.
const SYSTEM_HEAD: usize = 1024;
/// The most text one request has scanned.
pub const SCAN_BUDGET: usize = USER_HEAD + USER_TAIL + SYSTEM_HEAD;

/// The reasoning effort a client asked for (`reasoning_effort`, `reasoning.effort`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord)]
pub enum Effort {
    /// Not asked, `none` or `minimal`.
    #[default]
    None,
    /// `low`.
    Low,
    /// `medium`.
    Medium,
    /// `high` or above.
    High,
}

impl Effort {
    fn parse(value: &str) -> Self {
        match value {
            "low" => Self::Low,
            "medium" => Self::Medium,
            "high" | "xhigh" | "max" => Self::High,
            _ => Self::None,
        }
    }

    fn feature(self) -> f32 {
        match self {
            Self::None => 0.0,
            Self::Low => 0.25,
            Self::Medium => 0.6,
            Self::High => 1.0,
        }
    }

    fn as_str(self) -> &'static str {
        match self {
            Self::None => "none",
            Self::Low => "low",
            Self::Medium => "medium",
            Self::High => "high",
        }
    }
}

/// What the scorer read from one request.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Signals {
    /// Prompt tokens (the ingress estimate).
    pub tokens: u64,
    /// Code markers.
    pub code: u32,
    /// Maths markers.
    pub maths: u32,
    /// Reasoning markers.
    pub reasoning: u32,
    /// Multi-step markers.
    pub steps: u32,
    /// Routine-task markers.
    pub light: u32,
    /// Question marks in the last user turn.
    pub questions: u32,
    /// Tools offered.
    pub tools: u32,
    /// Images in the conversation.
    pub images: u32,
    /// A JSON schema asked for.
    pub structured: bool,
    /// Messages in the conversation besides the system prompt.
    pub turns: u32,
    /// Requested reasoning effort.
    pub effort: Effort,
}

/// The features, each in [0, 1], in the order of [`Weights::features`].
pub(crate) type Features = [f32; 12];

impl Signals {
    /// Each signal as a feature in [0, 1]; counts saturate, length is logarithmic.
    pub(crate) fn features(&self) -> Features {
        let cap = |n: u32, at: u32| n.min(at) as f32 / at as f32;
        // 32 tokens -> 0, 8192 tokens -> 1.
        let length = (((self.tokens.max(1) as f32).log2() - 5.0) / 8.0).clamp(0.0, 1.0);
        [
            length,
            cap(self.code, 4),
            cap(self.maths, 3),
            cap(self.reasoning, 3),
            cap(self.steps, 4),
            cap(self.light, 2),
            cap(self.questions, 3),
            cap(self.tools, 8),
            cap(self.images, 2),
            if self.structured { 1.0 } else { 0.0 },
            cap(self.turns.saturating_sub(1), 12),
            self.effort.feature(),
        ]
    }
}

impl fmt::Display for Signals {
    /// The signals that fired, as `code:3,steps:2,tokens:1840`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut first = true;
        let mut item = |f: &mut fmt::Formatter<'_>, name: &str, value: &dyn fmt::Display| {
            let sep = if first { "" } else { "," };
            first = false;
            write!(f, "{sep}{name}:{value}")
        };
        item(f, "tokens", &self.tokens)?;
        for (name, n) in [
            ("code", self.code),
            ("maths", self.maths),
            ("reasoning", self.reasoning),
            ("steps", self.steps),
            ("light", self.light),
            ("questions", self.questions),
            ("tools", self.tools),
            ("images", self.images),
            // One turn is every request's; more is a conversation.
            ("turns", if self.turns > 1 { self.turns } else { 0 }),
        ] {
            if n > 0 {
                item(f, name, &n)?;
            }
        }
        if self.structured {
            item(f, "structured", &1)?;
        }
        if self.effort != Effort::None {
            item(f, "effort", &self.effort.as_str())?;
        }
        Ok(())
    }
}

/// A request's complexity: the score and the signals it came from.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Scored {
    /// In [0, 1]: the modelled chance that the request needs the strong tier.
    pub score: f32,
    /// What the scorer read.
    pub signals: Signals,
}

/// Scores chat requests; cheap to build and to clone (the marker automaton is built once per
/// process, on the first request scored).
#[derive(Clone, Debug)]
pub struct Scorer {
    weights: Weights,
}

impl Default for Scorer {
    fn default() -> Self {
        Self::new(Weights::default())
    }
}

/// The marker automaton and what each of its patterns marks.
struct Markers {
    automaton: AhoCorasick,
    kinds: Vec<Marker>,
    word_start: Vec<bool>,
}

/// The process's markers, built on first use: the list is fixed, and its automaton (a DFA,
/// for speed, about 0.8 MiB) need not be held by a process that never scores a request.
fn markers() -> &'static Markers {
    static MARKERS: OnceLock<Markers> = OnceLock::new();
    MARKERS.get_or_init(|| {
        let (patterns, kinds): (Vec<&str>, Vec<Marker>) = crate::markers::all().unzip();
        let word_start = patterns
            .iter()
            .map(|p| p.bytes().next().is_some_and(|b| b.is_ascii_alphabetic()))
            .collect();
        #[allow(clippy::expect_used)]
        let automaton = AhoCorasick::builder()
            .ascii_case_insensitive(true)
            .match_kind(MatchKind::LeftmostLongest)
            .kind(Some(AhoCorasickKind::DFA))
            .build(&patterns)
            .expect("the marker list is a valid, small pattern set");
        Markers {
            automaton,
            kinds,
            word_start,
        }
    })
}

impl Scorer {
    /// A scorer with `weights`.
    pub fn new(weights: Weights) -> Self {
        Self { weights }
    }

    /// The weights in use.
    pub fn weights(&self) -> &Weights {
        &self.weights
    }

    /// Scores `chat`, whose prompt was estimated at `prompt_tokens`.
    pub fn score(&self, chat: &ChatRequest, prompt_tokens: u64) -> Scored {
        let signals = self.signals(chat, prompt_tokens);
        Scored {
            score: self.weights.score(&signals.features()),
            signals,
        }
    }

    /// What the scorer reads from `chat`.
    pub fn signals(&self, chat: &ChatRequest, prompt_tokens: u64) -> Signals {
        let mut signals = Signals {
            tokens: prompt_tokens,
            tools: chat.tools.as_ref().map_or(0, |t| count(t.len())),
            structured: chat
                .response_format
                .as_ref()
                .and_then(|f| f.get("type"))
                .and_then(Value::as_str)
                == Some("json_schema"),
            effort: effort(chat),
            ..Signals::default()
        };
        let mut last_user = None;
        let mut system_done = false;
        for message in &chat.messages {
            let system = matches!(message.role.as_str(), "system" | "developer");
            if !system {
                signals.turns += 1;
            }
            let Some(content) = &message.content else {
                continue;
            };
            if let MessageContent::Parts(parts) = content {
                signals.images += count(
                    parts
                        .iter()
                        .filter(|p| p.image_url.is_some() || p.kind.starts_with("image"))
                        .count(),
                );
            }
            if system && !system_done {
                system_done = true;
                self.scan_content(content, SYSTEM_HEAD, 0, &mut signals);
            } else if message.role == "user" {
                last_user = Some(content);
            }
        }
        if let Some(content) = last_user {
            let questions = self.scan_content(content, USER_HEAD, USER_TAIL, &mut signals);
            signals.questions = questions;
        }
        signals
    }

    /// Scans the head (and tail) of `content`'s text; returns the question marks seen.
    fn scan_content(
        &self,
        content: &MessageContent,
        head: usize,
        tail: usize,
        signals: &mut Signals,
    ) -> u32 {
        match content {
            MessageContent::Text(text) => self.scan_text(text, head, tail, signals),
            MessageContent::Parts(parts) => {
                let mut budget = head;
                let mut questions = 0;
                for text in parts.iter().filter_map(|p| p.text.as_deref()) {
                    if budget == 0 {
                        break;
                    }
                    questions += self.scan_text(text, budget, 0, signals);
                    budget = budget.saturating_sub(text.len());
                }
                questions
            }
        }
    }

    fn scan_text(&self, text: &str, head: usize, tail: usize, signals: &mut Signals) -> u32 {
        let bytes = text.as_bytes();
        if bytes.len() <= head + tail {
            return self.scan(bytes, signals);
        }
        let end = floor_char_boundary(text, head);
        let start = ceil_char_boundary(text, bytes.len() - tail);
        self.scan(&bytes[..end], signals) + self.scan(&bytes[start..], signals)
    }

    fn scan(&self, bytes: &[u8], signals: &mut Signals) -> u32 {
        let markers = markers();
        for found in markers.automaton.find_iter(bytes) {
            let id = found.pattern().as_usize();
            if markers.word_start[id]
                && found.start() > 0
                && bytes[found.start() - 1].is_ascii_alphanumeric()
            {
                continue;
            }
            let counter = match markers.kinds[id] {
                Marker::Code => &mut signals.code,
                Marker::Maths => &mut signals.maths,
                Marker::Reasoning => &mut signals.reasoning,
                Marker::Steps => &mut signals.steps,
                Marker::Light => &mut signals.light,
            };
            *counter = counter.saturating_add(1);
        }
        count(memchr_count(b'?', bytes))
    }
}

/// The effort of `reasoning_effort` or `reasoning: {effort}`.
fn effort(chat: &ChatRequest) -> Effort {
    let field = chat
        .extra
        .get("reasoning_effort")
        .or_else(|| chat.extra.get("reasoning").and_then(|r| r.get("effort")));
    field
        .and_then(Value::as_str)
        .map_or(Effort::None, Effort::parse)
}

fn count(n: usize) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
}

fn memchr_count(needle: u8, bytes: &[u8]) -> usize {
    bytes.iter().filter(|&&b| b == needle).count()
}

fn floor_char_boundary(text: &str, mut at: usize) -> usize {
    while !text.is_char_boundary(at) {
        at -= 1;
    }
    at
}

fn ceil_char_boundary(text: &str, mut at: usize) -> usize {
    while !text.is_char_boundary(at) {
        at += 1;
    }
    at
}

/// The score, with two decimals, as the route reason shows it.
pub(crate) fn show_score(score: f32, out: &mut String) {
    let _ = write!(out, "{score:.2}");
}
