//! `arena ratings`: placeholder while the ratings crate is written.

/// Arguments of `arena ratings`.
#[derive(Debug, clap::Args)]
pub struct RatingsArgs {}

/// Runs `arena ratings`.
pub fn run(_args: &RatingsArgs) -> anyhow::Result<()> {
    anyhow::bail!("`arena ratings` is not supported yet")
}
