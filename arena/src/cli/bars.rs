//! Progress on stderr behind the library's `Progress` callbacks: a bar (indicatif) on a terminal,
//! and a plain line every [`PLAIN_EVERY`] when stderr is a pipe or a file, so long work is never
//! silent in a log. Log lines are printed above the bar, or as they come.

use std::io::IsTerminal;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use arena::Progress;
use indicatif::{ProgressBar, ProgressStyle};

/// How often a plain progress line is printed when stderr is not a terminal.
pub const PLAIN_EVERY: Duration = Duration::from_secs(10);

/// Draws one bar at a time for the current piece of work (plain lines off a terminal), or
/// nothing when hidden.
#[derive(Debug)]
pub struct Bars {
    visible: bool,
    terminal: bool,
    bar: Mutex<Option<ProgressBar>>,
    plain: Mutex<Option<PlainProgress>>,
}

/// The current piece of work, for plain lines.
#[derive(Debug)]
struct PlainProgress {
    unit: &'static str,
    total: u64,
    done: u64,
    status: String,
    started: Instant,
    last_line: Instant,
}

impl PlainProgress {
    fn line(&self) -> String {
        let elapsed = self.started.elapsed().as_secs_f64();
        let share = if self.total > 0 {
            format!(" ({:.0}%)", 100.0 * self.done as f64 / self.total as f64)
        } else {
            String::new()
        };
        let left = if self.done > 0 && self.total > self.done {
            format!(", about {:.0} s left", elapsed * (self.total - self.done) as f64 / self.done as f64)
        } else {
            String::new()
        };
        let status = if self.status.is_empty() { String::new() } else { format!(", {}", self.status) };
        format!("{} {}/{}{share} after {elapsed:.0} s{status}{left}", self.unit, self.done, self.total)
    }
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

impl Bars {
    /// Progress on stderr when `visible` (`--quiet` and `--json` hide it): a bar on a terminal,
    /// plain lines otherwise. Log lines are printed either way.
    pub fn new(visible: bool) -> Self {
        Bars { visible, terminal: std::io::stderr().is_terminal(), bar: Mutex::new(None), plain: Mutex::new(None) }
    }

    fn with_bar(&self, action: impl FnOnce(&ProgressBar)) {
        if let Some(bar) = lock(&self.bar).as_ref() {
            action(bar);
        }
    }

    /// Prints a plain line if the last one is [`PLAIN_EVERY`] old.
    fn with_plain(&self, action: impl FnOnce(&mut PlainProgress)) {
        let mut slot = lock(&self.plain);
        if let Some(plain) = slot.as_mut() {
            action(plain);
            if plain.last_line.elapsed() >= PLAIN_EVERY {
                plain.last_line = Instant::now();
                eprintln!("{}", plain.line());
            }
        }
    }
}

impl Progress for Bars {
    fn begin(&self, unit: &'static str, total: u64) {
        if !self.visible {
            return;
        }
        if !self.terminal {
            let now = Instant::now();
            let plain = PlainProgress { unit, total, done: 0, status: String::new(), started: now, last_line: now };
            *lock(&self.plain) = Some(plain);
            return;
        }
        let bar = ProgressBar::new(total);
        let template = format!("{{bar:40}} {{pos}}/{{len}} {unit}  {{msg}}  ETA {{eta}}");
        bar.set_style(ProgressStyle::with_template(&template).unwrap_or_else(|_| ProgressStyle::default_bar()));
        if let Some(old) = lock(&self.bar).replace(bar) {
            old.finish_and_clear();
        }
    }

    fn set_total(&self, total: u64) {
        self.with_bar(|bar| bar.set_length(total));
        self.with_plain(|plain| plain.total = total);
    }

    fn set_done(&self, done: u64) {
        self.with_bar(|bar| bar.set_position(done));
        self.with_plain(|plain| plain.done = done);
    }

    fn status(&self, text: &str) {
        let text = super::printable(text);
        self.with_plain(|plain| plain.status.clone_from(&text));
        self.with_bar(|bar| bar.set_message(text));
    }

    fn end(&self) {
        if let Some(bar) = lock(&self.bar).take() {
            bar.finish_and_clear();
        }
        // Work that printed progress lines says that it finished; short work stays quiet.
        if let Some(plain) = lock(&self.plain).take()
            && plain.started.elapsed() >= PLAIN_EVERY
        {
            eprintln!("{} done", plain.line());
        }
    }

    fn log(&self, line: &str) {
        let line = super::printable_text(line, false);
        match lock(&self.bar).as_ref() {
            Some(bar) => bar.println(line),
            None => eprintln!("{line}"),
        }
    }
}
