// SPDX-License-Identifier: MIT
//! Reads a boot's serial log: Xen's version line, dom0's report lines (see [`crate::dom0`])
//! and what an entered test image printed.

use std::collections::BTreeMap;

use crate::dom0::MARK;
use crate::images::ENTRY_MARK;
use crate::scenario::Outcome;

/// What a boot's serial log says.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct Log {
    /// Xen's `Xen version ...` line, from `version` on.
    pub xen_version: Option<String>,
    /// dom0's `uname -r -v`.
    pub kernel: Option<String>,
    /// dom0's uptime in seconds when `/init` started.
    pub init_uptime: Option<f64>,
    /// dom0's uptime when the script ended.
    pub end_uptime: Option<f64>,
    /// Why dom0's script gave up, if it did.
    pub fatal: Option<String>,
    /// Each step's output, by id, in the order of the log.
    pub steps: Vec<(String, StepLog)>,
    /// The modes entered test images reported.
    pub entered: Vec<String>,
}

/// One step's report.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct StepLog {
    /// Its stdout lines.
    pub stdout: Vec<String>,
    /// Its stderr lines.
    pub stderr: Vec<String>,
    /// Its exit status, once reported.
    pub rc: Option<i32>,
    /// How long it ran, in milliseconds of dom0's uptime (10 ms steps), once reported.
    pub ms: Option<u64>,
}

impl Log {
    /// A step's outcome, when its exit status was reported.
    pub fn outcome(&self, id: &str) -> Option<Outcome> {
        let (_, s) = self.steps.iter().find(|(i, _)| i == id)?;
        Some(Outcome {
            rc: s.rc?,
            stdout: s.stdout.clone(),
            stderr: s.stderr.clone(),
        })
    }

    /// How long a step ran, in milliseconds, when that was reported.
    pub fn ms(&self, id: &str) -> Option<u64> {
        self.steps.iter().find(|(i, _)| i == id)?.1.ms
    }

    fn step(&mut self, id: &str) -> &mut StepLog {
        let at = self
            .steps
            .iter()
            .position(|(i, _)| i == id)
            .unwrap_or_else(|| {
                self.steps.push((id.to_owned(), StepLog::default()));
                self.steps.len() - 1
            });
        &mut self.steps[at].1
    }
}

/// Parses a serial log.
///
/// # Errors
/// A report line that does not parse, or two different lines with the same sequence
/// number (a line the console repeats word for word is taken once).
pub fn parse(text: &str) -> Result<Log, String> {
    let mut log = Log::default();
    let mut seen: BTreeMap<u64, &str> = BTreeMap::new();
    for raw in text.lines() {
        let line = raw.trim_end_matches('\r');
        if log.xen_version.is_none() {
            if let Some(at) = line.find("(XEN) Xen version ") {
                log.xen_version = Some(line[at + "(XEN) Xen ".len()..].to_owned());
            }
        }
        if let Some(at) = line.find(ENTRY_MARK) {
            log.entered
                .push(line[at + ENTRY_MARK.len()..].trim().to_owned());
            continue;
        }
        let Some(at) = line.find(&format!("{MARK} ")) else {
            continue;
        };
        let record = &line[at + MARK.len() + 1..];
        let bad = || format!("unreadable report line {line:?}");
        let (seq, rest) = record.split_once(' ').ok_or_else(bad)?;
        let seq: u64 = seq.parse().map_err(|_| bad())?;
        match seen.get(&seq) {
            Some(prev) if *prev == rest => continue,
            Some(prev) => {
                return Err(format!(
                    "report line {seq} appears as {prev:?} and as {rest:?}"
                ))
            }
            None => {
                seen.insert(seq, rest);
            }
        }
        let (tag, rest) = rest.split_once(' ').unwrap_or((rest, ""));
        match tag {
            "init" => log.init_uptime = rest.parse().ok(),
            "end" => log.end_uptime = rest.parse().ok(),
            "uname" => log.kernel = Some(rest.to_owned()),
            "fatal" => log.fatal = Some(rest.to_owned()),
            "out" | "err" | "rc" | "ms" => {
                let (id, text) = rest.split_once(' ').ok_or_else(bad)?;
                let step = log.step(id);
                match tag {
                    "out" => step.stdout.push(text.to_owned()),
                    "err" => step.stderr.push(text.to_owned()),
                    "ms" => step.ms = Some(text.parse().map_err(|_| bad())?),
                    _ => step.rc = Some(text.parse().map_err(|_| bad())?),
                }
            }
            // A boot's own fact (the kdump boot's marker), read by that boot's judge.
            "marker" => {}
            _ => return Err(bad()),
        }
    }
    Ok(log)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn steps_versions_and_entry_are_read_among_other_console_output() {
        let text = "\x1b[2J(XEN) Xen version 4.17.7 (Debian 4.17.7) (gcc) debug=n\r\n\
            @@RX 1 init 5.40\r\n\
            @@RX 2 uname 6.1.0-56-amd64 #1 SMP\r\n\
            [    6.1] some kernel message\r\n\
            @@RX 3 out s/range start 0x20000000 size 0x4000000\r\n\
            @@RX 4 rc s/range 0\r\n\
            @@RX 5 err s/refused ENOENT (2): nothing loaded\r\n\
            @@RX 6 rc s/refused 1\r\n\
            @@RX 7 out s/blank \r\n\
            @@RX 8 rc s/blank 0\r\n\
            (XEN) Executing kexec image on cpu0\r\n\
            \r\n@@RX entry mode=long64\r\n";
        let log = parse(text).unwrap();
        assert_eq!(
            log.xen_version.as_deref(),
            Some("version 4.17.7 (Debian 4.17.7) (gcc) debug=n")
        );
        assert_eq!(log.kernel.as_deref(), Some("6.1.0-56-amd64 #1 SMP"));
        assert_eq!(log.init_uptime, Some(5.40));
        let range = log.outcome("s/range").unwrap();
        assert_eq!(
            (range.rc, range.stdout.as_slice()),
            (0, ["start 0x20000000 size 0x4000000".to_owned()].as_slice())
        );
        assert_eq!(
            log.outcome("s/refused").unwrap().errno(),
            Some(("ENOENT", 2))
        );
        assert_eq!(log.outcome("s/blank").unwrap().stdout, [String::new()]);
        assert_eq!(log.entered, ["long64"]);
    }

    #[test]
    fn a_repeated_line_counts_once_and_a_conflicting_one_is_an_error() {
        let log = parse("@@RX 1 out s/a loaded\n@@RX 1 out s/a loaded\n@@RX 2 rc s/a 0\n").unwrap();
        assert_eq!(log.outcome("s/a").unwrap().stdout, ["loaded"]);
        let err = parse("@@RX 1 out s/a loaded\n@@RX 1 out s/a not loaded\n").unwrap_err();
        assert!(err.contains("report line 1"), "{err}");
    }

    #[test]
    fn a_steps_time_is_read_in_milliseconds_beside_its_outcome() {
        let log = parse("@@RX 1 rc k/load 0\r\n@@RX 2 ms k/load 2010\r\n").unwrap();
        assert_eq!(log.ms("k/load"), Some(2010));
        assert_eq!(log.outcome("k/load").unwrap().rc, 0);
        assert_eq!(log.ms("k/other"), None);
        let err = parse("@@RX 1 ms k/load 2.01\n").unwrap_err();
        assert!(err.contains("unreadable"), "{err}");
    }

    #[test]
    fn a_step_without_its_exit_status_has_no_outcome() {
        let log = parse("@@RX 1 out s/exec entering\n").unwrap();
        assert_eq!(log.outcome("s/exec"), None);
        assert_eq!(log.outcome("s/other"), None);
    }

    #[test]
    fn garbled_report_lines_are_errors_naming_the_line() {
        for line in [
            "@@RX x init 1",
            "@@RX 1 rc s/a zero",
            "@@RX 1 ms s/a -5",
            "@@RX 1 what 1",
            "@@RX 1 out",
        ] {
            let err = parse(line).unwrap_err();
            assert!(err.contains(line), "{err}");
        }
    }
}
