// SPDX-License-Identifier: MIT
//! The whole run: build, pack, boot the three machines, read their logs, replay the steps
//! on the sim, judge, report.

use std::fmt::Write as _;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use crate::cpio::Archive;
use crate::debian::{self, Files, KexecTools};
use crate::differential;
use crate::dom0::{self, Dom0Step, IMAGES_DIR, MODULES_DIR};
use crate::images::{self, mode_name, Image};
use crate::kdump;
use crate::linux;
use crate::machine::{Machine, DEBUG_EXIT_STATUS};
use crate::qemu::{self, End};
use crate::scenario::{self, Arg, Build, Outcome, Scenario, Verdict};
use crate::serial::{self, Log};
use crate::toolstack::{self, Observed};
use crate::xen_rust;
use crate::Problem;

/// How long one boot may take before it is killed and fails.
/// Nine boots share the two cores under emulation: a kdump boot took 80 s to reach the
/// crash with a build running beside it (of eight boots then), so the limit leaves room
/// to spare.
pub const BOOT_LIMIT: Duration = Duration::from_secs(240);

/// Where the harness reads and writes.
#[derive(Debug, Clone)]
pub struct Paths {
    /// The repository (workspace root).
    pub repo: PathBuf,
    /// Cargo's target directory.
    pub target_dir: PathBuf,
}

impl Paths {
    /// The harness's directory under the target directory.
    pub fn realxen(&self) -> PathBuf {
        self.target_dir.join("realxen")
    }

    /// Where `scripts/setup` unpacked the Debian packages.
    pub fn debian_root(&self) -> PathBuf {
        self.realxen().join("debian/root")
    }

    /// Where the serial logs are kept.
    pub fn logs(&self) -> PathBuf {
        self.realxen().join("logs")
    }

    fn work(&self) -> PathBuf {
        self.realxen().join("work")
    }
}

/// One boot's result.
#[derive(Debug)]
pub struct BootReport {
    /// Its name (and its log's stem).
    pub name: String,
    /// The serial log.
    pub log_path: PathBuf,
    /// How QEMU ended, and when.
    pub run: qemu::Run,
    /// What the log says.
    pub log: Log,
    /// When each watched line first appeared, from QEMU's start.
    pub seen: Vec<Option<Duration>>,
}

/// The run's result.
#[derive(Debug, Default)]
pub struct Report {
    /// The boots.
    pub boots: Vec<BootReport>,
    /// Every judged step, by scenario (the harness check's scenario excluded).
    pub verdicts: Vec<(String, Vec<Verdict>)>,
    /// The harness check: the deliberately wrong layout's verdicts.
    pub wrong_layout: Vec<Verdict>,
    /// Problems outside any step (a boot that did not end as it must).
    pub errors: Vec<String>,
    /// Figures that are information, not tests (the kdump boot's load times).
    pub info: Vec<String>,
}

impl Report {
    /// Whether everything passed, the harness check included.
    pub fn pass(&self) -> bool {
        self.errors.is_empty()
            && self
                .verdicts
                .iter()
                .all(|(_, vs)| vs.iter().all(|v| v.pass))
            && self.wrong_layout_failed_as_it_must()
    }

    /// The harness check: at least one step of the wrong layout failed, naming its log.
    pub fn wrong_layout_failed_as_it_must(&self) -> bool {
        self.wrong_layout
            .iter()
            .any(|v| !v.pass && v.detail.contains("serial log kept: "))
    }
}

/// Boots and judges everything.
///
/// # Errors
/// [`Problem::NotRun`] when something the run needs cannot be had here (QEMU, the Debian
/// packages, the toolstack crate, a Rust target); [`Problem::Fail`] when building fails.
pub fn run(paths: &Paths, machine: &Machine) -> Result<Report, Problem> {
    if !qemu::available() {
        return Err(Problem::NotRun(format!(
            "{} not found (scripts/setup installs qemu-system-x86)",
            qemu::QEMU
        )));
    }
    let files = debian::locate(&paths.debian_root()).map_err(|e| {
        Problem::NotRun(format!(
            "{e} (scripts/setup unpacks Xen, the dom0 kernel and busybox there)"
        ))
    })?;
    let work = paths.work();
    let _ = fs::remove_dir_all(&work);
    fs::create_dir_all(&work).map_err(|e| Problem::Fail(format!("{}: {e}", work.display())))?;
    fs::create_dir_all(paths.logs())
        .map_err(|e| Problem::Fail(format!("{}: {e}", paths.logs().display())))?;

    let [image32, image64] =
        images::build(&work.join("images"), machine.crash).map_err(Problem::Fail)?;
    let bins = toolstack::build(
        &paths.repo,
        &paths.target_dir,
        &[Build::X86_64, Build::I686],
    )?;
    let [bin64, bin32] = [bins[0].clone(), bins[1].clone()];
    let xen = work.join("xen");
    unpack_xen(&files.xen_gz, &xen).map_err(Problem::Fail)?;
    let vmlinux = work.join("vmlinux");
    debian::vmlinux(&files.vmlinuz, &vmlinux).map_err(Problem::Fail)?;

    let scenarios = scenario::all(machine, image32.name, image64.name);
    let both = [&image32, &image64];
    let base = base_archive(
        &files,
        &[(Build::X86_64, &bin64), (Build::I686, &bin32)],
        &[&image32, &image64],
    )
    .map_err(Problem::Fail)?;
    let mut boots: Vec<BootPlan> = vec![BootPlan::plain(
        "scenarios".to_owned(),
        scenario_steps(&scenarios, &both),
    )];
    for image in [&image32, &image64] {
        boots.push(BootPlan::plain(
            entry_boot_name(image),
            entry_dom0_steps(image),
        ));
    }
    boots.extend(linux_boots(&files)?);
    boots.extend(kdump_boots(paths, &files, machine)?);
    boots.extend(differential_boots(paths, machine, &image64)?);
    let xen_rust_info = add_xen_rust_boots(&mut boots, paths, &work, machine, &scenarios, &both)?;

    keep_only_named(&mut boots);
    // The boots run side by side: each is one QEMU process on its own files.
    let results: Vec<Result<BootReport, String>> = std::thread::scope(|scope| {
        let handles: Vec<_> = boots
            .iter()
            .map(|plan| {
                let setup = Setup {
                    base: &base,
                    xen: &xen,
                    kernel: &vmlinux,
                    files: &files,
                    machine,
                    work: &work,
                    logs: paths.logs(),
                };
                scope.spawn(move || boot(plan, &setup))
            })
            .collect();
        handles
            .into_iter()
            .map(|h| {
                h.join()
                    .unwrap_or_else(|_| Err("a boot thread panicked".to_owned()))
            })
            .collect()
    });
    let (done, failed): (Vec<_>, Vec<_>) = results.into_iter().partition(Result::is_ok);
    let mut report = Report {
        boots: done.into_iter().filter_map(Result::ok).collect(),
        errors: failed.into_iter().filter_map(Result::err).collect(),
        info: xen_rust_info.into_iter().collect(),
        ..Report::default()
    };
    if !report.errors.is_empty() {
        return Ok(report);
    }
    judge_scenarios(&mut report, &scenarios, &bin64, &work, machine, &both);
    for image in [&image32, &image64] {
        judge_entry(&mut report, image, &bin64, &work, machine);
    }
    judge_linux(&mut report);
    judge_kdump(&mut report, machine, &files.kexec_tools);
    judge_differential(&mut report, machine);
    judge_xen_rust(&mut report);
    Ok(report)
}

/// The differential boot (seeded random hypercalls) and the crash-reload boot (Xen's
/// panic), both with the static `kexec-diff` runner; QEMU is stopped if Xen panics.
fn differential_boots(
    paths: &Paths,
    machine: &Machine,
    image64: &Image,
) -> Result<Vec<BootPlan>, Problem> {
    let seed = differential::seed();
    let runner = toolstack::build_kexec_diff(&paths.repo, &paths.target_dir)?;
    let root_files = vec![(
        differential::RUNNER.to_owned(),
        stripped(&runner).map_err(Problem::Fail)?,
    )];
    let elf = fs::read(&image64.path)
        .map_err(|e| Problem::Fail(format!("{}: {e}", image64.path.display())))?;
    let high = differential::moved_up(&elf, differential::HIGH_OFFSET).map_err(Problem::Fail)?;
    Ok(vec![
        BootPlan {
            root_files: root_files.clone(),
            around: (differential::dom0_lines(seed, machine), String::new()),
            stop: Some(differential::PANIC_END),
            ..BootPlan::plain(differential::BOOT.to_owned(), Vec::new())
        },
        // The two-step sequence through xen-kexec first (it must not panic), then the
        // same placement as raw hypercalls (it must).
        BootPlan {
            root_files,
            extra: vec![(differential::HIGH_IMAGE.to_owned(), high)],
            around: (String::new(), differential::panic_lines(machine)),
            stop: Some(differential::PANIC_END),
            ..BootPlan::plain(
                differential::PANIC_BOOT.to_owned(),
                differential::two_step_steps(image64.name),
            )
        },
    ])
}

/// The differential boot's verdicts and figures, and the crash-reload boot's verdict.
fn judge_differential(report: &mut Report, machine: &Machine) {
    let read = |b: &BootReport| {
        String::from_utf8_lossy(&fs::read(&b.log_path).unwrap_or_default()).into_owned()
    };
    if let Some(b) = report.boots.iter().find(|b| b.name == differential::BOOT) {
        let (vs, info) = differential::judge(&read(b), machine.cpus, &kept(b));
        report.verdicts.push((differential::BOOT.to_owned(), vs));
        report.info.extend(info);
    }
    if let Some(b) = report
        .boots
        .iter()
        .find(|b| b.name == differential::PANIC_BOOT)
    {
        let mut vs: Vec<Verdict> = [
            ("load-high", scenario::Want::Done),
            ("load-base", scenario::Want::Done),
            ("status", scenario::Want::Says("loaded")),
            ("unload", scenario::Want::Done),
        ]
        .into_iter()
        .map(|(step, want)| {
            let id = format!("{}/{step}", differential::PANIC_BOOT);
            let mut v = scenario::judge(
                id.clone(),
                &scenario::Expect::RealOnly(want),
                b.log.outcome(&id).as_ref(),
                None,
            );
            if !v.pass {
                let _ = write!(v.detail, " ({})", kept(b));
            }
            v
        })
        .collect();
        vs.push(differential::judge_panic(&read(b), &kept(b)));
        report
            .verdicts
            .push((differential::PANIC_BOOT.to_owned(), vs));
    }
}

/// The Linux boots: Debian's kernel and a small initrd for it in `/images`.
fn linux_boots(files: &Files) -> Result<Vec<BootPlan>, Problem> {
    let read = |p: &Path| fs::read(p).map_err(|e| Problem::Fail(format!("{}: {e}", p.display())));
    let linux_files = vec![
        (linux::KERNEL.to_owned(), read(&files.vmlinuz)?),
        (
            linux::INITRD.to_owned(),
            linux::initrd(&read(&files.busybox)?).map_err(Problem::Fail)?,
        ),
    ];
    Ok([
        (linux::BOOT, None),
        (linux::CORRUPT_BOOT, Some(linux::MISMATCH)),
    ]
    .into_iter()
    .map(|(name, stop)| BootPlan {
        extra: linux_files.clone(),
        stop,
        ..BootPlan::plain(name.to_owned(), linux::dom0_steps(name))
    })
    .collect())
}

/// One QEMU boot: dom0's steps, extra files for `/images`, and a serial line that ends
/// the boot when it appears (a halted machine never exits by itself).
struct BootPlan {
    name: String,
    steps: Vec<Dom0Step>,
    extra: Vec<(String, Vec<u8>)>,
    /// Executable files anywhere in dom0's root (path without the leading `/`, bytes);
    /// their directories are made as needed.
    root_files: Vec<(String, Vec<u8>)>,
    stop: Option<&'static str>,
    /// The machine, when not the run's.
    machine: Option<Machine>,
    /// Xen (decompressed), when not the run's Debian build.
    xen: Option<PathBuf>,
    /// dom0's shell lines before and after the steps.
    around: (String, String),
    /// Serial lines whose first appearance is timed.
    watch: Vec<&'static str>,
}

impl BootPlan {
    fn plain(name: String, steps: Vec<Dom0Step>) -> BootPlan {
        BootPlan {
            name,
            steps,
            extra: Vec::new(),
            root_files: Vec::new(),
            stop: None,
            machine: None,
            xen: None,
            around: (String::new(), String::new()),
            watch: Vec::new(),
        }
    }
}

/// The directories every initramfs has (`base_archive` makes them).
const BASE_DIRS: [&str; 8] = [
    "bin",
    "dev",
    "proc",
    "sys",
    "tmp",
    "lib",
    MODULES_DIR,
    IMAGES_DIR,
];

/// The directories `files` need that [`BASE_DIRS`] lacks, each after its parent.
fn parent_dirs<'a>(files: impl IntoIterator<Item = &'a str>) -> Vec<String> {
    let base: Vec<&str> = BASE_DIRS
        .iter()
        .map(|d| d.trim_start_matches('/'))
        .collect();
    let mut dirs: Vec<String> = Vec::new();
    for file in files {
        let mut at = 0;
        while let Some(slash) = file[at..].find('/') {
            let dir = &file[..at + slash];
            if !base.contains(&dir) && !dirs.iter().any(|d| d == dir) {
                dirs.push(dir.to_owned());
            }
            at += slash + 1;
        }
    }
    dirs.sort();
    dirs
}

/// The kdump boots: Debian's kernel as the crash kernel, with `vmcore-check` in its
/// initrd; once as users run it, once without `elfcorehdr=` (which must fail); and, when
/// kexec-tools could be had, the comparison boot: its crash load and unload, then
/// `xen-kexec`'s release build's, with no crash.
fn kdump_boots(paths: &Paths, files: &Files, machine: &Machine) -> Result<Vec<BootPlan>, Problem> {
    let read = |p: &Path| fs::read(p).map_err(|e| Problem::Fail(format!("{}: {e}", p.display())));
    let check = toolstack::build_vmcore_check(&paths.repo, &paths.target_dir)?;
    let initrd = kdump::initrd(&read(&files.busybox)?, &read(&check)?).map_err(Problem::Fail)?;
    let extra = vec![
        (linux::KERNEL.to_owned(), read(&files.vmlinuz)?),
        (kdump::INITRD.to_owned(), initrd),
    ];
    let mut boots: Vec<BootPlan> = [kdump::BOOT, kdump::NO_ELFCOREHDR_BOOT]
        .into_iter()
        .map(|name| BootPlan {
            extra: extra.clone(),
            machine: Some(kdump::machine(machine)),
            around: (kdump::BEFORE.to_owned(), kdump::AFTER.to_owned()),
            watch: kdump::PHASES.iter().map(|(_, mark)| *mark).collect(),
            ..BootPlan::plain(name.to_owned(), kdump::dom0_steps(name))
        })
        .collect();
    if let Ok(KexecTools { files: kexec }) = &files.kexec_tools {
        let release = toolstack::build_release_x86_64(&paths.repo, &paths.target_dir)?;
        let mut root_files = vec![(
            kdump::RELEASE_BIN.to_owned(),
            stripped(&release).map_err(Problem::Fail)?,
        )];
        for (dom0, host) in kexec {
            root_files.push((dom0.clone(), read(host)?));
        }
        let name = kdump::COMPARE_BOOT;
        let before = kdump::use_release_build() + &kdump::kexec_tools_lines(name);
        boots.push(BootPlan {
            extra,
            root_files,
            machine: Some(kdump::machine(machine)),
            around: (before, String::new()),
            ..BootPlan::plain(name.to_owned(), kdump::dom0_steps(name))
        });
    }
    Ok(boots)
}

/// The kdump verdicts: the load and status steps, then the dump. The boot without
/// `elfcorehdr=` must fail its dump check, for want of `/proc/vmcore`. The comparison
/// boot's commands must exit 0 and its script end; the load times are information.
fn judge_kdump(report: &mut Report, machine: &Machine, kexec_tools: &Result<KexecTools, String>) {
    judge_kdump_boot(report, machine, kdump::BOOT);
    judge_kdump_boot(report, machine, kdump::NO_ELFCOREHDR_BOOT);
    let compare = report.boots.iter().find(|b| b.name == kdump::COMPARE_BOOT);
    let kdump_seen = report
        .boots
        .iter()
        .find(|b| b.name == kdump::BOOT)
        .map_or(&[][..], |b| &b.seen[..]);
    let (vs, info) = match (kexec_tools, compare) {
        (Err(why), _) => (
            Vec::new(),
            kdump::load_times(None, Err(why.clone()), kdump_seen),
        ),
        (Ok(_), None) => return, // not among the boots run (REALXEN_ONLY)
        (Ok(_), Some(b)) => against_kexec_tools(b, kdump_seen),
    };
    report.info.push(info);
    if !vs.is_empty() {
        report.verdicts.push((kdump::COMPARE_BOOT.to_owned(), vs));
    }
}

/// The comparison boot's steps judged (each must exit 0, `status` say loaded, the script
/// end), and the load-time line with the kdump boot's phase times `kdump_seen`.
fn against_kexec_tools(b: &BootReport, kdump_seen: &[Option<Duration>]) -> (Vec<Verdict>, String) {
    let name = &b.name;
    let mut vs = Vec::new();
    if let Err(e) = check_poweroff(b) {
        vs.push(Verdict {
            id: format!("{name}/dom0"),
            pass: false,
            detail: e,
        });
    }
    let id = |step: &str| format!("{name}/{step}");
    for (step, want) in [
        (kdump::KEXEC_TOOLS_LOAD, scenario::Want::Done),
        (kdump::KEXEC_TOOLS_UNLOAD, scenario::Want::Done),
        ("load", scenario::Want::Done),
        ("status", scenario::Want::Says("loaded")),
        ("unload", scenario::Want::Done),
    ] {
        let mut v = scenario::judge(
            id(step),
            &scenario::Expect::RealOnly(want),
            b.log.outcome(&id(step)).as_ref(),
            None,
        );
        if !v.pass {
            let _ = write!(v.detail, " ({})", kept(b));
        }
        vs.push(v);
    }
    let measured = match (
        b.log.outcome(&id(kdump::KEXEC_TOOLS_LOAD)),
        b.log.ms(&id(kdump::KEXEC_TOOLS_LOAD)),
    ) {
        (Some(o), Some(ms)) if o.rc == 0 => Ok(ms),
        (Some(o), _) => Err(format!("kexec -p: {}", o.describe())),
        (None, _) => Err("dom0 reported no kexec -p".to_owned()),
    };
    let info = kdump::load_times(b.log.ms(&id("load")), measured, kdump_seen);
    (vs, info)
}

fn judge_kdump_boot(report: &mut Report, machine: &Machine, name: &'static str) {
    let Some(b) = report.boots.iter().find(|b| b.name == name) else {
        return;
    };
    let mut vs = if name == kdump::BOOT {
        kdump::judge_personality(|id| b.log.outcome(&format!("{name}/{id}")))
            .into_iter()
            .map(|(id, result)| Verdict {
                id: format!("{name}/{id}"),
                pass: result.is_ok(),
                detail: result.unwrap_or_else(|e| format!("{e} ({})", kept(b))),
            })
            .collect()
    } else {
        let mut vs = Vec::new();
        for (step, want) in [
            ("load", scenario::Want::Done),
            ("status", scenario::Want::Says("loaded")),
        ] {
            let outcome = b.log.outcome(&format!("{name}/{step}"));
            vs.push(scenario::judge(
                format!("{name}/{step}"),
                &scenario::Expect::RealOnly(want),
                outcome.as_ref(),
                None,
            ));
        }
        vs
    };
    let text = String::from_utf8_lossy(&fs::read(&b.log_path).unwrap_or_default()).into_owned();
    let map = b
        .log
        .outcome(&format!("{name}/memory-map"))
        .map(|o| o.stdout.join("\n"))
        .unwrap_or_default();
    let verdict = kdump::expected_loads(&map, kdump::machine(machine).crash)
        .and_then(|want| kdump::judge(&kdump::report(&text), &want));
    let must_fail = name == kdump::NO_ELFCOREHDR_BOOT;
    let (pass, detail) = match (verdict, must_fail) {
        (Ok(what), false) => (true, format!("{what}; {}", kdump::phases(&b.seen))),
        (Err(e), false) => (false, format!("{e}; {} ({})", kdump::phases(&b.seen), kept(b))),
        (Err(e), true) if e.contains("/proc/vmcore") => (
            true,
            format!("without elfcorehdr= the check fails, as it must: {e}"),
        ),
        (other, true) => (
            false,
            format!(
                "without elfcorehdr= the check must fail for want of /proc/vmcore; got {other:?} ({})",
                kept(b)
            ),
        ),
    };
    vs.push(Verdict {
        id: format!("{name}/vmcore"),
        pass,
        detail,
    });
    report.verdicts.push((name.to_owned(), vs));
}

/// The Linux boots' verdicts: the load, then what the serial line shows.
fn judge_linux(report: &mut Report) {
    for (name, judge) in [
        (
            linux::BOOT,
            linux::judge_boot as fn(&linux::Seen) -> Result<String, String>,
        ),
        (linux::CORRUPT_BOOT, linux::judge_corrupt),
    ] {
        let Some(b) = report.boots.iter().find(|b| b.name == name) else {
            continue;
        };
        let load = b.log.outcome(&format!("{name}/load"));
        let mut vs = vec![scenario::judge(
            format!("{name}/load"),
            &scenario::Expect::RealOnly(scenario::Want::Done),
            load.as_ref(),
            None,
        )];
        let text = fs::read(&b.log_path).unwrap_or_default();
        let seen = linux::seen(&String::from_utf8_lossy(&text));
        let (pass, detail) = match judge(&seen) {
            Ok(what) => (
                true,
                format!(
                    "{what} ({:.1} s from QEMU's start)",
                    b.run.elapsed.as_secs_f64()
                ),
            ),
            Err(e) => (false, format!("{e} ({})", kept(b))),
        };
        vs.push(Verdict {
            id: format!("{name}/exec"),
            pass,
            detail,
        });
        report.verdicts.push((name.to_owned(), vs));
    }
}

fn entry_boot_name(image: &Image) -> String {
    format!(
        "entry-{}",
        format!("{:?}", image.machine)
            .to_lowercase()
            .replace('_', "-")
    )
}

/// The host path or the dom0 path of each argument.
fn render_args(args: &[Arg], images: &[&Image], dom0: bool) -> Vec<String> {
    args.iter()
        .map(|a| match a {
            Arg::Lit(s) => s.clone(),
            Arg::Image(name) if dom0 => format!("{IMAGES_DIR}/{name}"),
            Arg::Image(name) => images
                .iter()
                .find(|i| i.name == *name)
                .map_or_else(|| (*name).to_owned(), |i| i.path.display().to_string()),
        })
        .collect()
}

/// The sim's outcome with each image's host path replaced by its dom0 path, so that
/// output naming the file compares equal.
fn as_in_dom0(mut o: Outcome, images: &[&Image]) -> Outcome {
    for line in o.stdout.iter_mut().chain(o.stderr.iter_mut()) {
        for i in images {
            *line = line.replace(
                &i.path.display().to_string(),
                &format!("{IMAGES_DIR}/{}", i.name),
            );
        }
    }
    o
}

fn scenario_steps(scenarios: &[Scenario], images: &[&Image]) -> Vec<Dom0Step> {
    let mut steps = Vec::new();
    for s in scenarios {
        for step in &s.steps {
            let mut args = s.global_flags();
            args.extend(render_args(&step.command, images, true));
            steps.push(Dom0Step {
                id: s.step_id(step),
                build: s.build,
                args,
            });
        }
    }
    steps
}

/// An entry boot's steps: load the image as the crash image, enter it.
struct EntryStep {
    id: String,
    command: Vec<Arg>,
}

fn entry_steps(image: &Image) -> [EntryStep; 2] {
    let id = entry_boot_name(image);
    let words = |w: &str| {
        w.split(' ')
            .map(|w| Arg::Lit(w.to_owned()))
            .collect::<Vec<_>>()
    };
    let mut load = words("load --type crash --elf");
    load.push(Arg::Image(image.name));
    [
        EntryStep {
            id: format!("{id}/load"),
            command: load,
        },
        EntryStep {
            id: format!("{id}/exec"),
            command: words("exec --type crash"),
        },
    ]
}

fn entry_dom0_steps(image: &Image) -> Vec<Dom0Step> {
    entry_steps(image)
        .into_iter()
        .map(|s| Dom0Step {
            id: s.id,
            build: Build::X86_64,
            args: render_args(&s.command, &[image], true),
        })
        .collect()
}

fn unpack_xen(gz: &Path, out: &Path) -> Result<(), String> {
    let got = Command::new("gzip")
        .arg("-dc")
        .arg(gz)
        .output()
        .map_err(|e| format!("gzip -dc {}: {e}", gz.display()))?;
    if !got.status.success() {
        return Err(format!(
            "gzip -dc {}: {}",
            gz.display(),
            String::from_utf8_lossy(&got.stderr)
        ));
    }
    fs::write(out, got.stdout).map_err(|e| format!("{}: {e}", out.display()))
}

/// Everything but `/init`.
fn base_archive(
    files: &Files,
    bins: &[(Build, &PathBuf)],
    images: &[&Image],
) -> Result<Archive, String> {
    let read = |p: &Path| fs::read(p).map_err(|e| format!("{}: {e}", p.display()));
    let mut a = Archive::new();
    for dir in BASE_DIRS {
        a.dir(dir.trim_start_matches('/'))
            .map_err(|e| e.to_string())?;
    }
    let err = |e: crate::cpio::TooLarge| e.to_string();
    a.file("bin/busybox", &read(&files.busybox)?, true)
        .map_err(err)?;
    for (build, bin) in bins {
        a.file(&format!("bin/{}", build.dom0_name()), &stripped(bin)?, true)
            .map_err(err)?;
    }
    for m in &files.modules {
        let name = format!("{}/{}.ko", MODULES_DIR.trim_start_matches('/'), m.name);
        a.file(&name, &read(&m.path)?, false).map_err(err)?;
    }
    for i in images {
        let name = format!("{}/{}", IMAGES_DIR.trim_start_matches('/'), i.name);
        a.file(&name, &read(&i.path)?, false).map_err(err)?;
    }
    Ok(a)
}

/// The binary without its debug information (smaller initramfs); as it is if `strip` fails.
fn stripped(bin: &Path) -> Result<Vec<u8>, String> {
    let out = bin.with_extension("stripped");
    let ok = Command::new("strip")
        .arg("-o")
        .arg(&out)
        .arg(bin)
        .status()
        .is_ok_and(|s| s.success());
    let from = if ok { &out } else { bin };
    fs::read(from).map_err(|e| format!("{}: {e}", from.display()))
}

/// What every boot shares.
struct Setup<'a> {
    /// The initramfs without `/init`.
    base: &'a Archive,
    /// Xen, decompressed (QEMU's multiboot loader takes no gzip).
    xen: &'a Path,
    /// dom0's kernel.
    kernel: &'a Path,
    files: &'a Files,
    machine: &'a Machine,
    work: &'a Path,
    logs: PathBuf,
}

fn boot(plan: &BootPlan, setup: &Setup<'_>) -> Result<BootReport, String> {
    let (name, steps) = (plan.name.as_str(), plan.steps.as_slice());
    let Setup {
        base,
        xen,
        kernel,
        files,
        machine,
        work,
        logs,
    } = setup;
    let mut archive = (*base).clone();
    for (file, bytes) in &plan.extra {
        let path = format!("{}/{file}", IMAGES_DIR.trim_start_matches('/'));
        archive
            .file(&path, bytes, false)
            .map_err(|e| e.to_string())?;
    }
    for dir in parent_dirs(plan.root_files.iter().map(|(f, _)| f.as_str())) {
        archive.dir(&dir).map_err(|e| e.to_string())?;
    }
    for (file, bytes) in &plan.root_files {
        archive.file(file, bytes, true).map_err(|e| e.to_string())?;
    }
    let script = dom0::render_around(name, &files.modules, &plan.around.0, steps, &plan.around.1);
    archive
        .file("init", script.as_bytes(), true)
        .map_err(|e| e.to_string())?;
    let initramfs = work.join(format!("{name}.cpio"));
    fs::write(&initramfs, archive.finish()).map_err(|e| format!("{}: {e}", initramfs.display()))?;
    let log_path = logs.join(format!("{name}.log"));
    let args = plan.machine.as_ref().unwrap_or(machine).qemu_args(
        plan.xen.as_deref().unwrap_or(xen),
        kernel,
        &initramfs,
    )?;
    let (run, seen) = qemu::run_watching(&args, &log_path, BOOT_LIMIT, plan.stop, &plan.watch)?;
    let text = fs::read(&log_path).map_err(|e| format!("{}: {e}", log_path.display()))?;
    let log = serial::parse(&String::from_utf8_lossy(&text))
        .map_err(|e| format!("boot {name}: {e} (serial log kept: {})", log_path.display()))?;
    Ok(BootReport {
        name: name.to_owned(),
        log_path,
        run,
        log,
        seen,
    })
}

fn kept(b: &BootReport) -> String {
    format!("serial log kept: {}", b.log_path.display())
}

/// A boot that had to power off cleanly: QEMU exit 0 and the script's end reached.
fn check_poweroff(b: &BootReport) -> Result<(), String> {
    if let Some(why) = &b.log.fatal {
        return Err(format!(
            "boot {}: dom0 gave up: {why} ({})",
            b.name,
            kept(b)
        ));
    }
    if b.run.end != End::Exited(0) || b.log.end_uptime.is_none() {
        return Err(format!(
            "boot {}: want dom0's script to end and power off (QEMU exit 0), got {:?}{} ({})",
            b.name,
            b.run.end,
            if b.log.end_uptime.is_none() {
                " before the script's end"
            } else {
                ""
            },
            kept(b)
        ));
    }
    Ok(())
}

fn judge_scenarios(
    report: &mut Report,
    scenarios: &[Scenario],
    bin: &Path,
    work: &Path,
    machine: &Machine,
    images: &[&Image],
) {
    let Some(b) = report.boots.iter().find(|b| b.name == "scenarios") else {
        return;
    };
    if let Err(e) = check_poweroff(b) {
        report.errors.push(e);
    }
    let log = &b.log;
    let suffix = kept(b);
    let range = |id: &str| log.outcome(id).and_then(|o| o.range());
    let (Some(xen), Some(vmcoreinfo), Some(cpu0_notes)) = (
        range("crash-cycle/range-xen"),
        range("crash-cycle/range-vmcoreinfo"),
        range("crash-cycle/range-cpu0"),
    ) else {
        report.errors.push(format!(
            "real Xen gave no xen, vmcoreinfo or CPU 0 range to build the sim host from ({suffix})"
        ));
        return;
    };
    let observed = Observed {
        xen,
        vmcoreinfo,
        cpu0_notes,
    };
    let state = work.join("sim-scenarios.state");
    if let Err(e) = toolstack::sim_init(bin, &state, machine, &observed) {
        report.errors.push(e);
        return;
    }
    let mut verdicts = Vec::new();
    let mut wrong = Vec::new();
    for s in scenarios {
        let mut vs = Vec::new();
        for step in &s.steps {
            let id = s.step_id(step);
            let real = log.outcome(&id);
            let sim = match (&step.expect, s.build) {
                (scenario::Expect::RealOnly(_), _) | (_, Build::I686) => None,
                _ => {
                    // The sim always runs the right layout: for the wrong-layout check it
                    // gives the answers the forced layout must miss.
                    let mut args = vec!["--backend".to_owned(), format!("sim:{}", state.display())];
                    args.extend(render_args(&step.command, images, false));
                    match toolstack::run(bin, &args) {
                        Ok(o) => Some(as_in_dom0(o, images)),
                        Err(e) => {
                            report.errors.push(e);
                            None
                        }
                    }
                }
            };
            let mut v = scenario::judge(id, &step.expect, real.as_ref(), sim.as_ref());
            if !v.pass {
                let _ = write!(v.detail, " ({suffix})");
            }
            vs.push(v);
        }
        if s.must_fail {
            wrong = vs;
        } else {
            verdicts.push((s.name.to_owned(), vs));
        }
    }
    report.verdicts.extend(verdicts);
    report.wrong_layout = wrong;
}

/// The load and exec of an entry boot on a fresh sim host: where and in which mode the
/// sim enters the image (`--json`: `entry_maddr`, `entry_mode` by the ABI's names), which
/// must be the image's entry and the mode its arch names.
fn sim_entry(image: &Image, bin: &Path, work: &Path, machine: &Machine) -> Result<String, String> {
    let state = work.join(format!("sim-{}.state", entry_boot_name(image)));
    let init = [
        "sim",
        "init",
        &state.display().to_string(),
        "--crash-region",
        &machine.crash.to_flag(),
    ];
    let got = toolstack::run(bin, &init.map(str::to_owned))?;
    if got.rc != 0 {
        return Err(format!("sim init: {}", got.describe()));
    }
    let mut last = None;
    for step in entry_steps(image) {
        let mut args = vec![
            "--backend".to_owned(),
            format!("sim:{}", state.display()),
            "--json".to_owned(),
        ];
        args.extend(render_args(&step.command, &[image], false));
        let got = toolstack::run(bin, &args)?;
        if got.rc != 0 {
            return Err(format!("sim {}: {}", args[3..].join(" "), got.describe()));
        }
        last = Some(got);
    }
    let out = last.ok_or("no entry steps")?.stdout.join("\n");
    let json: serde_json::Value =
        serde_json::from_str(&out).map_err(|e| format!("sim exec --json: {e}: {out}"))?;
    let (entry, mode) = (&json["entry_maddr"], &json["entry_mode"]);
    let (want_entry, want_mode) = (
        format!("{:#x}", machine.crash.start),
        format!("{:?}", image.mode),
    );
    if *entry != *want_entry || *mode != *want_mode {
        return Err(format!(
            "want the sim to enter at {want_entry} in {want_mode}, it entered at {entry} in {mode}"
        ));
    }
    Ok(format!("entered at {want_entry} in {want_mode}"))
}

fn judge_entry(report: &mut Report, image: &Image, bin: &Path, work: &Path, machine: &Machine) {
    let name = entry_boot_name(image);
    let Some(b) = report.boots.iter().find(|b| b.name == name) else {
        return;
    };
    let want = mode_name(image.mode);
    let mut vs = Vec::new();
    let load = b.log.outcome(&format!("{name}/load"));
    vs.push(scenario::judge(
        format!("{name}/load"),
        &scenario::Expect::RealOnly(scenario::Want::Done),
        load.as_ref(),
        None,
    ));
    // QEMU may repeat the last serial line as it exits: every line must name the mode.
    let modes = b.log.entered.as_slice();
    let entered = match (modes, b.run.end) {
        ([_, ..], End::Exited(DEBUG_EXIT_STATUS)) if modes.iter().all(|m| m == want) => Ok(format!(
            "{:?} image entered in {want}, as its arch names",
            image.machine
        )),
        (modes, end) => Err(format!(
            "want the {:?} image to report {want} and end QEMU with {DEBUG_EXIT_STATUS}; it reported {modes:?}, QEMU {end:?}",
            image.machine
        )),
    };
    let sim = sim_entry(image, bin, work, machine);
    let (pass, detail) = match (entered, sim) {
        (Ok(real), Ok(sim)) => (true, format!("{real} | sim {sim}")),
        (Err(e), _) | (_, Err(e)) => (false, format!("{e} ({})", kept(b))),
    };
    vs.push(Verdict {
        id: format!("{name}/exec"),
        pass,
        detail,
    });
    report.verdicts.push((name, vs));
}

/// The report as printed.
pub fn render(report: &Report) -> String {
    let mut s = String::new();
    for b in &report.boots {
        let _ = writeln!(
            s,
            "boot {}: {:.1} s wall-clock, dom0 /init at {} s of uptime; QEMU {:?}; log {}",
            b.name,
            b.run.elapsed.as_secs_f64(),
            b.log
                .init_uptime
                .map_or("?".to_owned(), |u| format!("{u:.2}")),
            b.run.end,
            b.log_path.display()
        );
    }
    if let Some(b) = report.boots.first() {
        let _ = writeln!(
            s,
            "Xen {}; dom0 Linux {}",
            b.log.xen_version.as_deref().unwrap_or("?"),
            b.log.kernel.as_deref().unwrap_or("?")
        );
    }
    for (name, vs) in &report.verdicts {
        let _ = writeln!(s, "scenario {name}:");
        for v in vs {
            let _ = writeln!(
                s,
                "  {} {}: {}",
                if v.pass { "ok  " } else { "FAIL" },
                v.id,
                v.detail
            );
        }
    }
    if !report.wrong_layout.is_empty() {
        let failed: Vec<&Verdict> = report.wrong_layout.iter().filter(|v| !v.pass).collect();
        let _ = writeln!(
            s,
            "harness check: --guest x86_32 forced on the 64-bit dom0 {} ({} of {} steps fail):",
            if report.wrong_layout_failed_as_it_must() {
                "fails, as it must"
            } else {
                "FAILS TO FAIL"
            },
            failed.len(),
            report.wrong_layout.len()
        );
        for v in failed {
            let _ = writeln!(s, "  expected failure {}: {}", v.id, v.detail);
        }
    }
    for i in &report.info {
        let _ = writeln!(s, "information, not a test: {i}");
    }
    for e in &report.errors {
        let _ = writeln!(s, "error: {e}");
    }
    s
}

/// REALXEN_ONLY=kdump,linux-default runs only the boots named (by hand, e.g. to repeat
/// one scenario); the verdict then covers only those, and the harness check fails.
fn keep_only_named(boots: &mut Vec<BootPlan>) {
    if let Some(only) = std::env::var_os("REALXEN_ONLY") {
        let only = only.to_string_lossy().into_owned();
        boots.retain(|b| only.split(',').any(|n| n == b.name));
    }
}

/// Adds the xen-with-rust boots to `boots`; gives the line that says why they are not
/// run when the patched Xen cannot be built here.
fn add_xen_rust_boots(
    boots: &mut Vec<BootPlan>,
    paths: &Paths,
    work: &Path,
    machine: &Machine,
    scenarios: &[Scenario],
    images: &[&Image],
) -> Result<Option<String>, Problem> {
    match xen_rust_boots(paths, work, machine, scenarios, images) {
        Ok(more) => {
            boots.extend(more);
            Ok(None)
        }
        Err(Ok(why)) => Ok(Some(format!("xen-with-rust: NOT RUN ({why})"))),
        Err(Err(e)) => Err(Problem::Fail(e)),
    }
}

/// The xen-with-rust boots (`xen_rust`): the patched Xen in compare and in enforce mode,
/// Debian's Xen as the stock one. `Err(Ok(why))` when the patched Xen cannot be built here.
fn xen_rust_boots(
    paths: &Paths,
    work: &Path,
    machine: &Machine,
    scenarios: &[Scenario],
    images: &[&Image],
) -> Result<Vec<BootPlan>, Result<String, String>> {
    let patched_gz = xen_rust::patched_xen(&paths.repo)?;
    let patched = work.join("xen-with-rust");
    unpack_xen(&patched_gz, &patched).map_err(Err)?;
    let rawkexec = xen_rust::rawkexec(&paths.repo, work).map_err(Err)?;
    let line = xen_rust::dom0_line(machine.crash.start);
    // The standard steps: the crash-cycle scenario (judged in the scenarios boot; here
    // only Xen's verdict on its load is).
    let standard: Vec<Scenario> = scenarios
        .iter()
        .filter(|s| s.name == "crash-cycle")
        .cloned()
        .collect();
    let plan = |name: &str, xen: Option<PathBuf>, extra: &'static str, steps| BootPlan {
        root_files: vec![(xen_rust::RAWKEXEC.to_owned(), rawkexec.clone())],
        machine: Some(Machine {
            xen_extra: extra,
            ..*machine
        }),
        xen,
        around: (String::new(), line.clone()),
        ..BootPlan::plain(name.to_owned(), steps)
    };
    Ok(vec![
        plan(
            xen_rust::COMPARE,
            Some(patched.clone()),
            xen_rust::LOGLVL,
            scenario_steps(&standard, images),
        ),
        plan(
            xen_rust::ENFORCE,
            Some(patched),
            "guest_loglvl=all kexec-rust-enforce",
            Vec::new(),
        ),
        plan(xen_rust::STOCK, None, xen_rust::LOGLVL, Vec::new()),
    ])
}

fn judge_xen_rust(report: &mut Report) {
    for name in [xen_rust::COMPARE, xen_rust::ENFORCE, xen_rust::STOCK] {
        let Some(b) = report.boots.iter().find(|b| b.name == name) else {
            continue;
        };
        let text = fs::read(&b.log_path).unwrap_or_default();
        let verdicts = xen_rust::judge(name, &String::from_utf8_lossy(&text), &kept(b));
        report.verdicts.push((name.to_owned(), verdicts));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use xen_kexec_abi::ElfMachine;

    fn verdict(pass: bool, detail: &str) -> Verdict {
        Verdict {
            id: "s/x".into(),
            pass,
            detail: detail.into(),
        }
    }

    fn report(steps: Vec<Verdict>, wrong_layout: Vec<Verdict>) -> Report {
        Report {
            verdicts: vec![("s".into(), steps)],
            wrong_layout,
            ..Report::default()
        }
    }

    #[test]
    fn a_run_passes_only_when_the_wrong_layout_fails_naming_its_log() {
        let failed = verdict(
            false,
            "real Xen: want … (serial log kept: target/realxen/logs/scenarios.log)",
        );
        assert!(report(vec![verdict(true, "")], vec![failed.clone()]).pass());
        // The wrong layout passing everything means the harness cannot see layouts.
        assert!(!report(vec![verdict(true, "")], vec![verdict(true, "")]).pass());
        // A failure that does not name its serial log is not good enough.
        assert!(!report(
            vec![verdict(true, "")],
            vec![verdict(false, "real Xen: want …")]
        )
        .pass());
        assert!(!report(vec![verdict(false, "x")], vec![failed.clone()]).pass());
        let mut with_error = report(vec![verdict(true, "")], vec![failed]);
        with_error
            .errors
            .push("boot scenarios: QEMU TimedOut".into());
        assert!(!with_error.pass());
    }

    #[test]
    fn files_outside_the_base_directories_get_their_directories_parents_first() {
        let dirs = parent_dirs([
            "sbin/kexec",
            "lib64/ld-linux-x86-64.so.2",
            "lib/x86_64-linux-gnu/libc.so.6",
            "lib/x86_64-linux-gnu/libxenctrl.so.4.17",
            "usr/lib/x86_64-linux-gnu/libz.so.1",
            "images/extra",
        ]);
        assert_eq!(
            dirs,
            [
                "lib/x86_64-linux-gnu",
                "lib64",
                "sbin",
                "usr",
                "usr/lib",
                "usr/lib/x86_64-linux-gnu"
            ]
        );
    }

    #[test]
    fn entry_boots_are_named_after_the_images_machine() {
        let image = |machine, name| Image {
            machine,
            path: PathBuf::from(name),
            name,
            mode: xen_kexec_abi::EntryMode::for_arch(machine).unwrap(),
        };
        assert_eq!(
            entry_boot_name(&image(ElfMachine::EM_386, "a")),
            "entry-em-386"
        );
        assert_eq!(
            entry_boot_name(&image(ElfMachine::EM_X86_64, "b")),
            "entry-em-x86-64"
        );
        let steps = entry_dom0_steps(&image(ElfMachine::EM_386, "mode32.elf"));
        assert_eq!(
            steps[0].args.last().map(String::as_str),
            Some("/images/mode32.elf")
        );
        assert_eq!(steps[1].args, ["exec", "--type", "crash"]);
    }

    #[test]
    fn sim_output_names_images_by_their_dom0_paths() {
        let image = Image {
            machine: ElfMachine::EM_X86_64,
            path: PathBuf::from("/host/work/images/mode64.elf"),
            name: "mode64.elf",
            mode: xen_kexec_abi::EntryMode::Long64,
        };
        let o = Outcome {
            rc: 0,
            stdout: vec!["PT_LOAD 0 of /host/work/images/mode64.elf".into()],
            stderr: vec![],
        };
        assert_eq!(
            as_in_dom0(o, &[&image]).stdout,
            ["PT_LOAD 0 of /images/mode64.elf"]
        );
    }
}
