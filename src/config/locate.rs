//! Field paths and source positions: which key of the file is at which line and column.
//!
//! serde-saphyr reports errors with a position but not a field path, and validation knows
//! the field path but not the position. [`SourceIndex`] walks the YAML events of the file
//! as written (with their spans) and records the path of every key and value, so either can
//! be found from the other. Paths look like `providers[2].name` or
//! `providers[0].model_aliases["gpt-4.1"]` (keys that are not plain identifiers are quoted).

use serde_saphyr::granit_parser::{Event, Parser};

use super::error::Position;

/// Every key and value of a YAML document, with its path and position.
#[derive(Debug, Default)]
pub(super) struct SourceIndex {
    nodes: Vec<Node>,
}

#[derive(Debug)]
struct Node {
    position: Position,
    path: String,
    /// The path of the mapping or sequence that holds this node.
    parent: String,
    is_key: bool,
    /// The scalar's text as written in the file (before `${VAR}` expansion).
    raw: Option<String>,
}

/// A mapping or sequence being walked.
enum Frame {
    Mapping { path: String, key: Option<String> },
    Sequence { path: String, next: usize },
}

/// The path of `key` inside the mapping at `parent`.
pub(super) fn key_path(parent: &str, key: &str) -> String {
    let plain = !key.is_empty()
        && key
            .chars()
            .all(|c| c == '_' || c == '-' || c.is_ascii_alphanumeric());
    match (parent.is_empty(), plain) {
        (true, true) => key.to_owned(),
        (false, true) => format!("{parent}.{key}"),
        (_, false) => format!("{parent}[{key:?}]"),
    }
}

/// The path of item `index` of the sequence at `parent`.
pub(super) fn index_path(parent: &str, index: usize) -> String {
    format!("{parent}[{index}]")
}

// === impl SourceIndex ===

impl SourceIndex {
    /// Indexes `text`. A syntax error ends the walk; what came before it is kept.
    pub(super) fn build(text: &str) -> Self {
        let mut nodes = Vec::new();
        let mut stack: Vec<Frame> = Vec::new();
        let mut parser = Parser::new_from_str(text);
        while let Some(Ok((event, span))) = parser.next_event() {
            match &event {
                Event::SequenceEnd | Event::MappingEnd => {
                    stack.pop();
                    continue;
                }
                _ if !event.is_node() => continue,
                _ => {}
            }
            let raw = match &event {
                Event::Scalar(value, ..) => Some(value.to_string()),
                _ => None,
            };
            let (path, parent, is_key) = match stack.last_mut() {
                None => (String::new(), String::new(), false),
                Some(Frame::Mapping { path, key }) => match key.take() {
                    None => {
                        let name = raw.clone().unwrap_or_else(|| "?".to_owned());
                        let node_path = key_path(path, &name);
                        *key = Some(name);
                        (node_path, path.clone(), true)
                    }
                    Some(name) => (key_path(path, &name), path.clone(), false),
                },
                Some(Frame::Sequence { path, next }) => {
                    *next += 1;
                    (index_path(path, *next - 1), path.clone(), false)
                }
            };
            match event {
                Event::MappingStart(..) => stack.push(Frame::Mapping {
                    path: path.clone(),
                    key: None,
                }),
                Event::SequenceStart(..) => stack.push(Frame::Sequence {
                    path: path.clone(),
                    next: 0,
                }),
                _ => {}
            }
            nodes.push(Node {
                position: Position {
                    line: span.start.line(),
                    column: span.start.col() + 1,
                },
                path,
                parent,
                is_key,
                raw,
            });
        }
        Self { nodes }
    }

    /// The path of the innermost key or value that starts exactly at `position`.
    pub(super) fn path_at(&self, position: Position) -> Option<&str> {
        self.innermost_at(position).map(|n| n.path.as_str())
    }

    /// The scalar that starts exactly at `position`, as written in the file.
    pub(super) fn raw_at(&self, position: Position) -> Option<&str> {
        self.innermost_at(position).and_then(|n| n.raw.as_deref())
    }

    /// The path of the mapping that holds the key at `position` (or of the mapping that
    /// starts there): where a missing key belongs.
    pub(super) fn mapping_at(&self, position: Position) -> Option<&str> {
        self.innermost_at(position)
            .map(|n| if n.is_key { &n.parent } else { &n.path })
            .map(String::as_str)
    }

    /// The key written at `position` and the path of the mapping that holds it.
    pub(super) fn key_at(&self, position: Position) -> Option<(&str, &str)> {
        self.nodes
            .iter()
            .find(|n| n.is_key && n.position == position)
            .map(|n| (n.raw.as_deref().unwrap_or("?"), n.parent.as_str()))
    }

    /// Where the field at `path` is written: its value, else its key, else the nearest
    /// enclosing field that is in the file.
    pub(super) fn position_of(&self, path: &str) -> Option<Position> {
        let mut path = path;
        loop {
            let found = self
                .nodes
                .iter()
                .find(|n| !n.is_key && n.path == path)
                .or_else(|| self.nodes.iter().find(|n| n.path == path));
            if let Some(node) = found {
                return Some(node.position);
            }
            path = parent_of(path)?;
        }
    }

    /// The scalar at `path` as written in the file, such as `${OPENAI_BASE_URL}`.
    pub(super) fn raw(&self, path: &str) -> Option<&str> {
        self.nodes
            .iter()
            .find(|n| !n.is_key && n.path == path)
            .and_then(|n| n.raw.as_deref())
    }

    fn innermost_at(&self, position: Position) -> Option<&Node> {
        self.nodes
            .iter()
            .filter(|n| n.position == position)
            .max_by_key(|n| n.path.len())
    }
}

/// `providers[0].name` -> `providers[0]` -> `providers` -> `` -> None.
fn parent_of(path: &str) -> Option<&str> {
    if path.is_empty() {
        return None;
    }
    if path.ends_with(']') {
        // `[3]` or `["key"]`: a quoted key may itself contain `[`, so find its opening quote.
        let cut = match path.strip_suffix("\"]") {
            Some(quoted) => quoted.rfind("[\""),
            None => path.rfind('['),
        };
        return cut.map(|i| &path[..i]);
    }
    Some(path.rfind('.').map_or("", |i| &path[..i]))
}

#[cfg(test)]
mod tests {
    use super::{SourceIndex, index_path, key_path, parent_of};
    use crate::config::error::Position;

    const YAML: &str = "\
listen: \":8080\"
providers:
  - name: a
    type: openai
    model_aliases: {gpt-4.1: x}
  - {name: b, type: mock}
budgets:
  - caller: c
";

    fn at(line: usize, column: usize) -> Position {
        Position { line, column }
    }

    #[test]
    fn paths_are_built_like_the_validator_builds_them() {
        assert_eq!(key_path("", "listen"), "listen");
        assert_eq!(key_path("providers[0]", "name"), "providers[0].name");
        assert_eq!(key_path("m", "gpt-4.1"), "m[\"gpt-4.1\"]");
        assert_eq!(index_path("providers", 2), "providers[2]");
        assert_eq!(parent_of("providers[0].name"), Some("providers[0]"));
        assert_eq!(parent_of("providers[0]"), Some("providers"));
        assert_eq!(parent_of("m[\"a[1]\"]"), Some("m"));
        assert_eq!(parent_of("providers"), Some(""));
        assert_eq!(parent_of(""), None);
    }

    #[test]
    fn positions_and_paths_find_each_other() {
        let index = SourceIndex::build(YAML);
        assert_eq!(index.position_of("listen"), Some(at(1, 9)));
        assert_eq!(index.position_of("providers[0].name"), Some(at(3, 11)));
        assert_eq!(index.position_of("providers[1].type"), Some(at(6, 21)));
        assert_eq!(
            index.position_of("providers[0].model_aliases[\"gpt-4.1\"]"),
            Some(at(5, 30))
        );
        // Not in the file: the nearest enclosing field.
        assert_eq!(index.position_of("providers[1].base_url"), Some(at(6, 5)));
        assert_eq!(index.position_of("budgets[0].caller"), Some(at(8, 13)));

        assert_eq!(index.path_at(at(4, 5)), Some("providers[0].type"));
        assert_eq!(index.path_at(at(4, 11)), Some("providers[0].type"));
        assert_eq!(index.key_at(at(4, 5)), Some(("type", "providers[0]")));
        assert_eq!(index.mapping_at(at(3, 5)), Some("providers[0]"));
        assert_eq!(index.raw("providers[1].name"), Some("b"));
        assert_eq!(index.raw("listen"), Some(":8080"));
    }

    #[test]
    fn a_syntax_error_keeps_what_came_before() {
        let index = SourceIndex::build("a: 1\nb: [\n");
        assert_eq!(index.position_of("a"), Some(at(1, 4)));
    }
}
