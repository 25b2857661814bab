//! `gaussmix`: Gaussian mixture models from the command line.

use clap::Parser;
use gaussmix_cli::util::interrupt;
use gaussmix_cli::{anomaly, bench, commands, plot, select, video};

fn main() {
    let cli = commands::Cli::parse();
    if let Err(e) = interrupt::install() {
        eprintln!(
            "warning: cannot handle Ctrl-C ({e}); an interrupted run may leave temporary files"
        );
    }
    // The video pipeline stages its outputs itself; an interrupt removes them too.
    match &cli.command {
        commands::Command::Video(video::VideoCommand::Subtract(a)) => {
            interrupt::register_staging(&a.output)
        }
        commands::Command::Video(video::VideoCommand::Track(a)) => {
            interrupt::register_staging(&a.output);
            if let Some(p) = &a.annotate {
                interrupt::register_staging(p);
            }
        }
        _ => {}
    }
    let result = match &cli.command {
        commands::Command::Fit(a) => commands::fit(a),
        commands::Command::Predict(a) => commands::predict(a),
        commands::Command::Score(a) => commands::score(a),
        commands::Command::Sample(a) => commands::sample(a),
        commands::Command::Info(a) => commands::info(a),
        commands::Command::BenchEm(a) => bench::run(a),
        commands::Command::Video(c) => video::run(c),
        commands::Command::Select(a) => select::select(a),
        commands::Command::Anomaly(a) => anomaly::anomaly(a),
        commands::Command::Plot(a) => plot::plot(a),
    };
    if let Err(e) = result {
        if interrupt::interrupted() {
            // An interrupted fit (or a write refused after the signal): nothing was
            // written and no temporary file is left.
            eprintln!("error: interrupted; no output written");
            std::process::exit(interrupt::exit_code());
        }
        eprintln!("error: {e:#}");
        std::process::exit(1);
    }
}
