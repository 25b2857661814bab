//! The command line as a whole: the top-level parser, the dispatch to each subcommand,
//! `--version`, shell completions and the man page.
//!
//! This is the top of the crate's module graph: it uses every subcommand module and no
//! module uses it.

use std::path::PathBuf;

use anyhow::{Context, Result};
use clap::{Args, CommandFactory, FromArgMatches, Parser, Subcommand};
use clap_complete::Shell;

use crate::{anomaly, bayes, bench, commands, plot, select, video};

/// The exit statuses, for `--help` and the man page (see [`crate::exit`]).
pub const EXIT_STATUS_HELP: &str = "\
Exit status:
  0    success (a fit that did not converge is a warning, not an error)
  1    runtime error: unreadable or invalid data or model, failed fit, failed write
  2    usage error: unknown flag or value, missing argument, contradictory flags
  3    --strict and EM did not converge (nothing written)
  130  interrupted by Ctrl-C (143 for SIGTERM; nothing written)

Environment:
  GAUSSMIX_KERNEL=avx512|avx2|portable  pin the kernel level (bit-identical results
                                        between machines that run the same level)
  RAYON_NUM_THREADS=N                   default worker threads (else all cores)";

/// Gaussian mixture models fitted by EM.
#[derive(Parser, Debug)]
#[command(name = "gaussmix", version, about, long_about = None, after_help = EXIT_STATUS_HELP)]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// The subcommands.
#[derive(Subcommand, Debug)]
pub enum Command {
    /// Fit a mixture to DATA and write the model as JSON.
    Fit(commands::FitArgs),
    /// Update a saved model with new rows by online EM, continuing its step-size schedule.
    Update(crate::online::UpdateArgs),
    /// Label each row of DATA with its most responsible component (or all K probabilities).
    Predict(commands::PredictArgs),
    /// Log density of each row of DATA under the model (or only their mean).
    Score(commands::ScoreArgs),
    /// Write DATA with each missing cell filled by its conditional expectation (or a draw).
    Impute(crate::missing::ImputeArgs),
    /// Draw rows from the model, with the component that produced each.
    Sample(commands::SampleArgs),
    /// Print a summary of a model, or of this build and machine (--system).
    Info(commands::InfoArgs),
    /// Fit a variational Bayesian mixture of up to K components (the prior prunes the rest).
    Bayes(bayes::BayesArgs),
    /// Fit every (k, covariance type) pair, compare them by BIC, AIC or ICL, keep the best.
    Select(select::SelectArgs),
    /// Score rows by how unlikely a mixture finds them (fit one on DATA, or use --model).
    Anomaly(anomaly::AnomalyArgs),
    /// Draw a model with its data (PNG or SVG), or the EM iterations with --trace.
    Plot(plot::PlotArgs),
    /// Background subtraction and tracking in video.
    #[command(subcommand)]
    Video(video::VideoCommand),
    /// Print a shell completion script (bash, zsh, fish, powershell, elvish).
    Completions(CompletionsArgs),
    /// Print the man page (roff), or write one page per subcommand with --dir.
    Man(ManArgs),
    /// Time EM iterations on a data file (for bench/run_em.py).
    #[command(hide = true)]
    BenchEm(bench::BenchArgs),
}

/// Arguments of `completions`.
#[derive(Args, Debug)]
pub struct CompletionsArgs {
    /// The shell, e.g. `gaussmix completions bash > ~/.local/share/bash-completion/completions/gaussmix`.
    #[arg(value_enum, ignore_case = true)]
    pub shell: Shell,
}

/// Arguments of `man`.
#[derive(Args, Debug)]
pub struct ManArgs {
    /// Write gaussmix.1 and one gaussmix-COMMAND.1 per subcommand into this folder
    /// instead of printing gaussmix.1.
    #[arg(long)]
    pub dir: Option<PathBuf>,
}

/// The clap command with the long version text.
pub fn command() -> clap::Command {
    Cli::command()
}

/// Parses the process's arguments; on a usage error prints clap's message and exits
/// with status 2 (0 for `--help` and `--version`).
pub fn parse() -> Cli {
    let mut cmd = command();
    // `--version` (not `-V`) shows the kernel level, the features and the threads; it is
    // computed only when asked for.
    if std::env::args_os().any(|a| a == "--version") {
        cmd = cmd.long_version(crate::system::version_text());
    }
    let matches = cmd.get_matches();
    Cli::from_arg_matches(&matches).unwrap_or_else(|e| e.exit())
}

/// Runs the parsed command.
///
/// # Errors
/// The subcommand's error; [`crate::exit::status`] gives its exit status.
pub fn run(cli: &Cli) -> Result<()> {
    match &cli.command {
        Command::Fit(a) => commands::fit(a),
        Command::Update(a) => crate::online::update(a),
        Command::Predict(a) => commands::predict(a),
        Command::Score(a) => commands::score(a),
        Command::Sample(a) => commands::sample(a),
        Command::Impute(a) => crate::missing::impute(a),
        Command::Info(a) => commands::info(a),
        Command::BenchEm(a) => bench::run(a),
        Command::Video(c) => video::run(c),
        Command::Select(a) => select::select(a),
        Command::Bayes(a) => bayes::bayes(a),
        Command::Anomaly(a) => anomaly::anomaly(a),
        Command::Plot(a) => plot::plot(a),
        Command::Completions(a) => completions(a),
        Command::Man(a) => man(a),
    }
}

/// `gaussmix completions SHELL`.
fn completions(a: &CompletionsArgs) -> Result<()> {
    let mut cmd = command();
    let mut buf = Vec::new();
    clap_complete::generate(a.shell, &mut cmd, "gaussmix", &mut buf);
    crate::io::write_output("-", |w| Ok(w.write_all(&buf)?))
}

/// `gaussmix man [--dir DIR]`.
fn man(a: &ManArgs) -> Result<()> {
    let cmd = command();
    match &a.dir {
        None => {
            let mut buf = Vec::new();
            clap_mangen::Man::new(cmd).render(&mut buf)?;
            crate::io::write_output("-", |w| Ok(w.write_all(&buf)?))
        }
        Some(dir) => {
            if !dir.is_dir() {
                return Err(crate::exit::usage(format!(
                    "--dir {}: not a folder (create it first)",
                    dir.display()
                )));
            }
            let mut pages = Vec::new();
            collect_pages(&cmd, "gaussmix", &mut pages)?;
            for (name, text) in &pages {
                let path = dir.join(name);
                crate::io::write_atomic(&path, |w| Ok(w.write_all(text)?))?;
            }
            eprintln!("wrote {} man pages to {}", pages.len(), dir.display());
            Ok(())
        }
    }
}

/// Renders the page of `cmd` (named `name`) and of each of its visible subcommands.
fn collect_pages(cmd: &clap::Command, name: &str, out: &mut Vec<(String, Vec<u8>)>) -> Result<()> {
    let mut page = cmd.clone().name(name.to_string());
    if name != "gaussmix" {
        page = page.bin_name(name.replace('-', " "));
    }
    let mut buf = Vec::new();
    clap_mangen::Man::new(page)
        .render(&mut buf)
        .with_context(|| format!("cannot render the man page of {name}"))?;
    out.push((format!("{name}.1"), buf));
    for sub in cmd.get_subcommands().filter(|s| !s.is_hide_set()) {
        collect_pages(sub, &format!("{name}-{}", sub.get_name()), out)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_command_line_is_consistent() {
        command().debug_assert();
    }

    #[test]
    fn every_visible_command_gets_a_man_page() {
        let mut pages = Vec::new();
        collect_pages(&command(), "gaussmix", &mut pages).unwrap();
        let names: Vec<&str> = pages.iter().map(|(n, _)| n.as_str()).collect();
        for want in [
            "gaussmix.1",
            "gaussmix-fit.1",
            "gaussmix-video-subtract.1",
            "gaussmix-man.1",
        ] {
            assert!(names.contains(&want), "{want} missing from {names:?}");
        }
        assert!(!names.iter().any(|n| n.contains("bench")), "{names:?}");
        let fit = &pages.iter().find(|(n, _)| n == "gaussmix-fit.1").unwrap().1;
        let fit = String::from_utf8_lossy(fit);
        assert!(
            fit.contains("covariance") && fit.contains("spherical"),
            "{fit}"
        );
    }
}
