//! The `arena` command: flags, terminal output and progress bars (in `cli/`); the work lives in
//! the `arena` library.

mod cli;

use clap::Parser;

fn main() -> std::process::ExitCode {
    let args = cli::Cli::parse();
    // Before any thread starts: candle reads its thread count once, at its first use.
    cli::set_thread_budget(args.compute_threads(), args.single_candle_thread());
    let mut stdout = std::io::stdout().lock();
    match cli::run(&args, &mut stdout) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: {error:#}");
            std::process::ExitCode::FAILURE
        }
    }
}
