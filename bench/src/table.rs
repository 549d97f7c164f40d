//! The one table the bench prints: a row per metric, a column per server
//! (tinypush first), each cell the median of its reps, then the machine's
//! idle share over that row's measured windows, then footnotes:
//!
//! ```text
//! | metric                                   | tinypush | axum   | idle |
//! |------------------------------------------|---------:|-------:|-----:|
//! | WS echo, 64 B, 50 clients: round trips/s |   61,234 | 98,765 |   3% |
//! | fan-out WS, 10,000 subscribers: …        | failed [1] | …    |      |
//!
//! [1] tinypush, fan-out WS, 10,000 subscribers: only 8,190 connected … (3 of 3 reps)
//! ```

use std::collections::{BTreeSet, HashMap};
use std::fmt::Write;

use crate::notes::Notes;
use crate::stats::{grouped, median, median_each};

/// How a row's numbers are printed (each number is already a median).
#[derive(Debug, Clone, Copy)]
pub enum Format {
    /// `12,345`.
    Whole,
    /// `12.3`.
    Tenths,
    /// `12.3 / 8.1`.
    TenthsPair,
    /// p50 / p99 / max in ms: `1.23 / 4.56 / 12.3`.
    Latency,
    /// delivered / lost / out of order: `50,000 / 0 / 0`.
    Delivery,
    /// memory and threads per connection: `24.5 KiB, 1.00 threads`.
    PerConnection,
    /// overflows and answered connects: `0 (1,000 answered)`.
    Overflows,
}

impl Format {
    fn render(self, v: &[f64]) -> String {
        let at = |i: usize| v.get(i).copied().unwrap_or(f64::NAN);
        match self {
            Format::Whole => grouped(at(0)),
            Format::Tenths => format!("{:.1}", at(0)),
            Format::TenthsPair => format!("{:.1} / {:.1}", at(0), at(1)),
            Format::Latency => format!("{} / {} / {}", ms(at(0)), ms(at(1)), ms(at(2))),
            Format::Delivery => format!(
                "{} / {} / {}",
                grouped(at(0)),
                grouped(at(1)),
                grouped(at(2))
            ),
            Format::PerConnection => format!("{:.1} KiB, {:.2} threads", at(0), at(1)),
            Format::Overflows => format!("{} ({} answered)", grouped(at(0)), grouped(at(1))),
        }
    }
}

/// Milliseconds with two decimals below 10, one above.
fn ms(v: f64) -> String {
    if v < 10.0 {
        format!("{v:.2}")
    } else {
        format!("{v:.1}")
    }
}

/// One metric: where it goes, what it is called, how it prints.
#[derive(Debug, Clone)]
pub struct Row {
    /// Unique name, shared by the phase that measures it.
    pub key: String,
    /// Rows sort by section, then by the order they were added.
    pub section: u8,
    /// The text in the first column.
    pub label: String,
    /// How its numbers print.
    pub format: Format,
}

impl Row {
    /// A row of `section`, known by `key`, printed as `label` in `format`.
    pub fn new(
        key: impl Into<String>,
        section: u8,
        label: impl Into<String>,
        format: Format,
    ) -> Row {
        Row {
            key: key.into(),
            section,
            label: label.into(),
            format,
        }
    }
}

/// One measurement of one row in one rep.
#[derive(Debug, Clone)]
pub struct Value {
    /// The row's key.
    pub key: String,
    /// The numbers, in the order its format prints them.
    pub nums: Vec<f64>,
    /// The machine's idle share (0–1) over the window measured.
    pub idle: Option<f64>,
}

#[derive(Debug, Default)]
struct Cell {
    samples: Vec<Vec<f64>>,
    idles: Vec<f64>,
    failed: usize,
    notes: BTreeSet<usize>,
}

/// Every result of the run, as it comes in.
pub struct Table {
    servers: Vec<String>,
    rows: Vec<Row>,
    cells: HashMap<(String, usize), Cell>,
    notes: Notes,
}

impl Table {
    /// A table with a column for each of `servers`.
    pub fn new(servers: Vec<String>) -> Table {
        Table {
            servers,
            rows: Vec::new(),
            cells: HashMap::new(),
            notes: Notes::default(),
        }
    }

    /// Adds rows not seen before.
    pub fn add_rows(&mut self, rows: Vec<Row>) {
        for row in rows {
            if !self.rows.iter().any(|r| r.key == row.key) {
                self.rows.push(row);
            }
        }
    }

    /// Records one measurement for `server`.
    pub fn value(&mut self, server: usize, value: Value) {
        let cell = self.cells.entry((value.key, server)).or_default();
        cell.samples.push(value.nums);
        cell.idles.extend(value.idle);
    }

    /// Records that the rows `keys` could not be measured for `server` in one rep.
    pub fn fail(&mut self, server: usize, keys: &[String], why: &str) {
        let note = self.notes.add(why);
        for key in keys {
            let cell = self.cells.entry((key.clone(), server)).or_default();
            cell.failed += 1;
            cell.notes.insert(note);
        }
    }

    /// Attaches a footnote from one rep to the rows `keys` of `server`.
    pub fn note(&mut self, server: usize, keys: &[String], text: &str) {
        let note = self.notes.add(text);
        for key in keys {
            let cell = self.cells.entry((key.clone(), server)).or_default();
            cell.notes.insert(note);
        }
    }

    /// Every idle share recorded, for the header line.
    pub fn idles(&self) -> Vec<f64> {
        self.cells
            .values()
            .flat_map(|c| c.idles.iter().copied())
            .collect()
    }

    /// The markdown table and its footnotes; `reps` is how many reps each cell had.
    pub fn render(&self, reps: usize) -> String {
        let mut out = format!("| metric | {} | idle |\n", self.servers.join(" | "));
        let _ = writeln!(out, "|---|{}---:|", "---:|".repeat(self.servers.len()));
        let mut rows: Vec<&Row> = self.rows.iter().collect();
        rows.sort_by_key(|r| r.section);
        for row in rows {
            let mut idles = Vec::new();
            let cells: Vec<String> = (0..self.servers.len())
                .map(|s| match self.cells.get(&(row.key.clone(), s)) {
                    Some(cell) => {
                        idles.extend(&cell.idles);
                        render_cell(row, cell)
                    }
                    None => "—".into(),
                })
                .collect();
            let idle = median(&idles).map_or(String::new(), |i| format!("{:.0}%", i * 100.0));
            let _ = writeln!(out, "| {} | {} | {idle} |", row.label, cells.join(" | "));
        }
        if !self.notes.is_empty() {
            out.push('\n');
            out.push_str(&self.notes.render(reps));
        }
        out
    }
}

fn render_cell(row: &Row, cell: &Cell) -> String {
    let mut text = match (cell.samples.is_empty(), cell.failed) {
        (false, 0) => row.format.render(&median_each(&cell.samples)),
        (false, failed) => format!(
            "{} ({failed} of {} failed)",
            row.format.render(&median_each(&cell.samples)),
            failed + cell.samples.len()
        ),
        (true, 0) => "—".into(),
        (true, _) => "failed".into(),
    };
    for note in &cell.notes {
        let _ = write!(text, " [{}]", note + 1);
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cells_footnotes_and_idle() {
        let mut t = Table::new(vec!["a".into(), "b".into()]);
        let row = |key: &str, section| Row::new(key, section, key, Format::Whole);
        t.add_rows(vec![row("late", 2), row("early", 1)]);
        for (n, idle) in [(10.0, 0.2), (30.0, 0.4), (20.0, 0.3)] {
            t.value(
                0,
                Value {
                    key: "early".into(),
                    nums: vec![n * 1000.0],
                    idle: Some(idle),
                },
            );
        }
        t.fail(1, &["early".into(), "late".into()], "b died");
        t.fail(1, &["early".into(), "late".into()], "b died");
        let out = t.render(2);
        let lines: Vec<&str> = out.lines().collect();
        assert_eq!(lines[0], "| metric | a | b | idle |");
        assert_eq!(lines[2], "| early | 20,000 | failed [1] | 30% |");
        assert_eq!(lines[3], "| late | — | failed [1] |  |");
        assert_eq!(lines[5], "[1] b died (2 of 2 reps)");
    }

    #[test]
    fn formats() {
        assert_eq!(
            Format::Latency.render(&[1.234, 15.67, 120.0]),
            "1.23 / 15.7 / 120.0"
        );
        assert_eq!(
            Format::Delivery.render(&[150000.0, 0.0, 3.0]),
            "150,000 / 0 / 3"
        );
        assert_eq!(
            Format::PerConnection.render(&[24.49, 2.0]),
            "24.5 KiB, 2.00 threads"
        );
        assert_eq!(
            Format::Overflows.render(&[0.0, 1000.0]),
            "0 (1,000 answered)"
        );
    }
}
