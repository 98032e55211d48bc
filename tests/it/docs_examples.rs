//! Every complete config file shown in README.md and docs/ is valid: the guides cannot drift
//! from what `infermux validate` accepts. A block counts as a complete config when it has a
//! top-level `providers:` key; a block meant to show an error is fenced as `yaml bad` and
//! must be refused.

use std::path::Path;

/// The YAML blocks of a markdown file: (info string, text).
fn yaml_blocks(markdown: &str) -> Vec<(String, String)> {
    let mut blocks = Vec::new();
    let mut lines = markdown.lines();
    while let Some(line) = lines.next() {
        let Some(info) = line.strip_prefix("```") else {
            continue;
        };
        if !(info.starts_with("yaml") || info.starts_with("yml")) {
            continue;
        }
        let text: Vec<&str> = lines
            .by_ref()
            .take_while(|l| !l.starts_with("```"))
            .collect();
        blocks.push((info.to_owned(), text.join("\n") + "\n"));
    }
    blocks
}

#[test]
fn every_complete_config_in_the_docs_validates() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut files = vec![root.join("README.md")];
    for entry in std::fs::read_dir(root.join("docs")).expect("docs/") {
        let path = entry.expect("entry").path();
        if path.extension().is_some_and(|e| e == "md") {
            files.push(path);
        }
    }
    // Keys and tokens resolve to placeholders; every other ${VAR} is unset, so its default
    // (or, for one without a default, an error) shows.
    let env = |name: &str| {
        ["KEY", "TOKEN", "SECRET"]
            .iter()
            .any(|part| name.contains(part))
            .then(|| "sk-placeholder".to_owned())
    };
    let mut checked = 0;
    let mut failures = Vec::new();
    for file in files {
        let markdown = std::fs::read_to_string(&file).expect("read");
        for (info, yaml) in yaml_blocks(&markdown) {
            if !yaml.lines().any(|l| l.starts_with("providers:")) {
                continue;
            }
            let origin = file.display().to_string();
            let result = infermux::config::parse(&yaml, &origin, &env);
            match (info.contains("bad"), result) {
                (true, Ok(_)) => failures.push(format!(
                    "{origin}: a `yaml bad` block was accepted:\n{yaml}"
                )),
                (false, Err(error)) => failures.push(format!("{error}\nin this block:\n{yaml}")),
                _ => {}
            }
            checked += 1;
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
    assert!(
        checked >= 5,
        "only {checked} complete configs found in the docs"
    );
}
