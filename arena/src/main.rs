//! The `arena` command: flags, terminal output and progress bars (in `cli/`); the work lives in
//! the `arena` library.

mod cli;

use clap::Parser;

fn main() -> std::process::ExitCode {
    let args = cli::Cli::parse();
    // The README test checks every documented command line against the real flags this way.
    if std::env::var_os("ARENA_CHECK_COMMAND_LINE").is_some() {
        return std::process::ExitCode::SUCCESS;
    }
    // Before any thread starts: candle reads its thread count once, at its first use.
    cli::set_thread_budget(args.compute_threads(), args.single_candle_thread());
    // (After the thread budget: the handler runs in a thread of its own.)
    // External programs run in process groups of their own, out of reach of the terminal's
    // Ctrl-C: end them (and what they started) before the arena goes. The store needs nothing:
    // every result is written in its own transaction, and a resumed run continues exactly.
    // A game program that fails stops its match; the engine reports it with the match, so the
    // panic that carried it out of the game's code is not printed as a crash.
    let default_hook = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        let text = info.payload().downcast_ref::<String>().map(String::as_str).unwrap_or_default();
        if !games::process::is_stopped_match(text) {
            default_hook(info);
        }
    }));
    let _ = ctrlc::set_handler(|| {
        agents::command::end_all_programs();
        std::process::exit(130);
    });
    let mut stdout = std::io::stdout().lock();
    match cli::run(&args, &mut stdout) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(error) => {
            // Messages quote names and model output: no control character reaches the terminal raw.
            eprintln!("error: {}", cli::printable_text(&format!("{error:#}"), false));
            std::process::ExitCode::FAILURE
        }
    }
}
