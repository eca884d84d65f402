// SPDX-License-Identifier: MIT
//! `xen-kexec load --kernel` end to end over the simulated hypervisor: the segments land
//! where the plan says, and `sim dump` shows the zero page, the command line and the
//! purgatory's digests there; bad input is refused by name and nothing is loaded.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::Value;
use sha2::{Digest, Sha256};
use xen_kexec_toolstack::linux::synthetic::BzImageSpec;
use xen_kexec_toolstack::purgatory::params::{Params, FLAG_VERIFY, MAGIC};
use xen_kexec_toolstack::purgatory::Purgatory;
use zerocopy::FromBytes;

mod common;
use common::failed;

const CRASH_192M: &str = "0x20000000:0xc000000";
const APPEND: &str = "console=ttyS0,115200 irqpoll maxcpus=1 reset_devices";

fn xen_kexec(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_xen-kexec"))
        .args(args)
        .output()
        .expect("xen-kexec runs")
}

struct Host {
    dir: tempfile::TempDir,
}

impl Host {
    fn new() -> Host {
        let host = Host {
            dir: tempfile::tempdir().expect("tempdir"),
        };
        let out = xen_kexec(&["sim", "init", &host.state(), "--crash-region", CRASH_192M]);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        host
    }

    fn state(&self) -> String {
        self.path("host.json").display().to_string()
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    fn backend(&self) -> String {
        format!("sim:{}", self.state())
    }

    fn run(&self, args: &[&str]) -> Output {
        let backend = self.backend();
        let mut all = vec!["--backend", backend.as_str()];
        all.extend_from_slice(args);
        xen_kexec(&all)
    }

    fn write(&self, name: &str, bytes: &[u8]) -> String {
        let p = self.path(name);
        std::fs::write(&p, bytes).expect("write");
        p.display().to_string()
    }

    /// `sim dump` of the crash image's bytes at `[maddr, maddr + len)`.
    fn dump(&self, maddr: u64, len: u64) -> Vec<u8> {
        let out = xen_kexec(&[
            "sim",
            "dump",
            &self.state(),
            "--type",
            "crash",
            "--maddr",
            &format!("{maddr:#x}"),
            "--len",
            &format!("{len:#x}"),
        ]);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        out.stdout
    }
}

fn hex(v: &Value) -> u64 {
    let s = v.as_str().expect("a hex string");
    u64::from_str_radix(s.trim_start_matches("0x"), 16).expect("hex")
}

/// The segment whose `source` starts with `what`: (dest, buf_size).
fn segment(report: &Value, what: &str) -> (u64, u64) {
    let seg = report["segments"]
        .as_array()
        .expect("segments")
        .iter()
        .find(|s| s["source"].as_str().is_some_and(|w| w.starts_with(what)))
        .unwrap_or_else(|| panic!("no segment {what}: {report}"));
    (hex(&seg["dest_maddr"]), hex(&seg["buf_size"]))
}

fn load_crash(host: &Host, kernel: &str, initrd: &str, extra: &[&str]) -> Output {
    let mut args = vec![
        "--json", "load", "--type", "crash", "--kernel", kernel, "--initrd", initrd, "--append",
        APPEND,
    ];
    args.extend_from_slice(extra);
    host.run(&args)
}

#[test]
fn a_crash_kernel_lands_where_the_plan_says_with_its_zero_page_and_digests() {
    let host = Host::new();
    let image = BzImageSpec::default().build();
    let kernel = host.write("vmlinuz", &image);
    let initrd_bytes: Vec<u8> = (0..=255u8).cycle().take(0x5432).collect();
    let initrd = host.write("initrd", &initrd_bytes);
    let out = load_crash(&host, &kernel, &initrd, &[]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let report: Value = serde_json::from_slice(&out.stdout).expect("JSON");
    assert_eq!(
        report["segments"].as_array().map(Vec::len),
        Some(8),
        "{report}"
    );

    // The zero page: the image's header, the loader's fields, the command line after it.
    let (bp, bp_len) = segment(&report, "boot_params");
    let zero_page = host.dump(bp, bp_len);
    assert_eq!(&zero_page[0x202..0x206], b"HdrS");
    assert_eq!(zero_page[0x210], 0xff, "type_of_loader");
    let cmdline_ptr = u32::from_le_bytes(zero_page[0x228..0x22c].try_into().expect("4"));
    assert_eq!(u64::from(cmdline_ptr), bp + 0x1000);
    let cmdline: Vec<u8> = zero_page[0x1000..]
        .iter()
        .copied()
        .take_while(|&b| b != 0)
        .collect();
    let (hdr, _) = segment(&report, "ELF core header");
    assert_eq!(
        String::from_utf8_lossy(&cmdline),
        format!("{APPEND} elfcorehdr={}K", hdr / 1024)
    );
    let (initrd_at, _) = segment(&report, "initrd");
    let ramdisk = u32::from_le_bytes(zero_page[0x218..0x21c].try_into().expect("4"));
    assert_eq!(u64::from(ramdisk), initrd_at);

    // The purgatory's block: each digest is that of the bytes the hypervisor holds.
    let (purgatory_at, purgatory_len) = segment(&report, "purgatory");
    assert_eq!(
        hex(&report["entry_maddr"]),
        purgatory_at,
        "the image enters the purgatory"
    );
    let placed = host.dump(purgatory_at, purgatory_len);
    let offset = Purgatory::embedded().expect("parses").params_offset();
    let (params, _) = Params::read_from_prefix(&placed[offset..]).expect("block");
    assert_eq!(
        (params.magic, params.flags, params.nr_regions),
        (MAGIC, FLAG_VERIFY, 4)
    );
    assert_eq!(params.serial_port, 0x3f8, "console=ttyS0");
    let (kernel_at, _) = segment(&report, "kernel");
    assert_eq!(params.entry, kernel_at + 0x200);
    assert_eq!(params.boot_params, bp);
    for r in &params.regions[..4] {
        let loaded = host.dump(r.start, r.len);
        assert_eq!(
            r.sha256,
            <[u8; 32]>::from(Sha256::digest(&loaded)),
            "at {:#x}",
            r.start
        );
    }
    assert_eq!(
        host.dump(initrd_at, initrd_bytes.len() as u64),
        initrd_bytes
    );
}

#[test]
fn a_test_corrupt_digest_load_differs_from_the_loaded_bytes_in_one_digest() {
    let host = Host::new();
    let kernel = host.write("vmlinuz", &BzImageSpec::default().build());
    let initrd = host.write("initrd", &[7u8; 100]);
    let out = load_crash(&host, &kernel, &initrd, &["--test-corrupt-digest"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let report: Value = serde_json::from_slice(&out.stdout).expect("JSON");
    let (purgatory_at, purgatory_len) = segment(&report, "purgatory");
    let placed = host.dump(purgatory_at, purgatory_len);
    let offset = Purgatory::embedded().expect("parses").params_offset();
    let (params, _) = Params::read_from_prefix(&placed[offset..]).expect("block");
    let wrong = params.regions[..4]
        .iter()
        .filter(|r| r.sha256 != <[u8; 32]>::from(Sha256::digest(host.dump(r.start, r.len))))
        .count();
    assert_eq!(wrong, 1);
}

fn debian_kernel() -> PathBuf {
    let boot = Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/realxen/debian/root/boot");
    std::fs::read_dir(&boot)
        .ok()
        .and_then(|d| {
            d.filter_map(Result::ok).map(|e| e.path()).find(|p| {
                p.file_name()
                    .is_some_and(|n| n.to_string_lossy().starts_with("vmlinuz-"))
            })
        })
        .unwrap_or_else(|| {
            panic!(
                "no Debian kernel under {}: run scripts/setup",
                boot.display()
            )
        })
}

#[test]
fn a_dry_run_of_debians_kernel_prints_its_plan_in_eight_segments() {
    let host = Host::new();
    let kernel = debian_kernel();
    let initrd = host.write("initrd", &vec![0x5a; 1 << 20]);
    let out = host.run(&[
        "load",
        "--type",
        "crash",
        "--kernel",
        &kernel.display().to_string(),
        "--initrd",
        &initrd,
        "--append",
        APPEND,
        "--dry-run",
    ]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        text.starts_with("would load crash image: 8 segments, entry 0x2"),
        "{text}"
    );
    for what in [
        "low 1 MiB",
        "kernel ",
        "initrd ",
        "boot_params",
        "purgatory",
        "backup of the low 640 KiB",
        "ELF core header (elfcorehdr)",
        "Xen's crash notes (mapped, no buffer; the purgatory copies them)",
        "core header: PT_NOTE paddr",
        "core header: PT_LOAD paddr 0x100000 size 0x1ff00000 read at 0x100000",
    ] {
        assert!(text.contains(what), "{what} in {text}");
    }
    assert!(text.contains("init_size 0x3f98000"), "{text}");
    // A dry run sends nothing.
    assert_eq!(
        String::from_utf8_lossy(&host.run(&["status", "--type", "crash"]).stdout),
        "not loaded\n"
    );
}

#[test]
fn bad_linux_input_is_refused_by_name_and_nothing_is_loaded() {
    let host = Host::new();
    let kernel = host.write("vmlinuz", &BzImageSpec::default().build());
    let initrd = host.write("initrd", &[1u8; 10]);
    let elf = host.write("vmlinux", b"\x7fELF\x02\x01\x01\0\0\0\0\0\0\0\0\0");
    let long = "x".repeat(0x800);
    let cases: [(Vec<&str>, String); 4] = [
        (
            vec!["load", "--type", "crash", "--kernel", &elf],
            format!("xen-kexec load: {elf} is an ELF file, not a bzImage: load it with --elf\n"),
        ),
        (
            vec!["load", "--type", "crash", "--elf", &kernel],
            format!("xen-kexec load: {kernel}: not an ELF file but a Linux bzImage: load it with --kernel\n"),
        ),
        (
            vec!["load", "--type", "crash", "--kernel", &kernel, "--append", &long],
            "xen-kexec load: the command line is 2048 bytes; the kernel takes at most 2047 (cmdline_size)\n".into(),
        ),
        (
            vec!["load", "--type", "crash", "--kernel", &kernel, "--initrd", &elf, "--initrd", &initrd],
            String::new(),
        ),
    ];
    for (args, message) in &cases[..3] {
        let err = failed(&host.run(args), 2);
        assert_eq!(&err, message);
    }
    // clap refuses a repeated or misplaced option before anything runs.
    failed(&host.run(&cases[3].0), 2);
    for misplaced in [
        vec![
            "load", "--type", "crash", "--elf", &elf, "--initrd", &initrd,
        ],
        vec![
            "load", "--type", "crash", "--elf", &elf, "--kernel", &kernel,
        ],
        vec![
            "load",
            "--type",
            "crash",
            "--kernel",
            &kernel,
            "--map-low-1m",
        ],
        vec!["load", "--type", "crash"],
    ] {
        let err = failed(&host.run(&misplaced), 2);
        assert!(err.contains("error:"), "{misplaced:?}: {err}");
    }
    assert_eq!(
        String::from_utf8_lossy(&host.run(&["status", "--type", "crash"]).stdout),
        "not loaded\n"
    );
    // --command-line is --append's other name.
    let out = host.run(&[
        "load",
        "--type",
        "crash",
        "--kernel",
        &kernel,
        "--command-line",
        "quiet",
        "--dry-run",
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn reuse_cmdline_starts_from_the_running_kernels_minus_its_reservation() {
    let host = Host::new();
    let kernel = host.write("vmlinuz", &BzImageSpec::default().build());
    let out = host.run(&[
        "--json",
        "load",
        "--type",
        "crash",
        "--kernel",
        &kernel,
        "--reuse-cmdline",
        "--append",
        "extra=1",
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let report: Value = serde_json::from_slice(&out.stdout).expect("JSON");
    let (bp, len) = segment(&report, "boot_params");
    let page = host.dump(bp, len);
    let cmdline: Vec<u8> = page[0x1000..]
        .iter()
        .copied()
        .take_while(|&b| b != 0)
        .collect();
    let running = std::fs::read_to_string("/proc/cmdline").expect("/proc/cmdline");
    let mut want: Vec<&str> = running
        .split_ascii_whitespace()
        .filter(|w| !w.starts_with("crashkernel=") && !w.starts_with("BOOT_IMAGE="))
        .collect();
    want.push("extra=1");
    // elfcorehdr= goes to the kernel: before a standalone `--`, after which words are init's.
    let (hdr, _) = segment(&report, "ELF core header");
    let arg = format!("elfcorehdr={}K", hdr / 1024);
    let at = want.iter().position(|w| *w == "--").unwrap_or(want.len());
    want.insert(at, &arg);
    assert_eq!(String::from_utf8_lossy(&cmdline), want.join(" "));
}

/// The RAM ranges `memory-map --json` reports, as `(start, end)`.
fn ram_ranges(host: &Host) -> Vec<(u64, u64)> {
    let out = host.run(&["--json", "memory-map"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let map: Value = serde_json::from_slice(&out.stdout).expect("JSON");
    map["ranges"]
        .as_array()
        .expect("ranges")
        .iter()
        .filter(|r| r["kind"] == "RAM")
        .map(|r| (hex(&r["start"]), hex(&r["start"]) + hex(&r["size"])))
        .collect()
}

#[test]
fn the_core_header_in_a_sim_dump_describes_the_sims_cpus_vmcoreinfo_and_ram() {
    use object::elf::{EM_X86_64, ET_CORE, PT_LOAD, PT_NOTE};
    use object::read::elf::{ElfFile64, FileHeader as _, ProgramHeader as _};
    let dir = tempfile::tempdir().expect("tempdir");
    let host = Host { dir };
    let (notes, size, vmcoreinfo) = (0x3ff0_0000_u64, 0x1f4_u64, 0x3ff1_0000_u64);
    let out = xen_kexec(&[
        "sim",
        "init",
        &host.state(),
        "--crash-region",
        CRASH_192M,
        "--cpus",
        "2",
        "--cpu-notes",
        &format!("{notes:#x}:{size:#x}"),
        "--vmcoreinfo",
        &format!("{vmcoreinfo:#x}:0x1000"),
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let kernel = host.write("vmlinuz", &BzImageSpec::default().build());
    let out = host.run(&["--json", "load", "--type", "crash", "--kernel", &kernel]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let report: Value = serde_json::from_slice(&out.stdout).expect("JSON");
    let (hdr, len) = segment(&report, "ELF core header");
    let bytes = host.dump(hdr, len);
    let file = ElfFile64::<object::LittleEndian>::parse(&*bytes).expect("an ELF file");
    let e = file.endian();
    assert_eq!(file.elf_header().e_type(e), ET_CORE);
    assert_eq!(file.elf_header().e_machine(e), EM_X86_64);
    let got: Vec<(u32, u64, u64, u64)> = file
        .elf_header()
        .program_headers(e, &*bytes)
        .expect("headers")
        .iter()
        .map(|p| (p.p_type(e), p.p_offset(e), p.p_paddr(e), p.p_memsz(e)))
        .collect();
    // Each note area is read from the purgatory's copy beside the header, with 16 zero
    // bytes after it (Linux's note reader reads one header past the last note).
    let copy = |n: u64| (n + 16).next_multiple_of(16);
    let first = hdr + len.next_multiple_of(16);
    let mut want = vec![
        (PT_NOTE, first, notes, size + 16),
        (PT_NOTE, first + copy(size), notes + size, size + 16),
        (PT_NOTE, first + 2 * copy(size), vmcoreinfo, 0x1000 + 16),
    ];
    // The low RAM is read from the backup area, the page after the copies.
    let backup = (first + 2 * copy(size) + copy(0x1000)).next_multiple_of(0x1000);
    let (crash_start, crash_end) = (0x2000_0000, 0x2c00_0000);
    for (start, end) in ram_ranges(&host) {
        let pieces = [(start, end.min(crash_start)), (start.max(crash_end), end)];
        for (s, t) in pieces.into_iter().filter(|(s, t)| s < t) {
            // The low RAM the crash kernel reuses is served from the backup copy.
            let offset = if s == 0 { backup } else { s };
            want.push((PT_LOAD, offset, s, t - s));
        }
    }
    assert_eq!(got, want);
    // The kernel is told where it is.
    let (bp, bp_len) = segment(&report, "boot_params");
    let page = host.dump(bp, bp_len);
    let cmdline: Vec<u8> = page[0x1000..]
        .iter()
        .copied()
        .take_while(|&b| b != 0)
        .collect();
    assert_eq!(
        String::from_utf8_lossy(&cmdline),
        format!("elfcorehdr={}K", hdr / 1024)
    );
}

#[test]
fn test_no_elfcorehdr_leaves_the_argument_off_but_loads_the_header() {
    let host = Host::new();
    let kernel = host.write("vmlinuz", &BzImageSpec::default().build());
    let out = host.run(&[
        "--json",
        "load",
        "--type",
        "crash",
        "--kernel",
        &kernel,
        "--append",
        "quiet",
        "--test-no-elfcorehdr",
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let report: Value = serde_json::from_slice(&out.stdout).expect("JSON");
    segment(&report, "ELF core header");
    let (bp, len) = segment(&report, "boot_params");
    let page = host.dump(bp, len);
    let cmdline: Vec<u8> = page[0x1000..]
        .iter()
        .copied()
        .take_while(|&b| b != 0)
        .collect();
    assert_eq!(String::from_utf8_lossy(&cmdline), "quiet");
}
