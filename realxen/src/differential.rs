// SPDX-License-Identifier: MIT
//! The differential boot (issue 29): `kexec-diff` (`realxen/kexec-diff`) issues thousands
//! of seeded random `kexec_op` calls to real Xen from dom0; the host replays them on the
//! engine and compares them call by call. And the crash-reload boot: two raw crash loads
//! that reproduce Xen's panic in `kimage_free` (`docs/realxen.md`).

use std::time::{SystemTime, UNIX_EPOCH};

use kexec_diff::replay::Plant;
use kexec_diff::transcript::{self, MARK};

use crate::dom0::{Dom0Step, IMAGES_DIR};
use crate::machine::Machine;
use crate::scenario::{Build, Verdict};

/// The differential boot's name.
pub const BOOT: &str = "differential";
/// The crash-reload boot's name.
pub const PANIC_BOOT: &str = "crash-reload-panic";
/// Where the runner is in dom0.
pub const RUNNER: &str = "bin/kexec-diff";
/// Hypercalls per run: 100000 took under 10 s of dom0 time under TCG, so this costs a
/// second or two of the boot.
pub const COUNT: usize = 20_000;
/// The environment variable that sets another count (the soak: 100000).
pub const COUNT_VAR: &str = "REALXEN_DIFF_COUNT";
/// What Xen 4.17 prints last after a panic with `noreboot`: the harness stops QEMU there.
pub const PANIC_END: &str = "Manual reset required";
/// The environment variable that fixes the seed (else one from the clock, printed).
pub const SEED_VAR: &str = "REALXEN_DIFF_SEED";

/// The run's seed: `REALXEN_DIFF_SEED`, else from the clock (a different one each run).
pub fn seed() -> u64 {
    std::env::var(SEED_VAR)
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| {
            SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map_or(1, |d| d.as_secs() ^ u64::from(d.subsec_nanos()))
        })
}

/// The one command that repeats a run of `seed` and `count` calls.
pub fn reproduce(seed: u64, count: usize) -> String {
    let count = if count == COUNT {
        String::new()
    } else {
        format!("{COUNT_VAR}={count} ")
    };
    format!("{SEED_VAR}={seed} {count}REALXEN_ONLY={BOOT} cargo run -q -p realxen")
}

/// The run's count: `REALXEN_DIFF_COUNT`, else [`COUNT`].
pub fn count() -> usize {
    std::env::var(COUNT_VAR)
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(COUNT)
}

/// dom0's shell lines for the differential boot.
pub fn dom0_lines(seed: u64, machine: &Machine) -> String {
    format!(
        "/{RUNNER} run {seed} {} {:#x} {:#x}\nsay rc {BOOT}/runner \"$?\"\n",
        count(),
        machine.crash.start,
        machine.crash.size
    )
}

/// dom0's shell lines for the crash-reload boot.
pub fn panic_lines(machine: &Machine) -> String {
    format!(
        "/{RUNNER} crash-reload {:#x} {:#x}\nsay rc {PANIC_BOOT}/runner \"$?\"\n",
        machine.crash.start, machine.crash.size
    )
}

/// The differential boot's verdicts, and its figures (with the seed and the command
/// that repeats the run) as information.
pub fn judge(log: &str, cpus: u32, kept: &str) -> (Vec<Verdict>, Vec<String>) {
    let id = |s: &str| format!("{BOOT}/{s}");
    let fail = |s: &str, params: Option<(u64, usize)>, detail: String| Verdict {
        id: id(s),
        pass: false,
        detail: match params {
            Some((seed, count)) => format!(
                "{detail}; seed {seed}, repeat with: {} ({kept})",
                reproduce(seed, count)
            ),
            None => format!("{detail} ({kept})"),
        },
    };
    let t = match transcript::parse(log) {
        Ok(t) => t,
        Err(e) => return (vec![fail("run", None, e)], Vec::new()),
    };
    let seed = t.params.seed;
    let run = Some((seed, t.params.count));
    let mut vs = Vec::new();
    if t.ended && t.answers.len() == t.params.count {
        vs.push(Verdict {
            id: id("run"),
            pass: true,
            detail: format!("{} hypercalls made by dom0 (seed {seed})", t.answers.len()),
        });
    } else {
        let why = match (&t.error, log.contains("Panic on CPU")) {
            (_, true) => format!("Xen panicked at call {} (a finding)", t.answers.len()),
            (Some(e), _) => format!("the runner gave up: {e}"),
            (None, _) => format!("the run stopped after {} calls", t.answers.len()),
        };
        vs.push(fail("run", run, why));
    }
    let outcome = match kexec_diff::judge(&t, cpus, Plant::None) {
        Ok(o) => o,
        Err(e) => {
            vs.push(fail("compare", run, e));
            return (vs, Vec::new());
        }
    };
    let figures = format!(
        "differential (seed {seed}; repeat with {}): {}",
        reproduce(seed, t.params.count),
        outcome.summary.render()
    );
    if let Some((at, why)) = outcome.summary.differences.first() {
        vs.push(fail(
            "compare",
            run,
            format!(
                "{} differences no rule permits; the first at call {at}: {why}\n{}",
                outcome.summary.differences.len(),
                outcome.shrunk.as_deref().unwrap_or("")
            ),
        ));
    } else {
        vs.push(Verdict {
            id: id("compare"),
            pass: true,
            detail: format!(
                "Xen and the engine agree on all {} calls but for the allowed departures",
                outcome.summary.calls
            ),
        });
    }
    (vs, vec![figures])
}

/// The crash-reload boot's verdict: Xen must panic in `kimage_free` on the second load.
pub fn judge_panic(log: &str, kept: &str) -> Verdict {
    let id = format!("{PANIC_BOOT}/panic");
    let first = log.contains(&format!("{MARK} step A 0"));
    let survived = log.contains(&format!("{MARK} survived"));
    let panicked = log.contains("Panic on CPU") && log.contains("kimage_free");
    let (pass, detail) = match (first, survived, panicked) {
        (true, false, true) => (
            true,
            "reproduced: the second crash load panicked Xen in kimage_free (Xen's bug, docs/realxen.md)".to_owned(),
        ),
        (true, true, _) => (
            false,
            "this Xen no longer panics on a crash load over the loaded image's control pages: \
             the bug is fixed in this release (revisit the README's departure)"
                .to_owned(),
        ),
        _ => (
            false,
            format!("want load A to succeed and load B to panic Xen in kimage_free; first load ok: {first}, panic seen: {panicked}"),
        ),
    };
    Verdict {
        id,
        pass,
        detail: if pass {
            detail
        } else {
            format!("{detail} ({kept})")
        },
    }
}

/// The image of the two-step sequence that sits above the region's base: the 64-bit
/// test image with its `PT_LOAD`s and entry moved up by this much.
pub const HIGH_OFFSET: u64 = 0x10_0000;
/// Its file name in `/images`.
pub const HIGH_IMAGE: &str = "mode64-high.elf";

/// `elf64` (an ELF64 file) with every `PT_LOAD`'s addresses and the entry moved up by
/// `by`: a copy to load (never to enter: its code is not position-independent).
///
/// # Errors
/// Not a little-endian ELF64 file, or an address that would wrap.
pub fn moved_up(elf64: &[u8], by: u64) -> Result<Vec<u8>, String> {
    let mut out = elf64.to_vec();
    let word = |b: &[u8], at: usize, n: usize| -> Result<u64, String> {
        let bytes = b.get(at..at + n).ok_or("ELF file too short")?;
        let mut v = [0u8; 8];
        v[..n].copy_from_slice(bytes);
        Ok(u64::from_le_bytes(v))
    };
    let add = |b: &mut [u8], at: usize| -> Result<(), String> {
        let v = word(b, at, 8)?.checked_add(by).ok_or("address wraps")?;
        b[at..at + 8].copy_from_slice(&v.to_le_bytes());
        Ok(())
    };
    if out.get(..6) != Some(b"\x7fELF\x02\x01".as_slice()) {
        return Err("not a little-endian ELF64 file".to_owned());
    }
    add(&mut out, 0x18)?;
    let phoff = usize::try_from(word(&out, 0x20, 8)?).map_err(|e| e.to_string())?;
    let phentsize = usize::try_from(word(&out, 0x36, 2)?).map_err(|e| e.to_string())?;
    for i in 0..word(&out, 0x38, 2)? {
        let ph = phoff + usize::try_from(i).map_err(|e| e.to_string())? * phentsize;
        if word(&out, ph, 4)? == 1 {
            add(&mut out, ph + 0x10)?;
            add(&mut out, ph + 0x18)?;
        }
    }
    Ok(out)
}

/// The two-step sequence through `xen-kexec` (issue 27's unload-first), which must not
/// panic Xen: a crash image above the region's base, then one at the base.
pub fn two_step_steps(image64: &str) -> Vec<Dom0Step> {
    let step = |name: &str, args: &str| Dom0Step {
        id: format!("{PANIC_BOOT}/{name}"),
        build: Build::X86_64,
        args: args.split(' ').map(str::to_owned).collect(),
    };
    vec![
        step(
            "load-high",
            &format!("load --type crash --elf {IMAGES_DIR}/{HIGH_IMAGE}"),
        ),
        step(
            "load-base",
            &format!("load --type crash --elf {IMAGES_DIR}/{image64}"),
        ),
        step("status", "status --type crash"),
        step("unload", "unload --type crash"),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The runner's lines of a real run on Xen 4.17.7 (6000 calls).
    const RECORDED: &str = include_str!("../kexec-diff/tests/data/xen-4.17.7-seed-1932550228.log");

    #[test]
    fn a_recorded_run_passes_and_reports_its_figures_and_seed() {
        let (vs, info) = judge(RECORDED, 1, "serial log kept: x");
        assert!(vs.iter().all(|v| v.pass), "{vs:?}");
        let info = info.join("\n");
        for want in [
            "seed 1932550228",
            "REALXEN_DIFF_SEED=1932550228 REALXEN_DIFF_COUNT=6000 REALXEN_ONLY=differential",
            "6000 hypercalls compared",
            "per command: get_range 1354, load 2242",
            "per errno (Xen's answers): ",
            "unknown-cmd-is-eopnotsupp 207",
        ] {
            assert!(info.contains(want), "{want}: {info}");
        }
    }

    #[test]
    fn an_answer_xen_never_gave_fails_with_the_seed_and_a_shrunk_sequence() {
        // Call 325, an unload Xen answered 0, made to answer EBUSY.
        let tampered: String = RECORDED
            .lines()
            .map(|l| match l.strip_prefix("@@DX a 320 ") {
                Some(rest) => {
                    let mut w: Vec<&str> = rest.split(' ').collect();
                    assert_eq!(w[5], "0");
                    w[5] = "-16";
                    format!("@@DX a 320 {}", w.join(" "))
                }
                None => l.to_owned(),
            })
            .collect::<Vec<_>>()
            .join("\n");
        let (vs, _) = judge(&tampered, 1, "serial log kept: x");
        let compare = vs.iter().find(|v| v.id == "differential/compare").unwrap();
        assert!(!compare.pass);
        for want in [
            "the first at call 325: Xen answered -XEN_EBUSY (16), the engine 0",
            "minimal sequence (1 calls",
            "REALXEN_DIFF_SEED=1932550228",
            "serial log kept: x",
        ] {
            assert!(compare.detail.contains(want), "{want}: {}", compare.detail);
        }
    }

    #[test]
    fn the_panic_verdict_passes_only_on_xens_panic_in_kimage_free() {
        let panicked = "@@DX step A 0\n(XEN)    [<ffff82d040220689>] S common/kimage.c#kimage_free.part.0+0x199/0x1b0\n(XEN) Panic on CPU 0:\n";
        assert!(judge_panic(panicked, "k").pass);
        let survived = "@@DX step A 0\n@@DX step B 0\n@@DX survived\n";
        let v = judge_panic(survived, "k");
        assert!(!v.pass && v.detail.contains("no longer panics"), "{v:?}");
        let elsewhere = "@@DX step A 0\n(XEN) Panic on CPU 0:\n";
        assert!(!judge_panic(elsewhere, "k").pass);
        assert!(!judge_panic("", "k").pass);
    }

    #[test]
    fn a_moved_copy_has_its_loads_and_entry_moved_and_nothing_else() {
        // A minimal ELF64 header and one PT_LOAD at 0x40.
        let mut elf = vec![0u8; 0x78];
        elf[..6].copy_from_slice(b"\x7fELF\x02\x01");
        elf[0x18..0x20].copy_from_slice(&0x2000_0000u64.to_le_bytes());
        elf[0x20..0x28].copy_from_slice(&0x40u64.to_le_bytes());
        elf[0x36..0x38].copy_from_slice(&0x38u16.to_le_bytes());
        elf[0x38..0x3a].copy_from_slice(&1u16.to_le_bytes());
        elf[0x40] = 1;
        elf[0x50..0x58].copy_from_slice(&0x2000_0000u64.to_le_bytes());
        elf[0x58..0x60].copy_from_slice(&0x2000_0000u64.to_le_bytes());
        let moved = moved_up(&elf, HIGH_OFFSET).unwrap();
        let at = |b: &[u8], o: usize| u64::from_le_bytes(b[o..o + 8].try_into().unwrap());
        assert_eq!(at(&moved, 0x18), 0x2010_0000);
        assert_eq!(at(&moved, 0x50), 0x2010_0000);
        assert_eq!(at(&moved, 0x58), 0x2010_0000);
        assert_eq!(moved.len(), elf.len());
        assert!(moved_up(b"not elf", 1).is_err());
    }
}
