//! The text of `infermux pricing`: the effective table, the unpriced pairs, the list prices.

use std::fmt::Write as _;

use super::{LIST_PRICES, PriceOrigin, effective_prices, per_million};
use crate::config::Config;

/// The effective pricing table of `config` as aligned text: each configured provider's
/// models with the price that applies and its origin (`config` marks a `pricing:` override),
/// the unpriced pairs, then the built-in list prices with source and as-of date.
pub fn render_table(config: &Config) -> String {
    let mut rows = vec![row([
        "provider",
        "model",
        "input",
        "output",
        "cached_input",
        "cache_write",
        "origin",
        "cache_write_1h, tiers",
    ])];
    let effective = effective_prices(config);
    for entry in &effective {
        let (input, output, cached, write) = match entry.price {
            Some(price) => (
                per_million(price.input),
                per_million(price.output),
                price
                    .cached_input
                    .map_or_else(|| "-".to_owned(), per_million),
                price
                    .cache_write
                    .map_or_else(|| "-".to_owned(), per_million),
            ),
            None => ("?".into(), "?".into(), "?".into(), "?".into()),
        };
        rows.push(vec![
            entry.provider.clone(),
            entry.model.clone(),
            input,
            output,
            cached,
            write,
            entry.origin.label().to_owned(),
            entry.price.as_ref().map(shapes).unwrap_or_default(),
        ]);
    }
    let mut out = String::from("Effective prices, USD per 1M tokens:\n");
    write_aligned(&mut out, &rows);
    let unpriced: Vec<String> = effective
        .iter()
        .filter(|e| e.origin == PriceOrigin::Unpriced)
        .map(|e| format!("{} {}", e.provider, e.model))
        .collect();
    if unpriced.is_empty() {
        out.push_str("\nUnpriced models: none\n");
    } else {
        let _ = writeln!(
            out,
            "\nUnpriced models (unpriced: {}): {}",
            config.unpriced.as_str(),
            unpriced.join(", ")
        );
    }
    out.push_str(
        "\nBuilt-in list prices, USD per 1M tokens (by model, for openai, anthropic and openai_compatible providers):\n",
    );
    let mut list = vec![row([
        "model",
        "input",
        "output",
        "cached_input",
        "cache_write",
        "source",
        "as_of",
        "cache_write_1h, tiers",
    ])];
    for entry in LIST_PRICES {
        let price = entry.price();
        list.push(vec![
            entry.model.to_owned(),
            per_million(price.input),
            per_million(price.output),
            price
                .cached_input
                .map_or_else(|| "-".to_owned(), per_million),
            price
                .cache_write
                .map_or_else(|| "-".to_owned(), per_million),
            entry.source.vendor().to_owned(),
            entry.as_of.to_owned(),
            shapes(&price),
        ]);
    }
    write_aligned(&mut out, &list);
    out
}

/// A price's shapes beyond its standard rates, in one cell: `1h 6`, `>200000 6/22.5`,
/// `priority 2.5/20`, `flex 0.625/5` (input/output per 1M tokens); empty when none.
pub(super) fn shapes(price: &infermux_core::Price) -> String {
    let mut parts = Vec::new();
    if let Some(hour) = price.cache_write_1h {
        parts.push(format!("1h {}", per_million(hour)));
    }
    let io =
        |r: &infermux_core::Rates| format!("{}/{}", per_million(r.input), per_million(r.output));
    for tier in price.tiers.iter().flatten() {
        parts.push(format!(">{} {}", tier.above, io(&tier.rates)));
    }
    if let Some(priority) = &price.priority {
        parts.push(format!("priority {}", io(priority)));
    }
    if let Some(flex) = &price.flex {
        parts.push(format!("flex {}", io(flex)));
    }
    parts.join("; ")
}

fn row<const N: usize>(cells: [&str; N]) -> Vec<String> {
    cells.iter().map(|c| (*c).to_owned()).collect()
}

fn write_aligned(out: &mut String, rows: &[Vec<String>]) {
    let columns = rows.first().map_or(0, Vec::len);
    let widths: Vec<usize> = (0..columns)
        .map(|i| rows.iter().map(|r| r[i].len()).max().unwrap_or(0))
        .collect();
    for row in rows {
        let mut line = String::new();
        for (cell, width) in row.iter().zip(&widths) {
            let _ = write!(line, "{cell:<width$}  ");
        }
        out.push_str(line.trim_end());
        out.push('\n');
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_table_marks_overrides_free_and_unpriced_models() {
        let yaml = r#"
providers:
  - name: openai
    type: openai
    api_key: "k"
    models: [gpt-4o-mini, gpt-4o, mystery-1]
  - name: ollama
    type: ollama
    models: [llama3.2]
pricing:
  - {provider: openai, model: gpt-4o, input: 2.0, output: 8.0, cached_input: 0.5}
"#;
        let config = crate::config::parse(yaml, "t.yml", &|_| None).expect("valid");
        let text = render_table(&config);
        let line = |start: &str| {
            text.lines()
                .find(|l| l.starts_with(start))
                .unwrap_or_else(|| panic!("no line {start}:\n{text}"))
                .split_whitespace()
                .collect::<Vec<_>>()
        };
        assert_eq!(
            line("openai    gpt-4o-mini"),
            [
                "openai",
                "gpt-4o-mini",
                "0.15",
                "0.6",
                "0.075",
                "-",
                "built-in"
            ]
        );
        assert_eq!(
            line("openai    gpt-4o "),
            ["openai", "gpt-4o", "2", "8", "0.5", "-", "config"]
        );
        assert_eq!(line("ollama")[2..], ["0", "0", "-", "-", "free", "(local)"]);
        assert_eq!(line("openai    mystery-1")[6], "UNPRICED");
        assert!(
            text.contains("Unpriced models (unpriced: warn): openai mystery-1"),
            "{text}"
        );
        assert!(text.contains("claude-haiku-3-5"), "{text}");
    }
}
