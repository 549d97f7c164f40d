//! Footnotes: one per distinct message, counting the reps that said it.
//! Messages that differ only in their numbers make one footnote, with each
//! number that varied shown as a range:
//!
//! ```text
//! rep 1: only 5,113 of 10,000 subscribers connected: HTTP 503
//! rep 2: only 5,116 of 10,000 subscribers connected: HTTP 503
//! →  [1] only 5,113–5,116 of 10,000 subscribers connected: HTTP 503 (2 of 3 reps)
//! ```

/// Every footnote of a run, in the order first said.
#[derive(Debug, Default)]
pub struct Notes {
    notes: Vec<Note>,
}

/// One footnote: its words, and the numbers each rep put between them.
#[derive(Debug)]
struct Note {
    /// The text around the numbers (one more piece than numbers).
    words: Vec<String>,
    /// Each time it was said, its numbers as written.
    numbers: Vec<Vec<String>>,
}

impl Notes {
    /// Records `text` once more; its footnote's index.
    pub fn add(&mut self, text: &str) -> usize {
        let (words, numbers) = split(text);
        if let Some(i) = self.notes.iter().position(|n| n.words == words) {
            self.notes[i].numbers.push(numbers);
            return i;
        }
        self.notes.push(Note {
            words,
            numbers: vec![numbers],
        });
        self.notes.len() - 1
    }

    /// Whether no footnote was recorded.
    pub fn is_empty(&self) -> bool {
        self.notes.is_empty()
    }

    /// `[1] text (2 of 3 reps)`, a line each.
    pub fn render(&self, reps: usize) -> String {
        let mut out = String::new();
        for (i, note) in self.notes.iter().enumerate() {
            let mut text = note.words[0].clone();
            for (k, words) in note.words[1..].iter().enumerate() {
                text.push_str(&range(note.numbers.iter().map(|said| said[k].as_str())));
                text.push_str(words);
            }
            let said = note.numbers.len();
            out.push_str(&format!("[{}] {text} ({said} of {reps} reps)\n", i + 1));
        }
        out
    }
}

/// `5,113`, or `5,113–5,116` when the values differ.
fn range<'a>(values: impl Iterator<Item = &'a str>) -> String {
    let value = |s: &str| s.replace(',', "").parse::<f64>().unwrap_or(f64::NAN);
    let values: Vec<&str> = values.collect();
    let low = values
        .iter()
        .copied()
        .min_by(|a, b| value(a).total_cmp(&value(b)));
    let high = values
        .iter()
        .copied()
        .max_by(|a, b| value(a).total_cmp(&value(b)));
    match (low, high) {
        (Some(low), Some(high)) if low != high => format!("{low}–{high}"),
        (Some(low), _) => low.to_string(),
        _ => String::new(),
    }
}

/// The words around the numbers, and the numbers (digits, with inner `,` or `.`).
fn split(text: &str) -> (Vec<String>, Vec<String>) {
    let (mut words, mut numbers) = (vec![String::new()], Vec::new());
    let chars: Vec<char> = text.chars().collect();
    let mut i = 0;
    while i < chars.len() {
        if chars[i].is_ascii_digit() {
            let mut number = String::new();
            while i < chars.len()
                && (chars[i].is_ascii_digit()
                    || (matches!(chars[i], ',' | '.')
                        && chars.get(i + 1).is_some_and(char::is_ascii_digit)))
            {
                number.push(chars[i]);
                i += 1;
            }
            numbers.push(number);
            words.push(String::new());
        } else {
            words
                .last_mut()
                .expect("words starts with one piece")
                .push(chars[i]);
            i += 1;
        }
    }
    (words, numbers)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_that_vary_become_ranges() {
        let mut notes = Notes::default();
        assert_eq!(notes.add("only 5,116 of 10,000 connected: HTTP 503"), 0);
        assert_eq!(notes.add("server died (signal 6)"), 1);
        assert_eq!(notes.add("only 5,113 of 10,000 connected: HTTP 503"), 0);
        assert_eq!(
            notes.render(3),
            "[1] only 5,113–5,116 of 10,000 connected: HTTP 503 (2 of 3 reps)\n\
             [2] server died (signal 6) (1 of 3 reps)\n"
        );
    }

    #[test]
    fn splitting() {
        let (words, numbers) = split("took 9.4 s, then 1,000.");
        assert_eq!(words, ["took ", " s, then ", "."]);
        assert_eq!(numbers, ["9.4", "1,000"]);
    }
}
