// SPDX-License-Identifier: MIT
//! Runs QEMU with the serial console written to a log file, within a time limit.

use std::fs::File;
use std::path::Path;
use std::process::{Command, Stdio};
use std::thread::sleep;
use std::time::{Duration, Instant};

/// The QEMU binary.
pub const QEMU: &str = "qemu-system-x86_64";

/// How a run ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum End {
    /// QEMU exited with this status.
    Exited(i32),
    /// QEMU was killed by a signal.
    Signalled,
    /// The time limit passed and the harness killed QEMU.
    TimedOut,
    /// The log showed the line the run waited for, and the harness stopped QEMU.
    Stopped,
}

/// A finished run.
#[derive(Debug, Clone, Copy)]
pub struct Run {
    /// How it ended.
    pub end: End,
    /// Wall-clock time from start to end.
    pub elapsed: Duration,
}

/// Runs `QEMU args`, its console (stdout and stderr) going to `log`, killed after `limit`.
///
/// # Errors
/// QEMU could not be started or waited for, or the log not created.
pub fn run(args: &[std::ffi::OsString], log: &Path, limit: Duration) -> Result<Run, String> {
    run_until(args, log, limit, None)
}

/// [`run`], and QEMU is stopped as soon as the log holds `stop` ([`End::Stopped`]): a
/// machine that halted on purpose never exits by itself.
///
/// # Errors
/// As [`run`].
pub fn run_until(
    args: &[std::ffi::OsString],
    log: &Path,
    limit: Duration,
    stop: Option<&str>,
) -> Result<Run, String> {
    run_watching(args, log, limit, stop, &[]).map(|(run, _)| run)
}

/// [`run_until`], also noting when each of `watch` first appears in the log (polled every
/// 50 ms): the phase times of a boot.
///
/// # Errors
/// As [`run`].
pub fn run_watching(
    args: &[std::ffi::OsString],
    log: &Path,
    limit: Duration,
    stop: Option<&str>,
    watch: &[&str],
) -> Result<(Run, Vec<Option<Duration>>), String> {
    let mut seen: Vec<Option<Duration>> = vec![None; watch.len()];
    let out = File::create(log).map_err(|e| format!("{}: {e}", log.display()))?;
    let err = out
        .try_clone()
        .map_err(|e| format!("{}: {e}", log.display()))?;
    let start = Instant::now();
    let mut child = Command::new(QEMU)
        .args(args)
        .stdin(Stdio::null())
        .stdout(out)
        .stderr(err)
        .spawn()
        .map_err(|e| format!("{QEMU}: {e}"))?;
    loop {
        if let Some(status) = child.try_wait().map_err(|e| format!("{QEMU}: {e}"))? {
            let end = status.code().map_or(End::Signalled, End::Exited);
            // The lines QEMU wrote just before it exited: seen now at the latest.
            let text = std::fs::read(log).map_or_else(
                |_| String::new(),
                |t| String::from_utf8_lossy(&t).into_owned(),
            );
            for (mark, when) in watch.iter().zip(seen.iter_mut()) {
                if when.is_none() && text.contains(mark) {
                    *when = Some(start.elapsed());
                }
            }
            return Ok((
                Run {
                    end,
                    elapsed: start.elapsed(),
                },
                seen,
            ));
        }
        let text = if stop.is_some() || seen.iter().any(Option::is_none) {
            std::fs::read(log).map_or_else(
                |_| String::new(),
                |t| String::from_utf8_lossy(&t).into_owned(),
            )
        } else {
            String::new()
        };
        for (mark, when) in watch.iter().zip(seen.iter_mut()) {
            if when.is_none() && text.contains(mark) {
                *when = Some(start.elapsed());
            }
        }
        if stop.is_some_and(|mark| text.contains(mark)) {
            let _ = child.kill();
            let _ = child.wait();
            return Ok((
                Run {
                    end: End::Stopped,
                    elapsed: start.elapsed(),
                },
                seen,
            ));
        }
        if start.elapsed() > limit {
            // Only this child, by its own handle.
            let _ = child.kill();
            let _ = child.wait();
            return Ok((
                Run {
                    end: End::TimedOut,
                    elapsed: start.elapsed(),
                },
                seen,
            ));
        }
        sleep(Duration::from_millis(50));
    }
}

/// Whether QEMU can be run here.
pub fn available() -> bool {
    Command::new(QEMU)
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}
