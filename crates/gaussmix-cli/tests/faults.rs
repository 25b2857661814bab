//! Fault handling of the `gaussmix` binary (the project rule: a failure loses nothing):
//!
//! - a full disk (a 256 KiB tmpfs, and `/dev/full`) and a read-only folder (a tmpfs
//!   remounted read-only; root ignores permission bits) give an error naming the path,
//!   leave a previous file byte-identical and leave no temporary file;
//! - SIGINT stops a fit (in memory or streamed) at its next iteration with exit 130 and
//!   no output, a second SIGINT stops it at once, and SIGINT during a write removes the
//!   unfinished file;
//! - a streamed input truncated while the fit runs stops the fit with an error naming
//!   the file.
//!
//! Mounting needs root (CI runs as root). Where it is not permitted the mount tests print
//! a note and skip, unless `GAUSSMIX_REQUIRE_FAULT_TESTS=1`, where they fail.

mod common;

use common::listing;
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use assert_cmd::Command;
use predicates::prelude::*;

fn gaussmix() -> Command {
    Command::cargo_bin("gaussmix").unwrap()
}

fn gaussmix_path() -> PathBuf {
    assert_cmd::cargo::cargo_bin("gaussmix")
}

fn required() -> bool {
    std::env::var("GAUSSMIX_REQUIRE_FAULT_TESTS").is_ok_and(|v| v == "1")
}

/// A small deterministic generator (xorshift64*), and standard normals by Box–Muller.
struct Rng(u64);

impl Rng {
    fn uniform(&mut self) -> f64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        let v = self.0.wrapping_mul(0x2545_F491_4F6C_DD1D);
        ((v >> 11) as f64 + 0.5) / (1u64 << 53) as f64
    }
    fn normal(&mut self) -> f64 {
        let (u, v) = (self.uniform(), self.uniform());
        (-2.0 * u.ln()).sqrt() * (std::f64::consts::TAU * v).cos()
    }
}

/// Rows from `k` well-separated Gaussian clusters, row-major.
fn blobs(n: usize, d: usize, k: usize, seed: u64) -> Vec<f64> {
    let mut rng = Rng(seed | 1);
    let centres: Vec<f64> = (0..k * d).map(|_| 10.0 * rng.normal()).collect();
    let mut x = Vec::with_capacity(n * d);
    for i in 0..n {
        let c = i % k;
        for j in 0..d {
            x.push(centres[c * d + j] + rng.normal());
        }
    }
    x
}

/// Writes an N × D little-endian f8 NPY file (C order).
fn write_npy(path: &Path, n: usize, d: usize, x: &[f64]) {
    common::write_npy_f8(path, n, d, x, false);
}

/// Writes rows as CSV with header x0, x1, ….
fn write_csv(path: &Path, d: usize, x: &[f64]) {
    let mut s = (0..d)
        .map(|j| format!("x{j}"))
        .collect::<Vec<_>>()
        .join(",");
    s.push('\n');
    for row in x.chunks(d) {
        let cells: Vec<String> = row.iter().map(|v| format!("{v:?}")).collect();
        s.push_str(&cells.join(","));
        s.push('\n');
    }
    std::fs::write(path, s).unwrap();
}

/// A tmpfs mounted for one test, unmounted when dropped (also when the test fails).
struct Tmpfs {
    dir: tempfile::TempDir,
}

impl Tmpfs {
    /// Mounts a tmpfs of `size` (e.g. "256k") on a new folder; `None` (after a note) when
    /// mounting is not permitted and the fault tests are not required.
    fn mount(size: &str) -> Option<Tmpfs> {
        let dir = tempfile::tempdir().unwrap();
        let out = std::process::Command::new("mount")
            .args([
                "-t",
                "tmpfs",
                "-o",
                &format!("size={size},mode=0755"),
                "tmpfs",
            ])
            .arg(dir.path())
            .output();
        match out {
            Ok(o) if o.status.success() => Some(Tmpfs { dir }),
            other => {
                let why = match other {
                    Ok(o) => String::from_utf8_lossy(&o.stderr).trim().to_string(),
                    Err(e) => e.to_string(),
                };
                if required() {
                    panic!("cannot mount a tmpfs ({why}) and GAUSSMIX_REQUIRE_FAULT_TESTS=1");
                }
                eprintln!("note: SKIPPED: cannot mount a tmpfs ({why}); set GAUSSMIX_REQUIRE_FAULT_TESTS=1 to make this a failure");
                None
            }
        }
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }

    /// Remounts the tmpfs read-only.
    fn remount_ro(&self) {
        let st = std::process::Command::new("mount")
            .args(["-o", "remount,ro"])
            .arg(self.path())
            .status()
            .unwrap();
        assert!(
            st.success(),
            "cannot remount {} read-only",
            self.path().display()
        );
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let ok = std::process::Command::new("umount")
            .arg(self.dir.path())
            .status()
            .is_ok_and(|s| s.success());
        if !ok {
            let _ = std::process::Command::new("umount")
                .arg("-l")
                .arg(self.dir.path())
                .status();
        }
    }
}

/// A small model (2 components, 2 features) fitted in `dir`.
fn small_model(dir: &Path) -> PathBuf {
    let data = dir.join("small.csv");
    write_csv(&data, 2, &blobs(200, 2, 2, 7));
    let model = dir.join("small.json");
    gaussmix()
        .args(["fit", "-k", "2", "-q", "-o"])
        .arg(&model)
        .arg(&data)
        .assert()
        .success();
    model
}

/// Expected: writing past the end of a 256 KiB tmpfs fails for `sample`, `predict` and
/// `fit` (a model of 120 features, about 1 MB of JSON): exit 1, stderr names the output
/// and says the disk is full, the previous file is byte-identical, no temporary file is
/// left.
#[test]
fn full_disk_keeps_the_previous_file() {
    let Some(fs) = Tmpfs::mount("256k") else {
        return;
    };
    let work = tempfile::tempdir().unwrap();
    let model = small_model(work.path());
    let out = fs.path().join("out.csv");
    let previous = b"previous contents\n1,2,3\n".repeat(100);
    std::fs::write(&out, &previous).unwrap();
    let before = listing(fs.path());
    let full = |cmd: &mut Command, target: &Path| {
        cmd.assert()
            .failure()
            .code(1)
            .stderr(predicate::str::contains(target.display().to_string()))
            .stderr(predicate::str::contains("the disk is full"));
    };

    // sample: 100 000 rows of CSV, several MB.
    full(
        gaussmix()
            .args(["sample", "-n", "100000", "-o"])
            .arg(&out)
            .arg(&model),
        &out,
    );
    assert_eq!(std::fs::read(&out).unwrap(), previous);
    assert_eq!(listing(fs.path()), before);

    // predict --proba over 30 000 rows.
    let rows = work.path().join("rows.csv");
    write_csv(&rows, 2, &blobs(30_000, 2, 2, 8));
    full(
        gaussmix()
            .args(["predict", "--proba", "-o"])
            .arg(&out)
            .arg(&model)
            .arg(&rows),
        &out,
    );
    assert_eq!(std::fs::read(&out).unwrap(), previous);
    assert_eq!(listing(fs.path()), before);

    // fit: a model with D = 120 (full covariances: tens of thousands of numbers).
    let wide = work.path().join("wide.npy");
    write_npy(&wide, 600, 120, &blobs(600, 120, 2, 9));
    let model_out = fs.path().join("model.json");
    std::fs::write(&model_out, b"{\"previous\": true}\n").unwrap();
    let before = listing(fs.path());
    full(
        gaussmix()
            .args(["fit", "-k", "2", "--max-iter", "3", "-q", "-o"])
            .arg(&model_out)
            .arg(&wide),
        &model_out,
    );
    assert_eq!(
        std::fs::read(&model_out).unwrap(),
        b"{\"previous\": true}\n"
    );
    assert_eq!(std::fs::read(&out).unwrap(), previous);
    assert_eq!(listing(fs.path()), before);

    // The same fit where there is room succeeds (so the failure above was the disk).
    let roomy = work.path().join("wide.json");
    gaussmix()
        .args(["fit", "-k", "2", "--max-iter", "3", "-q", "-o"])
        .arg(&roomy)
        .arg(&wide)
        .assert()
        .success();
    assert!(std::fs::metadata(&roomy).unwrap().len() > 256 * 1024);
}

/// Expected: `/dev/full` as an output (a file path or standard output) is an error with
/// "the disk is full", never a success; `/dev/null` is written in place and succeeds;
/// both stay character devices (an output is never renamed over a device).
#[test]
fn dev_full_is_an_error_and_devices_are_not_replaced() {
    use std::os::unix::fs::FileTypeExt;
    if !Path::new("/dev/full").exists() {
        assert!(!required(), "/dev/full is missing");
        eprintln!("note: SKIPPED: no /dev/full on this system");
        return;
    }
    let work = tempfile::tempdir().unwrap();
    let model = small_model(work.path());
    let rows = work.path().join("rows.csv");
    write_csv(&rows, 2, &blobs(100, 2, 2, 3));
    let fails = |cmd: &mut Command| {
        cmd.assert()
            .failure()
            .code(1)
            .stderr(predicate::str::contains("the disk is full"));
    };
    fails(
        gaussmix()
            .args(["sample", "-n", "10", "-o", "/dev/full"])
            .arg(&model),
    );
    fails(
        gaussmix()
            .args(["predict", "-o", "/dev/full"])
            .arg(&model)
            .arg(&rows),
    );
    fails(
        gaussmix()
            .args(["fit", "-k", "2", "-q", "-o", "/dev/full"])
            .arg(&rows),
    );
    let stdout_full = || {
        std::fs::OpenOptions::new()
            .write(true)
            .open("/dev/full")
            .unwrap()
    };
    for args in [
        vec!["sample", "-n", "10"],
        vec!["info"],
        vec!["score", "--mean"],
        vec!["score"],
    ] {
        let mut cmd = std::process::Command::new(gaussmix_path());
        cmd.args(&args).arg(&model);
        if args[0] == "score" {
            cmd.arg(&rows);
        }
        let out = cmd.stdout(stdout_full()).output().unwrap();
        assert_eq!(out.status.code(), Some(1), "{args:?}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(
            err.contains("standard output") && err.contains("the disk is full"),
            "{args:?}: {err}"
        );
        assert!(!err.contains("panicked"), "{args:?}: {err}");
    }
    gaussmix()
        .args(["sample", "-n", "10", "-o", "/dev/null"])
        .arg(&model)
        .assert()
        .success();
    for dev in ["/dev/full", "/dev/null"] {
        let t = std::fs::metadata(dev).unwrap().file_type();
        assert!(t.is_char_device(), "{dev} is no longer a device");
    }
}

/// Expected: with the output folder read-only, `fit` and `sample` fail with exit 1 and a
/// message naming the folder and saying it is read-only; the previous model is intact.
#[test]
fn read_only_folder_keeps_the_previous_file() {
    let Some(fs) = Tmpfs::mount("1m") else {
        return;
    };
    let work = tempfile::tempdir().unwrap();
    let model = small_model(work.path());
    let target = fs.path().join("model.json");
    let previous = std::fs::read(&model).unwrap();
    std::fs::write(&target, &previous).unwrap();
    fs.remount_ro();
    let data = work.path().join("small.csv");
    let folder = fs.path().display().to_string();
    for cmd in [
        gaussmix()
            .args(["fit", "-k", "2", "-q", "-o"])
            .arg(&target)
            .arg(&data),
        gaussmix()
            .args(["sample", "-n", "10", "-o"])
            .arg(&target)
            .arg(&model),
    ] {
        cmd.assert()
            .failure()
            .code(1)
            .stderr(predicate::str::contains(folder.as_str()))
            .stderr(predicate::str::contains("read-only"));
        assert_eq!(std::fs::read(&target).unwrap(), previous);
        assert_eq!(listing(fs.path()), ["model.json"]);
    }
}

/// A running `gaussmix` whose stderr lines arrive on a channel.
struct Running {
    child: Child,
    lines: mpsc::Receiver<String>,
    seen: Vec<String>,
}

impl Running {
    fn spawn(args: &[&std::ffi::OsStr]) -> Running {
        let mut child = std::process::Command::new(gaussmix_path())
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let err = child.stderr.take().unwrap();
        let (tx, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(err).lines() {
                let Ok(line) = line else { break };
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        Running {
            child,
            lines,
            seen: Vec::new(),
        }
    }

    /// Waits for a stderr line containing `what` (panics after `limit`).
    fn wait_for(&mut self, what: &str, limit: Duration) {
        let end = Instant::now() + limit;
        while Instant::now() < end {
            if let Ok(l) = self.lines.recv_timeout(Duration::from_millis(100)) {
                let hit = l.contains(what);
                self.seen.push(l);
                if hit {
                    return;
                }
            }
            if let Ok(Some(st)) = self.child.try_wait() {
                panic!(
                    "gaussmix ended ({st}) before printing '{what}': {:?}",
                    self.seen
                );
            }
        }
        let _ = self.child.kill();
        panic!("no '{what}' on stderr within {limit:?}: {:?}", self.seen);
    }

    fn signal(&self, sig: &str) {
        let st = std::process::Command::new("kill")
            .arg(format!("-{sig}"))
            .arg(self.child.id().to_string())
            .status()
            .unwrap();
        assert!(st.success());
    }

    /// Waits for the exit (killing the process and panicking after `limit`); returns the
    /// exit code and all of stderr.
    fn finish(mut self, limit: Duration) -> (Option<i32>, String) {
        let end = Instant::now() + limit;
        let status = loop {
            if let Some(st) = self.child.try_wait().unwrap() {
                break st;
            }
            if Instant::now() > end {
                let _ = self.child.kill();
                let _ = self.child.wait();
                panic!(
                    "gaussmix did not stop within {limit:?} of the signal: {:?}",
                    self.seen
                );
            }
            std::thread::sleep(Duration::from_millis(20));
        };
        while let Ok(l) = self.lines.recv_timeout(Duration::from_millis(500)) {
            self.seen.push(l);
        }
        (status.code(), self.seen.join("\n"))
    }
}

/// A data set that takes many seconds to fit with `--tol 0 --max-iter 1000`: 200 000
/// rows × 16 features, NPY.
fn long_fit_data(dir: &Path) -> PathBuf {
    let p = dir.join("big.npy");
    write_npy(&p, 200_000, 16, &blobs(200_000, 16, 16, 11));
    p
}

fn os(s: &str) -> &std::ffi::OsStr {
    std::ffi::OsStr::new(s)
}

/// Runs a long fit, interrupts it after its first iteration with `signals` SIGINTs, and
/// checks: exit 130, "interrupted" on stderr, the previous model byte-identical, no
/// temporary file.
fn interrupted_fit(stream: bool, signals: usize) {
    let dir = tempfile::tempdir().unwrap();
    let data = long_fit_data(dir.path());
    let out = dir.path().join("model.json");
    std::fs::write(&out, b"{\"previous\": true}\n").unwrap();
    let before = listing(dir.path());
    let mut args = vec![
        os("fit"),
        data.as_os_str(),
        os("-k"),
        os("16"),
        os("--init"),
        os("random-from-data"),
        os("--max-iter"),
        os("1000"),
        os("--tol"),
        os("0"),
        os("--verbose"),
        os("-o"),
        out.as_os_str(),
    ];
    if stream {
        args.extend([os("--stream"), os("--init-rows"), os("5000")]);
    }
    let mut run = Running::spawn(&args);
    run.wait_for(" iter ", Duration::from_secs(300));
    let t = Instant::now();
    for _ in 0..signals {
        run.signal("INT");
        std::thread::sleep(Duration::from_millis(50));
    }
    let (code, err) = run.finish(Duration::from_secs(60));
    eprintln!("stopped {:?} after the signal:\n{err}", t.elapsed());
    assert_eq!(code, Some(130), "{err}");
    assert!(err.contains("interrupted"), "{err}");
    // The first signal is taken gracefully (the fit stops at its next iteration or chunk).
    assert!(
        err.contains("stopping after the current iteration"),
        "{err}"
    );
    if signals == 1 {
        assert!(err.contains("no output written"), "{err}");
    }
    assert!(!err.contains("wrote "), "{err}");
    assert_eq!(std::fs::read(&out).unwrap(), b"{\"previous\": true}\n");
    assert_eq!(listing(dir.path()), before);
}

/// Expected: SIGINT during an in-memory fit: exit 130, "interrupted", old model intact,
/// no temporary file.
#[test]
fn sigint_stops_a_fit_and_writes_nothing() {
    interrupted_fit(false, 1);
}

/// Expected: the same for a streamed fit (`--stream`).
#[test]
fn sigint_stops_a_streamed_fit_and_writes_nothing() {
    interrupted_fit(true, 1);
}

/// Expected: two SIGINTs: the second ends the process at once, with the same guarantees.
#[test]
fn second_sigint_stops_at_once() {
    interrupted_fit(false, 2);
}

/// Expected: SIGINT while `sample` writes a large CSV (the temporary file exists): exit
/// 130, the unfinished temporary file removed, the previous output intact.
#[test]
fn sigint_during_a_write_removes_the_unfinished_file() {
    let dir = tempfile::tempdir().unwrap();
    let model = small_model(dir.path());
    let out = dir.path().join("out.csv");
    std::fs::write(&out, b"previous\n").unwrap();
    let before = listing(dir.path());
    let mut run = Running::spawn(&[
        os("sample"),
        os("-n"),
        os("4000000"),
        os("-o"),
        out.as_os_str(),
        model.as_os_str(),
    ]);
    // Wait for the temporary output file to appear, then interrupt.
    let end = Instant::now() + Duration::from_secs(120);
    loop {
        if listing(dir.path()).iter().any(|n| n.starts_with(".tmp")) {
            break;
        }
        if let Ok(Some(st)) = run.child.try_wait() {
            panic!("sample ended ({st}) before its temporary file was seen");
        }
        assert!(Instant::now() < end, "no temporary file appeared");
        std::thread::sleep(Duration::from_millis(2));
    }
    run.signal("INT");
    let (code, err) = run.finish(Duration::from_secs(60));
    assert_eq!(code, Some(130), "{err}");
    assert!(err.contains("interrupted"), "{err}");
    assert_eq!(std::fs::read(&out).unwrap(), b"previous\n");
    assert_eq!(listing(dir.path()), before);
}

/// Expected: the NPY stream source, truncated between passes or in the middle of one,
/// fails with an error naming the file and saying it was truncated; no panic.
#[test]
fn truncated_npy_source_errors() {
    use gaussmix::RowSource;
    use gaussmix_cli::stream::NpySource;
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("data.npy");
    let (n, d) = (1000, 3);
    write_npy(&p, n, d, &blobs(n, d, 2, 5));
    let ps = p.to_str().unwrap();
    let mut src = NpySource::open(ps, None, 128).unwrap();
    let pass = |src: &mut NpySource| -> gaussmix::Result<usize> {
        src.reset()?;
        let mut rows = 0;
        while let Some(c) = src.next_chunk()? {
            rows += c.x.nrows();
        }
        Ok(rows)
    };
    assert_eq!(pass(&mut src).unwrap(), n);
    let len = std::fs::metadata(&p).unwrap().len();
    // Between passes: reset sees the shorter file.
    std::fs::OpenOptions::new()
        .write(true)
        .open(&p)
        .unwrap()
        .set_len(len - 100)
        .unwrap();
    let e = pass(&mut src).unwrap_err().to_string();
    assert!(e.contains(ps) && e.contains("truncated"), "{e}");
    // In a pass: the chunk read runs into the new end of the file.
    std::fs::write(&p, b"").unwrap();
    write_npy(&p, n, d, &blobs(n, d, 2, 5));
    let mut src = NpySource::open(ps, None, 128).unwrap();
    src.reset().unwrap();
    assert!(src.next_chunk().unwrap().is_some());
    std::fs::OpenOptions::new()
        .write(true)
        .open(&p)
        .unwrap()
        .set_len(len / 2)
        .unwrap();
    let e = loop {
        match src.next_chunk() {
            Ok(Some(_)) => continue,
            Ok(None) => panic!("a truncated file gave a short pass without an error"),
            Err(e) => break e.to_string(),
        }
    };
    assert!(e.contains(ps) && e.contains("truncated"), "{e}");
}

/// Expected: the Parquet stream source, truncated between passes, fails with an error
/// naming the file and saying it was truncated.
#[cfg(feature = "parquet")]
#[test]
fn truncated_parquet_source_errors() {
    use gaussmix::RowSource;
    use gaussmix_cli::io::{parquet::ParquetSource, Column, ReadOptions};
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("data.parquet");
    let ps = p.to_str().unwrap();
    let x = ndarray::Array2::from_shape_vec((5000, 2), blobs(5000, 2, 2, 4)).unwrap();
    gaussmix_cli::io::write_columns(
        ps,
        &[
            Column::Float {
                name: "a",
                values: x.column(0),
            },
            Column::Float {
                name: "b",
                values: x.column(1),
            },
        ],
    )
    .unwrap();
    let mut src = ParquetSource::open(ps, &ReadOptions::default(), 512).unwrap();
    src.reset().unwrap();
    let mut rows = 0;
    while let Some(c) = src.next_chunk().unwrap() {
        rows += c.x.nrows();
    }
    assert_eq!(rows, 5000);
    let len = std::fs::metadata(&p).unwrap().len();
    std::fs::OpenOptions::new()
        .write(true)
        .open(&p)
        .unwrap()
        .set_len(len / 2)
        .unwrap();
    let e = src.reset().unwrap_err().to_string();
    assert!(e.contains(ps) && e.contains("truncated"), "{e}");
}

/// Expected: a `--stream` fit whose NPY input is cut in half after its first iteration
/// stops with exit 1 and an error naming the file and saying it was truncated; the
/// previous model is intact.
#[test]
fn streamed_fit_of_a_truncated_file_fails() {
    let dir = tempfile::tempdir().unwrap();
    let data = long_fit_data(dir.path());
    let out = dir.path().join("model.json");
    std::fs::write(&out, b"{\"previous\": true}\n").unwrap();
    let before = listing(dir.path());
    let mut run = Running::spawn(&[
        os("fit"),
        data.as_os_str(),
        os("-k"),
        os("4"),
        os("--init"),
        os("random-from-data"),
        os("--max-iter"),
        os("1000"),
        os("--tol"),
        os("0"),
        os("--verbose"),
        os("--stream"),
        os("--init-rows"),
        os("5000"),
        os("-o"),
        out.as_os_str(),
    ]);
    run.wait_for(" iter ", Duration::from_secs(300));
    let len = std::fs::metadata(&data).unwrap().len();
    let f = std::fs::OpenOptions::new().write(true).open(&data).unwrap();
    f.set_len(len / 2).unwrap();
    drop(f);
    let (code, err) = run.finish(Duration::from_secs(60));
    assert_eq!(code, Some(1), "{err}");
    assert!(
        err.contains(data.to_str().unwrap()) && err.contains("truncated"),
        "{err}"
    );
    assert!(!err.contains("panicked"), "{err}");
    assert_eq!(std::fs::read(&out).unwrap(), b"{\"previous\": true}\n");
    assert_eq!(listing(dir.path()), before);
    let _ = std::io::stderr().flush();
}

/// Expected: SIGINT while `video subtract` writes masks (its staged `.masks.partial-*`
/// folder exists): exit 130, the staged folder removed, no `masks` folder.
#[test]
fn sigint_during_video_subtract_removes_the_staged_folder() {
    let dir = tempfile::tempdir().unwrap();
    let frames = dir.path().join("frames");
    std::fs::create_dir(&frames).unwrap();
    let (w, h) = (160usize, 120usize);
    let mut rng = Rng(99);
    for f in 0..400usize {
        let grey: Vec<u8> = (0..w * h)
            .map(|_| (100.0 + 20.0 * rng.normal()).clamp(0.0, 255.0) as u8)
            .collect();
        let file = std::fs::File::create(frames.join(format!("in{:06}.png", f + 1))).unwrap();
        let mut enc = png::Encoder::new(std::io::BufWriter::new(file), w as u32, h as u32);
        enc.set_color(png::ColorType::Grayscale);
        enc.set_depth(png::BitDepth::Eight);
        enc.write_header().unwrap().write_image_data(&grey).unwrap();
    }
    let masks = dir.path().join("masks");
    let before = listing(dir.path());
    let mut run = Running::spawn(&[
        os("video"),
        os("subtract"),
        frames.as_os_str(),
        os("-o"),
        masks.as_os_str(),
        os("-q"),
    ]);
    let end = Instant::now() + Duration::from_secs(120);
    loop {
        let staged = listing(dir.path())
            .into_iter()
            .find(|n| n.starts_with(".masks.partial-"));
        if let Some(s) = staged {
            // Wait for a few masks so that the folder is not empty.
            if std::fs::read_dir(dir.path().join(s))
                .map(|d| d.count() >= 5)
                .unwrap_or(false)
            {
                break;
            }
        }
        if let Ok(Some(st)) = run.child.try_wait() {
            panic!("video subtract ended ({st}) before its staged folder was seen");
        }
        assert!(Instant::now() < end, "no staged folder appeared");
        std::thread::sleep(Duration::from_millis(2));
    }
    run.signal("INT");
    let (code, err) = run.finish(Duration::from_secs(60));
    assert_eq!(code, Some(130), "{err}");
    assert!(err.contains("interrupted"), "{err}");
    assert!(!masks.exists());
    assert_eq!(listing(dir.path()), before);
}

/// A fit with checkpoints (two initialisations, so that the best finished one is part of
/// the state) killed with SIGKILL during its second initialisation, then resumed.
fn killed_and_resumed(stream: bool) {
    let dir = tempfile::tempdir().unwrap();
    let data = long_fit_data(dir.path());
    let ckpt = dir.path().join("fit.ckpt");
    let killed_out = dir.path().join("killed.json");
    let mut args = vec![
        os("fit"),
        data.as_os_str(),
        os("-k"),
        os("16"),
        os("--n-init"),
        os("2"),
        os("--max-iter"),
        os("25"),
        os("--tol"),
        os("0"),
        os("--seed"),
        os("3"),
    ];
    if stream {
        args.extend([os("--stream"), os("--init-rows"), os("5000")]);
    }
    fn with<'a>(
        args: &[&'a std::ffi::OsStr],
        extra: &[&'a std::ffi::OsStr],
    ) -> Vec<&'a std::ffi::OsStr> {
        let mut v = args.to_vec();
        v.extend_from_slice(extra);
        v
    }
    let mut run = Running::spawn(&with(
        &args,
        &[
            os("--verbose"),
            os("--checkpoint"),
            ckpt.as_os_str(),
            os("--checkpoint-every"),
            os("2"),
            os("-o"),
            killed_out.as_os_str(),
        ],
    ));
    run.wait_for("init 2/2 iter    6", Duration::from_secs(300));
    run.signal("KILL");
    let (code, err) = run.finish(Duration::from_secs(60));
    assert_eq!(
        code, None,
        "SIGKILL must end the fit before it finished: {err}"
    );
    assert!(!killed_out.exists(), "a killed fit wrote its model");
    let saved: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&ckpt).unwrap()).unwrap();
    assert_eq!(saved["init"], 1, "the checkpoint is of the second start");
    assert!(!saved["best"].is_null(), "the first start's fit is kept");
    let resumed = dir.path().join("resumed.json");
    gaussmix()
        .args(with(
            &args,
            &[
                os("--resume"),
                ckpt.as_os_str(),
                os("-o"),
                resumed.as_os_str(),
            ],
        ))
        .assert()
        .success();
    let whole = dir.path().join("whole.json");
    gaussmix()
        .args(with(&args, &[os("-q"), os("-o"), whole.as_os_str()]))
        .assert()
        .success();
    assert_eq!(
        std::fs::read(&resumed).unwrap(),
        std::fs::read(&whole).unwrap(),
        "resumed and uninterrupted models differ"
    );
    // the same checkpoint with other options is refused, naming the option, writing nothing
    let other = dir.path().join("other.json");
    let mut wrong = with(
        &args,
        &[
            os("--resume"),
            ckpt.as_os_str(),
            os("-o"),
            other.as_os_str(),
        ],
    );
    wrong[3] = os("8");
    gaussmix()
        .args(wrong)
        .assert()
        .failure()
        .stderr(predicate::str::contains("n_components was 16 and is now 8"));
    assert!(!other.exists());
}

/// Expected: an in-memory fit killed with SIGKILL and resumed with `--resume` writes the
/// model of the uninterrupted fit, byte for byte.
#[test]
fn sigkill_then_resume_gives_the_uninterrupted_model() {
    killed_and_resumed(false);
}

/// Expected: the same for a streamed fit.
#[test]
fn sigkill_then_resume_a_streamed_fit() {
    killed_and_resumed(true);
}

/// Expected: SIGINT during a checkpointed fit leaves a checkpoint that says how to resume.
#[test]
fn sigint_leaves_a_checkpoint_to_resume() {
    let dir = tempfile::tempdir().unwrap();
    let data = long_fit_data(dir.path());
    let ckpt = dir.path().join("fit.ckpt");
    let out = dir.path().join("model.json");
    let args = [
        os("fit"),
        data.as_os_str(),
        os("-k"),
        os("16"),
        os("--max-iter"),
        os("1000"),
        os("--tol"),
        os("0"),
        os("--verbose"),
        os("--checkpoint"),
        ckpt.as_os_str(),
        os("--checkpoint-every"),
        os("1000"),
        os("-o"),
        out.as_os_str(),
    ];
    let mut run = Running::spawn(&args);
    run.wait_for("iter    3", Duration::from_secs(300));
    run.signal("INT");
    let (code, err) = run.finish(Duration::from_secs(60));
    assert_eq!(code, Some(130), "{err}");
    assert!(err.contains("continue it with --resume"), "{err}");
    assert!(!out.exists());
    let saved: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&ckpt).unwrap()).unwrap();
    assert!(saved["info"]["n_iter"].as_u64().unwrap() >= 3);
}
