//! Ctrl-C (SIGINT) and SIGTERM.
//!
//! [`install`] starts a thread that receives the signals. The first one sets the flag
//! ([`flag`], [`interrupted`]); while a command is in a *graceful* phase
//! ([`set_graceful`]: an EM fit, which polls the flag once per iteration and stops), that
//! is all it does. Otherwise, and on a second signal, the thread removes every unfinished
//! output file ([`register_temp`]) and exits at once with 128 + the signal number (130
//! for SIGINT). Output files are renamed into place only when the flag is clear
//! ([`crate::io::write_atomic`]), so an interrupted command never leaves a partial or
//! temporary file behind and never replaces an existing one.
//!
//! This module depends on nothing else in the crate.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicI32, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock};

static FLAG: OnceLock<Arc<AtomicBool>> = OnceLock::new();
static GRACEFUL: AtomicBool = AtomicBool::new(false);
static SIGNAL: AtomicI32 = AtomicI32::new(0);
static TEMPS: Mutex<Vec<PathBuf>> = Mutex::new(Vec::new());
/// Staging places of outputs written by other crates (the video pipeline's
/// `.NAME.partial-*` files and folders): folder, name prefix, and the matching
/// entries that existed before (not ours, never removed).
type Staging = (PathBuf, String, Vec<std::ffi::OsString>);
static STAGING: Mutex<Vec<Staging>> = Mutex::new(Vec::new());

/// The interrupt flag (set by the first SIGINT or SIGTERM).
pub fn flag() -> Arc<AtomicBool> {
    FLAG.get_or_init(|| Arc::new(AtomicBool::new(false)))
        .clone()
}

/// Whether a SIGINT or SIGTERM has arrived.
pub fn interrupted() -> bool {
    FLAG.get().is_some_and(|f| f.load(Ordering::SeqCst))
}

/// The exit status for an interrupted run: 128 + the signal (130 for SIGINT).
pub fn exit_code() -> i32 {
    match SIGNAL.load(Ordering::SeqCst) {
        0 => 130,
        s => 128 + s,
    }
}

/// Whether the first signal only sets the flag (true while the command polls it) or
/// ends the process at once (false, the default).
pub fn set_graceful(on: bool) {
    GRACEFUL.store(on, Ordering::SeqCst);
}

/// The list of unfinished output files, locked. Creating, renaming and removing a
/// temporary file under this lock keeps the signal thread from exiting half-way.
pub fn temps() -> MutexGuard<'static, Vec<PathBuf>> {
    TEMPS.lock().unwrap_or_else(|e| e.into_inner())
}

/// Adds an unfinished output file (call with the [`temps`] guard held).
pub fn register_temp(list: &mut Vec<PathBuf>, path: &Path) {
    list.push(path.to_path_buf());
}

/// Removes a file from the list (call with the [`temps`] guard held).
pub fn unregister_temp(list: &mut Vec<PathBuf>, path: &Path) {
    list.retain(|p| p != path);
}

/// Entries of `dir` whose names start with `prefix`.
fn matching(dir: &Path, prefix: &str) -> Vec<std::ffi::OsString> {
    std::fs::read_dir(dir)
        .map(|rd| {
            rd.filter_map(|e| e.ok())
                .map(|e| e.file_name())
                .filter(|n| n.to_string_lossy().starts_with(prefix))
                .collect()
        })
        .unwrap_or_default()
}

/// Registers an output that another crate stages as `.NAME.partial-*` next to
/// `target` (the video pipeline): on an interrupt that ends the process, such entries
/// created since this call are removed.
pub fn register_staging(target: &Path) {
    let Some(name) = target.file_name() else {
        return;
    };
    let dir = match target.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let prefix = format!(".{}.partial-", name.to_string_lossy());
    let before = matching(&dir, &prefix);
    STAGING
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .push((dir, prefix, before));
}

/// Removes the staged entries of [`register_staging`] (a few tries: the pipeline
/// may still be adding files to a staged folder).
fn remove_staging() {
    let list = STAGING.lock().unwrap_or_else(|e| e.into_inner());
    for (dir, prefix, before) in list.iter() {
        for _ in 0..5 {
            let ours: Vec<_> = matching(dir, prefix)
                .into_iter()
                .filter(|n| !before.contains(n))
                .collect();
            if ours.is_empty() {
                break;
            }
            for n in ours {
                let p = dir.join(n);
                if p.is_dir() {
                    let _ = std::fs::remove_dir_all(&p);
                } else {
                    let _ = std::fs::remove_file(&p);
                }
            }
        }
    }
}

/// Starts the signal thread (once; later calls do nothing).
///
/// # Errors
/// The signal handlers cannot be installed.
pub fn install() -> anyhow::Result<()> {
    use signal_hook::consts::{SIGINT, SIGTERM};
    static INSTALLED: OnceLock<()> = OnceLock::new();
    if INSTALLED.get().is_some() {
        return Ok(());
    }
    let flag = flag();
    let mut signals = signal_hook::iterator::Signals::new([SIGINT, SIGTERM])?;
    std::thread::Builder::new()
        .name("signals".into())
        .spawn(move || {
            for sig in signals.forever() {
                SIGNAL.store(sig, Ordering::SeqCst);
                let first = !flag.swap(true, Ordering::SeqCst);
                if first && GRACEFUL.load(Ordering::SeqCst) {
                    eprintln!("\ninterrupted: stopping after the current iteration (interrupt again to stop at once)");
                    continue;
                }
                // Holding the lock: no temporary file is being created or renamed.
                let list = temps();
                for p in list.iter() {
                    let _ = std::fs::remove_file(p);
                }
                remove_staging();
                eprintln!("\nerror: interrupted; unfinished output removed");
                std::process::exit(128 + sig);
            }
        })?;
    let _ = INSTALLED.set(());
    Ok(())
}
