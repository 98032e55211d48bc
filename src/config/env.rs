//! `${VAR}` expansion: preparing the text and the property map for serde-saphyr.
//!
//! serde-saphyr expands `${VAR}` itself (feature `properties`) and redacts expanded values
//! from its diagnostics. Of its syntaxes only the Docker Compose one expands quoted scalars,
//! and the contract's own example quotes its references (`api_key: "${OPENAI_API_KEY}"`), so
//! that is the one used. Two of its rules differ from ours, so the text is rewritten first:
//!
//! * an unset `${VAR}` must be an error naming the variable, not an empty string: every bare
//!   `${VAR}` becomes `${VAR?}` ("error if unset");
//! * only `${...}` is a reference; a `$` followed by a name (`pa$word`) stays literal, so it
//!   becomes `$$` (Compose's escape for `$`).
//!
//! `$${` is kept as Compose's escape for a literal `${`. The rewrite only inserts characters
//! within lines, and [`Prepared::original_position`] maps positions back to the file as
//! written. The property map holds only the variables the file refers to, so the rest of
//! the environment never enters the parser.

use std::collections::HashMap;

use super::error::Position;

/// The config text ready for serde-saphyr.
pub(super) struct Prepared {
    /// The rewritten text.
    pub(super) text: String,
    /// The value of every variable the text refers to and that is set.
    pub(super) properties: HashMap<String, String>,
    /// (line, column) in `text` of each inserted character, in order.
    insertions: Vec<(usize, usize)>,
}

/// Rewrites `original` as described in the module docs and looks up the variables it uses.
pub(super) fn prepare(original: &str, env: &dyn Fn(&str) -> Option<String>) -> Prepared {
    let chars: Vec<char> = original.chars().collect();
    let mut text = String::with_capacity(original.len() + 16);
    let mut properties = HashMap::new();
    let mut insertions = Vec::new();
    // Position in `text` of the next character written.
    let (mut line, mut column) = (1, 1);
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if c == '$' {
            match chars.get(i + 1) {
                Some('$') => {
                    text.push_str("$$");
                    column += 2;
                    i += 2;
                    continue;
                }
                Some('{') => {
                    let name_len = chars[i + 2..]
                        .iter()
                        .enumerate()
                        .take_while(|&(n, &c)| is_name_char(c, n == 0))
                        .count();
                    if name_len > 0 {
                        let name: String = chars[i + 2..i + 2 + name_len].iter().collect();
                        if let Some(value) = env(&name) {
                            properties.insert(name.clone(), value);
                        }
                        if chars.get(i + 2 + name_len) == Some(&'}') {
                            text.push_str("${");
                            text.push_str(&name);
                            insertions.push((line, column + 2 + name_len));
                            text.push_str("?}");
                            column += name_len + 4;
                            i += name_len + 3;
                            continue;
                        }
                    }
                    // An operator form such as `${VAR:-default}`: copied as is, and its
                    // nested references are handled as the scan goes on.
                }
                Some(&next) if is_name_char(next, true) => {
                    text.push_str("$$");
                    insertions.push((line, column + 1));
                    column += 2;
                    i += 1;
                    continue;
                }
                _ => {}
            }
        }
        text.push(c);
        if c == '\n' {
            line += 1;
            column = 1;
        } else {
            column += 1;
        }
        i += 1;
    }
    Prepared {
        text,
        properties,
        insertions,
    }
}

/// Undoes the `${VAR}` -> `${VAR?}` rewrite in a message from serde-saphyr, which quotes
/// expanded values as the reference it saw.
pub(super) fn restore_references(message: &str) -> String {
    let mut out = String::with_capacity(message.len());
    let mut rest = message;
    while let Some(start) = rest.find("${") {
        let (before, from) = rest.split_at(start);
        out.push_str(before);
        let name_len = from[2..]
            .char_indices()
            .take_while(|&(n, c)| is_name_char(c, n == 0))
            .count();
        let name_end = 2 + name_len;
        if name_len > 0 && from[name_end..].starts_with("?}") {
            out.push_str(&from[..name_end]);
            out.push('}');
            rest = &from[name_end + 2..];
        } else {
            out.push_str("${");
            rest = &from[2..];
        }
    }
    out.push_str(rest);
    out
}

fn is_name_char(c: char, first: bool) -> bool {
    c == '_' || c.is_ascii_alphabetic() || (!first && c.is_ascii_digit())
}

// === impl Prepared ===

impl Prepared {
    /// Maps a 1-based (line, column) in the rewritten text back to the original text.
    pub(super) fn original_position(&self, line: usize, column: usize) -> Position {
        let inserted_before = self
            .insertions
            .iter()
            .filter(|&&(l, c)| l == line && c < column)
            .count();
        Position {
            line,
            column: column - inserted_before,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::{prepare, restore_references};
    use crate::config::error::Position;

    fn env(name: &str) -> Option<String> {
        match name {
            "KEY" => Some("sk-secret".to_owned()),
            "EMPTY" => Some(String::new()),
            _ => None,
        }
    }

    #[test]
    fn bare_references_become_required() {
        let p = prepare("a: ${KEY}\nb: \"${MISSING}\"\n", &env);
        assert_eq!(p.text, "a: ${KEY?}\nb: \"${MISSING?}\"\n");
        assert_eq!(
            p.properties.get("KEY").map(String::as_str),
            Some("sk-secret")
        );
        assert!(!p.properties.contains_key("MISSING"));
    }

    #[test]
    fn operator_forms_and_escapes_are_kept() {
        let p = prepare("a: ${EMPTY:-x} ${A:-${KEY}} $${KEY} $5 $ end$", &env);
        assert_eq!(p.text, "a: ${EMPTY:-x} ${A:-${KEY?}} $${KEY} $5 $ end$");
        assert_eq!(p.properties.len(), 2);
    }

    #[test]
    fn dollar_before_a_name_stays_literal() {
        let p = prepare("password: pa$word\n", &env);
        assert_eq!(p.text, "password: pa$$word\n");
    }

    #[test]
    fn messages_show_references_as_written() {
        assert_eq!(
            restore_references("found string \"x${KEY?} ${A:-b} ${?} ${B?x}\""),
            "found string \"x${KEY} ${A:-b} ${?} ${B?x}\""
        );
        assert_eq!(restore_references("plain"), "plain");
    }

    #[test]
    fn positions_map_back_to_the_original() {
        let p = prepare("k: ${KEY} ${KEY} x\nz: 1\n", &env);
        assert_eq!(p.text, "k: ${KEY?} ${KEY?} x\nz: 1\n");
        // `x` is at column 20 in the rewritten text and column 18 in the original.
        assert_eq!(
            p.original_position(1, 20),
            Position {
                line: 1,
                column: 18
            }
        );
        assert_eq!(p.original_position(1, 4), Position { line: 1, column: 4 });
        assert_eq!(p.original_position(2, 4), Position { line: 2, column: 4 });
    }
}
