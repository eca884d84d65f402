// SPDX-License-Identifier: MIT
//! The kdump boot (issue 26): Xen with a 192 MiB crash region; dom0 writes a marker into
//! its memory, loads Debian's kernel as the crash kernel with `xen-kexec load --type crash
//! --kernel … --initrd …`, checks `status`, and crashes with sysrq-c. Xen executes the
//! crash image; the purgatory saves low memory and enters the crash kernel, whose init
//! runs `vmcore-check` on `/proc/vmcore` and reports (`@@VMCORE` lines).
//!
//! The verdict: the ELF header; the notes (CORE with NT_PRSTATUS, Xen's, VMCOREINFO_XEN);
//! one `PT_LOAD` per RAM range outside the crash region, as `memory-map` reported it in
//! dom0; dom0's marker found in a `PT_LOAD`; no `Exceeded p_memsz` from the crash kernel.
//!
//! Side by side (issue 26, item 6), in a boot of its own ([`COMPARE_BOOT`]) on the same
//! machine: dom0 runs Debian's `kexec -p` on the same kernel, initrd and command line,
//! then `kexec -p -u`, then `xen-kexec`'s release build loads, checks and unloads the
//! same crash image; each step is timed, and the two load times are printed with their
//! ratio (information, not a test: only the commands must exit 0). Not in the kdump boot
//! itself: kexec-tools' image stays in the crash region after its unload, and the crash
//! kernel takes the region as its RAM; the dump check should judge `xen-kexec`'s image
//! alone. (With the comparison in the kdump boot the crash kernel warned `Exceeded
//! p_memsz` in 5 of 8 boots, without it in 3 of 8: the garbage note headers were mostly
//! kernel pointers, so kexec-tools' bytes are at most one cause.)

use std::fmt::Write as _;
use std::time::Duration;

use crate::cpio::Archive;
use crate::debian::KEXEC;
use crate::dom0::{quote, Dom0Step, IMAGES_DIR, MARK};
use crate::machine::{Machine, Region, MIB};
use crate::scenario::Build;

/// The boot's name.
pub const BOOT: &str = "kdump";
/// The boot that times kexec-tools' crash load against `xen-kexec`'s, with no crash.
pub const COMPARE_BOOT: &str = "kdump-vs-kexec-tools";
/// The harness's own check: the same boot with `elfcorehdr=` left off the crash kernel's
/// command line (`--test-no-elfcorehdr`) must fail.
pub const NO_ELFCOREHDR_BOOT: &str = "kdump-no-elfcorehdr";
/// The crash kernel's initrd in dom0's initramfs.
pub const INITRD: &str = "crash-initrd.cpio";
/// The machine: as every boot's, with a crash region a distribution kernel fits in.
pub fn machine(base: &Machine) -> Machine {
    Machine {
        crash: Region {
            start: 512 * MIB,
            size: 192 * MIB,
        },
        ..*base
    }
}
/// The crash kernel's command line (kdump's usual, and the console).
pub const APPEND: &str =
    "console=ttyS0,115200 irqpoll maxcpus=1 reset_devices rdinit=/init panic=-1";
/// The line `vmcore-check` starts each report with.
pub const VMCORE: &str = "@@VMCORE ";
/// The crash kernel's warning that a note ran past its `PT_NOTE`.
pub const EXCEEDED: &str = "Exceeded p_memsz";

/// The serial lines whose first appearance times the phases.
pub const PHASES: [(&str, &str); 5] = [
    ("dom0 ready", "@@RX 1 init"),
    ("loaded", "/status "),
    ("Xen executes the crash image", "Executing kexec image"),
    ("crash kernel's first line", "Linux version"),
    ("vmcore checked", "@@VMCORE done"),
];

/// The crash kernel's initrd: busybox, `vmcore-check`, and an `/init` that runs it and
/// powers off.
///
/// # Errors
/// A file too large for the archive.
pub fn initrd(busybox: &[u8], vmcore_check: &[u8]) -> Result<Vec<u8>, String> {
    let init = "#!/bin/busybox sh\n\
         /bin/busybox mount -t proc proc /proc\n\
         /bin/busybox mount -t sysfs sysfs /sys\n\
         /bin/vmcore-check\n\
         /bin/busybox poweroff -f\n";
    let mut a = Archive::new();
    for dir in ["bin", "proc", "sys", "dev"] {
        a.dir(dir).map_err(|e| e.to_string())?;
    }
    a.file("bin/busybox", busybox, true)
        .map_err(|e| e.to_string())?;
    a.file("bin/vmcore-check", vmcore_check, true)
        .map_err(|e| e.to_string())?;
    a.file("init", init.as_bytes(), true)
        .map_err(|e| e.to_string())?;
    Ok(a.finish())
}

/// dom0's shell lines before the steps: a marker of its own, written many times into
/// its memory (a file of its initramfs), and said on the console.
pub const BEFORE: &str = "ln -s /bin/xen-kexec /bin/kexec\n\
marker=\"XKDUMP-$(cat /proc/sys/kernel/random/uuid)\"\n\
i=0; while [ $i -lt 256 ]; do echo \"$marker\"; i=$((i + 1)); done > /tmp/marker\n\
say marker \"$marker\"\n";

/// Where the kdump boot packs `xen-kexec`'s release build (path in dom0's root).
pub const RELEASE_BIN: &str = "bin/xen-kexec-release";

/// dom0's shell line that makes the release build the `xen-kexec` the steps run, so that
/// the load timed against kexec-tools (C, `-O2`) is the optimised one users run.
pub fn use_release_build() -> String {
    format!(
        "cp /{RELEASE_BIN} /bin/{} || fatal 'cp /{RELEASE_BIN} failed'\n",
        Build::X86_64.dom0_name()
    )
}

/// The step that runs Debian's `kexec -p` (its id is `BOOT/KEXEC_TOOLS_LOAD`).
pub const KEXEC_TOOLS_LOAD: &str = "kexec-tools-load";
/// The step that runs Debian's `kexec -p -u`.
pub const KEXEC_TOOLS_UNLOAD: &str = "kexec-tools-unload";

/// dom0's shell lines that load and unload the crash kernel with Debian's kexec-tools,
/// for `boot`, to run before `xen-kexec`'s steps. kexec-tools takes itself for a Xen dom0
/// only when `/proc/xen` exists, so xenfs is mounted there. A failed load or unload stops
/// the boot: two crash loads without an unload between them can panic Xen.
pub fn kexec_tools_lines(boot: &str) -> String {
    let step = |name: &str, args: &[String]| {
        let words: Vec<String> = args.iter().map(|a| quote(a)).collect();
        format!(
            "step {} {KEXEC} {}\n",
            quote(&format!("{boot}/{name}")),
            words.join(" ")
        )
    };
    let load = [
        "-p".to_owned(),
        format!("{IMAGES_DIR}/{}", crate::linux::KERNEL),
        format!("--initrd={IMAGES_DIR}/{INITRD}"),
        format!("--append={APPEND}"),
    ];
    format!(
        "mount -t xenfs xenfs /proc/xen || fatal 'mount -t xenfs xenfs /proc/xen failed'\n\
         {}\
         [ \"$rc\" = 0 ] || fatal \"kexec -p exited $rc: xen-kexec's load not tried over what it left\"\n\
         {}\
         [ \"$rc\" = 0 ] || fatal \"kexec -p -u exited $rc: a second crash load without an unload can panic Xen\"\n",
        step(KEXEC_TOOLS_LOAD, &load),
        step(KEXEC_TOOLS_UNLOAD, &["-p".to_owned(), "-u".to_owned()]),
    )
}

/// The load-time comparison line: `xen-kexec`'s crash load and kexec-tools' (or why
/// kexec-tools was not measured), their ratio, and the crash-to-crash-kernel time of
/// `xen-kexec`'s image in the kdump boot (its phases' third and fourth marks).
pub fn load_times(
    xen_kexec_ms: Option<u64>,
    kexec_tools_ms: Result<u64, String>,
    phase_times: &[Option<Duration>],
) -> String {
    let ours = xen_kexec_ms.map_or_else(
        || "(release build, digests on) no time reported".to_owned(),
        |x| format!("(release build, digests on) {x} ms"),
    );
    let mut s = match (xen_kexec_ms, kexec_tools_ms) {
        (Some(x), Ok(k)) if k > 0 => format!(
            "crash load: xen-kexec {ours}, kexec-tools {k} ms, ratio {:.2} (xen-kexec / \
             kexec-tools; the goal is at most 0.50)",
            ms_ratio(x, k)
        ),
        (_, Ok(k)) => format!("crash load: xen-kexec {ours}, kexec-tools {k} ms, no ratio"),
        (Some(_), Err(why)) => {
            format!("crash load: xen-kexec {ours}; kexec-tools NOT MEASURED ({why})")
        }
        (None, Err(why)) => format!("crash load: kexec-tools NOT MEASURED ({why})"),
    };
    if let (Some(Some(crash)), Some(Some(first))) = (phase_times.get(2), phase_times.get(3)) {
        if let Some(d) = first.checked_sub(*crash) {
            let _ = write!(
                s,
                "; crash to the crash kernel's first line {:.1} s",
                d.as_secs_f64()
            );
        }
    }
    s
}

/// `x / k` for milliseconds (each taken as at most `u32::MAX` ms, 49 days).
fn ms_ratio(x: u64, k: u64) -> f64 {
    let f = |v: u64| f64::from(u32::try_from(v).unwrap_or(u32::MAX));
    f(x) / f(k)
}

/// dom0's shell lines after the steps: the crash.
pub const AFTER: &str = "echo 1 > /proc/sys/kernel/panic\necho c > /proc/sysrq-trigger\n";

/// kdump-config's command forms, through the `kexec` link, as the kdump boot runs them:
/// (step, arguments, the exit status kexec-tools gives). A load; `-S` (1: loaded); a
/// second load (which unloads the first: two crash loads can panic Xen); `status
/// --json` of the native command, which must answer from its record; `-u` and `-S` (0:
/// not loaded); the load the crash then enters, and `-S` again.
pub fn personality_steps(kernel: &str, initrd: &str) -> Vec<(&'static str, Vec<String>, i32)> {
    let load = || {
        vec![
            "-p".to_owned(),
            format!("--command-line={APPEND}"),
            format!("--initrd={initrd}"),
            kernel.to_owned(),
        ]
    };
    let args = |a: &[&str]| a.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>();
    vec![
        ("kexec-load", load(), 0),
        ("kexec-status", args(&["-p", "-S"]), 1),
        ("kexec-reload", load(), 0),
        ("kexec-unload", args(&["-p", "-u"]), 0),
        ("kexec-status-unloaded", args(&["-p", "-S"]), 0),
        ("load", load(), 0),
        ("status", args(&["-p", "-S"]), 1),
    ]
}

/// dom0's steps for `boot`: the machine memory map, then kdump-config's forms through
/// the `kexec` link ([`personality_steps`]); for the harness's check, the native crash
/// load without `elfcorehdr=` and its status; for [`COMPARE_BOOT`] the native load, its
/// status and an unload.
pub fn dom0_steps(boot: &str) -> Vec<Dom0Step> {
    let step = |name: &str, args: &[&str]| Dom0Step {
        id: format!("{boot}/{name}"),
        build: Build::X86_64,
        args: args.iter().map(|a| (*a).to_owned()).collect(),
    };
    let kernel = format!("{IMAGES_DIR}/{}", crate::linux::KERNEL);
    let initrd = format!("{IMAGES_DIR}/{INITRD}");
    let mut steps = vec![step("memory-map", &["--json", "memory-map"])];
    if boot == NO_ELFCOREHDR_BOOT {
        steps.push(step(
            "load",
            &[
                "load",
                "--type",
                "crash",
                "--kernel",
                &kernel,
                "--initrd",
                &initrd,
                "--append",
                APPEND,
                "--test-no-elfcorehdr",
            ],
        ));
        steps.push(step("status", &["status", "--type", "crash"]));
        return steps;
    }
    if boot == COMPARE_BOOT {
        let load = [
            "load", "--type", "crash", "--kernel", &kernel, "--initrd", &initrd, "--append", APPEND,
        ];
        return vec![
            step("load", &load),
            step("status", &["status", "--type", "crash"]),
            step("unload", &["unload", "--type", "crash"]),
        ];
    }
    for (name, args, _) in personality_steps(&kernel, &initrd) {
        steps.push(Dom0Step {
            id: format!("{boot}/{name}"),
            build: Build::Kexec,
            args,
        });
        if name == "kexec-reload" {
            // The native status after two loads: from the record, which Xen's bit agrees with.
            steps.push(step(
                "record-status",
                &["--json", "status", "--type", "crash"],
            ));
        }
    }
    steps
}

/// The verdicts on kdump-config's forms ([`personality_steps`]) and on the native status
/// after two loads (`record-status`: answered from the record, loaded), by step id.
pub fn judge_personality(
    outcome: impl Fn(&str) -> Option<crate::scenario::Outcome>,
) -> Vec<(String, Result<String, String>)> {
    let mut out = Vec::new();
    for (id, args, want) in personality_steps("/images/vmlinuz", "/images/crash-initrd.cpio") {
        let result = match outcome(id) {
            Some(o) if o.rc == want => Ok(format!(
                "kexec {} exits {want}, as kexec-tools does",
                args.join(" ")
            )),
            Some(o) => Err(format!(
                "kexec {} exits {}, want {want}: {:?}",
                args.join(" "),
                o.rc,
                o.stderr
            )),
            None => Err("never ran".into()),
        };
        out.push((id.to_owned(), result));
        if id == "kexec-reload" {
            let record = outcome("record-status").map_or_else(
                || Err("never ran".to_owned()),
                |o| {
                    let v: serde_json::Value = serde_json::from_str(&o.stdout.join("\n"))
                        .map_err(|e| format!("{e}: {o:?}"))?;
                    if v["loaded"] == true && v["source"] == "record" {
                        Ok(format!(
                            "status after two loads: loaded, from the record: {v}"
                        ))
                    } else {
                        Err(format!("want loaded from the record, got {v}"))
                    }
                },
            );
            out.push(("record-status".to_owned(), record));
        }
    }
    out
}

/// What `vmcore-check` reported, and the crash kernel's warnings.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Report {
    /// `ehdr TYPE MACHINE PHNUM SIZE`.
    pub ehdr: Option<(u32, u32, u64, u64)>,
    /// Each note: name, type.
    pub notes: Vec<(String, u32)>,
    /// Each load: paddr, size.
    pub loads: Vec<(u64, u64)>,
    /// The marker found, and where.
    pub marker: Option<(String, u64)>,
    /// Whether it ran to the end.
    pub done: bool,
    /// Its error, if any.
    pub error: Option<String>,
    /// The crash kernel's `Exceeded p_memsz` warnings.
    pub exceeded: Vec<String>,
    /// The marker dom0 said it wrote.
    pub dom0_marker: Option<String>,
}

fn num(word: Option<&str>) -> Option<u64> {
    let w = word?;
    w.strip_prefix("0x")
        .map_or_else(|| w.parse().ok(), |h| u64::from_str_radix(h, 16).ok())
}

/// Reads the kdump boot's serial log.
pub fn report(log: &str) -> Report {
    let mut r = Report::default();
    for line in log.lines().map(|l| l.trim_end_matches('\r')) {
        if line.contains(EXCEEDED) {
            r.exceeded.push(line.to_owned());
        }
        if let Some(at) = line.find(&format!("{MARK} ")) {
            let mut words = line[at..].split_whitespace().skip(2);
            if words.next() == Some("marker") {
                r.dom0_marker = words.next().map(str::to_owned);
            }
        }
        let Some(at) = line.find(VMCORE) else {
            continue;
        };
        let mut w = line[at + VMCORE.len()..].split_whitespace();
        match w.next() {
            Some("ehdr") => {
                let v: Vec<u64> = w.filter_map(|x| num(Some(x))).collect();
                if let [t, m, n, s] = v[..] {
                    r.ehdr = Some((
                        u32::try_from(t).unwrap_or(0),
                        u32::try_from(m).unwrap_or(0),
                        n,
                        s,
                    ));
                }
            }
            Some("note") => {
                if let (Some(name), Some(t)) = (w.next(), num(w.next())) {
                    r.notes.push((
                        name.trim_end_matches('\0').to_owned(),
                        u32::try_from(t).unwrap_or(0),
                    ));
                }
            }
            Some("load") => {
                if let (Some(p), Some(s)) = (num(w.next()), num(w.next())) {
                    r.loads.push((p, s));
                }
            }
            Some("marker") => {
                if let (Some(text), Some(p)) = (w.next(), num(w.next())) {
                    r.marker = Some((text.to_owned(), p));
                }
            }
            Some("done") => r.done = true,
            Some("error") => r.error = Some(w.collect::<Vec<_>>().join(" ")),
            _ => {}
        }
    }
    r
}

/// The RAM ranges outside `crash` of `memory-map --json`'s output: the `PT_LOAD`s the
/// dump must have.
///
/// # Errors
/// Output that is not `memory-map --json`'s.
pub fn expected_loads(memory_map_json: &str, crash: Region) -> Result<Vec<(u64, u64)>, String> {
    let v: serde_json::Value =
        serde_json::from_str(memory_map_json).map_err(|e| format!("memory-map --json: {e}"))?;
    let hex = |x: &serde_json::Value| {
        x.as_str()
            .and_then(|s| u64::from_str_radix(s.trim_start_matches("0x"), 16).ok())
    };
    let (cs, ce) = (crash.start, crash.start + crash.size);
    let mut out = Vec::new();
    for r in v["ranges"]
        .as_array()
        .ok_or("memory-map --json: no ranges")?
    {
        if r["kind"] != "RAM" {
            continue;
        }
        let (Some(s), Some(n)) = (hex(&r["start"]), hex(&r["size"])) else {
            return Err(format!("memory-map --json: a bad range {r}"));
        };
        for (a, b) in [(s, (s + n).min(cs)), (s.max(ce), s + n)] {
            if a < b {
                out.push((a, b - a));
            }
        }
    }
    Ok(out)
}

/// The verdict on the dump.
///
/// # Errors
/// Every check that failed, in words.
pub fn judge(r: &Report, want_loads: &[(u64, u64)]) -> Result<String, String> {
    const ET_CORE: u32 = 4;
    const EM_X86_64: u32 = 62;
    const NT_PRSTATUS: u32 = 1;
    let mut bad = Vec::new();
    if let Some(e) = &r.error {
        bad.push(format!("vmcore-check: {e}"));
    }
    match r.ehdr {
        Some((ET_CORE, EM_X86_64, _, _)) => {}
        other => bad.push(format!(
            "want an ET_CORE EM_X86_64 ELF header, got {other:?}"
        )),
    }
    if !r
        .notes
        .iter()
        .any(|(n, t)| n == "CORE" && *t == NT_PRSTATUS)
    {
        bad.push(format!("no CORE NT_PRSTATUS note in {:?}", r.notes));
    }
    if !r.notes.iter().any(|(n, _)| n == "Xen") {
        bad.push(format!("no Xen note in {:?}", r.notes));
    }
    if !r.notes.iter().any(|(n, _)| n == "VMCOREINFO_XEN") {
        bad.push(format!("no VMCOREINFO_XEN note in {:?}", r.notes));
    }
    if r.loads != want_loads {
        bad.push(format!("want PT_LOADs {want_loads:x?}, got {:x?}", r.loads));
    }
    match (&r.marker, &r.dom0_marker) {
        (Some((found, at)), Some(wrote))
            if found == wrote && r.loads.iter().any(|(p, s)| (*p..p + s).contains(at)) => {}
        (found, wrote) => bad.push(format!(
            "dom0 wrote marker {wrote:?}; the dump gave {found:?}"
        )),
    }
    if !r.exceeded.is_empty() {
        bad.push(format!("the crash kernel warned: {:?}", r.exceeded));
    }
    if !r.done {
        bad.push("vmcore-check did not finish".into());
    }
    if bad.is_empty() {
        let (size, at) = (
            r.ehdr.map_or(0, |e| e.3),
            r.marker.as_ref().map_or(0, |m| m.1),
        );
        Ok(format!(
            "/proc/vmcore of {size} bytes: {} notes, {} PT_LOADs as the memory map says, \
             dom0's marker at {at:#x}, no Exceeded p_memsz",
            r.notes.len(),
            r.loads.len()
        ))
    } else {
        Err(bad.join("; "))
    }
}

/// The phase times, in words.
pub fn phases(times: &[Option<Duration>]) -> String {
    PHASES
        .iter()
        .zip(times)
        .map(|((name, _), t)| match t {
            Some(t) => format!("{name} {:.1} s", t.as_secs_f64()),
            None => format!("{name} never"),
        })
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    const MAP: &str = r#"{"ranges":[{"start":"0x0","size":"0x9fc00","kind":"RAM"},
        {"start":"0xf0000","size":"0x10000","kind":"reserved"},
        {"start":"0x100000","size":"0x3fee0000","kind":"RAM"}]}"#;

    fn log(marker_in_dump: &str, extra: &str) -> String {
        format!(
            "@@RX 3 marker XKDUMP-1\r\n(XEN) Executing kexec image on cpu0\r\n\
             @@VMCORE ehdr 4 62 5 871903232\r\n@@VMCORE note CORE 1 336\r\n\
             @@VMCORE note Xen 1 32\r\n@@VMCORE note VMCOREINFO_XEN 0 1000\r\n\
             @@VMCORE load 0x0 0x9fc00\r\n@@VMCORE load 0x100000 0x1ff00000\r\n\
             @@VMCORE load 0x2c000000 0x13fe0000\r\n{extra}\
             @@VMCORE marker {marker_in_dump} 0x3000000\r\n@@VMCORE done 4.2\r\n"
        )
    }

    #[test]
    fn kdump_configs_forms_are_judged_by_kexec_tools_exit_codes() {
        use crate::scenario::Outcome;
        let good = |id: &str| {
            let rc = personality_steps("k", "i")
                .into_iter()
                .find(|(n, _, _)| *n == id)
                .map_or(0, |(_, _, rc)| rc);
            let stdout = if id == "record-status" {
                vec![r#"{"loaded":true,"source":"record"}"#.to_owned()]
            } else {
                Vec::new()
            };
            Some(Outcome {
                rc,
                stdout,
                stderr: Vec::new(),
            })
        };
        let all = judge_personality(good);
        assert_eq!(all.len(), 8, "seven forms and the record's status");
        assert!(all.iter().all(|(_, r)| r.is_ok()), "{all:?}");
        // -S answering 0 with an image loaded (Xen's bit read as presence) fails.
        let wrong = |id: &str| {
            let mut o = good(id)?;
            if id == "kexec-status" {
                o.rc = 0;
            }
            if id == "record-status" {
                o.stdout = vec![r#"{"loaded":true,"source":"hypervisor"}"#.to_owned()];
            }
            Some(o)
        };
        let failed: Vec<String> = judge_personality(wrong)
            .into_iter()
            .filter(|(_, r)| r.is_err())
            .map(|(id, _)| id)
            .collect();
        assert_eq!(failed, ["kexec-status", "record-status"]);
    }

    #[test]
    fn kexec_tools_loads_then_must_unload_before_anything_else() {
        let lines = kexec_tools_lines("kdump");
        let at = |needle: &str| lines.find(needle).unwrap_or_else(|| panic!("{needle}"));
        assert!(at("mount -t xenfs xenfs /proc/xen") < at("step 'kdump/kexec-tools-load'"));
        assert!(lines.contains(
            "step 'kdump/kexec-tools-load' /sbin/kexec '-p' '/images/vmlinuz' \
             '--initrd=/images/crash-initrd.cpio' '--append=console=ttyS0,115200 irqpoll"
        ));
        assert!(at("step 'kdump/kexec-tools-load'") < at("fatal \"kexec -p exited $rc"));
        assert!(at("fatal \"kexec -p exited $rc") < at("step 'kdump/kexec-tools-unload'"));
        assert!(
            at("step 'kdump/kexec-tools-unload' /sbin/kexec '-p' '-u'") < at("kexec -p -u exited")
        );
    }

    #[test]
    fn the_comparison_boot_loads_as_the_kdump_boot_does_then_unloads() {
        let kdump = dom0_steps(BOOT);
        let compare = dom0_steps(COMPARE_BOOT);
        let ids: Vec<&str> = compare.iter().map(|s| s.id.as_str()).collect();
        assert_eq!(
            ids,
            [
                "kdump-vs-kexec-tools/load",
                "kdump-vs-kexec-tools/status",
                "kdump-vs-kexec-tools/unload"
            ]
        );
        // The native load of the kdump boots' kernel, initrd and command line.
        let harness_check = dom0_steps(NO_ELFCOREHDR_BOOT);
        assert_eq!(
            compare[0].args[..],
            harness_check[1].args[..harness_check[1].args.len() - 1]
        );
        assert!(kdump
            .iter()
            .any(|s| s.args.contains(&format!("--command-line={APPEND}"))));
        assert_eq!(compare[2].args, ["unload", "--type", "crash"]);
        let lines = kexec_tools_lines(COMPARE_BOOT);
        assert!(lines.contains(&format!("--append={APPEND}")), "{lines}");
    }

    #[test]
    fn the_load_times_give_their_ratio_or_say_why_kexec_tools_was_not_measured() {
        let s = |n: u64| Some(Duration::from_millis(n));
        let phases = [s(5000), s(9000), s(20_000), s(27_500), s(40_000)];
        let line = load_times(Some(800), Ok(2000), &phases);
        assert_eq!(
            line,
            "crash load: xen-kexec (release build, digests on) 800 ms, kexec-tools 2000 ms, ratio 0.40 (xen-kexec / \
             kexec-tools; the goal is at most 0.50); crash to the crash kernel's first line 7.5 s"
        );
        let line = load_times(Some(800), Err("no /sbin/kexec".into()), &phases[..3]);
        assert_eq!(
            line,
            "crash load: xen-kexec (release build, digests on) 800 ms; kexec-tools NOT MEASURED \
             (no /sbin/kexec)"
        );
        let line = load_times(None, Err("no kexec-tools package".into()), &phases);
        assert_eq!(
            line,
            "crash load: kexec-tools NOT MEASURED (no kexec-tools package); crash to the \
             crash kernel's first line 7.5 s"
        );
        let line = load_times(None, Ok(0), &[]);
        assert_eq!(
            line,
            "crash load: xen-kexec (release build, digests on) no time reported, kexec-tools 0 ms, \
             no ratio"
        );
    }

    #[test]
    fn a_dump_with_everything_passes_and_each_missing_part_fails_by_name() {
        let crash = machine(&crate::machine::MACHINE).crash;
        let want = expected_loads(MAP, crash).expect("a map");
        assert_eq!(
            want,
            [
                (0, 0x9fc00),
                (0x10_0000, 0x1ff0_0000),
                (0x2c00_0000, 0x13fe_0000)
            ]
        );
        let good = report(&log("XKDUMP-1", ""));
        assert!(judge(&good, &want).is_ok(), "{:?}", judge(&good, &want));
        let e = judge(&report(&log("XKDUMP-2", "")), &want).expect_err("another marker");
        assert!(e.contains("dom0 wrote marker"), "{e}");
        let warned = log(
            "XKDUMP-1",
            "[ 1.0] Warning: Exceeded p_memsz, dropping PT_NOTE entry\r\n",
        );
        let e = judge(&report(&warned), &want).expect_err("a warning");
        assert!(e.contains("Exceeded p_memsz"), "{e}");
        // A crash kernel told no elfcorehdr= has no /proc/vmcore.
        let none = "@@RX 3 marker XKDUMP-1\r\n@@VMCORE error /proc/vmcore: No such file or directory (os error 2)\r\n";
        let e = judge(&report(none), &want).expect_err("no vmcore");
        assert!(
            e.starts_with("vmcore-check: /proc/vmcore: No such file"),
            "{e}"
        );
        let fewer = log("XKDUMP-1", "").replace("@@VMCORE load 0x0 0x9fc00\r\n", "");
        let e = judge(&report(&fewer), &want).expect_err("a load missing");
        assert!(e.contains("want PT_LOADs"), "{e}");
    }
}
