//! [`Config::summary`]: what `infermux validate` prints.

use std::fmt::Write as _;

use super::model::{BudgetStoreKind, Config};

impl Config {
    /// A short human summary: addresses, providers, route groups, pricing and budgets.
    ///
    /// Credentials are never printed, only whether they are set.
    pub fn summary(&self) -> String {
        let mut out = String::new();
        // Writing to a String cannot fail.
        let _ = self.write_summary(&mut out);
        out
    }

    fn write_summary(&self, out: &mut String) -> std::fmt::Result {
        let set = |is_set: bool| if is_set { "set" } else { "not set" };
        writeln!(out, "listen: {}", self.listen)?;
        writeln!(
            out,
            "management_listen: {} (management_token: {})",
            self.management_listen,
            set(self.management_token.is_some())
        )?;
        writeln!(out, "providers ({}):", self.providers.len())?;
        for p in &self.providers {
            write!(
                out,
                "  - {} ({}) {}, {} model{}",
                p.name,
                p.kind.as_str(),
                p.base_url,
                p.models.len(),
                if p.models.len() == 1 { "" } else { "s" }
            )?;
            if !p.model_aliases.is_empty() {
                let aliases: Vec<String> = p
                    .model_aliases
                    .iter()
                    .map(|(requested, sent)| format!("{requested} -> {sent}"))
                    .collect();
                write!(out, ", aliases: {}", aliases.join(", "))?;
            }
            writeln!(out, ", api_key: {}", set(p.api_key.is_some()))?;
        }
        writeln!(
            out,
            "routing: {}, {} group{}",
            self.routing.strategy.as_str(),
            self.routing.groups.len(),
            if self.routing.groups.len() == 1 {
                ""
            } else {
                "s"
            }
        )?;
        for g in &self.routing.groups {
            let strategy = g.strategy.unwrap_or(self.routing.strategy);
            let providers = if g.providers.is_empty() {
                "all providers".to_owned()
            } else {
                g.providers.join(", ")
            };
            writeln!(
                out,
                "  - {}: {} -> {} ({})",
                g.name,
                g.models.join(", "),
                providers,
                strategy.as_str()
            )?;
        }
        writeln!(out, "pricing overrides: {}", self.pricing.len())?;
        match &self.virtual_models {
            None => writeln!(
                out,
                "virtual models: economy, auto, smart-select (built-in)"
            )?,
            Some(list) => {
                let names: Vec<&str> = list.iter().map(|v| v.name.as_str()).collect();
                writeln!(out, "virtual models: {}", names.join(", "))?;
            }
        }
        let b = &self.budgets;
        let store = match b.store {
            BudgetStoreKind::File => match &b.state_file {
                Some(path) => format!("file {}", path.display()),
                None => "file (no state_file set)".to_owned(),
            },
            BudgetStoreKind::Redis => format!(
                "redis (redis_url: {}, {})",
                set(b.redis_url.is_some()),
                b.redis_unavailable.as_str()
            ),
        };
        writeln!(
            out,
            "budgets: {} caller{}, store: {store}",
            b.callers.len(),
            if b.callers.len() == 1 { "" } else { "s" }
        )?;
        if self.keys.required || !self.keys.list.is_empty() {
            let names: Vec<&str> = self.keys.list.iter().map(|k| k.name.as_str()).collect();
            writeln!(
                out,
                "keys: {}, {} in the file{}{}",
                if self.keys.required {
                    "required"
                } else {
                    "optional"
                },
                names.len(),
                if names.is_empty() { "" } else { ": " },
                names.join(", ")
            )?;
        }
        writeln!(out, "unpriced: {}", self.unpriced.as_str())?;
        writeln!(out, "log: {}, {}", self.log.level, self.log.format.as_str())?;
        Ok(())
    }
}
