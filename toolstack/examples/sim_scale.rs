// SPDX-License-Identifier: MIT
//! The simulated host at scale: loads a crash image of N MiB (default 256) through
//! `xen-kexec --backend sim:PATH` and prints the state file's size against the bytes
//! loaded, the load's peak RSS, and how long a later `status` takes.
//!
//! ```text
//! cargo build --release -p xen-kexec-toolstack --bins --examples
//! target/release/examples/sim_scale [MIB]
//! ```
//!
//! The `xen-kexec` run is the one beside this example's directory
//! (`target/release/xen-kexec`), or `$XEN_KEXEC`. The peak RSS is the child's maximum
//! resident set (`getrusage(RUSAGE_CHILDREN)`), as GNU time (`/usr/bin/time -f %M`)
//! reports it. The figures of a run are in `docs/benchmarks.md`.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

/// Where the crash region starts (256 MiB) and how big it is (512 MiB): inside the RAM
/// of the default memory map (1 GiB).
const CRASH_START: u64 = 0x1000_0000;
const CRASH_SIZE: u64 = 0x2000_0000;
/// Where the blob goes: after the ELF's page.
const BLOB_AT: u64 = CRASH_START + 0x10_0000;

fn main() {
    let mib: u64 = std::env::args()
        .nth(1)
        .map_or(256, |a| a.parse().expect("MIB: a whole number of MiB"));
    assert!(mib <= 500, "the crash region holds at most 500 MiB of blob");
    let xen_kexec = std::env::var_os("XEN_KEXEC").map_or_else(default_binary, PathBuf::from);
    let dir = tempfile::tempdir().expect("temp dir");
    let state = dir.path().join("host.state");
    let elf = dir.path().join("k.elf");
    let blob = dir.path().join("blob");
    std::fs::write(&elf, tiny_elf(CRASH_START)).expect("write the ELF");
    let blob_len = usize::try_from(mib << 20).expect("fits");
    let bytes: Vec<u8> = (0..blob_len)
        .map(|i| u8::try_from(i % 251).unwrap_or(0) | 1)
        .collect();
    std::fs::write(&blob, bytes).expect("write the blob");
    let loaded = (mib << 20) + 0x1000;

    run(Command::new(&xen_kexec).args([
        "sim",
        "init",
        &s(&state),
        "--crash-region",
        &format!("{CRASH_START:#x}:{CRASH_SIZE:#x}"),
    ]));
    let backend = format!("sim:{}", s(&state));
    let rss = dir.path().join("rss");
    let started = Instant::now();
    run(Command::new("/usr/bin/time")
        .args(["-f", "%M", "-o", &s(&rss)])
        .arg(&xen_kexec)
        .args([
            "--backend",
            &backend,
            "load",
            "--type",
            "crash",
            "--elf",
            &s(&elf),
            "--blob",
            &format!("{}@{BLOB_AT:#x}", s(&blob)),
        ]));
    let load_time = started.elapsed();
    let peak_kib: u64 = std::fs::read_to_string(&rss)
        .expect("GNU time's output")
        .trim()
        .parse()
        .expect("a number of KiB");
    let size = std::fs::metadata(&state).expect("the state").len();

    let mut status = Vec::new();
    for _ in 0..5 {
        let started = Instant::now();
        let out = run(Command::new(&xen_kexec).args([
            "--backend",
            &backend,
            "status",
            "--type",
            "crash",
        ]));
        status.push(started.elapsed());
        assert_eq!(out.trim(), "loaded");
    }
    status.sort();
    let mib_of = |b: u64| ratio(b, 1 << 20);
    println!("loaded:        {loaded} bytes ({} MiB)", mib_of(loaded));
    println!(
        "state file:    {size} bytes, {} x the bytes loaded",
        ratio(size, loaded)
    );
    println!(
        "peak RSS:      {} MiB, {} x the bytes loaded",
        mib_of(peak_kib * 1024),
        ratio(peak_kib * 1024, loaded)
    );
    println!("load time:     {}", ms(load_time));
    println!(
        "status time:   median {}, max {} (of {})",
        ms(status[status.len() / 2]),
        ms(status[status.len() - 1]),
        status.len()
    );
}

/// `target/PROFILE/xen-kexec`, beside `target/PROFILE/examples/`.
fn default_binary() -> PathBuf {
    let me = std::env::current_exe().expect("this program's path");
    me.parent()
        .and_then(Path::parent)
        .expect("target/PROFILE/examples/")
        .join("xen-kexec")
}

fn s(path: &Path) -> String {
    path.display().to_string()
}

fn ratio(a: u64, b: u64) -> String {
    // Display only: two decimals of a ratio of sizes well below 2^52.
    #[allow(clippy::cast_precision_loss)]
    let r = a as f64 / b as f64;
    format!("{r:.3}")
}

fn ms(d: Duration) -> String {
    format!("{:.1} ms", d.as_secs_f64() * 1000.0)
}

/// Runs `cmd`, which must succeed; its stdout.
fn run(cmd: &mut Command) -> String {
    let out = cmd.output().expect("run");
    assert!(
        out.status.success(),
        "{cmd:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// A 64-bit ELF executable of one page (a `hlt`) to load and enter at `phys`.
fn tiny_elf(phys: u64) -> Vec<u8> {
    let mut f = vec![0u8; 0x2000];
    let mut put = |at: usize, bytes: &[u8]| f[at..at + bytes.len()].copy_from_slice(bytes);
    put(0, b"\x7fELF\x02\x01\x01");
    put(16, &2u16.to_le_bytes()); // ET_EXEC
    put(18, &62u16.to_le_bytes()); // EM_X86_64
    put(20, &1u32.to_le_bytes());
    put(24, &phys.to_le_bytes()); // e_entry
    put(32, &64u64.to_le_bytes()); // e_phoff
    put(52, &64u16.to_le_bytes()); // e_ehsize
    put(54, &56u16.to_le_bytes()); // e_phentsize
    put(56, &1u16.to_le_bytes()); // e_phnum
    put(58, &64u16.to_le_bytes()); // e_shentsize
    put(64, &1u32.to_le_bytes()); // PT_LOAD
    put(68, &5u32.to_le_bytes()); // R X
    put(72, &0x1000u64.to_le_bytes()); // p_offset
    put(80, &phys.to_le_bytes()); // p_vaddr
    put(88, &phys.to_le_bytes()); // p_paddr
    put(96, &0x1000u64.to_le_bytes()); // p_filesz
    put(104, &0x1000u64.to_le_bytes()); // p_memsz
    put(112, &0x1000u64.to_le_bytes()); // p_align
    put(0x1000, &[0xf4]); // hlt
    f
}
