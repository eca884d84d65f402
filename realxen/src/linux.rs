// SPDX-License-Identifier: MIT
//! The Linux boots (issue 25): dom0 loads Debian's own bzImage with a small busybox
//! initrd as the DEFAULT image through `xen-kexec load --kernel … --initrd … --append …`
//! and enters it with `xen-kexec exec`. Xen hands over to the purgatory, which checks the
//! digests and enters Linux's 64-bit entry; Linux then boots natively on the QEMU machine
//! and its `/init` prints [`BOOTED`] on the serial line, with the hypervisor it sees
//! (none: it is not a Xen guest any more), and powers off.
//!
//! A second boot loads the same image with one digest deliberately wrong (the hidden
//! `--test-corrupt-digest` flag, which exists for this): the purgatory must stop with
//! its message ([`MISMATCH`]) and never enter the kernel.

use crate::cpio::Archive;
use crate::dom0::{Dom0Step, IMAGES_DIR};
use crate::scenario::Build;

/// The boot that reboots into Linux.
pub const BOOT: &str = "linux-default";
/// The boot whose digest is wrong.
pub const CORRUPT_BOOT: &str = "linux-corrupt-digest";
/// What the new kernel's `/init` prints first.
pub const BOOTED: &str = "XEN-KEXEC-LINUX-BOOTED";
/// What the purgatory prints before entering the kernel.
pub const ENTERING: &str = "xen-kexec purgatory: digests ok, entering the kernel";
/// What the purgatory prints on a wrong digest.
pub const MISMATCH: &str = "xen-kexec purgatory: digest mismatch in segment";
/// The kernel file in dom0's initramfs.
pub const KERNEL: &str = "vmlinuz";
/// The new kernel's initrd in dom0's initramfs.
pub const INITRD: &str = "linux-initrd.cpio";
/// The new kernel's command line.
pub const APPEND: &str = "console=ttyS0,115200 rdinit=/init panic=-1 loglevel=4";

/// The new kernel's initrd: busybox and an `/init` that reports and powers off.
///
/// # Errors
/// A file too large for the archive.
pub fn initrd(busybox: &[u8]) -> Result<Vec<u8>, String> {
    let init = format!(
        "#!/bin/busybox sh\n\
         /bin/busybox mount -t proc proc /proc\n\
         /bin/busybox mount -t sysfs sysfs /sys\n\
         echo \"{BOOTED} uptime=$(/bin/busybox cut -d' ' -f1 /proc/uptime) \
         hypervisor=$(/bin/busybox cat /sys/hypervisor/type 2>/dev/null || echo none) \
         kernel=$(/bin/busybox uname -r)\"\n\
         /bin/busybox poweroff -f\n"
    );
    let mut a = Archive::new();
    for dir in ["bin", "proc", "sys", "dev"] {
        a.dir(dir).map_err(|e| e.to_string())?;
    }
    a.file("bin/busybox", busybox, true)
        .map_err(|e| e.to_string())?;
    a.file("init", init.as_bytes(), true)
        .map_err(|e| e.to_string())?;
    Ok(a.finish())
}

/// dom0's steps for `boot`: load (with a wrong digest for [`CORRUPT_BOOT`]), then exec.
pub fn dom0_steps(boot: &str) -> Vec<Dom0Step> {
    let mut load: Vec<String> = [
        "load",
        "--type",
        "default",
        "--kernel",
        &format!("{IMAGES_DIR}/{KERNEL}"),
        "--initrd",
        &format!("{IMAGES_DIR}/{INITRD}"),
        "--append",
        APPEND,
    ]
    .iter()
    .map(|s| (*s).to_owned())
    .collect();
    if boot == CORRUPT_BOOT {
        load.push("--test-corrupt-digest".into());
    }
    vec![
        Dom0Step {
            id: format!("{boot}/load"),
            build: Build::X86_64,
            args: load,
        },
        Dom0Step {
            id: format!("{boot}/exec"),
            build: Build::X86_64,
            args: ["exec", "--type", "default"].map(str::to_owned).to_vec(),
        },
    ]
}

/// What the serial log of a Linux boot shows.
#[derive(Clone, Debug, PartialEq)]
pub struct Seen {
    /// The purgatory's "entering" line.
    pub entered: bool,
    /// The purgatory's mismatch line, if any.
    pub mismatch: Option<String>,
    /// The new kernel's `/init` line, if any.
    pub booted: Option<String>,
    /// How long the purgatory's digests took: bytes checked and seconds, from its
    /// cycle count and Xen's "Detected N MHz processor" line.
    pub digest: Option<(u64, f64)>,
}

/// The two hex numbers after `what` in `line` (`checked 0x… bytes in 0x… TSC cycles`).
fn hex_after(line: &str, what: &str) -> Option<u64> {
    let rest = &line[line.find(what)? + what.len()..];
    let word = rest.split_whitespace().next()?;
    u64::from_str_radix(word.trim_start_matches("0x"), 16).ok()
}

/// The purgatory's digest time from a serial log.
#[allow(clippy::cast_precision_loss)] // a cycle count far below 2^52
fn digest_time(log: &str) -> Option<(u64, f64)> {
    let mhz: f64 = log.lines().find_map(|l| {
        let rest = &l[l.find("(XEN) Detected ")? + "(XEN) Detected ".len()..];
        rest.split_whitespace().next()?.parse().ok()
    })?;
    let line = log.lines().find(|l| l.contains(ENTERING))?;
    let bytes = hex_after(line, "(checked ")?;
    let cycles = hex_after(line, " bytes in ")?;
    Some((bytes, cycles as f64 / (mhz * 1e6)))
}

/// Reads a Linux boot's serial log.
pub fn seen(log: &str) -> Seen {
    let find = |mark: &str| {
        log.lines()
            .find_map(|l| l.find(mark).map(|at| l[at..].trim_end().to_owned()))
    };
    Seen {
        entered: find(ENTERING).is_some(),
        mismatch: find(MISMATCH),
        booted: find(BOOTED),
        digest: digest_time(log),
    }
}

/// The verdict on [`BOOT`]: the purgatory entered Linux, which booted natively.
///
/// # Errors
/// What is missing.
#[allow(clippy::cast_precision_loss)] // a byte count far below 2^52
pub fn judge_boot(seen: &Seen) -> Result<String, String> {
    match (&seen.booted, seen.entered, &seen.mismatch) {
        (Some(line), true, None) if line.contains("hypervisor=none") => Ok(format!(
            "the purgatory entered Linux, which booted natively: {line}{}",
            seen.digest.map_or(String::new(), |(bytes, secs)| {
                let mib = bytes as f64 / f64::from(1 << 20);
                format!(
                    "; the purgatory checked {mib:.1} MiB in {secs:.2} s ({:.0} ms/MiB under TCG)",
                    secs * 1000.0 / mib
                )
            })
        )),
        (Some(line), _, _) => Err(format!(
            "Linux booted, but not as expected (purgatory line seen: {}, mismatch: {:?}): {line}",
            seen.entered, seen.mismatch
        )),
        (None, entered, mismatch) => Err(format!(
            "no {BOOTED} line from the new kernel's init (purgatory entered: {entered}, \
             mismatch: {mismatch:?})"
        )),
    }
}

/// The verdict on [`CORRUPT_BOOT`]: the purgatory stopped with its message and Linux
/// never ran.
///
/// # Errors
/// What happened instead.
pub fn judge_corrupt(seen: &Seen) -> Result<String, String> {
    match (&seen.mismatch, seen.entered, &seen.booted) {
        (Some(line), false, None) => Ok(format!("the purgatory refused to enter: {line}")),
        (mismatch, entered, booted) => Err(format!(
            "want the purgatory's mismatch line and no entry; got mismatch {mismatch:?}, \
             entered {entered}, booted {booted:?}"
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_log_is_judged_by_the_purgatory_and_init_lines() {
        let good = format!(
            "(XEN) Detected 2000.000 MHz processor.\r\n{ENTERING} at 0x0000000001000200 \
             (checked 0x0000000000200000 bytes in 0x0000000077359400 TSC cycles)\r\n\
             [    0.0] Linux\r\n{BOOTED} uptime=1.2 hypervisor=none kernel=6.1.0\r\n"
        );
        let s = seen(&good);
        assert_eq!(
            s.digest,
            Some((0x20_0000, 1.0)),
            "2 MiB in 2e9 cycles at 2 GHz"
        );
        let verdict = judge_boot(&s).expect("boots");
        assert!(
            verdict.ends_with("checked 2.0 MiB in 1.00 s (500 ms/MiB under TCG)"),
            "{verdict}"
        );
        assert!(judge_corrupt(&s).is_err());
        let still_xen = good.replace("hypervisor=none", "hypervisor=xen");
        assert!(
            judge_boot(&seen(&still_xen)).is_err(),
            "a dom0 is not a native boot"
        );
        let bad =
            format!("{MISMATCH} 0x0000000000000001 at 0x0000000001000000 size 0x10, halting\r\n");
        let s = seen(&bad);
        assert!(judge_corrupt(&s).is_ok(), "{s:?}");
        let e = judge_boot(&s).expect_err("no boot");
        assert!(e.contains("no XEN-KEXEC-LINUX-BOOTED line"), "{e}");
        assert!(
            judge_corrupt(&seen("")).is_err(),
            "an empty log proves nothing"
        );
    }

    #[test]
    fn only_the_corrupt_boot_asks_for_a_wrong_digest() {
        let good = dom0_steps(BOOT);
        let bad = dom0_steps(CORRUPT_BOOT);
        assert!(!good[0].args.iter().any(|a| a == "--test-corrupt-digest"));
        assert_eq!(
            bad[0].args.last().map(String::as_str),
            Some("--test-corrupt-digest")
        );
        assert_eq!(good[0].args[..4], ["load", "--type", "default", "--kernel"]);
        assert_eq!(good[1].args, ["exec", "--type", "default"]);
    }
}
