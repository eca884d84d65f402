// SPDX-License-Identifier: MIT
//! `xen-kexec` end to end over the simulated hypervisor (`--backend sim:PATH`), for both
//! dom0 kernel widths, with freestanding ELF images that gcc and ld build in the test (one
//! 32-bit, one 64-bit, linked high with physical load addresses).
//!
//! Run for the i686 target too (`cargo test --target i686-unknown-linux-gnu`), these
//! tests drive the 32-bit build of the command against the same simulated hosts.

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use object::read::elf::{FileHeader, ProgramHeader};
use serde_json::Value;

mod common;
use common::failed;

const CRASH: &str = "0x20000000:0x4000000";
const CRASH_START: u64 = 0x2000_0000;
const PAGE: u64 = 0x1000;

/// The image's source: payload bytes in .data, a bss tail, a halting entry point.
const KERNEL_C: &str = r#"
unsigned char payload[0x1234] = { 0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x88 };
unsigned char zeroed[0x2000];
void _start(void) { for (;;) __asm__ volatile("hlt"); }
"#;

/// Links .text, .data and .bss at VIRT + 0x1000.. with load addresses PHYS + 0x1000..
const KERNEL_LD: &str = r"
ENTRY(_start)
SECTIONS {
  . = VIRT + 0x1000;
  .text : AT(PHYS + 0x1000) { *(.text*) }
  .data ALIGN(0x1000) : AT(ADDR(.data) - VIRT + PHYS) { *(.data*) *(.rodata*) }
  .bss : AT(ADDR(.bss) - VIRT + PHYS) { *(.bss*) *(COMMON) }
  /DISCARD/ : { *(.note*) *(.comment) *(.eh_frame*) }
}
";

/// Which image to build.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Bits {
    B32,
    B64,
}

struct Scratch(tempfile::TempDir);

impl Scratch {
    fn new() -> Scratch {
        Scratch(tempfile::tempdir().expect("temp dir"))
    }

    fn path(&self, name: &str) -> PathBuf {
        self.0.path().join(name)
    }

    /// Builds the image for `bits`, linked to load at physical `phys`.
    fn elf(&self, bits: Bits, phys: u64) -> PathBuf {
        let src = self.path("k.c");
        let ld = self.path("k.ld");
        std::fs::write(&src, KERNEL_C).expect("write source");
        std::fs::write(&ld, KERNEL_LD).expect("write linker script");
        let out = self.path(&format!(
            "k{}-{phys:x}",
            if bits == Bits::B32 { 32 } else { 64 }
        ));
        let (machine, virt) = match bits {
            Bits::B32 => (vec!["-m32"], "0xc0000000"),
            Bits::B64 => (vec!["-m64", "-mcmodel=kernel"], "0xffffffff80000000"),
        };
        let status = Command::new("gcc")
            .args(machine)
            .args([
                "-ffreestanding",
                "-fno-pic",
                "-no-pie",
                "-nostdlib",
                "-static",
                "-O2",
            ])
            .arg(format!("-Wl,--defsym=VIRT={virt}"))
            .arg(format!("-Wl,--defsym=PHYS={phys:#x}"))
            .arg(format!("-Wl,-T,{}", ld.display()))
            .args(["-Wl,--build-id=none", "-Wl,-z,noexecstack", "-o"])
            .arg(&out)
            .arg(&src)
            .status()
            .expect("gcc (scripts/setup installs gcc-multilib)");
        assert!(status.success(), "gcc failed for {bits:?}");
        out
    }
}

fn xen_kexec(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_xen-kexec"))
        .args(args)
        .output()
        .expect("run xen-kexec")
}

/// `xen-kexec --backend sim:STATE ARGS...`
fn on(state: &Path, args: &[&str]) -> Output {
    let backend = format!("sim:{}", state.display());
    xen_kexec(&[&["--backend", &backend], args].concat())
}

/// Asserts exit 0 and returns stdout.
fn ok(out: &Output) -> String {
    assert_eq!(
        out.status.code(),
        Some(0),
        "stderr: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout.clone()).expect("utf-8")
}

fn init(dir: &Scratch, name: &str, crash: &str, kernel: &str) -> PathBuf {
    let state = dir.path(name);
    let s = state.display().to_string();
    ok(&xen_kexec(&[
        "sim",
        "init",
        &s,
        "--crash-region",
        crash,
        "--kernel",
        kernel,
    ]));
    state
}

/// What the image must find at each PT_LOAD's pages, read from the ELF file by the
/// `object` crate: the file bytes at `p_paddr`, zeros for the rest of the pages.
fn expected_pages(elf: &Path) -> Vec<(u64, Vec<u8>)> {
    let data = std::fs::read(elf).expect("read ELF");
    let mut pages = Vec::new();
    let mut add = |paddr: u64, offset: u64, filesz: u64, memsz: u64| {
        let start = paddr - paddr % PAGE;
        let end = (paddr + memsz).next_multiple_of(PAGE);
        let mut bytes = vec![0u8; usize::try_from(end - start).expect("small")];
        let at = usize::try_from(paddr - start).expect("small");
        let (off, len) = (
            usize::try_from(offset).expect("small"),
            usize::try_from(filesz).expect("small"),
        );
        bytes[at..at + len].copy_from_slice(&data[off..off + len]);
        pages.push((start, bytes));
    };
    if object::FileKind::parse(&data[..]).expect("ELF") == object::FileKind::Elf32 {
        {
            let h = object::elf::FileHeader32::<object::Endianness>::parse(&data[..]).expect("hdr");
            let e = h.endian().expect("endian");
            for ph in h.program_headers(e, &data[..]).expect("phdrs") {
                if ph.p_type(e) == object::elf::PT_LOAD {
                    add(
                        ph.p_paddr(e).into(),
                        ph.p_offset(e).into(),
                        ph.p_filesz(e).into(),
                        ph.p_memsz(e).into(),
                    );
                }
            }
        }
    } else {
        {
            let h = object::elf::FileHeader64::<object::Endianness>::parse(&data[..]).expect("hdr");
            let e = h.endian().expect("endian");
            for ph in h.program_headers(e, &data[..]).expect("phdrs") {
                if ph.p_type(e) == object::elf::PT_LOAD {
                    add(ph.p_paddr(e), ph.p_offset(e), ph.p_filesz(e), ph.p_memsz(e));
                }
            }
        }
    }
    assert_eq!(pages.len(), 2, "text and data+bss");
    pages
}

fn dump(state: &Path, maddr: u64, len: usize) -> Vec<u8> {
    let s = state.display().to_string();
    let out = xen_kexec(&[
        "sim",
        "dump",
        &s,
        "--type",
        "crash",
        "--maddr",
        &format!("{maddr:#x}"),
        "--len",
        &len.to_string(),
    ]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

/// The acceptance sequence, for one dom0 kernel width and one image.
fn crash_image_life_cycle(kernel: &str, bits: Bits) {
    let dir = Scratch::new();
    let state = init(&dir, "host.json", CRASH, kernel);
    let elf = dir.elf(bits, CRASH_START);
    let elf_s = elf.display().to_string();
    assert_eq!(
        ok(&on(&state, &["status", "--type", "crash"])),
        "not loaded\n"
    );

    let loaded = ok(&on(&state, &["load", "--type", "crash", "--elf", &elf_s]));
    assert!(
        loaded.starts_with("loaded crash image: 2 segments, entry 0x20001000"),
        "{loaded}"
    );
    assert_eq!(ok(&on(&state, &["status", "--type", "crash"])), "loaded\n");

    // What the image finds: each PT_LOAD's file bytes, then zeros to its pages' end.
    for (start, want) in expected_pages(&elf) {
        assert_eq!(dump(&state, start, want.len()), want, "pages at {start:#x}");
    }

    // Reload, then unload.
    ok(&on(&state, &["load", "--type", "crash", "--elf", &elf_s]));
    assert_eq!(ok(&on(&state, &["status", "--type", "crash"])), "loaded\n");
    ok(&on(&state, &["unload", "--type", "crash"]));
    assert_eq!(
        ok(&on(&state, &["status", "--type", "crash"])),
        "not loaded\n"
    );

    // exec without an image: the hypervisor's ENOENT, exit 1.
    let stderr = failed(&on(&state, &["exec", "--type", "crash"]), 1);
    assert!(stderr.contains("ENOENT (2): "), "{stderr}");

    // A CPU beyond the host's 4: ERANGE.
    let stderr = failed(
        &on(&state, &["get-range", "--range", "cpu", "--cpu", "4"]),
        1,
    );
    assert!(stderr.contains("ERANGE (34): "), "{stderr}");
    assert_eq!(
        ok(&on(&state, &["get-range", "--range", "crash"])),
        "start 0x20000000 size 0x4000000\n"
    );

    // The image linked outside the crash region: refused locally, naming the segment,
    // and nothing sent (the hypervisor's state is unchanged).
    let outside = dir.elf(bits, 0x1000_0000);
    let outside_s = outside.display().to_string();
    // Xen's order checks the entry first...
    let stderr = failed(
        &on(&state, &["load", "--type", "crash", "--elf", &outside_s]),
        1,
    );
    assert!(
        stderr
            .contains("EADDRNOTAVAIL (99): entry_maddr 0x10001000 is not inside the crash region"),
        "{stderr}"
    );
    // ...and with the entry inside, the first segment outside is named.
    let entry_inside = ["--entry", "0x20000000"];
    let stderr = failed(
        &on(
            &state,
            &[
                &["load", "--type", "crash", "--elf", &outside_s][..],
                &entry_inside,
            ]
            .concat(),
        ),
        1,
    );
    assert!(
        stderr.contains("EADDRNOTAVAIL (99): segment 0: destination 0x10001000"),
        "{stderr}"
    );
    let json = on(
        &state,
        &[
            &["--json", "load", "--type", "crash", "--elf", &outside_s][..],
            &entry_inside,
        ]
        .concat(),
    );
    assert_eq!(json.status.code(), Some(1));
    let v: Value = serde_json::from_slice(&json.stdout).expect("JSON refusal");
    assert_eq!(v["error"]["rule"], "CrashSegmentOutside");
    assert_eq!(v["error"]["segment"], 0);
    assert_eq!(v["error"]["local"], true);

    // Loaded again and entered: the entry mode is the image's, whatever the kernel's.
    ok(&on(&state, &["load", "--type", "crash", "--elf", &elf_s]));
    let entered = ok(&on(&state, &["exec", "--type", "crash"]));
    let mode = match bits {
        Bits::B32 => "32-bit protected mode",
        Bits::B64 => "64-bit long mode",
    };
    assert_eq!(
        entered,
        format!("entered crash image at 0x20001000 ({mode})\n")
    );
}

#[test]
fn crash_life_cycle_64_bit_kernel_64_bit_image() {
    crash_image_life_cycle("x86_64", Bits::B64);
}

#[test]
fn crash_life_cycle_64_bit_kernel_32_bit_image() {
    crash_image_life_cycle("x86_64", Bits::B32);
}

#[test]
fn crash_life_cycle_32_bit_kernel_32_bit_image() {
    crash_image_life_cycle("x86_32", Bits::B32);
}

#[test]
fn crash_life_cycle_32_bit_kernel_64_bit_image() {
    crash_image_life_cycle("x86_32", Bits::B64);
}

/// A 32-bit dom0 kernel cannot be told about a crash region above 4 GiB: get_range is
/// ERANGE (nothing truncated), and so is a crash load, which asks first. A 64-bit one
/// gets the answer.
#[test]
fn crash_region_above_4_gib_is_erange_for_a_32_bit_kernel_only() {
    let dir = Scratch::new();
    let high = "0x120000000:0x4000000";
    let s32 = init(&dir, "k32.json", high, "x86_32");
    let stderr = failed(&on(&s32, &["get-range", "--range", "crash"]), 1);
    assert!(stderr.contains("ERANGE (34): "), "{stderr}");
    let elf = dir.elf(Bits::B64, 0x1_2000_0000);
    let elf_s = elf.display().to_string();
    let stderr = failed(&on(&s32, &["load", "--type", "crash", "--elf", &elf_s]), 1);
    assert!(stderr.contains("ERANGE (34): "), "{stderr}");

    let s64 = init(&dir, "k64.json", high, "x86_64");
    assert_eq!(
        ok(&on(&s64, &["get-range", "--range", "crash"])),
        "start 0x120000000 size 0x4000000\n"
    );
    ok(&on(&s64, &["load", "--type", "crash", "--elf", &elf_s]));
}

/// `sim dump` of a type with no image is refused as exec would be: ENOENT, exit 1.
#[test]
fn sim_dump_without_an_image_is_enoent() {
    let dir = Scratch::new();
    let state = init(&dir, "empty.json", "0x20000000:0x4000000", "x86_64");
    let args = [
        "sim",
        "dump",
        &state.display().to_string(),
        "--type",
        "default",
        "--maddr",
        "0x100000",
        "--len",
        "16",
    ]
    .map(str::to_owned);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let stderr = failed(&xen_kexec(&args), 1);
    assert!(
        stderr.contains("ENOENT (2): no KEXEC_TYPE_DEFAULT image is loaded"),
        "{stderr}"
    );
}

/// `sim init --cpu-notes` gives CPU 0's notes; each later CPU's follow them, and a CPU
/// past the last is ERANGE.
#[test]
fn cpu_notes_are_the_hosts_from_sim_init() {
    let dir = Scratch::new();
    let state = dir.path("notes.json");
    let s = state.display().to_string();
    ok(&xen_kexec(&[
        "sim",
        "init",
        &s,
        "--crash-region",
        "0x20000000:0x4000000",
        "--cpus",
        "2",
        "--cpu-notes",
        "0x3ffcf700:0x200",
    ]));
    assert_eq!(
        ok(&on(&state, &["get-range", "--range", "cpu", "--cpu", "0"])),
        "start 0x3ffcf700 size 0x200\n"
    );
    assert_eq!(
        ok(&on(&state, &["get-range", "--range", "cpu", "--cpu", "1"])),
        "start 0x3ffcf900 size 0x200\n"
    );
    let stderr = failed(
        &on(&state, &["get-range", "--range", "cpu", "--cpu", "2"]),
        1,
    );
    assert!(
        stderr.contains("ERANGE (34): CPU 2 is out of range"),
        "{stderr}"
    );
}

/// `--guest auto` takes the simulated kernel's width; a forced width is the layout
/// sent, and the 32-bit layout sent to a 64-bit kernel is read as the wrong structure
/// (the kernel's 24-byte read of a 16-byte argument faults).
#[test]
fn guest_width_is_the_kernels_unless_forced() {
    let dir = Scratch::new();
    for kernel in ["x86_32", "x86_64"] {
        let state = init(&dir, &format!("{kernel}.json"), CRASH, kernel);
        let out = ok(&on(&state, &["--json", "status", "--type", "default"]));
        let v: Value = serde_json::from_str(&out).expect("JSON");
        assert_eq!(v["guest"], kernel);
    }
    let state = dir.path("x86_64.json");
    let forced = on(
        &state,
        &["--guest", "x86_32", "get-range", "--range", "crash"],
    );
    let stderr = failed(&forced, 1);
    assert!(stderr.contains("EFAULT (14): "), "{stderr}");
    ok(&on(
        &state,
        &["--guest", "x86_64", "get-range", "--range", "crash"],
    ));
}

/// --json: one object per command, addresses as "0x…" strings, enum values by name with
/// the number alongside.
#[test]
fn json_output_of_each_command() {
    let dir = Scratch::new();
    let state = init(&dir, "host.json", CRASH, "x86_64");
    let elf = dir.elf(Bits::B64, CRASH_START);
    let elf_s = elf.display().to_string();
    let json = |args: &[&str]| -> Value {
        serde_json::from_str(&ok(&on(&state, &[&["--json"], args].concat()))).expect("JSON")
    };
    let v = json(&["load", "--type", "crash", "--elf", &elf_s, "--map-low-1m"]);
    assert_eq!(v["command"], "load");
    assert_eq!(v["type"], "KEXEC_TYPE_CRASH");
    assert_eq!(v["type_value"], 1);
    assert_eq!(v["arch"], "EM_X86_64");
    assert_eq!(v["arch_value"], 62);
    assert_eq!(v["entry_maddr"], "0x20001000");
    assert_eq!(v["entry_mode"], "Long64");
    assert_eq!(v["crash_region"]["start"], "0x20000000");
    let segs = v["segments"].as_array().expect("segments");
    assert_eq!(segs.len(), 3);
    assert_eq!(segs[0]["dest_maddr"], "0x0");
    assert_eq!(segs[0]["dest_size"], "0x100000");
    assert_eq!(segs[0]["buffered"], false);
    assert_eq!(segs[2]["buf_size"], "0x1234");
    let v = json(&["status", "--type", "crash"]);
    assert_eq!(
        (v["command"].as_str(), v["loaded"].as_bool()),
        (Some("status"), Some(true))
    );
    let v = json(&["get-range", "--range", "vmcoreinfo"]);
    assert_eq!(v["range"], "KEXEC_RANGE_MA_VMCOREINFO");
    assert_eq!(v["range_value"], 6);
    assert!(v["start"].as_str().expect("hex").starts_with("0x"));
    let v = json(&["exec", "--type", "crash"]);
    assert_eq!(v["entry_maddr"], "0x20001000");
    assert_eq!(v["entry_mode"], "Long64");
    // A refusal: the error object on stdout, exit 1.
    let out = on(&state, &["--json", "unload", "--type", "crash"]);
    assert_eq!(out.status.code(), Some(1));
    let v: Value = serde_json::from_slice(&out.stdout).expect("JSON");
    assert_eq!(v["error"]["errno"], "EBUSY");
    assert_eq!(v["error"]["value"], 16);
    assert_eq!(v["error"]["rule"], "ExecInProgress");
}

/// The planner's limits and refusals, before anything is read or sent.
#[test]
fn bad_images_and_blobs_are_refused_with_their_names() {
    let dir = Scratch::new();
    let state = init(&dir, "host.json", CRASH, "x86_64");
    let elf = dir.elf(Bits::B64, CRASH_START);
    let elf_s = elf.display().to_string();
    let not_elf = dir.path("notes.txt");
    std::fs::write(&not_elf, "hello").expect("write");
    let sparse = dir.path("sparse.img");
    std::fs::File::create(&sparse)
        .and_then(|f| f.set_len(2 << 30))
        .expect("sparse");
    let blob = dir.path("initrd");
    std::fs::write(&blob, [0xab; 0x1800]).expect("write");
    let cases: Vec<(Vec<String>, i32, &str)> = vec![
        (
            vec!["--elf".into(), not_elf.display().to_string()],
            2,
            "not an ELF file",
        ),
        (
            vec!["--elf".into(), "/dev/zero".into()],
            2,
            "/dev/zero is a character device, not a regular file",
        ),
        (
            vec!["--elf".into(), sparse.display().to_string()],
            2,
            "sparse.img is 2147483648 bytes",
        ),
        (
            vec![
                "--elf".into(),
                elf_s.clone(),
                "--blob".into(),
                format!("{}@0x20002800", blob.display()),
            ],
            2,
            "overlap",
        ),
        (
            vec![
                "--elf".into(),
                elf_s.clone(),
                "--blob".into(),
                format!("{}@0xfffffffffffff000", blob.display()),
            ],
            2,
            "runs past the top of the address space",
        ),
    ];
    for (args, code, want) in cases {
        let mut all = vec!["load", "--type", "crash"];
        all.extend(args.iter().map(String::as_str));
        let stderr = failed(&on(&state, &all), code);
        assert!(stderr.contains(want), "{args:?}: {stderr}");
    }
    // A blob in the region loads, after the image's pages.
    let out = ok(&on(
        &state,
        &[
            "load",
            "--type",
            "crash",
            "--elf",
            &elf_s,
            "--blob",
            &format!("{}@0x20010000", blob.display()),
        ],
    ));
    assert!(out.contains("3 segments"), "{out}");
    assert_eq!(dump(&state, 0x2001_0000, 0x1800), vec![0xab; 0x1800]);
}

/// The 16-segment rule: a plan of 16 segments is refused locally unless
/// --allow-16-segments (the simulated hypervisor, built on this project, takes 16).
#[test]
fn sixteen_segments_need_allow_16_segments() {
    let dir = Scratch::new();
    let state = init(&dir, "host.json", CRASH, "x86_64");
    let elf = dir.elf(Bits::B64, CRASH_START);
    let mut args: Vec<String> = ["load", "--type", "crash", "--elf"]
        .map(String::from)
        .to_vec();
    args.push(elf.display().to_string());
    // 2 PT_LOADs + 14 one-page blobs = 16 segments.
    for i in 0..14u64 {
        let blob = dir.path(&format!("blob{i}"));
        std::fs::write(&blob, [u8::try_from(i).expect("small"); 16]).expect("write");
        args.push("--blob".into());
        args.push(format!(
            "{}@{:#x}",
            blob.display(),
            0x2010_0000 + i * 2 * PAGE
        ));
    }
    let refs: Vec<&str> = args.iter().map(String::as_str).collect();
    let stderr = failed(&on(&state, &refs), 1);
    assert!(
        stderr.contains("EINVAL (22): the image needs 16 segments"),
        "{stderr}"
    );
    assert!(stderr.contains("--allow-16-segments"), "{stderr}");
    let mut allowed = refs.clone();
    allowed.push("--allow-16-segments");
    let out = ok(&on(&state, &allowed));
    assert!(out.contains("16 segments"), "{out}");
}

/// A full stdout (/dev/full) or a closed pipe: a message naming stdout, exit 2.
#[test]
fn full_or_closed_stdout_is_a_clear_error() {
    let dir = Scratch::new();
    let state = init(&dir, "host.json", CRASH, "x86_64");
    let elf = dir.elf(Bits::B64, CRASH_START);
    ok(&on(
        &state,
        &[
            "load",
            "--type",
            "crash",
            "--elf",
            &elf.display().to_string(),
        ],
    ));
    let s = state.display().to_string();
    let full = std::fs::OpenOptions::new()
        .write(true)
        .open("/dev/full")
        .expect("/dev/full");
    let out = Command::new(env!("CARGO_BIN_EXE_xen-kexec"))
        .args([
            "--backend",
            &format!("sim:{s}"),
            "status",
            "--type",
            "crash",
        ])
        .stdout(full)
        .output()
        .expect("runs");
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("cannot write to stdout"), "{stderr}");

    let mut child = Command::new(env!("CARGO_BIN_EXE_xen-kexec"))
        .args([
            "sim",
            "dump",
            &s,
            "--type",
            "crash",
            "--maddr",
            "0x20000000",
            "--len",
            "0x1000000",
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("runs");
    drop(child.stdout.take()); // the reader goes away
    let out = child.wait_with_output().expect("waits");
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("cannot write to stdout") && stderr.contains("pipe"),
        "{stderr}"
    );
}

/// A crash region that ends exactly at 2^64 is a region, not "no region".
#[test]
fn crash_region_ending_at_2_pow_64_is_valid() {
    let dir = Scratch::new();
    let state = init(&dir, "top.json", "0xfffffffff0000000:0x10000000", "x86_64");
    assert_eq!(
        ok(&on(&state, &["get-range", "--range", "crash"])),
        "start 0xfffffffff0000000 size 0x10000000\n"
    );
    let elf = dir.elf(Bits::B64, 0xffff_ffff_f000_0000);
    ok(&on(
        &state,
        &[
            "load",
            "--type",
            "crash",
            "--elf",
            &elf.display().to_string(),
        ],
    ));
    assert_eq!(ok(&on(&state, &["status", "--type", "crash"])), "loaded\n");
    // The region's last page, up to 2^64 itself, can be dumped: zeros, nothing loaded there.
    assert_eq!(
        dump(&state, 0xffff_ffff_ffff_f000, 0x1000),
        vec![0u8; 0x1000]
    );
}

/// Without /dev/xen/privcmd (as here), the privcmd backend says so plainly, exit 3; the
/// 32-bit build says first that a 64-bit build is needed on this 64-bit kernel.
#[test]
fn privcmd_without_xen_is_no_interface() {
    let stderr = failed(&xen_kexec(&["status", "--type", "crash"]), 3);
    if cfg!(target_pointer_width = "32") {
        assert!(
            stderr.contains("a 64-bit build of xen-kexec is needed"),
            "{stderr}"
        );
    } else {
        assert!(
            stderr
                .contains("/dev/xen/privcmd does not exist: this is not a Xen domain with privcmd"),
            "{stderr}"
        );
    }
}

/// Usage errors exit 2 naming the value.
#[test]
fn bad_command_lines_exit_2() {
    for (args, want) in [
        (
            &["--backend", "xen", "status", "--type", "crash"][..],
            "`xen`",
        ),
        (
            &[
                "--backend",
                "sim:/nonexistent/x.json",
                "status",
                "--type",
                "crash",
            ][..],
            "/nonexistent/x.json",
        ),
        (&["status", "--type", "both"][..], "both"),
        (
            &["get-range", "--range", "cpu", "--cpu", "-0x80000001"][..],
            "-0x80000001",
        ),
        (
            &[
                "sim",
                "init",
                "/tmp/never",
                "--crash-region",
                "0xffffffffffffffff:2",
            ][..],
            "past the top",
        ),
    ] {
        let out = xen_kexec(args);
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(stderr.contains(want), "{args:?}: {stderr}");
    }
}

/// `memory-map` prints the simulated machine's default map, one range a line, for both
/// dom0 kernel widths.
#[test]
fn memory_map_prints_the_default_map_in_both_widths() {
    let dir = Scratch::new();
    for kernel in ["x86_32", "x86_64"] {
        let state = init(&dir, &format!("mm-{kernel}"), CRASH, kernel);
        let text = ok(&on(&state, &["memory-map"]));
        assert_eq!(
            text,
            "[0x0000000000000000-0x000000000009fbff] RAM\n\
             [0x000000000009fc00-0x000000000009ffff] reserved\n\
             [0x00000000000f0000-0x00000000000fffff] reserved\n\
             [0x0000000000100000-0x000000003ffdffff] RAM\n\
             [0x000000003ffe0000-0x000000003fffffff] reserved\n\
             [0x00000000fffc0000-0x00000000ffffffff] reserved\n",
            "{kernel}"
        );
    }
}

/// `sim init --memory-map` sets the map `memory-map --json` reads back, 64-bit values as
/// hex strings, kinds by name and number; a map of more than 127 entries (the first
/// buffer of 128 is too small for Xen) comes back whole.
#[test]
fn memory_map_json_reads_back_the_map_given_to_sim_init() {
    let dir = Scratch::new();
    let state = dir.path("mm.json");
    let s = state.display().to_string();
    let spec = "0:0x9fc00:ram,0x100000:0x7ff00000:ram,0xfec00000:0x1000:reserved,\
                0x100000000:0x40000000:acpi,0x140000000:0x1000:nvs,0x140001000:0x1000:0x7";
    ok(&xen_kexec(&[
        "sim",
        "init",
        &s,
        "--crash-region",
        CRASH,
        "--memory-map",
        spec,
    ]));
    let json: Value =
        serde_json::from_str(&ok(&on(&state, &["--json", "memory-map"]))).expect("JSON");
    assert_eq!(json["command"], "memory-map");
    assert_eq!(json["guest"], "x86_64");
    let ranges = json["ranges"].as_array().expect("ranges");
    assert_eq!(ranges.len(), 6);
    assert_eq!(ranges[1]["start"], "0x100000");
    assert_eq!(ranges[1]["size"], "0x7ff00000");
    assert_eq!(ranges[1]["type"], 1);
    assert_eq!(ranges[1]["kind"], "RAM");
    assert_eq!(ranges[3]["start"], "0x100000000");
    assert_eq!(ranges[3]["kind"], "ACPI");
    assert_eq!(ranges[4]["kind"], "NVS");
    assert_eq!(
        (&ranges[5]["type"], &ranges[5]["kind"]),
        (&7.into(), &"type 7".into())
    );

    let big: Vec<String> = (0..200u64)
        .map(|i| format!("{:#x}:0x1000:ram", i << 20))
        .collect();
    ok(&xen_kexec(&[
        "sim",
        "init",
        &s,
        "--crash-region",
        CRASH,
        "--kernel",
        "x86_32",
        "--memory-map",
        &big.join(","),
    ]));
    let text = ok(&on(&state, &["memory-map"]));
    assert_eq!(text.lines().count(), 200);
    assert_eq!(
        text.lines().last(),
        Some("[0x000000000c700000-0x000000000c700fff] RAM")
    );
}

/// A bad `--memory-map` is refused with exit status 2, naming the entry (or, for an
/// order the simulated host refuses, its index), and no state is written.
#[test]
fn a_bad_memory_map_spec_is_refused_naming_the_value() {
    let dir = Scratch::new();
    let state = dir.path("bad.json");
    let s = state.display().to_string();
    let cases = [
        (
            "0:0x1000:ram,0x2000:0x1000:rom",
            "entry `0x2000:0x1000:rom`: KIND is not an e820 type",
        ),
        (
            "0:0x1000:ram,0x2000:0:ram",
            "entry `0x2000:0:ram`: the entry is empty",
        ),
        ("0:0x1000", "entry `0:0x1000`: is not START:SIZE:KIND"),
        ("0:zz:ram", "entry `0:zz:ram`: SIZE is not a number"),
        (
            "0xffffffffffff0000:0x20000:reserved",
            "entry `0xffffffffffff0000:0x20000:reserved`: the entry runs past the top",
        ),
        ("", "the map has no entries"),
        (
            "0x1000:0x1000:ram,0:0x1000:ram",
            "memory map entry 1 overlaps the entry before it or is out of order",
        ),
    ];
    for (spec, want) in cases {
        let out = xen_kexec(&[
            "sim",
            "init",
            &s,
            "--crash-region",
            CRASH,
            "--memory-map",
            spec,
        ]);
        let stderr = failed(&out, 2);
        assert!(stderr.contains(want), "{spec}: {stderr}");
        assert!(!state.exists(), "{spec}: nothing written");
    }
}

/// `len` bytes that are never a whole page of zeros.
fn busy_bytes(len: usize) -> Vec<u8> {
    (0..len)
        .map(|i| u8::try_from(i % 251).unwrap_or(0) | 1)
        .collect()
}

/// Loads a crash image with a blob of `blob_len` bytes at 0x2010_0000 and returns the
/// state file's size.
fn load_with_blob(dir: &Scratch, state: &Path, blob_len: usize) -> u64 {
    let elf = dir.elf(Bits::B64, CRASH_START);
    let blob = dir.path("big.blob");
    std::fs::write(&blob, busy_bytes(blob_len)).expect("write blob");
    ok(&on(
        state,
        &[
            "load",
            "--type",
            "crash",
            "--elf",
            &elf.display().to_string(),
            "--blob",
            &format!("{}@0x20100000", blob.display()),
        ],
    ));
    std::fs::metadata(state).expect("state").len()
}

#[test]
fn a_16_mib_load_costs_its_bytes_of_state_and_status_reads_no_pages() {
    let dir = Scratch::new();
    let state = init(&dir, "h.state", CRASH, "x86_64");
    let len = 16 << 20;
    let size = load_with_blob(&dir, &state, len);
    // The image's own pages (a few) and the header: a small constant.
    assert!(
        size <= len as u64 * 105 / 100 + 0x10_0000,
        "{size} bytes of state for {len} bytes loaded"
    );
    assert_eq!(dump(&state, 0x2010_0000, 0x1000), busy_bytes(0x1000));
    // Damage the pages, keeping the header line: status still answers, since it reads
    // only the header; what needs the bytes says they are damaged.
    let mut bytes = std::fs::read(&state).expect("state");
    let header = bytes.iter().position(|&b| b == b'\n').expect("header line") + 1;
    bytes.truncate(header + 100);
    std::fs::write(&state, &bytes).expect("damage");
    assert_eq!(
        ok(&on(&state, &["status", "--type", "crash"])).trim(),
        "loaded"
    );
    let out = xen_kexec(&[
        "sim",
        "dump",
        &state.display().to_string(),
        "--type",
        "crash",
        "--maddr",
        "0x20100000",
        "--len",
        "16",
    ]);
    assert_ne!(out.status.code(), Some(0));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("pages end early"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn unloading_frees_the_pages_so_the_state_file_does_not_grow_across_cycles() {
    let dir = Scratch::new();
    let state = init(&dir, "h.state", CRASH, "x86_64");
    let empty = std::fs::metadata(&state).expect("state").len();
    let mut sizes = Vec::new();
    for _ in 0..3 {
        sizes.push(load_with_blob(&dir, &state, 1 << 20));
        ok(&on(&state, &["unload", "--type", "crash"]));
        assert_eq!(std::fs::metadata(&state).expect("state").len(), empty);
    }
    assert!(sizes.windows(2).all(|w| w[0] == w[1]), "{sizes:?}");
}

#[test]
fn a_format_1_state_with_hex_pages_still_loads_and_is_saved_as_format_2() {
    let dir = Scratch::new();
    let state = init(&dir, "h.state", CRASH, "x86_64");
    load_with_blob(&dir, &state, 0x3000);
    let want = dump(&state, 0x2010_0000, 0x3000);
    // Rewrite it as format 1: all JSON, the pages hex strings keyed by address.
    let bytes = std::fs::read(&state).expect("state");
    let at = bytes.iter().position(|&b| b == b'\n').expect("header line");
    let mut v: Value = serde_json::from_slice(&bytes[..at]).expect("header");
    let counts: Vec<u64> = v["pages"]
        .as_array()
        .expect("counts")
        .iter()
        .map(|n| n.as_u64().expect("count"))
        .collect();
    assert_eq!(counts[1..], [0, 0], "a crash load stages nothing");
    let mut machine = serde_json::Map::new();
    for record in bytes[at + 1..].chunks(8 + 4096) {
        let addr = u64::from_le_bytes(record[..8].try_into().expect("address"));
        let hex: String = record[8..]
            .iter()
            .flat_map(|b| [b >> 4, b & 0xf])
            .map(|d| char::from_digit(u32::from(d), 16).expect("a digit"))
            .collect();
        machine.insert(addr.to_string(), Value::String(hex));
    }
    assert_eq!(machine.len() as u64, counts[0]);
    v["sim"]["host"]["machine"] = Value::Object(machine);
    v["format"] = Value::String("xen-kexec-sim 1".into());
    v.as_object_mut().expect("object").remove("pages");
    std::fs::write(&state, serde_json::to_vec(&v).expect("JSON")).expect("write");

    assert_eq!(
        ok(&on(&state, &["status", "--type", "crash"])).trim(),
        "loaded"
    );
    assert_eq!(dump(&state, 0x2010_0000, 0x3000), want);
    let text = std::fs::read(&state).expect("state");
    assert!(
        text.starts_with(b"{") && !text.contains(&b'\n'),
        "unchanged: still format 1"
    );
    // A change saves it as format 2, with the same bytes.
    load_with_blob(&dir, &state, 0x3000);
    let bytes = std::fs::read(&state).expect("state");
    let at = bytes.iter().position(|&b| b == b'\n').expect("header line");
    let v: Value = serde_json::from_slice(&bytes[..at]).expect("header");
    assert_eq!(v["format"], "xen-kexec-sim 2");
    assert_eq!(dump(&state, 0x2010_0000, 0x3000), want);
}

/// The `VmHWM` (peak resident set) of process `pid` in bytes, while it runs.
fn peak_rss(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib * 1024)
}

#[test]
fn a_48_mib_load_peaks_near_one_copy_of_its_bytes_not_two() {
    let dir = Scratch::new();
    let state = init(&dir, "h.state", CRASH, "x86_64");
    let len: u64 = 48 << 20;
    let elf = dir.elf(Bits::B64, CRASH_START);
    let blob = dir.path("big.blob");
    std::fs::write(&blob, busy_bytes(48 << 20)).expect("write blob");
    let backend = format!("sim:{}", state.display());
    let mut load = Command::new(env!("CARGO_BIN_EXE_xen-kexec"))
        .args(["--backend", &backend, "load", "--type", "crash", "--elf"])
        .arg(&elf)
        .args(["--blob", &format!("{}@0x20100000", blob.display())])
        .stdout(Stdio::null())
        .spawn()
        .expect("run xen-kexec");
    // The high-water mark only grows: the last one read before the process ends is at
    // most its peak, and it is read while the pages are written out, after the copy.
    let mut seen = 0;
    while load.try_wait().expect("wait").is_none() {
        seen = seen.max(peak_rss(load.id()).unwrap_or(0));
        std::thread::sleep(std::time::Duration::from_millis(1));
    }
    assert!(load.wait().expect("wait").success());
    assert!(
        seen >= len,
        "saw a peak of {seen} bytes: the load was not watched"
    );
    // The source read into the simulated dom0's buffer and the machine memory it is
    // copied to are both the load's size: held whole together, the peak is 2 × it.
    assert!(
        seen <= len * 3 / 2,
        "a load of {len} bytes peaked at {seen} bytes of RSS"
    );
    assert_eq!(dump(&state, 0x2010_0000, 0x1000), busy_bytes(0x1000));
    let tail = 0x2010_0000 + len - 0x1000;
    let want = busy_bytes(48 << 20);
    assert_eq!(dump(&state, tail, 0x1000), want[want.len() - 0x1000..]);
}
