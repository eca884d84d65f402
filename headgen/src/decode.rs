//! `headgen decode`: the command-line view of a captured `kexec_op` hypercall, for people
//! debugging one.
//!
//! ```text
//! headgen decode --guest x86_32|x86_64 --cmd N --arg ADDR --mem ADDR=FILE [--mem ...]
//!                [--crash-region START:SIZE]
//! ```
//!
//! Each `--mem ADDR=FILE` makes the file's bytes the guest's memory at `ADDR`; every
//! other address faults. The call is decoded exactly as the hypervisor side of the
//! `xen-kexec-abi` crate decodes it (x86 host, 4 KiB pages, the given crash region or
//! none), and:
//! - exit 0: the decoded operation, as JSON, on stdout;
//! - exit 1: the hypercall's refusal on stderr: errno name, value and reason;
//! - exit 2: the command line itself is wrong (a number that does not parse, a file that
//!   cannot be read, overlapping `--mem` regions, a crash region past 2^64), with a
//!   message naming the value or file.
//!
//! Numbers are decimal or `0x` hexadecimal.

use std::fmt;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::ValueEnum;
use xen_kexec_abi::decode::decode;
use xen_kexec_abi::guest_mem::{GuestRegion, RegionError, SparseMemory};
use xen_kexec_abi::host::{HostDescription, MachineRange};
use xen_kexec_abi::{Error, GuestAbi, KexecCmd};

/// Arguments of `headgen decode`.
#[derive(Debug, clap::Args)]
pub(crate) struct DecodeArgs {
    /// The width of the guest that made the call: its argument layouts.
    #[arg(long, value_enum)]
    guest: GuestArg,
    /// The command: kexec_op's first argument (decimal or 0x hex).
    #[arg(long, value_name = "N", value_parser = parse_u32)]
    cmd: u32,
    /// The guest address of the argument structure (decimal or 0x hex).
    #[arg(long, value_name = "ADDR", value_parser = parse_u64)]
    arg: u64,
    /// Guest memory: the bytes of FILE at guest address ADDR. Repeat for more regions;
    /// regions must not overlap.
    #[arg(long = "mem", value_name = "ADDR=FILE", value_parser = parse_mem)]
    mem: Vec<MemArg>,
    /// The host's crash region, START:SIZE (each decimal or 0x hex). Without it the host
    /// has none, and every crash-image load is refused.
    #[arg(long, value_name = "START:SIZE", value_parser = parse_crash_region)]
    crash_region: Option<MachineRange>,
}

/// `--guest`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
enum GuestArg {
    /// A 32-bit x86 guest (compat layouts).
    #[value(name = "x86_32")]
    X86_32,
    /// A 64-bit x86 guest.
    #[value(name = "x86_64")]
    X86_64,
}

impl From<GuestArg> for GuestAbi {
    fn from(g: GuestArg) -> GuestAbi {
        match g {
            GuestArg::X86_32 => GuestAbi::X86_32,
            GuestArg::X86_64 => GuestAbi::X86_64,
        }
    }
}

/// One `--mem ADDR=FILE`, as given.
#[derive(Clone, Debug, PartialEq, Eq)]
struct MemArg {
    addr: u64,
    path: PathBuf,
}

impl fmt::Display for MemArg {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:#x}={}", self.addr, self.path.display())
    }
}

/// A number in decimal or `0x` hexadecimal.
fn parse_u64(text: &str) -> Result<u64, String> {
    let (digits, radix) = match text.strip_prefix("0x").or_else(|| text.strip_prefix("0X")) {
        Some(hex) => (hex, 16),
        None => (text, 10),
    };
    u64::from_str_radix(digits, radix)
        .map_err(|e| format!("`{text}` is not a 64-bit number (decimal or 0x hex): {e}"))
}

/// A command number in decimal or `0x` hexadecimal.
fn parse_u32(text: &str) -> Result<u32, String> {
    let n = parse_u64(text)?;
    u32::try_from(n).map_err(|_| format!("`{text}` does not fit in 32 bits (unsigned int cmd)"))
}

/// `ADDR=FILE`.
fn parse_mem(text: &str) -> Result<MemArg, String> {
    let (addr, path) = text
        .split_once('=')
        .ok_or_else(|| format!("`{text}` is not ADDR=FILE"))?;
    if path.is_empty() {
        return Err(format!("`{text}` names no file after `=`"));
    }
    Ok(MemArg {
        addr: parse_u64(addr)?,
        path: PathBuf::from(path),
    })
}

/// `START:SIZE`.
fn parse_crash_region(text: &str) -> Result<MachineRange, String> {
    let (start, size) = text
        .split_once(':')
        .ok_or_else(|| format!("`{text}` is not START:SIZE"))?;
    let (start, size) = (parse_u64(start)?, parse_u64(size)?);
    MachineRange::new(start, size)
        .ok_or_else(|| format!("crash region `{text}` runs past the top of the address space"))
}

/// Why `headgen decode` did not print an operation.
#[derive(Debug, PartialEq, Eq)]
enum Failure {
    /// The command line is wrong: exit 2.
    Usage(String),
    /// The hypercall is refused: exit 1.
    Refused(Error),
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Failure::Usage(msg) => f.write_str(msg),
            Failure::Refused(e) => {
                let errno = e.errno();
                let name = format!("{errno:?}");
                let name = name.strip_prefix("XEN_").unwrap_or(&name);
                write!(f, "{name} ({}): {e}", errno.0)
            }
        }
    }
}

/// Decodes the call the arguments describe into its JSON form.
fn decode_to_json(args: &DecodeArgs) -> Result<String, Failure> {
    let mut files = Vec::with_capacity(args.mem.len());
    for m in &args.mem {
        let bytes = std::fs::read(&m.path).map_err(|e| {
            Failure::Usage(format!(
                "cannot read --mem file {} (for address {:#x}): {e}",
                m.path.display(),
                m.addr
            ))
        })?;
        files.push(bytes);
    }
    let mut regions: Vec<GuestRegion<&[u8]>> = args
        .mem
        .iter()
        .zip(&files)
        .map(|(m, bytes)| GuestRegion {
            base: m.addr,
            bytes: &bytes[..],
        })
        .collect();
    let named = |i: usize| {
        args.mem
            .get(i)
            .map_or_else(String::new, ToString::to_string)
    };
    let mut mem = SparseMemory::new(&mut regions).map_err(|e| {
        Failure::Usage(match e {
            RegionError::Overlap { first, second } => format!(
                "--mem regions overlap: {} and {}",
                named(first),
                named(second)
            ),
            RegionError::Wraps { index } => format!(
                "--mem {} runs past the top of the address space",
                named(index)
            ),
        })
    })?;
    let host = HostDescription::x86(args.crash_region);
    let op = decode(
        args.guest.into(),
        KexecCmd(args.cmd),
        args.arg,
        &mut mem,
        &host,
    )
    .map_err(Failure::Refused)?;
    serde_json::to_string_pretty(&op)
        .map_err(|e| Failure::Usage(format!("cannot render the operation as JSON: {e}")))
}

/// Runs `headgen decode`: exit 0 with the operation as JSON on stdout, 1 with the
/// refusal on stderr, 2 for a bad command line.
pub(crate) fn run(args: &DecodeArgs) -> ExitCode {
    match decode_to_json(args) {
        Ok(json) => {
            println!("{json}");
            ExitCode::SUCCESS
        }
        Err(failure) => {
            eprintln!("headgen decode: {failure}");
            match failure {
                Failure::Refused(_) => ExitCode::from(1),
                Failure::Usage(_) => ExitCode::from(2),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use xen_kexec_abi::Errno;

    #[test]
    fn numbers_are_decimal_or_hex() {
        assert_eq!(parse_u64("4096"), Ok(4096));
        assert_eq!(parse_u64("0x1000"), Ok(4096));
        assert_eq!(parse_u64("0XfFfF"), Ok(0xffff));
        assert_eq!(parse_u64("0xffffffffffffffff"), Ok(u64::MAX));
        for bad in ["", "0x", "-1", "0x1_000", "12abc", "0x10000000000000000"] {
            let e = parse_u64(bad).unwrap_err();
            assert!(e.contains(&format!("`{bad}`")), "{e}");
        }
        assert_eq!(parse_u32("0x4"), Ok(4));
        assert!(parse_u32("0x100000000").unwrap_err().contains("32 bits"));
    }

    #[test]
    fn mem_and_crash_region_arguments_parse_or_name_the_bad_text() {
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
        let r = parse_crash_region("0x4000_0000:1").unwrap_err();
        assert!(r.contains("0x4000_0000"), "{r}");
        let r = parse_crash_region("0x40000000:0x10000000").unwrap();
        assert_eq!((r.start(), r.size()), (0x4000_0000, 0x1000_0000));
        assert!(parse_crash_region("0xffffffffffffffff:2")
            .unwrap_err()
            .contains("past the top"));
    }

    #[test]
    fn refusals_print_errno_name_value_and_reason() {
        let f = Failure::Refused(Error::NoCrashRegion);
        assert_eq!(
            f.to_string(),
            "EADDRNOTAVAIL (99): a crash image needs a crash region and the host reserves none"
        );
        assert_eq!(Error::NoCrashRegion.errno(), Errno::EADDRNOTAVAIL);
    }
}
