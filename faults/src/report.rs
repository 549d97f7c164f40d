//! The results table, one row per case, in markdown:
//!
//! ```text
//! | case | what must hold | measured | time | result |
//! |---|---|---|---|---|
//! | slowloris | 2,000 partial heads … | 2000× 408 … | 2 s | pass |
//! ```

/// One case's outcome.
pub struct Row {
    /// Short name: `slowloris`.
    pub case: &'static str,
    /// What must hold, in words with its bounds.
    pub must_hold: String,
    /// What was measured, figures only.
    pub measured: String,
    /// Why it failed, each reason; empty when it passed.
    pub failures: Vec<String>,
    /// Wall time of the case, seconds.
    pub secs: f64,
}

impl Row {
    /// Whether it passed.
    pub fn passed(&self) -> bool {
        self.failures.is_empty()
    }
}

/// The markdown table.
pub fn table(rows: &[Row]) -> String {
    let mut out = String::from("| case | what must hold | measured | time | result |\n");
    out += "|---|---|---|---|---|\n";
    for row in rows {
        let result = if row.passed() {
            "pass".to_string()
        } else {
            format!("**FAIL**: {}", row.failures.join("; "))
        };
        out += &format!(
            "| {} | {} | {} | {:.0} s | {} |\n",
            row.case,
            cell(&row.must_hold),
            cell(&row.measured),
            row.secs,
            cell(&result)
        );
    }
    out
}

/// One line per failed case, for the end of the output, where a log's
/// tail shows it: `never-read FAILED: /healthz: …`. Empty when all passed.
pub fn failures(rows: &[Row]) -> String {
    rows.iter()
        .filter(|row| !row.passed())
        .map(|row| format!("{} FAILED: {}\n", row.case, row.failures.join("; ")))
        .collect()
}

/// A table cell: no pipes or line breaks inside.
fn cell(text: &str) -> String {
    text.replace('|', "\\|").replace('\n', " ")
}
