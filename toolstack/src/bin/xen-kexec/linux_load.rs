// SPDX-License-Identifier: MIT
//! `load --kernel`: a Linux bzImage with its initrd and command line, planned on the
//! machine the hypervisor describes (its memory map, and for a crash kernel its crash
//! region) and entered through the purgatory.

use std::path::{Path, PathBuf};

use xen_kexec_abi::host::MachineRange;
use xen_kexec_abi::{Errno, KexecRangeKind, KexecType};
use xen_kexec_toolstack::linux::plan::{self, LinuxOptions, LinuxPlan, MachineFacts};
use xen_kexec_toolstack::record::ImageNote;
use xen_kexec_toolstack::{Client, ClientError, Transport};

use crate::output::Failure;

/// Where `--reuse-cmdline` reads the running kernel's command line.
pub(crate) const PROC_CMDLINE: &str = "/proc/cmdline";

/// What `load` was given for a Linux image.
#[derive(Debug)]
#[allow(clippy::struct_excessive_bools)] // each is a command-line flag
pub(crate) struct LinuxArgs<'a> {
    /// DEFAULT or CRASH.
    pub(crate) type_: KexecType,
    /// `--kernel`.
    pub(crate) kernel: &'a Path,
    /// `--initrd`.
    pub(crate) initrd: Option<&'a PathBuf>,
    /// `--append` / `--command-line`.
    pub(crate) append: Option<&'a str>,
    /// `--reuse-cmdline`.
    pub(crate) reuse_cmdline: bool,
    /// `--no-checks`.
    pub(crate) no_checks: bool,
    /// `--test-corrupt-digest` (hidden).
    pub(crate) corrupt_digest: bool,
    /// `--test-no-elfcorehdr` (hidden).
    pub(crate) omit_elfcorehdr: bool,
}

impl LinuxArgs<'_> {
    /// What the status record says is loaded: the files and the command line given.
    pub(crate) fn note(&self) -> ImageNote {
        ImageNote {
            kernel: Some(self.kernel.display().to_string()),
            initrd: self.initrd.map(|p| p.display().to_string()),
            cmdline: self.append.map(str::to_owned),
        }
    }
}

/// The running kernel's command line minus what belongs to it alone: `crashkernel=`
/// (the reservation) and `BOOT_IMAGE=` (the boot loader's note), as kexec-tools'
/// `--reuse-cmdline` does.
pub(crate) fn reused_cmdline(proc_cmdline: &str) -> String {
    proc_cmdline
        .split_ascii_whitespace()
        .filter(|w| !w.starts_with("crashkernel=") && !w.starts_with("BOOT_IMAGE="))
        .collect::<Vec<_>>()
        .join(" ")
}

/// The command line: the reused one (if asked), then `--append`.
fn cmdline(args: &LinuxArgs<'_>) -> Result<String, Failure> {
    let mut words = Vec::new();
    if args.reuse_cmdline {
        let text = std::fs::read_to_string(PROC_CMDLINE).map_err(|e| {
            Failure::Usage(format!("--reuse-cmdline: cannot read {PROC_CMDLINE}: {e}"))
        })?;
        let reused = reused_cmdline(&text);
        if !reused.is_empty() {
            words.push(reused);
        }
    }
    if let Some(append) = args.append.filter(|a| !a.is_empty()) {
        words.push(append.to_owned());
    }
    Ok(words.join(" "))
}

/// The most CPUs asked about: Xen's `NR_CPUS` is at most 4096.
const MAX_CPUS: i32 = 4096;

/// Whether `e` is the hypervisor's refusal with `errno`.
fn refused_with(e: &ClientError, errno: Errno) -> bool {
    matches!(e, ClientError::Refused(r) if r.errno == errno)
}

/// Each physical CPU's crash notes, asked for until Xen answers `ERANGE` (past the last
/// CPU) or `EINVAL` (no crash-note area at all); a CPU whose notes Xen could not allocate
/// (0/0) has none. Then Xen's vmcoreinfo, if it has one.
fn crash_notes<T: Transport>(
    client: &mut Client<T>,
) -> Result<(Vec<MachineRange>, Option<MachineRange>), Failure> {
    let mut notes = Vec::new();
    for cpu in 0..MAX_CPUS {
        match client.get_range(KexecRangeKind::MA_CPU, cpu) {
            Ok(answer) => notes.extend(answer.machine_range()),
            Err(e) if refused_with(&e, Errno::ERANGE) || refused_with(&e, Errno::EINVAL) => break,
            Err(e) => return Err(e.into()),
        }
    }
    let vmcoreinfo = match client.get_range(KexecRangeKind::MA_VMCOREINFO, 0) {
        Ok(answer) => answer.machine_range(),
        Err(e) if refused_with(&e, Errno::EINVAL) => None,
        Err(e) => return Err(e.into()),
    };
    Ok((notes, vmcoreinfo))
}

/// Plans the Linux load on the machine `client`'s hypervisor describes.
///
/// # Errors
/// The hypervisor's refusal of a query, or the planner's refusal (exit 2, naming the
/// file, field and value).
pub(crate) fn plan_on<T: Transport>(
    client: &mut Client<T>,
    args: &LinuxArgs<'_>,
) -> Result<LinuxPlan, Failure> {
    let memory_map = client.machine_memory_map()?;
    let (crash_region, cpu_notes, vmcoreinfo) = if args.type_ == KexecType::CRASH {
        let region = client
            .get_range(KexecRangeKind::MA_CRASH, 0)?
            .machine_range();
        let (notes, vmcoreinfo) = crash_notes(client)?;
        (region, notes, vmcoreinfo)
    } else {
        (None, Vec::new(), None)
    };
    let opts = LinuxOptions {
        type_: args.type_,
        kernel: args.kernel.to_owned(),
        initrd: args.initrd.cloned(),
        cmdline: cmdline(args)?,
        verify: !args.no_checks,
        corrupt_digest: args.corrupt_digest,
        omit_elfcorehdr: args.omit_elfcorehdr,
    };
    plan::plan(
        &opts,
        &MachineFacts {
            memory_map,
            crash_region,
            cpu_notes,
            vmcoreinfo,
        },
    )
    .map_err(|e| Failure::Usage(e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reuse_drops_the_reservation_and_the_boot_loaders_note() {
        assert_eq!(
            reused_cmdline(
                "BOOT_IMAGE=/vmlinuz-6.1 root=/dev/sda1 ro crashkernel=192M@512M quiet\n"
            ),
            "root=/dev/sda1 ro quiet"
        );
        assert_eq!(reused_cmdline(""), "");
    }
}
