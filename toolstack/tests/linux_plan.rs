// SPDX-License-Identifier: MIT
//! The Linux planner against the boot protocol's rules: on synthetic bzImages made by
//! `linux::synthetic`, and on the Debian kernel `scripts/setup` unpacks for the real-Xen
//! run. Each plan is checked segment by segment: the kernel aligned with `init_size` of
//! room, the initrd below `initrd_addr_max`, the zero page's fields pointing at what was
//! placed, the command line NUL-terminated, the purgatory's digests those of the bytes
//! loaded, and the whole load valid by the hypervisor's rules.

use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};
use xen_kexec_abi::host::{HostDescription, MachineRange};
use xen_kexec_abi::{KexecType, OpenEnum};
use xen_kexec_toolstack::linux::bzimage::{BzImage, HEAD_LEN, XLF_KERNEL_64};
use xen_kexec_toolstack::linux::plan::{
    plan, serial_port, LinuxError, LinuxOptions, LinuxPlan, MachineFacts, BACKUP_LEN,
};
use xen_kexec_toolstack::linux::synthetic::BzImageSpec;
use xen_kexec_toolstack::memmap::{E820Type, MemRange};
use xen_kexec_toolstack::plan::LoadPlan;
use xen_kexec_toolstack::purgatory::params::{Params, FLAG_VERIFY, MAGIC};
use xen_kexec_toolstack::purgatory::Purgatory;
use zerocopy::FromBytes;

/// A 1 GiB QEMU PC's machine map.
fn qemu_map() -> Vec<MemRange> {
    let r = |start, size, kind| MemRange { start, size, kind };
    vec![
        r(0, 0x9fc00, E820Type::RAM),
        r(0x9fc00, 0x400, E820Type::RESERVED),
        r(0xf0000, 0x10000, E820Type::RESERVED),
        r(0x10_0000, 0x3fee_0000, E820Type::RAM),
        r(0x3ffe_0000, 0x2_0000, E820Type::RESERVED),
        r(0xfffc_0000, 0x4_0000, E820Type::RESERVED),
    ]
}

fn machine(crash: Option<(u64, u64)>) -> MachineFacts {
    MachineFacts {
        memory_map: qemu_map(),
        crash_region: crash.map(|(s, n)| MachineRange::new(s, n).expect("a range")),
        cpu_notes: vec![MachineRange::new(0x3ffc_f700, 0x1f4).expect("a range")],
        vmcoreinfo: MachineRange::new(0x3fd7_c540, 0x1000),
    }
}

const CRASH_192M: (u64, u64) = (0x2000_0000, 0xc00_0000);

struct Files {
    _dir: tempfile::TempDir,
    kernel: PathBuf,
    initrd: PathBuf,
}

fn files(spec: &BzImageSpec, initrd_len: usize) -> Files {
    let dir = tempfile::tempdir().expect("tempdir");
    let kernel = dir.path().join("vmlinuz");
    let initrd = dir.path().join("initrd.img");
    std::fs::write(&kernel, spec.build()).expect("write kernel");
    let bytes: Vec<u8> = (0..=255u8).cycle().step_by(7).take(initrd_len).collect();
    std::fs::write(&initrd, bytes).expect("write initrd");
    Files {
        _dir: dir,
        kernel,
        initrd,
    }
}

fn options(type_: KexecType, f: &Files, cmdline: &str) -> LinuxOptions {
    LinuxOptions {
        type_,
        kernel: f.kernel.clone(),
        initrd: Some(f.initrd.clone()),
        cmdline: cmdline.into(),
        verify: true,
        corrupt_digest: false,
        omit_elfcorehdr: false,
    }
}

/// Segment `i`'s buffer as it will be loaded.
fn bytes(load: &LoadPlan, i: usize) -> Vec<u8> {
    let mut buf = vec![0u8; usize::try_from(load.segments[i].buf_size()).expect("fits")];
    load.fill(i, &mut buf).expect("fills");
    buf
}

/// The segment whose destination starts at `addr`.
fn at(load: &LoadPlan, addr: u64) -> usize {
    load.segments
        .iter()
        .position(|s| s.dest_maddr == addr)
        .unwrap_or_else(|| panic!("no segment at {addr:#x}"))
}

fn u32_at(b: &[u8], o: usize) -> u32 {
    u32::from_le_bytes(b[o..o + 4].try_into().expect("4"))
}

/// Every boot-protocol rule the plan must keep, for `image` (the kernel file's header).
fn check_against_the_boot_protocol(
    plan: &LinuxPlan,
    image: &BzImage,
    kernel_file: &Path,
    cmdline: &str,
    type_: KexecType,
    crash: Option<MachineRange>,
) {
    let load = &plan.load;
    let layout = &plan.layout;
    assert!(load.segments.len() <= 8, "{} segments", load.segments.len());
    assert!(load
        .segments
        .windows(2)
        .all(|w| w[0].dest_maddr + w[0].dest_size <= w[1].dest_maddr));
    // The kernel: aligned, init_size of room, its protected-mode bytes.
    assert_eq!(layout.kernel % image.alignment(), 0, "kernel_alignment");
    let kernel_seg = at(load, layout.kernel);
    assert!(load.segments[kernel_seg].dest_size >= image.init_size());
    let file = std::fs::read(kernel_file).expect("read kernel");
    assert_eq!(
        bytes(load, kernel_seg),
        &file[usize::try_from(image.kernel_offset).expect("fits")..]
    );
    // The initrd: below initrd_addr_max.
    let (initrd, initrd_len) = layout.initrd.expect("an initrd");
    assert!(initrd + initrd_len <= image.initrd_end_max());
    // The zero page: the header's own bytes, and the loader's fields.
    let bp_seg = at(load, layout.boot_params);
    let bp = bytes(load, bp_seg);
    assert_eq!(&bp[0x202..0x206], b"HdrS");
    assert_eq!(
        bp[0x1f1..0x202],
        file[0x1f1..0x202],
        "the image's header up to its jump"
    );
    assert_eq!(bp[0x210], 0xff, "type_of_loader");
    assert_eq!(
        u64::from(u32_at(&bp, 0x214)),
        layout.kernel & 0xffff_ffff,
        "code32_start"
    );
    assert_eq!(
        u64::from(u32_at(&bp, 0x218)) | u64::from(u32_at(&bp, 0xc0)) << 32,
        initrd
    );
    assert_eq!(
        u64::from(u32_at(&bp, 0x21c)) | u64::from(u32_at(&bp, 0xc4)) << 32,
        initrd_len
    );
    assert_eq!(
        u64::from(u32_at(&bp, 0x228)) | u64::from(u32_at(&bp, 0xc8)) << 32,
        layout.cmdline
    );
    let off = usize::try_from(layout.cmdline - layout.boot_params).expect("fits");
    let given = &layout.cmdline_text;
    assert_eq!(&bp[off..off + given.len()], given.as_bytes());
    assert_eq!(bp[off + given.len()], 0, "NUL-terminated");
    assert!(given.len() <= image.cmdline_max());
    assert!(given.starts_with(cmdline), "{given}");
    assert_eq!(bp[0x1e8] as usize, layout.e820.len());
    check_purgatory_and_memory(plan, cmdline, type_, crash);
    // The hypervisor's own rules accept it.
    let request = load
        .request(|i| 0x1000 * (i as u64 + 1))
        .expect("a request");
    request
        .validate(&HostDescription::x86(crash))
        .expect("valid for the hypervisor");
}

#[test]
fn a_crash_kernel_is_planned_inside_the_region_by_the_boot_protocol() {
    let spec = BzImageSpec::default();
    let f = files(&spec, 0x12345);
    let cmdline = "console=ttyS0,115200 irqpoll maxcpus=1 reset_devices";
    let m = machine(Some(CRASH_192M));
    let p = plan(&options(KexecType::CRASH, &f, cmdline), &m).expect("plans");
    let file = spec.build();
    let image = BzImage::parse(&file[..HEAD_LEN], file.len() as u64).expect("parses");
    check_against_the_boot_protocol(
        &p,
        &image,
        &f.kernel,
        cmdline,
        KexecType::CRASH,
        m.crash_region,
    );
    assert_eq!(p.layout.serial_port, 0x3f8);
    assert_eq!(
        p.load.segments.len(),
        8,
        "low 1 MiB, kernel, initrd, zero page, purgatory, core header with the backup, and \
         the two pages of Xen's notes"
    );
}

#[test]
fn a_default_kernel_goes_to_pref_address_in_ram() {
    let spec = BzImageSpec::default();
    let f = files(&spec, 0x2000);
    let m = machine(None);
    let p = plan(&options(KexecType::DEFAULT, &f, "console=ttyS1"), &m).expect("plans");
    let file = spec.build();
    let image = BzImage::parse(&file[..HEAD_LEN], file.len() as u64).expect("parses");
    check_against_the_boot_protocol(
        &p,
        &image,
        &f.kernel,
        "console=ttyS1",
        KexecType::DEFAULT,
        None,
    );
    assert_eq!(p.layout.kernel, 0x100_0000, "pref_address");
    assert_eq!(p.layout.serial_port, 0x2f8);
}

#[test]
fn no_checks_leaves_the_digests_out() {
    let f = files(&BzImageSpec::default(), 0x2000);
    let mut opts = options(KexecType::CRASH, &f, "quiet");
    opts.verify = false;
    let p = plan(&opts, &machine(Some(CRASH_192M))).expect("plans");
    assert!(p.layout.digests.is_empty());
    let purgatory = Purgatory::embedded().expect("parses");
    let pb = bytes(&p.load, at(&p.load, p.layout.purgatory));
    let (params, _) = Params::read_from_prefix(&pb[purgatory.params_offset()..]).expect("block");
    assert_eq!(
        (params.flags, params.nr_regions, params.serial_port),
        (0, 0, 0)
    );
}

/// The Debian kernel scripts/setup unpacks for the real-Xen run.
fn debian_kernel() -> Option<PathBuf> {
    let boot = Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/realxen/debian/root/boot");
    std::fs::read_dir(&boot)
        .ok()?
        .filter_map(Result::ok)
        .map(|e| e.path())
        .find(|p| {
            p.file_name()
                .is_some_and(|n| n.to_string_lossy().starts_with("vmlinuz-"))
        })
}

#[test]
fn debians_kernel_plans_into_192m_in_at_most_8_segments_and_not_into_64m() {
    let Some(kernel) = debian_kernel() else {
        panic!("Debian's kernel is not unpacked under target/realxen/debian: run scripts/setup");
    };
    let dir = tempfile::tempdir().expect("tempdir");
    let initrd = dir.path().join("initrd");
    std::fs::write(&initrd, vec![0x5a; 3 << 20]).expect("write");
    let cmdline = "console=ttyS0,115200 irqpoll maxcpus=1 reset_devices";
    let opts = LinuxOptions {
        type_: KexecType::CRASH,
        kernel: kernel.clone(),
        initrd: Some(initrd),
        cmdline: cmdline.into(),
        verify: true,
        corrupt_digest: false,
        omit_elfcorehdr: false,
    };
    let m = machine(Some(CRASH_192M));
    let p = plan(&opts, &m).expect("plans");
    let file = std::fs::read(&kernel).expect("read");
    let image = BzImage::parse(&file[..HEAD_LEN], file.len() as u64).expect("parses");
    check_against_the_boot_protocol(
        &p,
        &image,
        &kernel,
        cmdline,
        KexecType::CRASH,
        m.crash_region,
    );
    // 64 MiB is too small for init_size (about 64 MiB) with the rest beside it.
    let e = plan(&opts, &machine(Some((0x2000_0000, 0x400_0000)))).expect_err("too small");
    assert!(matches!(e, LinuxError::DoesNotFit { .. }), "{e:?}");
    assert!(
        e.to_string()
            .starts_with("the kernel (init_size 0x3f98000)")
            || e.to_string().contains("does not fit in the crash region"),
        "{e}"
    );
}

#[test]
fn bad_input_is_refused_with_its_reason_and_nothing_is_planned() {
    let spec = BzImageSpec {
        cmdline_size: 16,
        ..Default::default()
    };
    let f = files(&spec, 0x1000);
    let m = machine(Some(CRASH_192M));
    let e = plan(&options(KexecType::CRASH, &f, "console=ttyS0,115200"), &m).expect_err("long");
    assert_eq!(e.rule(), "CmdlineTooLong");
    assert_eq!(
        e.to_string(),
        "the command line is 20 bytes; the kernel takes at most 16 (cmdline_size)"
    );

    // An initrd that fits only above initrd_addr_max.
    let spec = BzImageSpec {
        xloadflags: XLF_KERNEL_64,
        initrd_addr_max: 0x1fff_ffff,
        ..Default::default()
    };
    let f = files(&spec, 0x1000);
    let e = plan(&options(KexecType::CRASH, &f, ""), &m).expect_err("above the max");
    assert_eq!(e.rule(), "InitrdAboveMax");
    assert_eq!(
        e.to_string(),
        "the initrd (0x1000 bytes) fits only above the kernel's initrd_addr_max (0x1fffffff)"
    );

    // A kernel larger than the region.
    let spec = BzImageSpec {
        init_size: 0x1000_0000,
        ..Default::default()
    };
    let f = files(&spec, 0x1000);
    let e = plan(&options(KexecType::CRASH, &f, ""), &m).expect_err("too large");
    assert_eq!(e.to_string(), "the kernel (init_size 0x10000000) (0x10000000 bytes) does not fit in the crash region [0x20000000, 0x2c000000)");

    // No crash region; an empty initrd; an ELF file as the kernel; an old protocol.
    let f = files(&BzImageSpec::default(), 0);
    let e = plan(&options(KexecType::CRASH, &f, ""), &machine(None)).expect_err("no region");
    assert_eq!(e.rule(), "EmptyInitrd", "the files are checked first: {e}");
    let f = files(&BzImageSpec::default(), 1);
    let e = plan(&options(KexecType::CRASH, &f, ""), &machine(None)).expect_err("no region");
    assert_eq!(e.rule(), "NoCrashRegion");
    assert!(e.to_string().contains("crashkernel="), "{e}");
    std::fs::write(&f.kernel, b"\x7fELF\x02\x01\x01\0\0\0").expect("write");
    let e = plan(&options(KexecType::CRASH, &f, ""), &m).expect_err("ELF");
    assert_eq!(
        e.to_string(),
        format!(
            "{} is an ELF file, not a bzImage: load it with --elf",
            f.kernel.display()
        )
    );
    let f = files(
        &BzImageSpec {
            version: 0x0206,
            ..Default::default()
        },
        1,
    );
    let e = plan(&options(KexecType::CRASH, &f, ""), &m).expect_err("old");
    assert_eq!(e.rule(), "BootProtocolTooOld");
    assert_eq!(KexecType::CRASH.c_name(), Some("KEXEC_TYPE_CRASH"));
}

#[test]
fn the_console_on_the_command_line_names_the_serial_port() {
    for (cmdline, port) in [
        ("console=ttyS0,115200", 0x3f8),
        ("quiet console=tty0 console=ttyS1", 0x2f8),
        ("earlyprintk=serial,ttyS0,115200", 0x3f8),
        ("console=tty0", 0),
        ("", 0),
        ("console=ttyS9", 0),
    ] {
        assert_eq!(serial_port(cmdline), port, "{cmdline}");
    }
}

/// The purgatory's block and the memory the kernel is told (part of
/// [`check_against_the_boot_protocol`]).
fn check_purgatory_and_memory(
    plan: &LinuxPlan,
    cmdline: &str,
    type_: KexecType,
    crash: Option<MachineRange>,
) {
    let load = &plan.load;
    let layout = &plan.layout;
    // The purgatory: the image's entry; its block names the kernel's 64-bit entry, the
    // zero page, and the digests of the bytes loaded.
    let purgatory = Purgatory::embedded().expect("parses");
    assert_eq!(load.entry_maddr, purgatory.entry(layout.purgatory));
    let pb = bytes(load, at(load, layout.purgatory));
    let offset = purgatory.params_offset();
    let (params, _) = Params::read_from_prefix(&pb[offset..]).expect("a block");
    assert_eq!(params.magic, MAGIC);
    assert_eq!(params.entry, layout.kernel + 0x200, "startup_64");
    assert_eq!(params.boot_params, layout.boot_params);
    assert_eq!(params.flags, FLAG_VERIFY);
    let checked = if type_ == KexecType::CRASH { 4 } else { 3 };
    assert_eq!(
        params.nr_regions, checked,
        "kernel, zero page, initrd, core header (crash)"
    );
    for r in &params.regions[..checked as usize] {
        let i = at(load, r.start);
        let loaded = bytes(load, i);
        assert_eq!(r.len, loaded.len() as u64);
        assert_eq!(
            r.sha256,
            <[u8; 32]>::from(Sha256::digest(&loaded)),
            "digest of {:#x}",
            r.start
        );
    }
    assert_eq!(params.serial_port, serial_port(cmdline));
    // The low 1 MiB is mapped without a buffer.
    let low = at(load, 0);
    assert!(!load.segments[low].buffered);
    assert_eq!(load.segments[low].dest_size, 1 << 20);
    if type_ == KexecType::CRASH {
        let backup = layout.backup.expect("a backup area");
        assert_eq!(
            (params.backup_src, params.backup_dst, params.backup_len),
            (0, backup, BACKUP_LEN)
        );
        // The backup area follows the core header (and the notes' copies) in its segment.
        let (hdr, _) = layout.elfcorehdr.as_ref().expect("a core header");
        let core = &load.segments[at(load, *hdr)];
        assert!(backup > *hdr && backup + BACKUP_LEN == core.dest_maddr + core.dest_size);
        // The crash kernel is told the low 640 KiB and the region as RAM, the backup area
        // reserved, and the firmware ranges.
        let region = crash.expect("a crash region");
        let ram: u64 = layout
            .e820
            .iter()
            .filter(|r| r.kind == E820Type::RAM)
            .map(|r| r.size)
            .sum();
        let (hdr, hdr_bytes) = layout.elfcorehdr.as_ref().expect("a core header");
        // The core header's segment (header, notes' copies, backup) is reserved whole.
        let reserved = load.segments[at(load, *hdr)].dest_size;
        assert_eq!(ram, 0x9fc00 + region.size() - reserved);
        assert!(layout
            .e820
            .iter()
            .any(|r| r.start == *hdr && r.kind == E820Type::RESERVED));
        assert!(layout
            .cmdline_text
            .ends_with(&format!(" elfcorehdr={}K", hdr / 1024)));
        assert_eq!(bytes(load, at(load, *hdr)), *hdr_bytes);
        check_core_header(hdr_bytes, *hdr, backup, region);
        // The purgatory copies each note area beside the header, where its PT_NOTE reads.
        assert_eq!(params.nr_copies, 2);
        assert_eq!(
            (params.copies[0].src, params.copies[0].len),
            (0x3ffc_f700, 0x1f4)
        );
        assert_eq!(
            (params.copies[1].src, params.copies[1].len),
            (0x3fd7_c540, 0x1000)
        );
        // Xen's note pages are mapped for that copy by segments without a buffer.
        for page in [0x3ffc_f000, 0x3fd7_c000] {
            assert!(!load.segments[at(load, page)].buffered);
        }
        assert!(layout
            .e820
            .iter()
            .any(|r| r.start == backup && r.kind == E820Type::RESERVED));
        assert!(layout
            .e820
            .iter()
            .any(|r| r.start == 0xf0000 && r.kind == E820Type::RESERVED));
    } else {
        assert_eq!(layout.e820, qemu_map());
        assert_eq!(params.backup_len, 0);
    }
}

/// The core header against the machine `machine()` describes: a PT_NOTE for the CPU's
/// notes and one for vmcoreinfo, then a PT_LOAD for each RAM range outside the region,
/// the low RAM read from the backup area.
fn check_core_header(bytes: &[u8], hdr: u64, backup: u64, region: MachineRange) {
    use object::elf::{ET_CORE, PT_LOAD, PT_NOTE};
    use object::read::elf::{ElfFile64, FileHeader as _, ProgramHeader as _};
    let file = ElfFile64::<object::LittleEndian>::parse(bytes).expect("an ELF file");
    let e = file.endian();
    assert_eq!(file.elf_header().e_type(e), ET_CORE);
    let got: Vec<(u32, u64, u64, u64)> = file
        .elf_header()
        .program_headers(e, bytes)
        .expect("headers")
        .iter()
        .map(|p| (p.p_type(e), p.p_offset(e), p.p_paddr(e), p.p_memsz(e)))
        .collect();
    let region_end = region.end().expect("ends");
    // The notes are read from their copies after the header, each with 16 zero bytes.
    let first = hdr + (bytes.len() as u64).next_multiple_of(16);
    let second = first + (0x1f4 + 16_u64).next_multiple_of(16);
    assert_eq!(
        got,
        [
            (PT_NOTE, first, 0x3ffc_f700, 0x1f4 + 16),
            (PT_NOTE, second, 0x3fd7_c540, 0x1000 + 16),
            (PT_LOAD, backup, 0, 0x9fc00),
            (PT_LOAD, 0x10_0000, 0x10_0000, region.start() - 0x10_0000),
            (PT_LOAD, region_end, region_end, 0x3ffe_0000 - region_end),
        ]
    );
}
