//! "Did you mean …?": the closest known name to a misspelt one.

/// The candidate closest to `word` by edit distance (adjacent swaps count
/// once), if it is close enough to be a plausible typo: at most a third of
/// the word's length, and never more than 3 edits. Ties go to the earliest
/// candidate, so results do not depend on anything but the input order.
pub fn closest<'a>(word: &str, candidates: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    let limit = (word.chars().count() / 3).clamp(1, 3);
    let mut best: Option<(usize, &str)> = None;
    for candidate in candidates {
        if candidate == word {
            continue;
        }
        let distance = edit_distance(word, candidate);
        if distance <= limit && best.is_none_or(|(d, _)| distance < d) {
            best = Some((distance, candidate));
        }
    }
    best.map(|(_, candidate)| candidate)
}

/// `closest`, or failing that a candidate the word abbreviates: a longer
/// one that begins like it, over at least its first four characters (three
/// for a three-letter word), as `stage` and `prod` do `staging` and
/// `production`. The one sharing the longest beginning wins, then the
/// closest. For the fixed words of a field, which people shorten; among
/// names, a shared beginning says little (`certificates`,
/// `certificatesigningrequests`).
pub fn closest_or_abbreviated<'a>(
    word: &str,
    candidates: impl IntoIterator<Item = &'a str> + Clone,
) -> Option<&'a str> {
    if let Some(close) = closest(word, candidates.clone()) {
        return Some(close);
    }
    let needed = word.chars().count().min(4);
    if needed < 3 {
        return None;
    }
    let mut best: Option<(usize, usize, &str)> = None;
    for candidate in candidates {
        let shared = shared_beginning(word, candidate);
        if shared < needed || candidate.len() <= word.len() {
            continue;
        }
        let distance = edit_distance(word, candidate);
        if best.is_none_or(|(s, d, _)| shared > s || shared == s && distance < d) {
            best = Some((shared, distance, candidate));
        }
    }
    best.map(|(_, _, candidate)| candidate)
}

/// How many characters two words begin with alike, ignoring ASCII case.
fn shared_beginning(a: &str, b: &str) -> usize {
    a.chars()
        .zip(b.chars())
        .take_while(|(x, y)| x.eq_ignore_ascii_case(y))
        .count()
}

/// Optimal string alignment distance, case-insensitive for ASCII letters.
fn edit_distance(a: &str, b: &str) -> usize {
    let a: Vec<char> = a.chars().map(|c| c.to_ascii_lowercase()).collect();
    let b: Vec<char> = b.chars().map(|c| c.to_ascii_lowercase()).collect();
    let width = b.len() + 1;
    let mut table = vec![0usize; (a.len() + 1) * width];
    for (i, row) in table.chunks_mut(width).enumerate() {
        row[0] = i;
    }
    for (j, cell) in table.iter_mut().take(width).enumerate() {
        *cell = j;
    }
    for i in 1..=a.len() {
        for j in 1..=b.len() {
            let cost = usize::from(a[i - 1] != b[j - 1]);
            let mut best = (table[(i - 1) * width + j] + 1)
                .min(table[i * width + j - 1] + 1)
                .min(table[(i - 1) * width + j - 1] + cost);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                best = best.min(table[(i - 2) * width + j - 2] + 1);
            }
            table[i * width + j] = best;
        }
    }
    table[a.len() * width + b.len()]
}

/// "a", "a and b", "a, b and c": a list in a sentence.
pub fn and_list<S: AsRef<str>>(items: &[S]) -> String {
    match items {
        [] => String::new(),
        [only] => only.as_ref().to_string(),
        [head @ .., last] => {
            let head: Vec<&str> = head.iter().map(AsRef::as_ref).collect();
            format!("{} and {}", head.join(", "), last.as_ref())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_typos_but_not_strangers() {
        let items = [
            "import", "cluster", "tier", "role", "let", "env", "for", "alert",
        ];
        assert_eq!(closest("clustr", items), Some("cluster"));
        assert_eq!(closest("clsuter", items), Some("cluster"));
        assert_eq!(closest("Tier", items), Some("tier"));
        assert_eq!(closest("namespace", items), None);
        assert_eq!(
            closest("prod-clster", ["prod-cluster", "dev-cluster"]),
            Some("prod-cluster")
        );
        let environments = ["development", "staging", "production"];
        let abbreviated = |word| closest_or_abbreviated(word, environments);
        assert_eq!(abbreviated("stage"), Some("staging"));
        assert_eq!(abbreviated("prod"), Some("production"));
        assert_eq!(abbreviated("dev"), Some("development"));
        assert_eq!(abbreviated("productoin"), Some("production"));
        assert_eq!(abbreviated("de"), None);
        assert_eq!(abbreviated("stack"), None);
        assert_eq!(closest("stage", environments), None);
    }
}
