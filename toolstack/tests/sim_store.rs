// SPDX-License-Identifier: MIT
//! The simulated host's state file as a store (issue 28, findings 1–3 and 5): commands
//! run at once take turns, a save touches no other file, follows symlinks, keeps the
//! mode, refuses what is not a regular file, and a command that changed nothing writes
//! nothing.

use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

mod common;

const CRASH: &str = "0x20000000:0xc000000";
/// Inside the crash region, and the default image's place.
const INSIDE: u64 = 0x2000_0000;
/// Below the crash region: a crash load there is refused (EADDRNOTAVAIL).
const BELOW: u64 = 0x1000_0000;

/// A one-`PT_LOAD` x86_64 ELF image at physical `paddr`, entry at its start: 16 `hlt`s
/// in one page.
fn tiny_elf(paddr: u64) -> Vec<u8> {
    let mut e = Vec::with_capacity(0x1010);
    e.extend_from_slice(b"\x7fELF\x02\x01\x01\0\0\0\0\0\0\0\0\0");
    for half in [2u16, 62] {
        e.extend_from_slice(&half.to_le_bytes()); // e_type EXEC, e_machine X86_64
    }
    e.extend_from_slice(&1u32.to_le_bytes()); // e_version
    for word in [paddr, 64, 0] {
        e.extend_from_slice(&word.to_le_bytes()); // e_entry, e_phoff, e_shoff
    }
    e.extend_from_slice(&0u32.to_le_bytes()); // e_flags
    for half in [64u16, 56, 1, 64, 0, 0] {
        e.extend_from_slice(&half.to_le_bytes());
    }
    e.extend_from_slice(&1u32.to_le_bytes()); // PT_LOAD
    e.extend_from_slice(&5u32.to_le_bytes()); // R X
    for word in [0x1000, paddr, paddr, 0x10, 0x1000, 0x1000] {
        e.extend_from_slice(&u64::to_le_bytes(word));
    }
    e.resize(0x1000, 0);
    e.extend_from_slice(&[0xf4; 16]);
    e
}

struct Dir {
    dir: tempfile::TempDir,
}

impl Dir {
    fn new() -> Dir {
        let d = Dir {
            dir: tempfile::tempdir().expect("tempdir"),
        };
        std::fs::write(d.path("in.elf"), tiny_elf(INSIDE)).expect("write image");
        std::fs::write(d.path("below.elf"), tiny_elf(BELOW)).expect("write image");
        d
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    fn command(&self, args: &[&str]) -> Command {
        let mut c = Command::new(env!("CARGO_BIN_EXE_xen-kexec"));
        c.args(args)
            .env("XEN_KEXEC_STATE_DIR", self.path("records"));
        c
    }

    fn run(&self, args: &[&str]) -> Output {
        self.command(args).output().expect("xen-kexec runs")
    }

    /// `sim init NAME`.
    fn init(&self, name: &str) -> PathBuf {
        let p = self.path(name);
        ok(&self.run(&["sim", "init", &s(&p), "--crash-region", CRASH]));
        p
    }

    /// `--backend sim:STATE ARGS...`
    fn on(&self, state: &Path, args: &[&str]) -> Output {
        let backend = format!("sim:{}", state.display());
        self.run(&[&["--backend", &backend], args].concat())
    }

    /// A load of `image` (`in.elf`, `below.elf`) as `type_`.
    fn load(&self, state: &Path, type_: &str, image: &str) -> Output {
        self.on(
            state,
            &["load", "--type", type_, "--elf", &s(&self.path(image))],
        )
    }

    fn status(&self, state: &Path, type_: &str) -> String {
        ok(&self.on(state, &["status", "--type", type_]))
            .trim()
            .to_owned()
    }
}

fn s(p: &Path) -> String {
    p.display().to_string()
}

fn ok(out: &Output) -> String {
    assert_eq!(
        out.status.code(),
        Some(0),
        "stderr: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout.clone()).expect("utf-8")
}

/// The files in `dir`, sorted.
fn names(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir)
        .expect("read dir")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .collect();
    v.sort();
    v
}

#[test]
fn a_save_leaves_an_unrelated_tmp_file_beside_the_state_alone() {
    let d = Dir::new();
    let state = d.init("h.json");
    std::fs::write(d.path("h.tmp"), "someone else's").expect("write");
    ok(&d.load(&state, "crash", "in.elf"));
    ok(&d.on(&state, &["unload", "--type", "crash"]));
    assert_eq!(
        std::fs::read_to_string(d.path("h.tmp")).expect("h.tmp survives"),
        "someone else's"
    );
    // No temporary file is left either.
    assert_eq!(
        names(d.dir.path()),
        ["below.elf", "h.json", "h.tmp", "in.elf"]
    );
}

#[test]
fn a_state_named_s_tmp_is_replaced_whole_not_written_in_place() {
    let d = Dir::new();
    let state = d.init("s.tmp");
    let before = std::fs::metadata(&state).expect("state").ino();
    ok(&d.load(&state, "default", "in.elf"));
    assert_eq!(d.status(&state, "default"), "loaded");
    // Written in place, the inode would stay: a kill there leaves a truncated file.
    assert_ne!(std::fs::metadata(&state).expect("state").ino(), before);
}

#[test]
fn a_symlinked_state_updates_its_target_and_stays_a_symlink() {
    let d = Dir::new();
    let real = d.init("real.json");
    let link = d.path("link.json");
    std::os::unix::fs::symlink("real.json", &link).expect("symlink");
    ok(&d.load(&link, "crash", "in.elf"));
    assert!(std::fs::symlink_metadata(&link)
        .expect("link")
        .file_type()
        .is_symlink());
    assert_eq!(d.status(&real, "crash"), "loaded");
    assert_eq!(
        names(d.dir.path()),
        ["below.elf", "in.elf", "link.json", "real.json"]
    );
}

#[test]
fn a_device_or_fifo_as_the_state_is_refused_at_once() {
    let d = Dir::new();
    let fifo = d.path("fifo");
    assert!(Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .expect("mkfifo")
        .success());
    let cases: [(&str, Vec<String>, &str); 4] = [
        ("/dev/zero", status_args("/dev/zero"), "a character device"),
        ("fifo", status_args(&s(&fifo)), "a FIFO"),
        (
            "fifo",
            vec!["sim", "init", &s(&fifo), "--crash-region", CRASH]
                .into_iter()
                .map(String::from)
                .collect(),
            "a FIFO",
        ),
        (
            "fifo",
            [
                "sim",
                "dump",
                &s(&fifo),
                "--type",
                "crash",
                "--maddr",
                "0",
                "--len",
                "1",
            ]
            .map(String::from)
            .to_vec(),
            "a FIFO",
        ),
    ];
    for (name, args, kind) in cases {
        let out = within(d.command(&args.iter().map(String::as_str).collect::<Vec<_>>()));
        let err = common::failed(&out, 2);
        assert!(
            err.contains(&format!("is {kind}, not a regular file")),
            "{args:?}: {err}"
        );
        assert!(err.contains(name), "{err}");
    }
    // The FIFO is still a FIFO (a save would have renamed a file over it).
    assert!(std::os::unix::fs::FileTypeExt::is_fifo(
        &std::fs::symlink_metadata(&fifo).expect("fifo").file_type()
    ));
}

fn status_args(state: &str) -> Vec<String> {
    vec![
        "--backend".into(),
        format!("sim:{state}"),
        "status".into(),
        "--type".into(),
        "crash".into(),
    ]
}

/// Runs `command` with its stdio captured, killed after 10 s: a test fails instead of
/// hanging.
pub(crate) fn within(mut command: Command) -> Output {
    let mut child: Child = command
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn");
    let deadline = Instant::now() + Duration::from_secs(10);
    while child.try_wait().expect("wait").is_none() {
        if Instant::now() > deadline {
            child.kill().expect("kill");
            panic!("{command:?} blocked for 10 s");
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    child.wait_with_output().expect("output")
}

#[test]
fn a_save_keeps_the_state_files_mode() {
    let d = Dir::new();
    for mode in [0o444, 0o640, 0o604] {
        let state = d.init(&format!("m{mode:o}.json"));
        std::fs::set_permissions(&state, std::fs::Permissions::from_mode(mode)).expect("chmod");
        ok(&d.load(&state, "crash", "in.elf"));
        assert_eq!(d.status(&state, "crash"), "loaded");
        let now = std::fs::metadata(&state)
            .expect("state")
            .permissions()
            .mode()
            & 0o7777;
        assert_eq!(now, mode, "{mode:o}");
    }
}

#[test]
fn a_refused_load_or_a_status_writes_nothing() {
    let d = Dir::new();
    let state = d.init("h.json");
    ok(&d.load(&state, "default", "in.elf"));
    let bytes = std::fs::read(&state).expect("state");
    let meta = std::fs::metadata(&state).expect("state");
    let err = common::failed(&d.load(&state, "crash", "below.elf"), 1);
    assert!(err.contains("EADDRNOTAVAIL"), "{err}");
    assert_eq!(d.status(&state, "crash"), "not loaded");
    ok(&d.on(&state, &["get-range", "--range", "crash"]));
    let after = std::fs::metadata(&state).expect("state");
    assert_eq!(std::fs::read(&state).expect("state"), bytes);
    assert_eq!(
        (after.ino(), after.mtime(), after.mtime_nsec()),
        (meta.ino(), meta.mtime(), meta.mtime_nsec())
    );
}

/// One round of the stress test: `n` processes at once, each a load or an unload of
/// DEFAULT or CRASH. So that "the last successful operation of each type" is known
/// whatever order the lock gives them, a round draws for each type whether all its
/// operations are loads (starting unloaded) or all unloads (starting loaded): the
/// final status must then be that, and every process must succeed. A lost update
/// shows as a type left as it started; interleaved writers as a file that is not a
/// state.
fn stress_round(d: &Dir, round: u32, rng: &mut u64, n: usize) {
    let state = d.init(&format!("r{round}.json"));
    let mut loads = [false; 2];
    for (i, type_) in ["default", "crash"].into_iter().enumerate() {
        loads[i] = next(rng) & 1 == 0;
        if !loads[i] {
            ok(&d.load(&state, type_, "in.elf"));
        }
    }
    let backend = format!("sim:{}", state.display());
    let image = s(&d.path("in.elf"));
    let children: Vec<(String, Child)> = (0..n)
        .map(|_| {
            let i = usize::from(next(rng) & 1 == 0);
            let type_ = ["default", "crash"][i];
            let mut args = vec!["--backend", &backend];
            if loads[i] {
                args.extend(["load", "--type", type_, "--elf", &image]);
            } else {
                args.extend(["unload", "--type", type_]);
            }
            let child = d
                .command(&args)
                .stdout(Stdio::null())
                .stderr(Stdio::piped())
                .spawn()
                .expect("spawn");
            (args.join(" "), child)
        })
        .collect();
    for (what, child) in children {
        let out = child.wait_with_output().expect("wait");
        assert!(
            out.status.success(),
            "round {round}: {what}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let bytes = std::fs::read(&state).expect("state");
    let header = bytes.split(|&b| b == b'\n').next().expect("a header line");
    let header: serde_json::Value = serde_json::from_slice(header).expect("the header is JSON");
    let pages: u64 = header["pages"]
        .as_array()
        .expect("page counts")
        .iter()
        .map(|n| n.as_u64().expect("a count"))
        .sum();
    assert_eq!(
        bytes.len() as u64,
        header.to_string().len() as u64 + 1 + pages * (8 + 4096),
        "round {round}: the state is whole"
    );
    for (i, type_) in ["default", "crash"].into_iter().enumerate() {
        let want = if loads[i] { "loaded" } else { "not loaded" };
        assert_eq!(d.status(&state, type_), want, "round {round}: {type_}");
    }
}

/// xorshift64: a fixed sequence, so a failing round can be rerun.
fn next(state: &mut u64) -> u64 {
    *state ^= *state << 13;
    *state ^= *state >> 7;
    *state ^= *state << 17;
    *state
}

#[test]
fn fifty_concurrent_loads_and_unloads_lose_nothing_twenty_rounds() {
    let d = Dir::new();
    let mut rng = 0x2028_0051_u64;
    for round in 0..20 {
        stress_round(&d, round, &mut rng, 50);
    }
}

#[test]
fn a_fifo_where_a_file_is_expected_is_refused_at_once() {
    let d = Dir::new();
    let state = d.init("h.json");
    let fifo = d.path("fifo");
    assert!(Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .expect("mkfifo")
        .success());
    let backend = format!("sim:{}", state.display());
    let f = s(&fifo);
    let image = s(&d.path("in.elf"));
    let kernel = d.path("bzImage");
    std::fs::write(
        &kernel,
        xen_kexec_toolstack::linux::synthetic::BzImageSpec::default().build(),
    )
    .expect("write kernel");
    let kernel = s(&kernel);
    let blob = format!("{f}@0x20100000");
    let mem = format!("0x1000={f}");
    let load = ["--backend", &backend, "load", "--type", "crash"];
    let cases: Vec<Vec<&str>> = vec![
        [&load[..], &["--elf", &f]].concat(),
        [&load[..], &["--kernel", &f, "--append", "x"]].concat(),
        [
            &load[..],
            &["--kernel", &kernel, "--initrd", &f, "--append", "x"],
        ]
        .concat(),
        [&load[..], &["--elf", &image, "--blob", &blob]].concat(),
        vec![
            "decode", "--guest", "x86_64", "--cmd", "1", "--arg", "0x1000", "--mem", &mem,
        ],
    ];
    for args in cases {
        let err = common::failed(&within(d.command(&args)), 2);
        assert!(
            err.contains(&format!("{f} is a FIFO, not a regular file")),
            "{args:?}: {err}"
        );
    }
}

#[test]
fn sim_init_over_a_state_waits_for_the_command_holding_its_lock() {
    use std::io::Read as _;

    let d = Dir::new();
    let state = d.init("h.json");
    ok(&d.load(&state, "crash", "in.elf"));
    // Another command holds the state: its lock, as a load in progress has it.
    let held = std::fs::File::open(&state).expect("state");
    rustix::fs::flock(&held, rustix::fs::FlockOperation::LockExclusive).expect("lock");
    let mut init = d
        .command(&["sim", "init", &s(&state), "--crash-region", CRASH])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("xen-kexec runs");
    std::thread::sleep(Duration::from_millis(500));
    assert!(
        init.try_wait().expect("wait").is_none(),
        "sim init replaced a state another command held"
    );
    drop(held);
    let status = init.wait().expect("wait");
    let mut err = String::new();
    init.stderr
        .take()
        .expect("stderr")
        .read_to_string(&mut err)
        .expect("read");
    assert!(status.success(), "{err}");
    assert_eq!(d.status(&state, "crash"), "not loaded");
}
