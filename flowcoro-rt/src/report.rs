//! `Report`: every pool's stats as a table, formatted with integer
//! arithmetic only (a firmware that prints it pulls in no float
//! formatting).

use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;
use core::fmt;

use crate::stats::PoolStats;

/// Every pool's stats as a table, from [`report`](crate::report()).
///
/// `Display` prints one row per pool; the rows are also there as data.
#[derive(Clone, Debug)]
pub struct Report {
    /// The pools, sorted by name.
    pub pools: Vec<PoolStats>,
}

/// `b` in the largest binary unit it reaches, to a tenth. Integer
/// arithmetic only, as for [`Hundredths`]: a firmware that prints the
/// report pulls in no float formatting.
fn human_bytes(b: u64) -> String {
    const UNITS: [&str; 4] = ["B", "KiB", "MiB", "GiB"];
    let mut unit = 0;
    while unit + 1 < UNITS.len() && b >> (10 * (unit + 1)) > 0 {
        unit += 1;
    }
    if unit == 0 {
        return format!("{b} B");
    }
    let scale = 1u128 << (10 * unit);
    let tenths = (u128::from(b) * 10 + scale / 2) / scale;
    format!("{}.{} {}", tenths / 10, tenths % 10, UNITS[unit])
}

/// A share as a percentage to two decimals (`80.95`), rounded to nearest.
struct Hundredths {
    part: u64,
    whole: u64,
}

impl fmt::Display for Hundredths {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let n = if self.whole == 0 {
            0
        } else {
            let whole = u128::from(self.whole);
            (u128::from(self.part) * 10_000 + whole / 2) / whole
        };
        f.pad(&format!("{}.{:02}", n / 100, n % 100))
    }
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let name_w = self.pools.iter().map(|p| p.name.len()).max().unwrap_or(0).max(4);
        writeln!(
            f,
            "{:<name_w$}  {:>8}  {:>12}  {:>7}  {:>8}  {:>6}  {:>8}  {:>8}  {:>8}  {:>10}  {:>8}  {:>8}",
            "pool",
            "frame",
            "allocations",
            "hit",
            "fresh",
            "heap",
            "live",
            "peak",
            "idle",
            "reserved",
            "decayed",
            "trimmed",
        )?;
        for p in &self.pools {
            writeln!(
                f,
                "{:<name_w$}  {:>8}  {:>12}  {:>6}%  {:>8}  {:>6}  {:>8}  {:>8}  {:>8}  {:>10}  {:>8}  {:>8}",
                p.name,
                human_bytes(p.frame_size as u64),
                p.allocations,
                Hundredths { part: p.reused, whole: p.allocations },
                p.fresh,
                p.heap_fallbacks,
                p.live,
                p.peak_live,
                p.idle,
                human_bytes(p.reserved_bytes),
                p.decayed,
                p.trimmed,
            )?;
        }
        if self.pools.is_empty() {
            writeln!(f, "(no pool used yet)")?;
        }
        let overflowed: Vec<String> = self
            .pools
            .iter()
            .filter(|p| p.overflow > 0)
            .map(|p| format!("{} ({} of {})", p.name, p.overflow, p.allocations))
            .collect();
        if !overflowed.is_empty() {
            writeln!(
                f,
                "calls served by the shared `flowcoro::size_class::*` pools, which hold \
                 their memory: {}",
                overflowed.join(", ")
            )?;
        }
        writeln!(
            f,
            "fresh: calls that took new memory; heap: frames allocated alone; idle: frames \
             cached for reuse; decayed / trimmed: idle frames given back by decay / trim"
        )
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;

    #[test]
    fn figures_print_as_floats_would_round_them() {
        let cases = [(0, "0 B"), (1023, "1023 B"), (1024, "1.0 KiB"), (1536, "1.5 KiB")];
        for (bytes, text) in cases {
            assert_eq!(human_bytes(bytes), text);
        }
        assert_eq!(human_bytes(1_048_575), "1024.0 KiB");
        assert_eq!(human_bytes(5 << 30), "5.0 GiB");
        let pct = |part, whole| format!("{:>6}", Hundredths { part, whole });
        assert_eq!(pct(17, 21), " 80.95");
        assert_eq!(pct(0, 0), "  0.00");
        assert_eq!(pct(3, 3), "100.00");
        assert_eq!(pct(2, 3), " 66.67");
    }

    #[test]
    fn report_renders_each_pool() {
        let mut a = PoolStats::empty("app::fetch");
        a.allocations = 100;
        a.reused = 99;
        a.frame_size = 2048;
        let r = Report { pools: vec![a, PoolStats::empty("app::parse")] };
        let s = r.to_string();
        assert!(s.starts_with("pool"));
        assert!(s.contains("app::fetch"));
        assert!(s.contains("99.00%"));
        assert!(s.contains("2.0 KiB"));
        assert!(s.contains("app::parse"));
        assert_eq!(s.lines().count(), 4, "a header, two rows and the legend");
    }
}
