//! Progress bars on stderr (indicatif) behind the library's `Progress` callbacks; log lines are
//! printed above the bar.

use std::sync::Mutex;

use arena::Progress;
use indicatif::{ProgressBar, ProgressStyle};

/// Draws one bar at a time for the current piece of work, or nothing when hidden.
#[derive(Debug)]
pub struct Bars {
    visible: bool,
    bar: Mutex<Option<ProgressBar>>,
}

impl Bars {
    /// Bars on stderr when `visible` (`--quiet` and `--json` hide them); log lines are printed
    /// either way.
    pub fn new(visible: bool) -> Self {
        Bars { visible, bar: Mutex::new(None) }
    }

    fn with_bar(&self, action: impl FnOnce(&ProgressBar)) {
        let bar = self.bar.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        if let Some(bar) = bar.as_ref() {
            action(bar);
        }
    }
}

impl Progress for Bars {
    fn begin(&self, unit: &'static str, total: u64) {
        if !self.visible {
            return;
        }
        let bar = ProgressBar::new(total);
        let template = format!("{{bar:40}} {{pos}}/{{len}} {unit}  {{msg}}  ETA {{eta}}");
        bar.set_style(ProgressStyle::with_template(&template).unwrap_or_else(|_| ProgressStyle::default_bar()));
        let mut slot = self.bar.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        if let Some(old) = slot.replace(bar) {
            old.finish_and_clear();
        }
    }

    fn set_total(&self, total: u64) {
        self.with_bar(|bar| bar.set_length(total));
    }

    fn set_done(&self, done: u64) {
        self.with_bar(|bar| bar.set_position(done));
    }

    fn status(&self, text: &str) {
        let text = text.to_string();
        self.with_bar(|bar| bar.set_message(text));
    }

    fn end(&self) {
        let mut slot = self.bar.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        if let Some(bar) = slot.take() {
            bar.finish_and_clear();
        }
    }

    fn log(&self, line: &str) {
        let slot = self.bar.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        match slot.as_ref() {
            Some(bar) => bar.println(line),
            None => eprintln!("{line}"),
        }
    }
}
