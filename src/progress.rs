//! Progress of long commands (`import`, `export`, `seed volume`): on a terminal a bar on
//! standard error with counts, rate and time left; otherwise (a pipe, a log file, a cron job)
//! a plain log line every few seconds and one at the end. The API shows none ([`Progress::none`]).

use std::io::IsTerminal;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressStyle};

/// How often a log line reports progress when there is no terminal.
const LOG_EVERY: Duration = Duration::from_secs(5);

/// A counter of work done, shown while it runs. Cheap to clone; clones count together.
#[derive(Clone, Default)]
pub struct Progress(Option<Arc<Shown>>);

struct Shown {
    /// What is counted, e.g. "rows imported".
    what: String,
    total: AtomicU64,
    done: AtomicU64,
    bar: Option<ProgressBar>,
    started: Instant,
    last_log: Mutex<Instant>,
}

impl Progress {
    /// Counts nothing and shows nothing.
    pub fn none() -> Self {
        Self(None)
    }

    /// Progress of `what` (e.g. "rows imported") towards `total` (0: not known), on standard
    /// error: a bar on a terminal, log lines otherwise.
    pub fn shown(what: &str, total: u64) -> Self {
        let bar = std::io::stderr().is_terminal().then(|| {
            let bar = ProgressBar::new_spinner().with_message(what.to_owned());
            bar.set_style(style(total));
            if total > 0 {
                bar.set_length(total);
            }
            bar
        });
        let now = Instant::now();
        Self(Some(Arc::new(Shown {
            what: what.to_owned(),
            total: AtomicU64::new(total),
            done: AtomicU64::new(0),
            bar,
            started: now,
            last_log: Mutex::new(now),
        })))
    }

    /// The total, once it is known.
    pub fn set_total(&self, total: u64) {
        if let Some(shown) = &self.0 {
            shown.total.store(total, Ordering::Relaxed);
            if let Some(bar) = &shown.bar {
                bar.set_style(style(total));
                bar.set_length(total);
            }
        }
    }

    /// `n` more done.
    pub fn add(&self, n: u64) {
        let Some(shown) = &self.0 else { return };
        let done = shown.done.fetch_add(n, Ordering::Relaxed) + n;
        if let Some(bar) = &shown.bar {
            bar.inc(n);
            return;
        }
        if let Ok(mut last) = shown.last_log.try_lock()
            && last.elapsed() >= LOG_EVERY
        {
            *last = Instant::now();
            log::info!("{}", shown.line(done));
        }
    }

    /// Removes the bar and logs how much was done, how fast.
    pub fn finish(&self) {
        let Some(shown) = &self.0 else { return };
        if let Some(bar) = &shown.bar {
            bar.finish_and_clear();
        }
        log::info!("{}", shown.line(shown.done.load(Ordering::Relaxed)));
    }
}

/// A bar towards a known total, a spinner otherwise; counts and rates as whole numbers.
fn style(total: u64) -> ProgressStyle {
    let template = match total {
        0 => "{spinner} {elapsed_precise} {human_pos} {msg} ({rate})",
        _ => "{elapsed_precise} [{wide_bar}] {human_pos}/{human_len} {msg} ({rate}, {eta} left)",
    };
    ProgressStyle::with_template(template).unwrap_or_else(|_| ProgressStyle::default_bar()).with_key(
        "rate",
        |state: &indicatif::ProgressState, out: &mut dyn std::fmt::Write| {
            let _ = write!(out, "{:.0}/s", state.per_sec());
        },
    )
}

impl Shown {
    /// "40000 of 100000 rows imported in 4.1 s (9756/s)".
    fn line(&self, done: u64) -> String {
        let seconds = self.started.elapsed().as_secs_f64();
        let of = match self.total.load(Ordering::Relaxed) {
            0 => String::new(),
            total => format!(" of {total}"),
        };
        let rate = if seconds > 0.0 { done as f64 / seconds } else { 0.0 };
        format!("{done}{of} {} in {seconds:.1} s ({rate:.0}/s)", self.what)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clones_count_together_and_the_line_says_how_far_of_how_much() {
        let progress = Progress::shown("rows imported", 10);
        let clone = progress.clone();
        progress.add(3);
        clone.add(4);
        let shown = progress.0.as_ref().unwrap();
        assert_eq!(shown.done.load(Ordering::Relaxed), 7);
        let line = shown.line(7);
        assert!(line.starts_with("7 of 10 rows imported in "), "{line}");
        progress.set_total(0);
        assert!(shown.line(7).starts_with("7 rows imported in "));
        Progress::none().add(5);
    }
}
