//! Where a run's time goes, phase by phase, for `--timings`.
//!
//! Phases are added up where they interleave (imports are read and parsed
//! file by file), so each one is reported once, in pipeline order.

use std::fmt;
use std::time::{Duration, Instant};

/// The phases of a run, in pipeline order.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Phase {
    Load,
    Parse,
    Resolve,
    Check,
    Emit,
    Write,
}

impl Phase {
    const ALL: [Phase; 6] = [
        Phase::Load,
        Phase::Parse,
        Phase::Resolve,
        Phase::Check,
        Phase::Emit,
        Phase::Write,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Phase::Load => "load",
            Phase::Parse => "parse",
            Phase::Resolve => "resolve",
            Phase::Check => "check",
            Phase::Emit => "emit",
            Phase::Write => "write",
        }
    }
}

#[derive(Clone, Debug, Default)]
pub struct Timings {
    spent: [Option<Duration>; 6],
    /// The process's resident memory when the phase last ended, in bytes,
    /// where the system tells it.
    resident: [Option<u64>; 6],
}

/// The resident set size of this process (Linux: /proc/self/statm).
fn resident_bytes() -> Option<u64> {
    let statm = std::fs::read_to_string("/proc/self/statm").ok()?;
    let pages: u64 = statm.split_whitespace().nth(1)?.parse().ok()?;
    Some(pages * 4096)
}

impl Timings {
    /// Runs `work`, part of `phase`, adding the time it takes to the phase.
    pub fn time<T>(&mut self, phase: Phase, work: impl FnOnce() -> T) -> T {
        let start = Instant::now();
        let result = work();
        self.add(phase, start.elapsed());
        result
    }

    /// Runs `work`, the whole of `phase`: its time, and the memory resident
    /// after it.
    pub fn phase<T>(&mut self, phase: Phase, work: impl FnOnce() -> T) -> T {
        let result = self.time(phase, work);
        self.record_resident(phase);
        result
    }

    /// Notes the memory resident at the end of `phase`. Once per phase, not
    /// per file: reading it costs a system call.
    pub fn record_resident(&mut self, phase: Phase) {
        self.resident[phase as usize] = resident_bytes();
    }

    pub fn add(&mut self, phase: Phase, spent: Duration) {
        let slot = &mut self.spent[phase as usize];
        *slot = Some(slot.unwrap_or_default() + spent);
    }

    pub fn get(&self, phase: Phase) -> Option<Duration> {
        self.spent[phase as usize]
    }
}

/// One line a phase that ran, with the memory resident after it, then the
/// total: `  parse      12.3 ms     25 MiB`.
impl fmt::Display for Timings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut total = Duration::ZERO;
        for phase in Phase::ALL {
            if let Some(spent) = self.get(phase) {
                total += spent;
                write!(f, "  {:<8} {:>9.1} ms", phase.as_str(), millis(spent))?;
                match self.resident[phase as usize] {
                    Some(bytes) => writeln!(f, " {:>6} MiB", bytes >> 20)?,
                    None => writeln!(f)?,
                }
            }
        }
        writeln!(f, "  {:<8} {:>9.1} ms", "total", millis(total))
    }
}

fn millis(duration: Duration) -> f64 {
    duration.as_secs_f64() * 1000.0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn phases_add_up_and_print_in_pipeline_order() {
        let mut timings = Timings::default();
        timings.add(Phase::Check, Duration::from_micros(2500));
        timings.add(Phase::Load, Duration::from_millis(1));
        timings.add(Phase::Load, Duration::from_millis(2));
        assert_eq!(timings.get(Phase::Load), Some(Duration::from_millis(3)));
        assert_eq!(timings.get(Phase::Emit), None);
        assert_eq!(
            timings.to_string(),
            "  load           3.0 ms\n  check          2.5 ms\n  total          5.5 ms\n"
        );
    }
}
