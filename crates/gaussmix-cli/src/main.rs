//! `gaussmix`: Gaussian mixture models from the command line.
//!
//! Exit statuses: 0 success, 1 runtime error, 2 usage error, 3 `--strict` and EM did
//! not converge, 130 interrupted (see `gaussmix_cli::exit`).

use gaussmix_cli::{cli, exit, interrupt, video};

fn main() {
    let cli = cli::parse();
    if let Err(e) = interrupt::install() {
        eprintln!(
            "warning: cannot handle Ctrl-C ({e}); an interrupted run may leave temporary files"
        );
    }
    // The video pipeline stages its outputs itself; an interrupt removes them too.
    match &cli.command {
        cli::Command::Video(video::VideoCommand::Subtract(a)) => {
            interrupt::register_staging(&a.output)
        }
        cli::Command::Video(video::VideoCommand::Track(a)) => {
            interrupt::register_staging(&a.output);
            if let Some(p) = &a.annotate {
                interrupt::register_staging(p);
            }
        }
        _ => {}
    }
    if let Err(e) = cli::run(&cli) {
        if interrupt::interrupted() {
            // An interrupted fit (or a write refused after the signal): nothing was
            // written and no temporary file is left.
            eprintln!("error: interrupted; no output written");
            std::process::exit(interrupt::exit_code());
        }
        eprintln!("error: {e:#}");
        std::process::exit(exit::status(&e));
    }
}
