//! How long work tells its caller how far it got: a small callback trait, so the library never
//! draws on a terminal (the binary draws bars; tests and other programs pass [`Silent`]).

/// Receives progress from long work (a tournament's games, a training's steps) and log lines.
///
/// Every method has a default that does nothing, so an implementation picks what it shows.
/// Calls come from the thread that runs the work, one at a time.
pub trait Progress: Sync {
    /// A piece of work of `total` units (`unit`: `games`, `steps`) starts; `total` may grow.
    fn begin(&self, unit: &'static str, total: u64) {
        let _ = (unit, total);
    }

    /// The total of the current piece of work changed.
    fn set_total(&self, total: u64) {
        let _ = total;
    }

    /// `done` units of the current piece of work are finished.
    fn set_done(&self, done: u64) {
        let _ = done;
    }

    /// A short status of the current piece (`312 games/s`, `epoch 2/6 policy 1.23`).
    fn status(&self, text: &str) {
        let _ = text;
    }

    /// The current piece of work ended.
    fn end(&self) {}

    /// A line worth keeping (what an evolve generation did).
    fn log(&self, line: &str) {
        let _ = line;
    }
}

/// Progress that shows nothing.
#[derive(Clone, Copy, Debug, Default)]
pub struct Silent;

impl Progress for Silent {}
