// SPDX-License-Identifier: MIT
//! The scenarios: `xen-kexec` steps run on the privcmd backend against real Xen in dom0 and,
//! the same steps, on the sim backend on the host; each step's expected outcome, and the
//! comparison of the two runs step by step.
//!
//! The list here is the one source: the dom0 script is rendered from it
//! ([`crate::dom0`]) and the host replays it on the sim ([`crate::toolstack`]).

use xen_kexec_abi::Errno;

use crate::machine::{Machine, Region};

/// Which static build of `xen-kexec` runs a step.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Build {
    /// `x86_64-unknown-linux-musl`.
    X86_64,
    /// `i686-unknown-linux-musl`.
    I686,
    /// The x86_64 build run through a link named `kexec`: the kexec-tools personality.
    Kexec,
}

impl Build {
    /// The Rust target it is built for.
    pub fn target(self) -> &'static str {
        match self {
            Build::X86_64 | Build::Kexec => "x86_64-unknown-linux-musl",
            Build::I686 => "i686-unknown-linux-musl",
        }
    }

    /// Its file name in dom0's `/bin`.
    pub fn dom0_name(self) -> &'static str {
        match self {
            Build::X86_64 => "xen-kexec",
            Build::I686 => "xen-kexec-i686",
            Build::Kexec => "kexec",
        }
    }
}

/// One command-line argument of a step.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Arg {
    /// Passed as it is.
    Lit(String),
    /// A test image by file name: `/images/NAME` in dom0, the built file on the host.
    Image(&'static str),
}

/// What a step must give.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Want {
    /// Exit 0 and exactly this one line on stdout.
    Says(&'static str),
    /// Exit 0 and `start 0x… size 0x…`; this range when one is given.
    Range(Option<Region>),
    /// Exit 0 (stdout is compared with the other backend's).
    Done,
    /// Exit 1, stderr `NAME (value): reason` with this errno.
    Refused(Errno),
    /// Exit 3 (no usable hypervisor interface), stderr containing this text.
    NoInterface(&'static str),
}

/// How a step's two runs are judged.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Expect {
    /// Real Xen and the sim both give this, and the same output.
    Agree(Want),
    /// One of Xen's bugs: real Xen gives `xen` (asserted as observed), the sim its fixed
    /// answer `sim`.
    XenBug {
        /// The bug, in a few words.
        bug: &'static str,
        /// What Xen answers.
        xen: Want,
        /// What the sim answers.
        sim: Want,
    },
    /// Real Xen only (the sim has no counterpart).
    RealOnly(Want),
}

/// One `xen-kexec` run.
#[derive(Clone, Debug)]
pub struct Step {
    /// Its name within the scenario.
    pub name: &'static str,
    /// The command and its flags (after the global flags).
    pub command: Vec<Arg>,
    /// How it is judged.
    pub expect: Expect,
}

/// A sequence of steps run by one build, in one dom0, on one sim host.
#[derive(Clone, Debug)]
pub struct Scenario {
    /// Its name; a step's id is `SCENARIO/STEP`.
    pub name: &'static str,
    /// The build that runs it.
    pub build: Build,
    /// `--guest` forced, or `auto` (the default) when `None`.
    pub guest: Option<&'static str>,
    /// The steps, in order.
    pub steps: Vec<Step>,
    /// A deliberately broken run: the harness checks that it fails.
    pub must_fail: bool,
}

impl Scenario {
    /// The id of `step` in the serial log.
    pub fn step_id(&self, step: &Step) -> String {
        format!("{}/{}", self.name, step.name)
    }

    /// The global flags the scenario adds before each command.
    pub fn global_flags(&self) -> Vec<String> {
        self.guest
            .map(|g| vec!["--guest".to_owned(), g.to_owned()])
            .unwrap_or_default()
    }
}

fn cmd(words: &str) -> Vec<Arg> {
    words.split(' ').map(|w| Arg::Lit(w.to_owned())).collect()
}

fn load(kind: &str, image: &'static str) -> Vec<Arg> {
    let mut c = cmd(&format!("load --type {kind} --elf"));
    c.push(Arg::Image(image));
    c
}

fn step(name: &'static str, command: Vec<Arg>, want: Want) -> Step {
    Step {
        name,
        command,
        expect: Expect::Agree(want),
    }
}

/// The crash-image cycle of issue 16: status, every range kind the issue names, load,
/// status, unload, status, exec with nothing loaded.
pub fn crash_cycle(machine: &Machine, image: &'static str) -> Vec<Step> {
    let past_last_cpu = format!("get-range --range cpu --cpu {}", machine.cpus);
    vec![
        step(
            "status",
            cmd("status --type crash"),
            Want::Says("not loaded"),
        ),
        step(
            "range-crash",
            cmd("get-range --range crash"),
            Want::Range(Some(machine.crash)),
        ),
        step("range-xen", cmd("get-range --range xen"), Want::Range(None)),
        // The sim host is given Xen's own answer (`sim init --cpu-notes`): this Xen's
        // allocation is known only from it.
        step(
            "range-cpu0",
            cmd("get-range --range cpu --cpu 0"),
            Want::Range(None),
        ),
        step(
            "range-cpu-past-last",
            cmd(&past_last_cpu),
            Want::Refused(Errno::ERANGE),
        ),
        step(
            "range-vmcoreinfo",
            cmd("get-range --range vmcoreinfo"),
            Want::Range(None),
        ),
        // x86 has no separate Xen heap range.
        step(
            "range-xenheap",
            cmd("get-range --range xenheap"),
            Want::Refused(Errno::EINVAL),
        ),
        step("load", load("crash", image), Want::Done),
        step(
            "status-loaded",
            cmd("status --type crash"),
            Want::Says("loaded"),
        ),
        step("unload", cmd("unload --type crash"), Want::Done),
        step(
            "status-unloaded",
            cmd("status --type crash"),
            Want::Says("not loaded"),
        ),
        step(
            "exec-nothing-loaded",
            cmd("exec --type default"),
            Want::Refused(Errno::ENOENT),
        ),
    ]
}

/// The name of Xen's status bug.
pub const STATUS_BUG: &str =
    "status answers the slot position bit, which flips on every load and unload";

/// Xen's status bug, and `xen-kexec`'s answer to it: two loads, then unloads, with status
/// after each. Xen's `status` answers a slot-position bit that flips on every load and
/// unload (after two loads it said "not loaded", after one unload "loaded"); `xen-kexec`
/// now unloads a crash image before loading another and answers from its record of what
/// it loaded when Xen's bit agrees, so real Xen and the sim agree at every step.
pub fn status_bug(image32: &'static str, image64: &'static str) -> Vec<Step> {
    vec![
        step("load-em386", load("crash", image32), Want::Done),
        step(
            "status-1-load",
            cmd("status --type crash"),
            Want::Says("loaded"),
        ),
        step("load-em-x86-64", load("crash", image64), Want::Done),
        step(
            "status-2-loads",
            cmd("status --type crash"),
            Want::Says("loaded"),
        ),
        step("unload", cmd("unload --type crash"), Want::Done),
        step(
            "status-unloaded",
            cmd("status --type crash"),
            Want::Says("not loaded"),
        ),
        step("unload-again", cmd("unload --type crash"), Want::Done),
        step(
            "status-unloaded-twice",
            cmd("status --type crash"),
            Want::Says("not loaded"),
        ),
        step(
            "exec-crash-nothing-loaded",
            cmd("exec --type crash"),
            Want::Refused(Errno::ENOENT),
        ),
    ]
}

/// What the i686 build must say on a 64-bit dom0.
pub const NEEDS_64_BIT: &str = "64-bit";

/// Every scenario of the scenarios boot, the deliberately broken one last.
pub fn all(machine: &Machine, image32: &'static str, image64: &'static str) -> Vec<Scenario> {
    vec![
        Scenario {
            name: "crash-cycle",
            build: Build::X86_64,
            guest: None,
            steps: crash_cycle(machine, image64),
            must_fail: false,
        },
        Scenario {
            name: "status-bug",
            build: Build::X86_64,
            guest: None,
            steps: status_bug(image32, image64),
            must_fail: false,
        },
        Scenario {
            name: "i686-build",
            build: Build::I686,
            guest: None,
            steps: vec![Step {
                name: "status",
                command: cmd("status --type crash"),
                expect: Expect::RealOnly(Want::NoInterface(NEEDS_64_BIT)),
            }],
            must_fail: false,
        },
        // The harness's own check: a 32-bit layout forced on the 64-bit dom0 must fail.
        Scenario {
            name: "wrong-layout",
            build: Build::X86_64,
            guest: Some("x86_32"),
            steps: crash_cycle(machine, image64),
            must_fail: true,
        },
    ]
}

/// What one run of `xen-kexec` gave.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Outcome {
    /// The exit status.
    pub rc: i32,
    /// Its stdout, by line.
    pub stdout: Vec<String>,
    /// Its stderr, by line.
    pub stderr: Vec<String>,
}

impl Outcome {
    /// The errno of a refusal: the first `NAME (value)` between `: ` separators on
    /// stderr's first line (`xen-kexec status: ENOENT (2): reason`).
    pub fn errno(&self) -> Option<(&str, i32)> {
        self.stderr.first()?.split(": ").find_map(|part| {
            let (name, value) = part.split_once(" (")?;
            let value = value.strip_suffix(')')?.parse().ok()?;
            (!name.is_empty() && name.bytes().all(|b| b.is_ascii_uppercase()))
                .then_some((name, value))
        })
    }

    /// A short description: stdout on success, `exit N: stderr` otherwise.
    pub fn describe(&self) -> String {
        if self.rc == 0 {
            format!("{:?}", self.stdout.join("; "))
        } else {
            format!(
                "exit {}: {:?}",
                self.rc,
                self.stderr.first().map_or("", String::as_str)
            )
        }
    }

    /// The range `start 0x… size 0x…` printed on stdout.
    pub fn range(&self) -> Option<Region> {
        let [line] = self.stdout.as_slice() else {
            return None;
        };
        let mut words = line.split(' ');
        let mut field = |name| {
            (words.next() == Some(name))
                .then(|| u64::from_str_radix(words.next()?.strip_prefix("0x")?, 16).ok())
                .flatten()
        };
        let region = Region {
            start: field("start")?,
            size: field("size")?,
        };
        words.next().is_none().then_some(region)
    }
}

/// The name `xen-kexec` prints for an errno (`EINVAL`, not `XEN_EINVAL`).
pub fn errno_name(errno: Errno) -> String {
    let name = format!("{errno:?}");
    name.strip_prefix("XEN_").unwrap_or(&name).to_owned()
}

impl Want {
    /// Checks an outcome against this expectation.
    ///
    /// # Errors
    /// What differs, in words.
    pub fn check(&self, got: &Outcome) -> Result<(), String> {
        let exit = |rc: i32| {
            if got.rc == rc {
                Ok(())
            } else {
                Err(format!("want exit {rc}, got {}", got.describe()))
            }
        };
        match self {
            Want::Says(line) => {
                exit(0)?;
                if got.stdout != [*line] {
                    return Err(format!("want {line:?}, got {}", got.describe()));
                }
            }
            Want::Range(region) => {
                exit(0)?;
                match (got.range(), region) {
                    (None, _) => {
                        return Err(format!("want `start 0x… size 0x…`, got {}", got.describe()))
                    }
                    (Some(r), Some(want)) if r != *want => {
                        return Err(format!(
                            "want start {:#x} size {:#x}, got {}",
                            want.start,
                            want.size,
                            got.describe()
                        ))
                    }
                    _ => {}
                }
            }
            Want::Done => exit(0)?,
            Want::Refused(errno) => {
                exit(1)?;
                let name = errno_name(*errno);
                if got.errno() != Some((name.as_str(), errno.0)) {
                    return Err(format!("want {name} ({}), got {}", errno.0, got.describe()));
                }
            }
            Want::NoInterface(text) => {
                exit(3)?;
                if !got.stderr.iter().any(|l| l.contains(text)) {
                    return Err(format!(
                        "want a message saying {text:?}, got {}",
                        got.describe()
                    ));
                }
            }
        }
        Ok(())
    }
}

/// Whether two outcomes are the same answer: the exit status, stdout on success, the
/// errno of a refusal (the reason's wording may differ: only the sim knows the rule).
pub fn same_answer(a: &Outcome, b: &Outcome) -> bool {
    a.rc == b.rc
        && match a.rc {
            0 => a.stdout == b.stdout,
            1 => a.errno().is_some() && a.errno() == b.errno(),
            _ => true,
        }
}

/// The judgement of one step.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Verdict {
    /// `SCENARIO/STEP`.
    pub id: String,
    /// Whether the step passed.
    pub pass: bool,
    /// What was seen, and what differs when it failed.
    pub detail: String,
}

/// Judges one step from the real run (`None` when the log has no complete record of it)
/// and the sim run (`None` for real-only steps).
pub fn judge(
    id: String,
    expect: &Expect,
    real: Option<&Outcome>,
    sim: Option<&Outcome>,
) -> Verdict {
    let result = judge_inner(expect, real, sim);
    let pass = result.is_ok();
    let detail = match result {
        Ok(seen) => seen,
        Err(why) => why,
    };
    Verdict { id, pass, detail }
}

fn agree(want: &Want, real: &Outcome, sim: &Outcome) -> Result<String, String> {
    want.check(real).map_err(|e| format!("real Xen: {e}"))?;
    want.check(sim).map_err(|e| format!("sim: {e}"))?;
    if !same_answer(real, sim) {
        return Err(format!(
            "real Xen and sim differ: Xen {} | sim {}",
            real.describe(),
            sim.describe()
        ));
    }
    Ok(format!("Xen {} | sim {}", real.describe(), sim.describe()))
}

fn judge_inner(
    expect: &Expect,
    real: Option<&Outcome>,
    sim: Option<&Outcome>,
) -> Result<String, String> {
    let real = real.ok_or("the serial log has no complete record of this step on real Xen")?;
    let sim_needed = || sim.ok_or_else(|| "the sim did not run this step".to_owned());
    match expect {
        Expect::Agree(want) => agree(want, real, sim_needed()?),
        Expect::XenBug {
            bug,
            xen,
            sim: want_sim,
        } => {
            let sim = sim_needed()?;
            xen.check(real)
                .map_err(|e| format!("real Xen (expected its bug: {bug}): {e}"))?;
            want_sim
                .check(sim)
                .map_err(|e| format!("sim (expected the fixed answer): {e}"))?;
            Ok(format!(
                "Xen's bug ({bug}): Xen {} | sim (fixed) {}",
                real.describe(),
                sim.describe()
            ))
        }
        Expect::RealOnly(want) => {
            want.check(real).map_err(|e| format!("real Xen: {e}"))?;
            Ok(format!("Xen {}", real.describe()))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::machine::MACHINE;

    fn says(rc: i32, out: &[&str], err: &[&str]) -> Outcome {
        Outcome {
            rc,
            stdout: out.iter().map(|s| (*s).to_owned()).collect(),
            stderr: err.iter().map(|s| (*s).to_owned()).collect(),
        }
    }

    fn range_line(r: Region) -> String {
        format!("start {:#x} size {:#x}", r.start, r.size)
    }

    #[test]
    fn step_ids_are_unique() {
        let mut ids: Vec<String> = all(&MACHINE, "a", "b")
            .iter()
            .flat_map(|s| s.steps.iter().map(|st| s.step_id(st)).collect::<Vec<_>>())
            .collect();
        let n = ids.len();
        ids.sort();
        ids.dedup();
        assert_eq!(ids.len(), n);
    }

    #[test]
    fn the_cpu_past_the_last_is_the_machines_cpu_count() {
        let steps = crash_cycle(&MACHINE, "x");
        let past = steps
            .iter()
            .find(|s| s.name == "range-cpu-past-last")
            .unwrap();
        assert_eq!(
            past.command.last(),
            Some(&Arg::Lit(MACHINE.cpus.to_string()))
        );
    }

    #[test]
    fn errno_and_range_are_read_from_the_output() {
        let o = says(
            1,
            &[],
            &["xen-kexec get-range: ERANGE (34): the answer does not fit (really)"],
        );
        assert_eq!(o.errno(), Some(("ERANGE", 34)));
        assert_eq!(
            says(1, &[], &["EINVAL (22): bare"]).errno(),
            Some(("EINVAL", 22))
        );
        assert_eq!(says(1, &[], &["garbled"]).errno(), None);
        assert_eq!(says(1, &[], &["xen-kexec load: a file (x)"]).errno(), None);
        let o = says(0, &[&range_line(MACHINE.crash)], &[]);
        assert_eq!(o.range(), Some(MACHINE.crash));
        assert_eq!(says(0, &["start 0x1 size 0x2 extra"], &[]).range(), None);
        assert_eq!(says(0, &["start 1 size 2"], &[]).range(), None);
        assert_eq!(errno_name(Errno::EADDRNOTAVAIL), "EADDRNOTAVAIL");
    }

    #[test]
    fn agreeing_runs_pass_and_a_difference_fails_naming_both() {
        let want = Expect::Agree(Want::Range(None));
        let a = says(0, &["start 0x1000 size 0x2000"], &[]);
        let b = says(0, &["start 0x1000 size 0x3000"], &[]);
        assert!(judge("s/x".into(), &want, Some(&a), Some(&a)).pass);
        let v = judge("s/x".into(), &want, Some(&a), Some(&b));
        assert!(!v.pass);
        assert!(
            v.detail.contains("0x2000") && v.detail.contains("0x3000"),
            "{}",
            v.detail
        );
    }

    #[test]
    fn a_wrong_range_fails_even_when_both_sides_agree() {
        let want = Expect::Agree(Want::Range(Some(MACHINE.crash)));
        let wrong = says(0, &["start 0x0 size 0x20000000"], &[]);
        let v = judge("s/x".into(), &want, Some(&wrong), Some(&wrong));
        assert!(
            !v.pass && v.detail.starts_with("real Xen: want start 0x20000000"),
            "{}",
            v.detail
        );
    }

    #[test]
    fn refusals_compare_by_errno_not_by_wording() {
        let want = Expect::Agree(Want::Refused(Errno::ENOENT));
        let real = says(
            1,
            &[],
            &["xen-kexec exec: ENOENT (2): refused by the hypervisor"],
        );
        let sim = says(1, &[], &["ENOENT (2): no crash image is loaded"]);
        assert!(judge("s/x".into(), &want, Some(&real), Some(&sim)).pass);
        let einval = says(1, &[], &["EINVAL (22): no"]);
        assert!(!judge("s/x".into(), &want, Some(&einval), Some(&sim)).pass);
    }

    #[test]
    fn a_xen_bug_step_asserts_xens_answer_and_the_sims_fix() {
        let bug = Expect::XenBug {
            bug: STATUS_BUG,
            xen: Want::Says("not loaded"),
            sim: Want::Says("loaded"),
        };
        let loaded = says(0, &["loaded"], &[]);
        let not_loaded = says(0, &["not loaded"], &[]);
        let v = judge("s/x".into(), &bug, Some(&not_loaded), Some(&loaded));
        assert!(v.pass && v.detail.contains(STATUS_BUG), "{}", v.detail);
        // A Xen without the bug (or a harness that lost it) fails the step.
        assert!(!judge("s/x".into(), &bug, Some(&loaded), Some(&loaded)).pass);
        assert!(!judge("s/x".into(), &bug, Some(&not_loaded), Some(&not_loaded)).pass);
    }

    #[test]
    fn a_step_missing_from_the_log_fails() {
        let v = judge("s/x".into(), &Expect::RealOnly(Want::Done), None, None);
        assert!(!v.pass && v.detail.contains("serial log"), "{}", v.detail);
    }

    #[test]
    fn the_i686_step_needs_exit_3_and_the_message() {
        let want = Want::NoInterface(NEEDS_64_BIT);
        assert!(want
            .check(&says(
                3,
                &[],
                &["privcmd refuses this 32-bit process: a 64-bit build is needed"]
            ))
            .is_ok());
        assert!(want.check(&says(3, &[], &["no /dev/xen/privcmd"])).is_err());
        assert!(want.check(&says(1, &[], &["64-bit"])).is_err());
    }
}
