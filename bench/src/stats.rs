//! Medians over reps, percentiles over samples, and numbers as the table
//! prints them (`12,345`).

/// The median of `values` (the mean of the middle two for an even count);
/// `None` when there are none.
pub fn median(values: &[f64]) -> Option<f64> {
    let mut sorted: Vec<f64> = values.iter().copied().filter(|v| v.is_finite()).collect();
    if sorted.is_empty() {
        return None;
    }
    sorted.sort_by(f64::total_cmp);
    let mid = sorted.len() / 2;
    Some(if sorted.len() % 2 == 1 {
        sorted[mid]
    } else {
        (sorted[mid - 1] + sorted[mid]) / 2.0
    })
}

/// The median of each component over several samples of the same shape:
/// `[[1, 10], [3, 30], [2, 20]]` gives `[2, 20]`.
pub fn median_each(samples: &[Vec<f64>]) -> Vec<f64> {
    let width = samples.iter().map(Vec::len).max().unwrap_or(0);
    (0..width)
        .map(|i| {
            let column: Vec<f64> = samples.iter().filter_map(|s| s.get(i).copied()).collect();
            median(&column).unwrap_or(f64::NAN)
        })
        .collect()
}

/// The nearest-rank percentile `p` (0–100) of sorted `values`.
pub fn percentile(sorted: &[u32], p: f64) -> Option<u32> {
    if sorted.is_empty() {
        return None;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    Some(sorted[rank.clamp(1, sorted.len()) - 1])
}

/// A whole number with thousands separators: `12345.6` → `"12,346"`.
pub fn grouped(value: f64) -> String {
    if !value.is_finite() {
        return "?".into();
    }
    let digits = format!("{:.0}", value.abs());
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    if value < -0.5 {
        out.insert(0, '-');
    }
    out
}

/// A count with separators, for labels: `10000` → `"10,000"`.
pub fn count(n: usize) -> String {
    grouped(n as f64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn medians() {
        assert_eq!(median(&[3.0, 1.0, 2.0]), Some(2.0));
        assert_eq!(median(&[4.0, 1.0, 2.0, 3.0]), Some(2.5));
        assert_eq!(median(&[]), None);
        let samples = vec![vec![1.0, 10.0], vec![3.0, 30.0], vec![2.0, 20.0]];
        assert_eq!(median_each(&samples), vec![2.0, 20.0]);
    }

    #[test]
    fn percentiles() {
        let sorted: Vec<u32> = (1..=100).collect();
        assert_eq!(percentile(&sorted, 50.0), Some(50));
        assert_eq!(percentile(&sorted, 99.0), Some(99));
        assert_eq!(percentile(&sorted, 100.0), Some(100));
        assert_eq!(percentile(&[7], 99.0), Some(7));
        assert_eq!(percentile(&[], 50.0), None);
    }

    #[test]
    fn grouping() {
        assert_eq!(grouped(0.0), "0");
        assert_eq!(grouped(999.0), "999");
        assert_eq!(grouped(1000.0), "1,000");
        assert_eq!(grouped(12345.6), "12,346");
        assert_eq!(grouped(1234567.0), "1,234,567");
        assert_eq!(count(10_000), "10,000");
    }
}
