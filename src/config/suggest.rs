//! "Did you mean ...?": the nearest valid name to a misspelt one.
//!
//! Unknown keys and unknown enum values are reported with the closest valid spelling. The
//! distance is the optimal string alignment distance (Levenshtein plus adjacent
//! transpositions, so `mdoels` is one edit from `models`), compared without case.

/// The candidate closest to `word`, if it is close enough to be a plausible typo.
///
/// "Close enough" is at most a third of the longer word's length in edits (and always at
/// least one edit, but never every character), so `baseurl` suggests `base_url` but
/// `color` suggests nothing, and neither does `b` suggest `a`.
pub(super) fn nearest<'a>(word: &str, candidates: &[&'a str]) -> Option<&'a str> {
    let word = word.to_ascii_lowercase();
    candidates
        .iter()
        .map(|&candidate| (distance(&word, &candidate.to_ascii_lowercase()), candidate))
        .filter(|&(d, candidate)| {
            let longest = word.chars().count().max(candidate.chars().count());
            d < longest && d <= (longest / 3).max(1)
        })
        .min_by_key(|&(d, _)| d)
        .map(|(_, candidate)| candidate)
}

/// Optimal string alignment distance between `a` and `b`, counted in characters.
fn distance(a: &str, b: &str) -> usize {
    let a: Vec<char> = a.chars().collect();
    let b: Vec<char> = b.chars().collect();
    // rows[i][j] = distance between a[..i] and b[..j]; three rows suffice for transpositions.
    let mut before: Vec<usize> = vec![0; b.len() + 1];
    let mut previous: Vec<usize> = (0..=b.len()).collect();
    let mut current: Vec<usize> = vec![0; b.len() + 1];
    for i in 1..=a.len() {
        current[0] = i;
        for j in 1..=b.len() {
            let cost = usize::from(a[i - 1] != b[j - 1]);
            let mut best = (previous[j] + 1)
                .min(current[j - 1] + 1)
                .min(previous[j - 1] + cost);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                best = best.min(before[j - 2] + 1);
            }
            current[j] = best;
        }
        std::mem::swap(&mut before, &mut previous);
        std::mem::swap(&mut previous, &mut current);
    }
    previous[b.len()]
}

#[cfg(test)]
mod tests {
    use super::{distance, nearest};

    #[test]
    fn distance_counts_edits_and_transpositions() {
        assert_eq!(distance("", ""), 0);
        assert_eq!(distance("abc", ""), 3);
        assert_eq!(distance("", "abc"), 3);
        assert_eq!(distance("kitten", "sitting"), 3);
        assert_eq!(distance("baseurl", "base_url"), 1);
        assert_eq!(distance("mdoels", "models"), 1);
        assert_eq!(distance("same", "same"), 0);
    }

    #[test]
    fn nearest_suggests_plausible_typos_only() {
        let keys = [
            "name",
            "type",
            "api_key",
            "base_url",
            "models",
            "model_aliases",
        ];
        assert_eq!(nearest("baseurl", &keys), Some("base_url"));
        assert_eq!(nearest("Base_URL", &keys), Some("base_url"));
        assert_eq!(nearest("mdoels", &keys), Some("models"));
        assert_eq!(nearest("apikey", &keys), Some("api_key"));
        assert_eq!(nearest("model_alias", &keys), Some("model_aliases"));
        assert_eq!(nearest("colour", &keys), None);
        assert_eq!(nearest("x", &[]), None);
        assert_eq!(nearest("b", &["a", "ab"]), Some("ab"));
        assert_eq!(nearest("b", &["a"]), None);
    }
}
