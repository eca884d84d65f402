// SPDX-License-Identifier: MIT
//! `xen-kexec decode` (formerly `headgen decode`): the command-line view of a captured
//! `kexec_op` hypercall, for people debugging one.
//!
//! ```text
//! xen-kexec [--json] decode --guest x86_32|x86_64 --cmd N --arg ADDR --mem ADDR=FILE [--mem ...]
//!                           [--crash-region START:SIZE] [--rules strict|xen]
//! ```
//!
//! Each `--mem ADDR=FILE` makes the file's bytes the guest's memory at `ADDR`; every
//! other address faults. The regions are checked (no wrap, no overlap) from the files'
//! sizes before any file is read, and every file is size-checked. The call is decoded
//! exactly as the hypervisor side of the `xen-kexec-abi` crate decodes it (x86 host,
//! 4 KiB pages, the given crash region or none), and:
//! - exit 0: the decoded operation on stdout, in words (with `--json`, the object of
//!   `docs/cli.md`: addresses as `"0x…"` strings, values by name and number);
//! - exit 1: the refusal, `ENAME (value): reason`, on stderr (with `--json`, the
//!   refusal object on stdout);
//! - exit 2: the command line itself is wrong, with a message naming the value or file.

use xen_kexec_abi::decode::{decode, Operation};
use xen_kexec_abi::guest_mem::{GuestRegion, SparseMemory};
use xen_kexec_abi::host::HostDescription;
use xen_kexec_abi::KexecCmd;
use xen_kexec_toolstack::cli::{DecodeArgs, MemArg};
use xen_kexec_toolstack::input::InputFile;
use xen_kexec_toolstack::plan::MAX_LOAD_BYTES;
use xen_kexec_toolstack::Refusal;

use crate::output::Failure;
use crate::report::DecodeReport;

/// Refuses regions that wrap past 2^64 or share an address, from their sizes alone.
fn check_regions(args: &[MemArg], lens: &[u64]) -> Result<(), Failure> {
    // The last byte of each non-empty region.
    let mut lasts = Vec::with_capacity(args.len());
    for (m, &len) in args.iter().zip(lens) {
        let last = match len.checked_sub(1) {
            None => None,
            Some(extra) => Some(m.addr.checked_add(extra).ok_or_else(|| {
                Failure::Usage(format!("--mem {m} runs past the top of the address space"))
            })?),
        };
        lasts.push(last);
    }
    for (second, (b, b_last)) in args.iter().zip(&lasts).enumerate() {
        let Some(b_last) = b_last else { continue };
        for (a, a_last) in args.iter().zip(&lasts).take(second) {
            if let Some(a_last) = a_last {
                if a.addr <= *b_last && b.addr <= *a_last {
                    return Err(Failure::Usage(format!(
                        "--mem regions overlap: {a} and {b}"
                    )));
                }
            }
        }
    }
    Ok(())
}

/// Decodes the call the arguments describe.
fn decode_args(args: &DecodeArgs) -> Result<Operation, Failure> {
    let mut files = Vec::with_capacity(args.mem.len());
    for m in &args.mem {
        let input = InputFile::open(&m.path)
            .map_err(|e| Failure::Usage(format!("--mem file for address {:#x}: {e}", m.addr)))?;
        files.push(input);
    }
    let lens: Vec<u64> = files.iter().map(InputFile::len).collect();
    check_regions(&args.mem, &lens)?;
    let total: u64 = lens.iter().sum();
    if total > MAX_LOAD_BYTES {
        return Err(Failure::Usage(format!(
            "--mem files total {total} bytes, more than the {} MiB decode reads",
            MAX_LOAD_BYTES >> 20
        )));
    }
    let mut bytes = Vec::with_capacity(files.len());
    for (input, &len) in files.iter().zip(&lens) {
        let mut buf = vec![0u8; usize::try_from(len).unwrap_or(0)];
        input
            .read_at(0, &mut buf)
            .map_err(|e| Failure::Usage(format!("cannot read --mem file: {e}")))?;
        bytes.push(buf);
    }
    let mut regions: Vec<GuestRegion<&[u8]>> = args
        .mem
        .iter()
        .zip(&bytes)
        .map(|(m, b)| GuestRegion {
            base: m.addr,
            bytes: &b[..],
        })
        .collect();
    let mut mem = SparseMemory::new(&mut regions)
        .map_err(|e| Failure::Usage(format!("--mem regions: {e}")))?;
    // SIZE 0 is none, as for `sim init`.
    let host = HostDescription::x86(args.crash_region.filter(|r| r.size() != 0))
        .with_profile(args.rules.profile());
    let cmd = KexecCmd(args.cmd);
    decode(args.guest, cmd, args.arg, &mut mem, &host)
        .map_err(|e| Failure::Refused(Refusal::from_error(cmd, &e, false)))
}

/// Runs `xen-kexec decode`: the report to print on stdout (text, or with `--json` the
/// object of `docs/cli.md`).
pub(crate) fn run(args: &DecodeArgs, json: bool) -> Result<String, Failure> {
    let op = decode_args(args)?;
    let report = DecodeReport::new(args.guest, &op).ok_or_else(|| {
        Failure::Usage(format!(
            "command {:?} decoded to an operation this xen-kexec cannot show",
            op.cmd()
        ))
    })?;
    crate::render(&report, json)
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    use xen_kexec_toolstack::cli::parse_mem;

    use super::*;

    #[test]
    fn mem_arguments_parse_or_name_the_bad_text() {
        assert_eq!(
            parse_mem("0x1000=a=b.bin"),
            Ok(MemArg {
                addr: 0x1000,
                path: PathBuf::from("a=b.bin")
            })
        );
        assert!(parse_mem("0x1000").unwrap_err().contains("ADDR=FILE"));
        assert!(parse_mem("0x1000=").unwrap_err().contains("no file"));
        assert!(parse_mem("zz=f").unwrap_err().contains("`zz`"));
    }

    #[test]
    fn regions_are_checked_from_sizes_alone() {
        let m = |addr, path: &str| MemArg {
            addr,
            path: PathBuf::from(path),
        };
        let args = [m(0x1000, "a"), m(0x2000, "b"), m(0x1800, "c")];
        // Touching is fine; c overlaps a.
        assert!(check_regions(&args[..2], &[0x1000, 0x10]).is_ok());
        match check_regions(&args, &[0x1000, 0x10, 0x10]) {
            Err(Failure::Usage(msg)) => {
                assert_eq!(msg, "--mem regions overlap: 0x1000=a and 0x1800=c");
            }
            other => panic!("{other:?}"),
        }
        // Empty regions overlap nothing; one ending exactly at 2^64 is fine.
        assert!(check_regions(&[m(0x1000, "a"), m(0x1000, "e")], &[0x10, 0]).is_ok());
        assert!(check_regions(&[m(u64::MAX - 7, "top")], &[8]).is_ok());
        match check_regions(&[m(u64::MAX - 3, "top")], &[8]) {
            Err(Failure::Usage(msg)) => {
                assert!(msg.contains("top") && msg.contains("past the top"));
            }
            other => panic!("{other:?}"),
        }
    }
}
