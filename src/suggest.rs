//! "Did you mean …?" for unknown ids and keys, by edit distance.

/// The closest candidate to `unknown`, if it is close enough to be a plausible typo.
pub fn closest<'a>(
    unknown: &str,
    candidates: impl IntoIterator<Item = &'a str>,
) -> Option<&'a str> {
    let limit = (unknown.chars().count() / 3).max(2);
    candidates
        .into_iter()
        .map(|candidate| (edit_distance(unknown, candidate), candidate))
        .filter(|&(distance, _)| distance <= limit)
        .min_by_key(|&(distance, _)| distance)
        .map(|(_, candidate)| candidate)
}

/// `" (did you mean `x`?)"`, or `" (known: a, b)"` when nothing is close, or `""` with no candidates.
pub fn hint<'a>(unknown: &str, candidates: impl IntoIterator<Item = &'a str> + Clone) -> String {
    if let Some(best) = closest(unknown, candidates.clone()) {
        return format!(" (did you mean `{best}`?)");
    }
    let known: Vec<&str> = candidates.into_iter().collect();
    if known.is_empty() {
        String::new()
    } else {
        format!(" (known: {})", known.join(", "))
    }
}

/// Adds a did-you-mean to serde's "unknown field `x`, expected one of `a`, `b`" messages.
pub fn improve_serde_message(message: &str) -> String {
    let unknown = ["unknown field `", "unknown variant `"]
        .iter()
        .find_map(|prefix| message.split_once(prefix).map(|(_, rest)| rest));
    let Some(rest) = unknown else {
        return message.to_owned();
    };
    let Some((name, expected)) = rest.split_once('`') else {
        return message.to_owned();
    };
    // serde writes "expected one of `a`, `b`"; some parsers drop the backticks.
    let expected = expected.split_once("expected").map_or("", |(_, list)| list);
    let expected = expected
        .trim_start()
        .trim_start_matches("one of")
        .trim_start();
    let candidates: Vec<&str> = expected
        .split(',')
        .flat_map(|c| c.split(" or "))
        .map(|c| c.trim().trim_matches('`'))
        .filter(|c| !c.is_empty())
        .collect();
    match closest(name, candidates.iter().copied()) {
        Some(best) => format!("{message} (did you mean `{best}`?)"),
        None => message.to_owned(),
    }
}

fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut previous: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut current = vec![i + 1; b.len() + 1];
        for (j, &cb) in b.iter().enumerate() {
            let substitution = previous[j] + usize::from(ca != cb);
            current[j + 1] = substitution.min(previous[j + 1] + 1).min(current[j] + 1);
        }
        previous = current;
    }
    previous[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn suggests_the_nearest_known_id() {
        assert_eq!(closest("gld", ["free", "gold", "silver"]), Some("gold"));
        assert_eq!(closest("platinum", ["free", "gold"]), None);
        assert_eq!(hint("platinum", ["free", "gold"]), " (known: free, gold)");
        assert_eq!(hint("glod", ["free", "gold"]), " (did you mean `gold`?)");
    }

    #[test]
    fn improves_unknown_field_messages() {
        let message = "unknown field `acess`, expected one of `title`, `access`, `date`";
        assert!(improve_serde_message(message).ends_with("(did you mean `access`?)"));
        assert_eq!(improve_serde_message("invalid type"), "invalid type");
        let bare = "unknown field `levle`, expected one of level, bundles, drip";
        assert!(improve_serde_message(bare).ends_with("(did you mean `level`?)"));
    }
}
