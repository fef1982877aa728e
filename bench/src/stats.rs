//! Latency samples and their summary (mean, percentiles), shared by every
//! ofbench subcommand.
//!
//! Why every sample is kept and sorted rather than binned into a
//! histogram: a run is a few thousand to a few hundred thousand samples,
//! which fit in memory, and keeping them gives exact percentiles and an
//! exact maximum (the outliers are what a controller notices). The summary
//! is computed once, after the timed loop, so it costs the measurement
//! nothing.

use std::time::Duration;

/// What a run of timed operations took, in microseconds.
#[derive(Debug, Clone, PartialEq)]
pub struct Summary {
    pub count: usize,
    pub mean_us: f64,
    pub min_us: f64,
    pub p50_us: f64,
    pub p90_us: f64,
    pub p99_us: f64,
    pub max_us: f64,
}

impl Summary {
    /// Summarizes `samples` (sorted in place); `None` when there are none.
    pub fn of(samples: &mut [Duration]) -> Option<Summary> {
        if samples.is_empty() {
            return None;
        }
        samples.sort_unstable();
        let us = |d: Duration| d.as_secs_f64() * 1e6;
        let total: Duration = samples.iter().sum();
        Some(Summary {
            count: samples.len(),
            mean_us: us(total) / samples.len() as f64,
            min_us: us(samples[0]),
            p50_us: us(percentile(samples, 50.0)),
            p90_us: us(percentile(samples, 90.0)),
            p99_us: us(percentile(samples, 99.0)),
            max_us: us(samples[samples.len() - 1]),
        })
    }

    /// `mean 412.3, min 201.0, p50 398.7, p90 520.1, p99 901.2, max 3012.9`.
    pub fn line(&self) -> String {
        format!(
            "mean {:.1}, min {:.1}, p50 {:.1}, p90 {:.1}, p99 {:.1}, max {:.1}",
            self.mean_us, self.min_us, self.p50_us, self.p90_us, self.p99_us, self.max_us
        )
    }

    /// The summary as JSON fields (`count`, `mean_us`, ...).
    pub fn json(&self) -> serde_json::Map<String, serde_json::Value> {
        let mut m = serde_json::Map::new();
        m.insert("count".into(), self.count.into());
        for (k, v) in [
            ("mean_us", self.mean_us),
            ("min_us", self.min_us),
            ("p50_us", self.p50_us),
            ("p90_us", self.p90_us),
            ("p99_us", self.p99_us),
            ("max_us", self.max_us),
        ] {
            // Rounded to 0.1 µs: finer digits are noise.
            m.insert(k.into(), ((v * 10.0).round() / 10.0).into());
        }
        m
    }
}

/// The nearest-rank percentile `p` (0 < p <= 100) of sorted, non-empty
/// `sorted`: the smallest sample with at least p % of the samples at or
/// below it.
fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn us(v: &[u64]) -> Vec<Duration> {
        v.iter().map(|&x| Duration::from_micros(x)).collect()
    }

    #[test]
    fn nearest_rank() {
        let mut s = us(&(1..=100).rev().collect::<Vec<_>>());
        let m = Summary::of(&mut s).expect("samples");
        assert_eq!(m.count, 100);
        assert_eq!((m.min_us, m.max_us), (1.0, 100.0));
        assert_eq!((m.p50_us, m.p90_us, m.p99_us), (50.0, 90.0, 99.0));
        assert!((m.mean_us - 50.5).abs() < 1e-9);
    }

    #[test]
    fn one_and_none() {
        let m = Summary::of(&mut us(&[7])).expect("one sample");
        assert_eq!((m.p50_us, m.p99_us, m.max_us), (7.0, 7.0, 7.0));
        assert_eq!(Summary::of(&mut []), None);
        assert_eq!(m.json()["count"], 1);
        assert_eq!(m.json()["p99_us"], 7.0);
    }
}
