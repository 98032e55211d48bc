//! Exact money: integer pico-USD.

use std::{fmt, iter::Sum, ops::Add};

/// An amount of US dollars, exact, in pico-USD (10^-12 USD).
///
/// Every price of the form "$X per 1M tokens" with up to six decimals in X is a whole number
/// of pico-USD per token, so pricing a request never rounds, and sums of costs add up to the
/// last digit. A `u64` holds up to about $18.4 million. Floats appear only when rendering.
#[derive(Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Money(u64);

/// Pico-USD in one USD.
const PICOS_PER_USD: u64 = 1_000_000_000_000;

impl Money {
    /// Zero dollars.
    pub const ZERO: Self = Self(0);

    /// An amount in pico-USD.
    pub const fn from_picos(picos: u64) -> Self {
        Self(picos)
    }

    /// The amount in pico-USD.
    pub const fn picos(self) -> u64 {
        self.0
    }

    /// Converts a non-negative decimal USD amount, rounding to the nearest pico-USD.
    /// Returns `None` for negative, non-finite or too large amounts.
    pub fn from_usd(usd: f64) -> Option<Self> {
        let picos = (usd * PICOS_PER_USD as f64).round();
        (usd.is_finite() && usd >= 0.0 && picos < u64::MAX as f64).then_some(Self(picos as u64))
    }

    /// The amount as an `f64` of USD, for JSON reports. Exact for amounts whose decimal form
    /// has at most 15 significant digits.
    pub fn as_usd_f64(self) -> f64 {
        // Render then parse so that the float is the one closest to the exact decimal.
        self.to_plain_decimal().parse().unwrap_or(f64::NAN)
    }

    /// Adds, saturating at the largest amount.
    pub const fn saturating_add(self, other: Self) -> Self {
        Self(self.0.saturating_add(other.0))
    }

    /// This amount `count` times (a per-token price times a token count), saturating.
    pub const fn times(self, count: u64) -> Self {
        Self(self.0.saturating_mul(count))
    }

    /// Subtracts, stopping at zero.
    pub const fn saturating_sub(self, other: Self) -> Self {
        Self(self.0.saturating_sub(other.0))
    }

    /// The amount as a plain decimal without a currency sign and without trailing zeros:
    /// `0.0000018`, `1`, `0`. This is the format of the `X-Infermux-Cost` header.
    pub fn to_plain_decimal(self) -> String {
        let mut text = String::with_capacity(24);
        self.push_plain_decimal(&mut text);
        text
    }

    /// Appends [`to_plain_decimal`](Self::to_plain_decimal)'s text to `text`.
    pub fn push_plain_decimal(self, text: &mut String) {
        let whole = self.0 / PICOS_PER_USD;
        let mut frac = self.0 % PICOS_PER_USD;
        // Digits written by hand: this goes into a header of every response, into every
        // journal line and route reason, and `fmt` costs several times as much.
        push_digits(text, whole, 1);
        if frac != 0 {
            let mut width = 12;
            while frac.is_multiple_of(10) {
                frac /= 10;
                width -= 1;
            }
            text.push('.');
            push_digits(text, frac, width);
        }
    }

    /// The amount as shown to people: a dollar sign, at least two decimals, and as many more
    /// as needed to show the exact value: `$1.00`, `$0.000001`, `$0.0000018`, `$1.003`.
    pub fn to_dollars(self) -> String {
        let whole = self.0 / PICOS_PER_USD;
        let digits = format!("{:012}", self.0 % PICOS_PER_USD);
        let trimmed = digits.trim_end_matches('0');
        let shown = if trimmed.len() < 2 {
            &digits[..2]
        } else {
            trimmed
        };
        format!("${whole}.{shown}")
    }
}

/// Appends `n` in decimal to `text`, zero-padded to at least `width` digits.
fn push_digits(text: &mut String, n: u64, width: usize) {
    let mut buffer = itoa::Buffer::new();
    let digits = buffer.format(n);
    for _ in digits.len()..width {
        text.push('0');
    }
    text.push_str(digits);
}

impl Add for Money {
    type Output = Self;

    fn add(self, other: Self) -> Self {
        self.saturating_add(other)
    }
}

impl Sum for Money {
    fn sum<I: Iterator<Item = Self>>(iter: I) -> Self {
        iter.fold(Self::ZERO, Add::add)
    }
}

impl fmt::Debug for Money {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_dollars())
    }
}

impl fmt::Display for Money {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_dollars())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dollars_show_at_least_two_decimals_and_every_significant_digit() {
        let cases = [
            (1.0, "$1.00"),
            (0.000001, "$0.000001"),
            (0.0000018, "$0.0000018"),
            (1.003, "$1.003"),
            (0.0, "$0.00"),
            (25.5, "$25.50"),
            (0.1, "$0.10"),
        ];
        for (usd, shown) in cases {
            assert_eq!(
                Money::from_usd(usd).map(Money::to_dollars).as_deref(),
                Some(shown)
            );
        }
    }

    #[test]
    fn plain_decimal_has_no_trailing_zeros() {
        assert_eq!(Money::from_picos(1_800_000).to_plain_decimal(), "0.0000018");
        assert_eq!(Money::from_picos(2 * PICOS_PER_USD).to_plain_decimal(), "2");
        assert_eq!(Money::ZERO.to_plain_decimal(), "0");
    }

    #[test]
    fn plain_decimal_reads_back_as_the_same_amount() {
        // Every digit count and boundary, and a spread of amounts between them.
        let mut picos = vec![0, 1, 9, 10, 999_999_999_999, PICOS_PER_USD, u64::MAX];
        picos.extend((0..64).map(|bit| 1u64 << bit));
        picos.extend((1..5_000u64).map(|i| i.wrapping_mul(0x9e37_79b9_7f4a_7c15) >> (i % 40)));
        for picos in picos {
            let text = Money::from_picos(picos).to_plain_decimal();
            let (whole, frac) = text.split_once('.').unwrap_or((&text, ""));
            assert!(!frac.ends_with('0') && frac.len() <= 12, "{picos}: {text}");
            let frac_picos = format!("{frac:0<12}").parse::<u64>().expect("digits");
            let back = whole.parse::<u64>().expect("digits") * PICOS_PER_USD + frac_picos;
            assert_eq!(back, picos, "{text}");
        }
    }

    #[test]
    fn floats_for_reports_are_the_nearest_to_the_exact_value() {
        let sum: Money = [1_200_000, 600_000]
            .into_iter()
            .map(Money::from_picos)
            .sum();
        assert_eq!(sum.as_usd_f64(), 0.0000018);
    }

    #[test]
    fn negative_and_non_finite_amounts_are_refused() {
        assert_eq!(Money::from_usd(-1.0), None);
        assert_eq!(Money::from_usd(f64::NAN), None);
        assert_eq!(Money::from_usd(f64::INFINITY), None);
    }
}
