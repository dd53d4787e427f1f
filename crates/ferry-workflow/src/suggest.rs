//! "Did you mean …?": the closest known word to a misspelt one, by edit distance.
//! Public so that `ferry-deploy` suggests keys the same way.

/// The candidate closest to `word`, if it is close enough to be a likely typo: at most a third
/// of the word's length in edits (at least one), ignoring case and `-`/`_` differences.
pub fn closest<'c>(word: &str, candidates: &[&'c str]) -> Option<&'c str> {
    let normal = |s: &str| s.to_ascii_lowercase().replace('_', "-");
    let word_normal = normal(word);
    let limit = (word.chars().count() / 3).max(1);
    candidates
        .iter()
        .map(|candidate| (edit_distance(&word_normal, &normal(candidate)), *candidate))
        .filter(|(distance, _)| *distance <= limit)
        .min_by_key(|(distance, _)| *distance)
        .map(|(_, candidate)| candidate)
}

/// Levenshtein distance over characters, with adjacent transpositions counting as one edit.
pub fn edit_distance(a: &str, b: &str) -> usize {
    let a: Vec<char> = a.chars().collect();
    let b: Vec<char> = b.chars().collect();
    let mut rows = vec![vec![0usize; b.len() + 1]; a.len() + 1];
    for (i, row) in rows.iter_mut().enumerate() {
        row[0] = i;
    }
    for (j, cell) in rows[0].iter_mut().enumerate() {
        *cell = j;
    }
    for i in 1..=a.len() {
        for j in 1..=b.len() {
            let cost = usize::from(a[i - 1] != b[j - 1]);
            let mut best = (rows[i - 1][j] + 1).min(rows[i][j - 1] + 1).min(rows[i - 1][j - 1] + cost);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                best = best.min(rows[i - 2][j - 2] + 1);
            }
            rows[i][j] = best;
        }
    }
    rows[a.len()][b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn typos_find_the_intended_key() {
        assert_eq!(closest("runs_on", &["runs-on", "needs"]), Some("runs-on"));
        assert_eq!(closest("neesd", &["runs-on", "needs"]), Some("needs"));
        assert_eq!(closest("stpes", &["steps", "env"]), Some("steps"));
        assert_eq!(closest("banana", &["steps", "env"]), None);
        assert_eq!(edit_distance("kitten", "sitting"), 3);
    }
}
