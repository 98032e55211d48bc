//! The on-disk format of the state file: a JSON snapshot and a JSON-lines journal.
//!
//! Amounts are written as exact decimal strings of USD (`"0.0000018"`), never as floats, so a
//! snapshot read back is the state that was written, to the last pico-dollar, and `jq` shows
//! people the numbers they expect.
//!
//! Snapshot (`state_file`):
//! ```json
//! {"format": 1, "seq": 42, "months": {"2026-03": {"total_usd": "0.0000018", "requests": 1,
//!   "unpriced_requests": 0, "by_provider": {"openai": "0.0000018"}, "by_model": {...},
//!   "by_group": {...}, "callers": {"free-tier": {"total_usd": "0.0000018", "requests": 1,
//!   "prompt_tokens": 8, "completion_tokens": 1, "cached_prompt_tokens": 0}},
//!   "estimated_usd": "0", "estimated_requests": 0,
//!   "waste": {"openai": {"provider_error": {"total_usd": "0.000001", "requests": 1}}}}},
//!  "hours": {"2026-03-14T10:00:00Z": {"total_usd": "0.0000018", "requests": 1}}}
//! ```
//! Journal (`state_file` + `.journal`), one settled request per line, `seq` increasing:
//! ```json
//! {"seq": 43, "request_id": "…", "at": "2026-03-14T10:02:03.456Z", "month": "2026-03",
//!  "caller": "free-tier", "group": null, "provider": "openai", "model": "gpt-4o-mini",
//!  "usage": {"prompt_tokens": 8, "completion_tokens": 1, "cached_prompt_tokens": 0,
//!  "cache_creation_tokens": 0, "reasoning_tokens": 0}, "cost_usd": "0.0000018", "priced": true,
//!  "estimated": false, "waste": null}
//! ```
//! `estimated` (usage counted by infermux) and `waste` (the reason billed work bought no answer:
//! `provider_error`, `bad_response`, `stream_interrupted`, `client_disconnected`) were added
//! later: files without them read as `false` and `null`.

use std::{
    cell::Cell,
    collections::BTreeMap,
    time::{Duration, SystemTime, UNIX_EPOCH},
};

use infermux_core::{
    CallerTotals, Hour, HourTotals, LedgerEntry, Money, Month, SpendSummary, Usage,
    WasteByProvider, WasteReason, WasteTotals,
};
use serde::{Deserialize, Serialize};

use super::state::SpendState;

/// The snapshot format version.
const FORMAT: u32 = 1;

/// Pico-USD per USD.
const PICOS_PER_USD: u64 = 1_000_000_000_000;

/// The snapshot file.
#[derive(Serialize, Deserialize)]
pub(crate) struct Snapshot {
    format: u32,
    /// Every journal entry up to this sequence number is part of the snapshot.
    pub(crate) seq: u64,
    months: BTreeMap<String, MonthDoc>,
    hours: BTreeMap<String, HourDoc>,
}

#[derive(Serialize, Deserialize)]
struct MonthDoc {
    total_usd: String,
    requests: u64,
    unpriced_requests: u64,
    by_provider: BTreeMap<String, String>,
    by_model: BTreeMap<String, String>,
    by_group: BTreeMap<String, String>,
    callers: BTreeMap<String, CallerDoc>,
    /// The part of `total_usd` that infermux counted itself; absent in older files.
    #[serde(default)]
    estimated_usd: Option<String>,
    #[serde(default)]
    estimated_requests: u64,
    /// Wasted spend by provider and reason; absent in older files.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    waste: BTreeMap<String, BTreeMap<String, WasteDoc>>,
}

#[derive(Serialize, Deserialize)]
struct WasteDoc {
    total_usd: String,
    requests: u64,
}

#[derive(Serialize, Deserialize)]
struct CallerDoc {
    total_usd: String,
    requests: u64,
    prompt_tokens: u64,
    completion_tokens: u64,
    cached_prompt_tokens: u64,
    /// The part of `total_usd` that infermux counted itself; absent in older files.
    #[serde(default)]
    estimated_usd: Option<String>,
}

#[derive(Serialize, Deserialize)]
struct HourDoc {
    total_usd: String,
    requests: u64,
}

/// One journal line, as read back ([`write_journal_line`] writes it).
#[derive(Deserialize)]
pub(crate) struct JournalLine {
    pub(crate) seq: u64,
    request_id: String,
    at: String,
    // `month` is written for people reading the journal; reading takes it from `at`.
    caller: String,
    group: Option<String>,
    provider: String,
    model: String,
    usage: UsageDoc,
    cost_usd: String,
    priced: bool,
    /// Usage counted by infermux (the provider reported none); absent in older journals.
    #[serde(default)]
    estimated: bool,
    /// Why the spend was wasted, if it was; absent in older journals.
    #[serde(default)]
    waste: Option<String>,
}

#[derive(Deserialize)]
struct UsageDoc {
    prompt_tokens: u64,
    completion_tokens: u64,
    cached_prompt_tokens: u64,
    cache_creation_tokens: u64,
    reasoning_tokens: u64,
}

/// Renders an amount as an exact decimal string of USD.
fn usd(money: Money) -> String {
    money.to_plain_decimal()
}

/// Parses an exact decimal string of USD (`"0.0000018"`, `"2"`).
pub(crate) fn parse_usd(text: &str) -> Result<Money, String> {
    let bad = || format!("`{text}` is not an amount of USD");
    let (whole, frac) = text.split_once('.').unwrap_or((text, ""));
    if whole.is_empty() || frac.len() > 12 || !frac.bytes().all(|b| b.is_ascii_digit()) {
        return Err(bad());
    }
    let whole: u64 = whole.parse().map_err(|_| bad())?;
    let frac: u64 = if frac.is_empty() {
        0
    } else {
        format!("{frac:0<12}").parse().map_err(|_| bad())?
    };
    whole
        .checked_mul(PICOS_PER_USD)
        .and_then(|p| p.checked_add(frac))
        .map(Money::from_picos)
        .ok_or_else(bad)
}

fn amounts<K: ToString>(map: &BTreeMap<K, Money>) -> BTreeMap<String, String> {
    map.iter().map(|(k, v)| (k.to_string(), usd(*v))).collect()
}

fn parse_amounts<K: Ord>(
    map: &BTreeMap<String, String>,
    key: impl Fn(&str) -> K,
) -> Result<BTreeMap<K, Money>, String> {
    map.iter()
        .map(|(k, v)| Ok((key(k), parse_usd(v)?)))
        .collect()
}

fn waste_docs(waste: &WasteByProvider) -> BTreeMap<String, BTreeMap<String, WasteDoc>> {
    waste
        .iter()
        .map(|(provider, reasons)| {
            let reasons = reasons
                .iter()
                .map(|(reason, t)| {
                    let doc = WasteDoc {
                        total_usd: usd(t.cost),
                        requests: t.requests,
                    };
                    (reason.as_str().to_owned(), doc)
                })
                .collect();
            (provider.to_string(), reasons)
        })
        .collect()
}

fn parse_waste(
    docs: &BTreeMap<String, BTreeMap<String, WasteDoc>>,
) -> Result<WasteByProvider, String> {
    let mut waste = WasteByProvider::new();
    for (provider, reasons) in docs {
        for (reason, doc) in reasons {
            let Some(reason) = WasteReason::parse(reason) else {
                continue;
            };
            let totals = WasteTotals {
                requests: doc.requests,
                cost: parse_usd(&doc.total_usd)?,
            };
            waste
                .entry(provider.as_str().into())
                .or_default()
                .insert(reason, totals);
        }
    }
    Ok(waste)
}

impl Snapshot {
    /// The snapshot of `state`, covering the journal up to `seq`.
    pub(crate) fn of(state: &SpendState, seq: u64) -> Self {
        let months = state
            .months
            .iter()
            .map(|(month, s)| {
                let doc = MonthDoc {
                    total_usd: usd(s.total),
                    requests: s.requests,
                    unpriced_requests: s.unpriced_requests,
                    by_provider: amounts(&s.by_provider),
                    by_model: amounts(&s.by_model),
                    by_group: amounts(&s.by_group),
                    estimated_usd: Some(usd(s.estimated)),
                    estimated_requests: s.estimated_requests,
                    waste: waste_docs(&s.waste),
                    callers: s
                        .callers
                        .iter()
                        .map(|(caller, t)| {
                            let doc = CallerDoc {
                                total_usd: usd(t.cost),
                                requests: t.requests,
                                prompt_tokens: t.prompt_tokens,
                                completion_tokens: t.completion_tokens,
                                cached_prompt_tokens: t.cached_prompt_tokens,
                                estimated_usd: Some(usd(t.estimated)),
                            };
                            (caller.to_string(), doc)
                        })
                        .collect(),
                };
                (month.to_string(), doc)
            })
            .collect();
        let hours = state
            .hours
            .iter()
            .map(|(hour, t)| {
                let doc = HourDoc {
                    total_usd: usd(t.cost),
                    requests: t.requests,
                };
                (hour.to_rfc3339(), doc)
            })
            .collect();
        Self {
            format: FORMAT,
            seq,
            months,
            hours,
        }
    }

    /// The state this snapshot describes.
    pub(crate) fn into_state(self) -> Result<SpendState, String> {
        if self.format != FORMAT {
            return Err(format!(
                "unknown state file format {} (this infermux writes {FORMAT})",
                self.format
            ));
        }
        let mut state = SpendState::default();
        for (month, doc) in &self.months {
            let month =
                Month::parse(month).ok_or_else(|| format!("`{month}` is not a month (YYYY-MM)"))?;
            let callers = doc
                .callers
                .iter()
                .map(|(caller, t)| {
                    let totals = CallerTotals {
                        cost: parse_usd(&t.total_usd)?,
                        requests: t.requests,
                        prompt_tokens: t.prompt_tokens,
                        completion_tokens: t.completion_tokens,
                        cached_prompt_tokens: t.cached_prompt_tokens,
                        estimated: t
                            .estimated_usd
                            .as_deref()
                            .map_or(Ok(Money::ZERO), parse_usd)?,
                    };
                    Ok((caller.as_str().into(), totals))
                })
                .collect::<Result<_, String>>()?;
            let summary = SpendSummary {
                total: parse_usd(&doc.total_usd)?,
                requests: doc.requests,
                unpriced_requests: doc.unpriced_requests,
                by_provider: parse_amounts(&doc.by_provider, |k: &str| k.into())?,
                by_model: parse_amounts(&doc.by_model, |k: &str| k.into())?,
                by_group: parse_amounts(&doc.by_group, |k: &str| k.into())?,
                callers,
                estimated: doc
                    .estimated_usd
                    .as_deref()
                    .map_or(Ok(Money::ZERO), parse_usd)?,
                estimated_requests: doc.estimated_requests,
                waste: parse_waste(&doc.waste)?,
            };
            state.months.insert(month, summary);
        }
        for (start, doc) in &self.hours {
            let time = humantime::parse_rfc3339(start)
                .map_err(|e| format!("`{start}` is not an hour: {e}"))?;
            let totals = HourTotals {
                cost: parse_usd(&doc.total_usd)?,
                requests: doc.requests,
            };
            state.hours.insert(Hour::of(time), totals);
        }
        Ok(state)
    }
}

/// Appends `,"at":"<at in RFC 3339, to the millisecond>","month":"<its YYYY-MM>"` to `out`.
/// Both are ASCII digits and punctuation only: nothing to escape.
fn push_time(out: &mut Vec<u8>, at: SystemTime) {
    thread_local! {
        /// The last second rendered (`2026-03-14T10:00:00`), by its Unix time: requests settle
        /// many to a second.
        static SECOND: Cell<(u64, [u8; 19])> = const { Cell::new((u64::MAX, [0; 19])) };
    }
    let since_epoch = at.duration_since(UNIX_EPOCH).unwrap_or_default();
    let secs = since_epoch.as_secs();
    let (rendered, mut second) = SECOND.get();
    if rendered != secs {
        let text = humantime::format_rfc3339_seconds(UNIX_EPOCH + Duration::from_secs(secs));
        second.copy_from_slice(&text.to_string().as_bytes()[..19]);
        SECOND.set((secs, second));
    }
    let millis = since_epoch.subsec_millis();
    out.extend_from_slice(b",\"at\":\"");
    out.extend_from_slice(&second);
    out.push(b'.');
    for divisor in [100, 10, 1] {
        // A digit: `millis` is below 1,000.
        out.push(b'0' + (millis / divisor % 10) as u8);
    }
    out.extend_from_slice(b"Z\",\"month\":\"");
    out.extend_from_slice(&second[..7]);
    out.push(b'"');
}

/// Appends the journal line of `entry`, number `seq`, ending in a newline, to `out`: the
/// members [`JournalLine`] reads, and `month`, written by hand because every settled request
/// writes one while the journal's lock is held.
pub(crate) fn write_journal_line(entry: &LedgerEntry, seq: u64, out: &mut Vec<u8>) {
    let u = &entry.usage;
    out.extend_from_slice(b"{\"seq\":");
    push_int(out, seq);
    out.extend_from_slice(b",\"request_id\":");
    push_str(out, entry.request_id.as_str());
    push_time(out, entry.at);
    out.extend_from_slice(b",\"caller\":");
    push_str(out, entry.caller.as_str());
    out.extend_from_slice(b",\"group\":");
    match &entry.group {
        Some(group) => push_str(out, group),
        None => out.extend_from_slice(b"null"),
    }
    out.extend_from_slice(b",\"provider\":");
    push_str(out, entry.provider.as_str());
    out.extend_from_slice(b",\"model\":");
    push_str(out, &entry.model);
    for (name, tokens) in [
        (&b",\"usage\":{\"prompt_tokens\":"[..], u.prompt_tokens),
        (b",\"completion_tokens\":", u.completion_tokens),
        (b",\"cached_prompt_tokens\":", u.cached_prompt_tokens),
        (b",\"cache_creation_tokens\":", u.cache_creation_tokens),
        (b",\"reasoning_tokens\":", u.reasoning_tokens),
    ] {
        out.extend_from_slice(name);
        push_int(out, tokens);
    }
    out.extend_from_slice(b"},\"cost_usd\":\"");
    out.extend_from_slice(usd(entry.cost).as_bytes());
    out.extend_from_slice(b"\",\"priced\":");
    out.extend_from_slice(if entry.priced { b"true" } else { b"false" });
    out.extend_from_slice(b",\"estimated\":");
    out.extend_from_slice(if entry.estimated { b"true" } else { b"false" });
    out.extend_from_slice(b",\"waste\":");
    match entry.waste {
        Some(waste) => push_str(out, waste.as_str()),
        None => out.extend_from_slice(b"null"),
    }
    out.extend_from_slice(b"}\n");
}

fn push_int(out: &mut Vec<u8>, value: u64) {
    out.extend_from_slice(itoa::Buffer::new().format(value).as_bytes());
}

/// `text` as a JSON string, escaped: names come from clients and configs, and a raw quote
/// or newline would break the line.
///
/// Names almost never need escaping, so one look at their bytes comes first: a name without a
/// quote, backslash or control character is written as it is.
fn push_str(out: &mut Vec<u8>, text: &str) {
    if text.bytes().all(|b| b >= 0x20 && b != b'"' && b != b'\\') {
        out.push(b'"');
        out.extend_from_slice(text.as_bytes());
        out.push(b'"');
    } else {
        // Writing to a `Vec` cannot fail.
        let _ = serde_json::to_writer(&mut *out, text);
    }
}

impl JournalLine {
    /// The entry this line records.
    pub(crate) fn into_entry(self) -> Result<LedgerEntry, String> {
        let at: SystemTime = humantime::parse_rfc3339_weak(&self.at)
            .map_err(|e| format!("`{}` is not a time: {e}", self.at))?;
        Ok(LedgerEntry {
            request_id: self.request_id.as_str().into(),
            at,
            caller: self.caller.as_str().into(),
            group: self.group.map(Into::into),
            provider: self.provider.as_str().into(),
            model: self.model.into(),
            usage: Usage {
                prompt_tokens: self.usage.prompt_tokens,
                completion_tokens: self.usage.completion_tokens,
                cached_prompt_tokens: self.usage.cached_prompt_tokens,
                cache_creation_tokens: self.usage.cache_creation_tokens,
                reasoning_tokens: self.usage.reasoning_tokens,
                // The cost is recorded; how cache writes and the tier priced it is not needed.
                ..Usage::default()
            },
            cost: parse_usd(&self.cost_usd)?,
            priced: self.priced,
            estimated: self.estimated,
            // A reason this version does not know is still spend; only its tag is lost.
            waste: self.waste.as_deref().and_then(WasteReason::parse),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::state::tests::{at, entry};

    #[test]
    fn names_are_written_as_json_would_write_them() {
        for name in [
            "free-tier",
            "",
            "gpt-4o-mini",
            "quote\"inside",
            "back\\slash",
            "new\nline",
            "tab\there",
            "\u{1}",
            "caf\u{e9} \u{1f600}",
            "\u{7f}",
        ] {
            let mut out = Vec::new();
            push_str(&mut out, name);
            let expected = serde_json::to_vec(name).expect("json");
            assert_eq!(out, expected, "{name:?}");
        }
    }

    #[test]
    fn decimal_amounts_round_trip_exactly() {
        for picos in [0, 1, 1_800_000, 1_000_000_000_000, 123_456_789_012_345] {
            let money = Money::from_picos(picos);
            assert_eq!(parse_usd(&usd(money)), Ok(money));
        }
        assert!(parse_usd("-1").is_err());
        assert!(parse_usd("0.0000000000001").is_err());
        assert!(parse_usd("1e-6").is_err());
        assert!(parse_usd("").is_err());
    }

    #[test]
    fn a_snapshot_reads_back_as_the_state_it_was_written_from() {
        let mut state = SpendState::default();
        state.apply(&entry("a", 1_800_000, at("2026-03-14T10:00:00Z")));
        state.apply(&entry("b", 7, at("2026-04-01T00:00:00Z")));
        let mut wasted = entry("a", 500, at("2026-03-14T11:00:00Z"));
        wasted.estimated = true;
        wasted.waste = Some(WasteReason::StreamInterrupted);
        state.apply(&wasted);
        let text = serde_json::to_string(&Snapshot::of(&state, 9)).expect("json");
        let back: Snapshot = serde_json::from_str(&text).expect("parse");
        assert_eq!(back.seq, 9);
        let back = back.into_state().expect("state");
        assert_eq!(back.months, state.months);
        assert_eq!(back.hours, state.hours);
    }

    fn line_of(entry: &LedgerEntry) -> String {
        let mut line = Vec::new();
        write_journal_line(entry, 3, &mut line);
        let text = String::from_utf8(line).expect("utf-8");
        assert_eq!(text.matches('\n').count(), 1, "{text}");
        text.strip_suffix('\n').expect("one line").to_owned()
    }

    #[test]
    fn times_are_written_as_rfc3339_to_the_millisecond_with_their_month() {
        // The same second twice (its text reused), then the next second and the next month.
        for time in [
            "2026-03-31T23:59:59.007Z",
            "2026-03-31T23:59:59.250Z",
            "2026-04-01T00:00:00.000Z",
            "1999-12-31T23:59:59.999Z",
        ] {
            let e = entry("a", 7, at(time));
            let text = line_of(&e);
            let expected = format!(
                r#""at":"{}","month":"{}","#,
                humantime::format_rfc3339_millis(e.at),
                e.month()
            );
            assert!(text.contains(&expected), "{text} lacks {expected}");
            assert!(text.contains(&format!(r#""at":"{time}""#)), "{text}");
        }
    }

    #[test]
    fn names_with_quotes_and_newlines_stay_on_one_line() {
        let mut e = entry("a \"quoted\"\nname\\", 7, at("2026-03-14T10:00:00Z"));
        e.group = Some("g\u{1}\t".into());
        e.model = "m\r\n".into();
        let text = line_of(&e);
        let back: JournalLine = serde_json::from_str(&text).expect("parse");
        assert_eq!(back.into_entry(), Ok(e));
    }

    #[test]
    fn a_journal_line_reads_back_as_its_entry() {
        let e = entry("a", 1_800_000, at("2026-03-14T10:00:00.250Z"));
        let text = line_of(&e);
        assert!(text.contains(r#""cost_usd":"0.0000018""#), "{text}");
        assert!(text.contains(r#""month":"2026-03""#), "{text}");
        let back: JournalLine = serde_json::from_str(&text).expect("parse");
        assert_eq!(back.into_entry(), Ok(e));
    }

    #[test]
    fn estimated_and_wasted_spend_is_marked_in_the_journal_and_the_snapshot() {
        let mut e = entry("a", 1_800_000, at("2026-03-14T10:00:00.250Z"));
        e.estimated = true;
        e.waste = Some(WasteReason::ProviderError);
        let text = line_of(&e);
        assert!(text.contains(r#""estimated":true"#), "{text}");
        assert!(text.contains(r#""waste":"provider_error""#), "{text}");
        let back: JournalLine = serde_json::from_str(&text).expect("parse");
        assert_eq!(back.into_entry(), Ok(e.clone()));

        let mut state = SpendState::default();
        state.apply(&e);
        state.apply(&entry("a", 7, at("2026-03-14T10:00:01Z")));
        let month = Month::of(e.at);
        let summary = state.summary(month);
        assert_eq!(summary.estimated, Money::from_picos(1_800_000));
        assert_eq!(summary.estimated_requests, 1);
        assert_eq!(
            summary.callers[&"a".into()].estimated,
            Money::from_picos(1_800_000)
        );
        let waste = summary.waste[&"openai".into()][&WasteReason::ProviderError];
        assert_eq!(
            (waste.requests, waste.cost),
            (1, Money::from_picos(1_800_000))
        );
        let text = serde_json::to_string(&Snapshot::of(&state, 4)).expect("json");
        assert!(text.contains(r#""estimated_usd":"0.0000018""#), "{text}");
        let back: Snapshot = serde_json::from_str(&text).expect("parse");
        assert_eq!(back.into_state().expect("state").summary(month), summary);
    }

    #[test]
    fn journals_and_snapshots_written_before_the_marks_still_read() {
        let line = r#"{"seq":1,"request_id":"r","at":"2026-03-14T10:00:00Z","month":"2026-03","caller":"a","group":null,"provider":"openai","model":"m","usage":{"prompt_tokens":1,"completion_tokens":1,"cached_prompt_tokens":0,"cache_creation_tokens":0,"reasoning_tokens":0},"cost_usd":"0.000001","priced":true}"#;
        let entry = serde_json::from_str::<JournalLine>(line)
            .expect("parse")
            .into_entry()
            .expect("entry");
        assert!(!entry.estimated);
        assert_eq!(entry.waste, None);
        let snapshot = r#"{"format":1,"seq":1,"months":{"2026-03":{"total_usd":"0.000001","requests":1,"unpriced_requests":0,"by_provider":{},"by_model":{},"by_group":{},"callers":{}}},"hours":{}}"#;
        let state = serde_json::from_str::<Snapshot>(snapshot)
            .expect("parse")
            .into_state()
            .expect("state");
        let summary = state.summary(Month::parse("2026-03").expect("month"));
        assert_eq!(summary.estimated, Money::ZERO);
        assert!(summary.waste.is_empty());
    }
}
