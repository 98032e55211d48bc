//! The four ways of ordering a request's candidate providers.

use serde::Deserialize;

/// How a provider is chosen among the candidates (and how the rest are ranked for failover).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Strategy {
    /// Cycle through healthy candidates (`round_robin`).
    RoundRobin,
    /// Lowest moving average of recent latency (`least_latency`).
    LeastLatency,
    /// Lowest estimated cost (`cost_weighted`).
    CostWeighted,
    /// Declared order (`priority`).
    Priority,
}

impl Strategy {
    /// The name used in the config file.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::RoundRobin => "round_robin",
            Self::LeastLatency => "least_latency",
            Self::CostWeighted => "cost_weighted",
            Self::Priority => "priority",
        }
    }

    /// Parses the value of the `X-Infermux-Strategy` request header: `cost`, `latency`,
    /// `priority` or `round_robin`, or any of the config names. Case-insensitive.
    pub fn from_header(value: &str) -> Option<Self> {
        let value = value.trim();
        [
            ("cost", Self::CostWeighted),
            ("cost_weighted", Self::CostWeighted),
            ("latency", Self::LeastLatency),
            ("least_latency", Self::LeastLatency),
            ("priority", Self::Priority),
            ("round_robin", Self::RoundRobin),
        ]
        .into_iter()
        .find(|(name, _)| value.eq_ignore_ascii_case(name))
        .map(|(_, strategy)| strategy)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_values_use_the_short_names_or_the_config_names() {
        assert_eq!(Strategy::from_header("cost"), Some(Strategy::CostWeighted));
        assert_eq!(
            Strategy::from_header(" Latency "),
            Some(Strategy::LeastLatency)
        );
        assert_eq!(
            Strategy::from_header("round_robin"),
            Some(Strategy::RoundRobin)
        );
        assert_eq!(Strategy::from_header("priority"), Some(Strategy::Priority));
        assert_eq!(Strategy::from_header("cheapest"), None);
    }
}
