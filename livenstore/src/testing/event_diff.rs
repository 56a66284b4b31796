//! How the test kit shows two lists of events, or two states, that differ: side by side, one per
//! line, the first difference marked.

use std::fmt::Write as _;

/// One event as the kit compares it: its type name and its JSON payload (so two events are equal
/// when they would be stored alike), and its `Debug` text, which is what is shown.
#[derive(Debug, Clone)]
pub(crate) struct Compared {
    pub(crate) event_type: String,
    pub(crate) json: serde_json::Value,
    pub(crate) debug: String,
}

impl PartialEq for Compared {
    fn eq(&self, other: &Self) -> bool {
        self.event_type == other.event_type && self.json == other.json
    }
}

/// The `Debug` texts of `events`, one per line.
pub(crate) fn debug_lines(events: &[Compared]) -> Vec<String> {
    events.iter().map(|event| event.debug.clone()).collect()
}

/// The index of the first difference of `expected` and `actual`, `None` when they are equal.
pub(crate) fn first_difference<T: PartialEq>(expected: &[T], actual: &[T]) -> Option<usize> {
    let common = expected.len().min(actual.len());
    (0..common)
        .find(|&i| expected[i] != actual[i])
        .or_else(|| (expected.len() != actual.len()).then_some(common))
}

/// Two columns, `expected` on the left, `actual` on the right, one line per item; the line of
/// the first difference starts with `>` and ends with `<- first difference`.
pub(crate) fn side_by_side(expected: &[String], actual: &[String]) -> String {
    let first = first_difference(expected, actual);
    let width = expected
        .iter()
        .map(|line| line.chars().count())
        .chain(["expected".len()])
        .max()
        .unwrap_or(0);
    let mut out = String::new();
    let _ = writeln!(out, "  {:<width$} | actual", "expected");
    for i in 0..expected.len().max(actual.len()) {
        let left = expected.get(i).map_or("(none)", String::as_str);
        let right = actual.get(i).map_or("(none)", String::as_str);
        let (mark, note) = if Some(i) == first {
            (">", "   <- first difference")
        } else {
            (" ", "")
        };
        let _ = writeln!(out, "{mark} {left:<width$} | {right}{note}");
    }
    out
}

/// The lines of two pretty-printed `Debug` texts side by side (for states).
pub(crate) fn debug_side_by_side(expected: &str, actual: &str) -> String {
    let lines = |text: &str| text.lines().map(str::to_owned).collect::<Vec<_>>();
    side_by_side(&lines(expected), &lines(actual))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lines(items: &[&str]) -> Vec<String> {
        items.iter().map(|s| (*s).to_owned()).collect()
    }

    #[test]
    fn the_first_difference_is_marked_and_missing_lines_shown() {
        let text = side_by_side(&lines(&["A(1)", "B(2)", "C(3)"]), &lines(&["A(1)", "B(9)"]));
        let rows: Vec<&str> = text.lines().collect();
        assert_eq!(rows[0], "  expected | actual");
        assert_eq!(rows[1], "  A(1)     | A(1)");
        assert_eq!(rows[2], "> B(2)     | B(9)   <- first difference");
        assert_eq!(rows[3], "  C(3)     | (none)");
    }

    #[test]
    fn a_longer_actual_list_is_a_difference_after_the_common_part() {
        assert_eq!(first_difference(&[1, 2], &[1, 2, 3]), Some(2));
        assert_eq!(first_difference(&[1, 2], &[1, 2]), None);
        assert_eq!(first_difference::<u8>(&[], &[]), None);
    }
}
