//! Turning serde-saphyr's errors into [`Issue`]s that name the field and say how to fix it.
//!
//! serde-saphyr gives a position and a structured error; the field path comes from the
//! [`SourceIndex`], and the names in the message (the unknown key, the bad value) are read
//! back from the file as written. That matters for secrets: once a `${VAR}` has been
//! expanded, serde-saphyr redacts identifiers in later errors, and the file as written shows
//! `${VAR}`, never its value.

use serde_saphyr::{Error, MessageFormatter, UserMessageFormatter};

use super::env::{self, Prepared};
use super::error::{Issue, Position};
use super::locate::{SourceIndex, key_path};
use super::suggest;

/// How to write `budgets:`, shown whenever a budgets block is written wrongly.
const BUDGETS_EXAMPLE: &str = "\
write the callers as a list under a \"callers:\" key:
  budgets:
    state_file: \"/var/lib/infermux/budgets.json\"
    callers:
      - caller: free-tier
        monthly_usd: 1.00
        action: hard_stop
(or write \"budgets:\" as a bare list of callers)";

/// Keys that belong to a section rather than to the top level, for "indent it" hints.
const SECTION_KEYS: &[(&str, &[&str])] = &[
    (
        "budgets",
        &[
            "store",
            "state_file",
            "redis_url",
            "redis_unavailable",
            "alert_webhook",
            "callers",
            "caller",
            "monthly_usd",
            "action",
            "model_override",
        ],
    ),
    ("routing", &["strategy", "groups"]),
    ("log", &["level", "format"]),
    (
        "telemetry",
        &["otlp_endpoint", "service_name", "sample_ratio"],
    ),
    ("metrics", &["max_callers"]),
    (
        "providers",
        &[
            "name",
            "type",
            "api_key",
            "base_url",
            "models",
            "model_aliases",
            "timeout",
            "rate_limit",
            "circuit_breaker",
            "mock",
            "max_cooldown",
        ],
    ),
];

/// Explains a serde-saphyr error in terms of the file as written.
pub(super) fn yaml_issue(
    err: &Error,
    original: &str,
    prepared: &Prepared,
    index: &SourceIndex,
) -> Issue {
    let position = err.location().and_then(|l| {
        let line = usize::try_from(l.line()).ok().filter(|&n| n > 0)?;
        let column = usize::try_from(l.column()).ok().filter(|&n| n > 0)?;
        Some(prepared.original_position(line, column))
    });
    let here = || {
        position
            .and_then(|p| index.path_at(p))
            .unwrap_or_default()
            .to_owned()
    };
    let written = || position.and_then(|p| index.raw_at(p)).unwrap_or("?");
    let issue = match original_error(err) {
        // An explicit empty document (`---`); an empty stream parses, and validation
        // says the same.
        _ if is_blank(original) => Issue::new(
            "providers",
            "the config file is empty, so no providers are configured",
            "add at least one under \"providers:\", such as \"- {name: mock, type: mock}\"",
        ),
        Error::SerdeUnknownField { expected, .. } => unknown_key(position, expected, index),
        Error::SerdeMissingField { field, .. } => {
            // serde-saphyr places it at the mapping's last key; point at the mapping instead.
            let mapping = position
                .and_then(|p| index.mapping_at(p))
                .unwrap_or_default();
            return Issue::new(
                key_path(mapping, field),
                format!("missing required key \"{field}\""),
                format!("add it, as in {}", example_for(field)),
            )
            .at(index.position_of(mapping).or(position));
        }
        Error::SerdeUnknownVariant { expected, .. } => {
            let value = written();
            let mut fix = suggest::nearest(value, expected)
                .map(|s| format!("did you mean \"{s}\"? "))
                .unwrap_or_default();
            fix.push_str(&format!("write one of: {}", expected.join(", ")));
            Issue::new(here(), format!("unknown value \"{value}\""), fix)
        }
        Error::SerdeInvalidType {
            unexpected,
            expected,
            ..
        }
        | Error::SerdeInvalidValue {
            unexpected,
            expected,
            ..
        } => Issue::new(
            here(),
            format!("expected {expected}, found {unexpected}"),
            "",
        ),
        Error::InvalidScalar { ty, .. } => {
            let (what, fix) = describe_scalar(ty);
            Issue::new(here(), format!("\"{}\" is not {what}", written()), fix)
        }
        Error::Unexpected { expected, .. } => {
            let (problem, fix) = if expected.contains("sequence") {
                (
                    "expected a list here",
                    "write the items as \"- item\" lines below the key, or as [a, b]",
                )
            } else if expected.contains("mapping") {
                (
                    "expected a mapping here",
                    "write \"key: value\" lines indented below, or {key: value}",
                )
            } else {
                ("unexpected value here", "")
            };
            Issue::new(here(), problem, fix)
        }
        Error::UnresolvedProperty { name, .. } | Error::PropertyRequiredButUnset { name, .. } => {
            Issue::new(
                here(),
                format!("environment variable {name} is not set"),
                format!("set {name}, or give a default with ${{{name}:-default}}"),
            )
        }
        Error::PropertyRequiredButEmpty { name, .. } => Issue::new(
            here(),
            format!("environment variable {name} is empty"),
            format!("set {name} to a value, or give a default with ${{{name}:-default}}"),
        ),
        Error::InvalidPropertyName { .. } => Issue::new(
            here(),
            "invalid ${...} reference",
            "write ${NAME} or ${NAME:-default}, with NAME made of letters, digits and _; \
             write $${ for a literal ${",
        ),
        Error::DuplicateMappingKey { key, .. } => Issue::new(
            here(),
            format!("duplicate key \"{}\"", key.as_deref().unwrap_or("?")),
            "each key may appear once; remove or merge the repeated one",
        ),
        Error::Message { msg, .. } if msg == WITHHELD => {
            let explained = explain_withheld(&here(), written());
            Issue::new(here(), explained.unwrap_or_else(|| msg.clone()), "")
        }
        Error::Message { msg, .. } => Issue::new(here(), msg.clone(), ""),
        other => syntax_issue(other, position, original),
    };
    Issue {
        problem: env::restore_references(&issue.problem),
        ..issue
    }
    .at(position)
}

/// What serde-saphyr says instead of a value's own error message once the file interpolates
/// any `${...}` near it, lest the message quote a secret.
const WITHHELD: &str = "invalid interpolated scalar value";

/// Explains a value whose message serde-saphyr withheld, when the value as written holds no
/// `${...}` and so no secret: durations, sizes and listen addresses are the values with
/// messages of their own.
fn explain_withheld(field: &str, written: &str) -> Option<String> {
    if written.contains('$') {
        return None;
    }
    let value = written.trim().trim_matches(|c| c == '"' || c == '\'');
    match field.rsplit('.').next()? {
        "max_request_body" => super::size::explain(value),
        "listen" | "management_listen" => super::address::parse(value)
            .err()
            .map(|why| format!("invalid address \"{value}\": {why}")),
        _ => super::duration::explain(value),
    }
}

/// The error behind alias and snippet wrappers.
fn original_error(mut err: &Error) -> &Error {
    while let Error::AliasError { error, .. } | Error::WithSnippet { error, .. } = err {
        err = error;
    }
    err
}

fn unknown_key(position: Option<Position>, expected: &[&str], index: &SourceIndex) -> Issue {
    let (key, mapping) = position.and_then(|p| index.key_at(p)).unwrap_or(("?", ""));
    let path = key_path(mapping, key);
    if mapping.is_empty()
        && let Some((section, _)) = SECTION_KEYS.iter().find(|(_, keys)| keys.contains(&key))
    {
        let mut fix = format!("\"{key}\" belongs under \"{section}:\"; indent it below that key");
        if *section == "budgets" {
            fix.push_str("; ");
            fix.push_str(BUDGETS_EXAMPLE);
        }
        return Issue::new(path, format!("unknown top-level key \"{key}\""), fix);
    }
    let mut fix = suggest::nearest(key, expected)
        .map(|s| format!("did you mean \"{s}\"? "))
        .unwrap_or_default();
    let place = if mapping.is_empty() {
        "at the top level".to_owned()
    } else {
        format!("in {mapping}")
    };
    fix.push_str(&format!("valid keys {place}: {}", expected.join(", ")));
    Issue::new(path, format!("unknown key \"{key}\""), fix)
}

/// A YAML syntax error, with the budgets hint when it is the seed docs' budgets form.
fn syntax_issue(err: &Error, position: Option<Position>, original: &str) -> Issue {
    let message = UserMessageFormatter.format_message(err).into_owned();
    if let Some(p) = position
        && in_mixed_budgets_block(original, p.line)
    {
        return Issue::new(
            "budgets",
            "\"budgets:\" mixes keys (such as \"state_file:\") with \"- caller:\" list items, \
             which is not valid YAML",
            BUDGETS_EXAMPLE,
        );
    }
    let line_text = position
        .and_then(|p| original.lines().nth(p.line.saturating_sub(1)))
        .unwrap_or_default();
    let fix = if line_text.contains("${") && message.contains("flow") {
        "inside [...] or {...}, quote values that hold ${...}, as in \
         {api_key: \"${OPENAI_API_KEY}\"}"
    } else {
        "check the indentation and the quoting on this line and the lines above it"
    };
    Issue::new("", format!("invalid YAML: {message}"), fix)
}

/// Whether `line` (1-based) lies in a top-level `budgets:` block that mixes `key:` lines
/// and `- item` lines at one level (only asked after the YAML failed to parse).
fn in_mixed_budgets_block(original: &str, line: usize) -> bool {
    let lines: Vec<&str> = original.lines().collect();
    let is_top_level_key = |l: &str| !l.starts_with([' ', '\t', '#', '-']) && l.contains(':');
    let Some(start) = (0..line.min(lines.len()))
        .rev()
        .find(|&i| is_top_level_key(lines[i]))
    else {
        return false;
    };
    if lines[start].split(':').next().map(str::trim) != Some("budgets") {
        return false;
    }
    let end = (start + 1..lines.len())
        .find(|&i| is_top_level_key(lines[i]))
        .unwrap_or(lines.len());
    // (indentation, text) of each line of the block that holds something.
    let body: Vec<(usize, &str)> = lines[start + 1..end]
        .iter()
        .map(|l| {
            let text = l.trim_start();
            (l.len() - text.len(), text)
        })
        .filter(|(_, text)| !text.is_empty() && !text.starts_with('#'))
        .collect();
    body.iter().enumerate().any(|(i, &(indent, text))| {
        let is_item = text.starts_with('-');
        // The line this one continues or follows at its own level.
        let Some(&(prev_indent, prev)) = body[..i].iter().rev().find(|(d, _)| *d <= indent) else {
            return false;
        };
        let prev_is_item = prev.starts_with('-');
        let prev_opens_block = !prev_is_item && !has_inline_value(prev);
        if prev_indent == indent {
            // `state_file: x` then `- caller:` (or the reverse) side by side; `callers:`
            // followed by `- caller:` at its own indentation is valid YAML.
            is_item != prev_is_item && !(is_item && prev_opens_block)
        } else {
            // `state_file: x` followed by a more indented `- caller:`.
            is_item && !prev_is_item && !prev_opens_block
        }
    })
}

/// Whether a `key: value` line has a value on it (not just a comment).
fn has_inline_value(text: &str) -> bool {
    text.split_once(':')
        .map(|(_, rest)| rest.trim_start())
        .is_some_and(|rest| !rest.is_empty() && !rest.starts_with('#'))
}

fn is_blank(text: &str) -> bool {
    text.lines()
        .map(str::trim)
        .all(|l| l.is_empty() || l.starts_with('#') || l == "---")
}

/// What a scalar type is called in a message, and how to write one.
fn describe_scalar(ty: &str) -> (&'static str, &'static str) {
    match ty {
        "floating point" | "f32" | "f64" => ("a number", "write a number such as 0.5"),
        "boolean" | "bool" => ("true or false", "write true or false"),
        t if t.starts_with('u') => (
            "a whole number",
            "write a whole number of 0 or more, such as 500",
        ),
        t if t.starts_with('i') => ("a whole number", "write a whole number such as 500"),
        _ => ("a valid value", ""),
    }
}

/// An example line for a required key.
fn example_for(field: &str) -> &'static str {
    match field {
        "name" => "\"name: openai\" (a unique name)",
        "type" => "\"type: openai\" (openai | anthropic | ollama | openai_compatible | mock)",
        "providers" => "\"providers: [{name: mock, type: mock}]\"",
        "provider" => "\"provider: openai\" (a provider's name)",
        "model" => "\"model: gpt-4o-mini\"",
        "input" => "\"input: 0.15\" (USD per 1M prompt tokens)",
        "output" => "\"output: 0.60\" (USD per 1M completion tokens)",
        "caller" => "\"caller: free-tier\" (the X-Infermux-Caller value)",
        "monthly_usd" => "\"monthly_usd: 25.00\"",
        "action" => "\"action: hard_stop\" (hard_stop | alert | model_override)",
        _ => "\"key: value\"",
    }
}

#[cfg(test)]
mod tests {
    use super::{in_mixed_budgets_block, is_blank};

    #[test]
    fn the_seed_budgets_form_is_recognised() {
        let seed = "providers: []\nbudgets:\n  state_file: \"/x\"\n\n  - caller: a\n    monthly_usd: 1\n  - caller: b\nlog: {}\n";
        assert!(in_mixed_budgets_block(seed, 5));
        assert!(!in_mixed_budgets_block(seed, 1));
        assert!(!in_mixed_budgets_block(seed, 8));
        let deeper = "budgets:\n  state_file: x\n    - caller: a\n";
        assert!(in_mixed_budgets_block(deeper, 3));
        let items_first = "budgets:\n  - caller: a\n    action: alert\n  state_file: x\n";
        assert!(in_mixed_budgets_block(items_first, 4));
        let valid = "budgets:\n  state_file: x # c\n  callers:\n    - caller: a\n      monthly_usd: 1\n    - caller: b\n";
        assert!(!in_mixed_budgets_block(valid, 5));
        let compact = "budgets:\n  callers:\n  - caller: a\n";
        assert!(!in_mixed_budgets_block(compact, 3));
        let bare = "budgets:\n  - caller: a\n    monthly_usd: 1\n";
        assert!(!in_mixed_budgets_block(bare, 3));
        assert!(!in_mixed_budgets_block(
            "routing:\n  - x\n  strategy: y\n",
            2
        ));
    }

    #[test]
    fn blank_means_nothing_but_comments() {
        assert!(is_blank(""));
        assert!(is_blank("# only a comment\n\n---\n"));
        assert!(!is_blank("listen: \":8080\"\n"));
    }
}
