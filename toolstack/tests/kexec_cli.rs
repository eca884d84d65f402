// SPDX-License-Identifier: MIT
//! The `kexec` personality end to end over the simulated hypervisor, run as `kexec`
//! through a symlink to the built binary: every kexec-tools option of the table in
//! `docs/cli.md` (accepted, ignored, or refused with its message), the command forms of
//! Debian's kdump-config, and `xen-kexec kexec ARGS`.

use std::path::Path;
use std::process::{Command, Output};

use xen_kexec_toolstack::cli::kexec::{Disposition, OPTIONS};
use xen_kexec_toolstack::linux::synthetic::BzImageSpec;

mod common;
use common::failed;

const CRASH_192M: &str = "0x20000000:0xc000000";

/// A simulated host, a `kexec` symlink, a synthetic bzImage and an initrd in a temp dir.
struct Host {
    dir: tempfile::TempDir,
}

impl Host {
    fn new() -> Host {
        let host = Host {
            dir: tempfile::tempdir().expect("tempdir"),
        };
        let out = Command::new(env!("CARGO_BIN_EXE_xen-kexec"))
            .args([
                "sim",
                "init",
                &host.path("host.json"),
                "--crash-region",
                CRASH_192M,
            ])
            .output()
            .expect("runs");
        assert!(out.status.success(), "{out:?}");
        std::os::unix::fs::symlink(
            env!("CARGO_BIN_EXE_xen-kexec"),
            host.dir.path().join("kexec"),
        )
        .expect("symlink");
        std::fs::write(
            host.dir.path().join("vmlinuz"),
            BzImageSpec::default().build(),
        )
        .expect("kernel");
        std::fs::write(host.dir.path().join("initrd.gz"), vec![0x5a; 0x3000]).expect("initrd");
        host
    }

    fn path(&self, name: &str) -> String {
        self.dir.path().join(name).display().to_string()
    }

    fn env(&self, cmd: &mut Command) {
        cmd.env(
            "XEN_KEXEC_BACKEND",
            format!("sim:{}", self.path("host.json")),
        )
        .env("XEN_KEXEC_STATE_DIR", self.path("run"));
    }

    /// `kexec ARGS` (the symlink), in the temp dir.
    fn kexec(&self, args: &[&str]) -> Output {
        let mut cmd = Command::new(self.dir.path().join("kexec"));
        cmd.args(args).current_dir(self.dir.path());
        self.env(&mut cmd);
        cmd.output().expect("kexec runs")
    }

    /// `xen-kexec ARGS` with the same backend.
    fn native(&self, args: &[&str]) -> Output {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_xen-kexec"));
        cmd.args(args).current_dir(self.dir.path());
        self.env(&mut cmd);
        cmd.output().expect("xen-kexec runs")
    }

    fn status(&self, type_: &str) -> String {
        let out = self.native(&["status", "--type", type_]);
        assert!(out.status.success(), "{out:?}");
        String::from_utf8_lossy(&out.stdout).trim().to_owned()
    }
}

fn code(out: &Output) -> Option<i32> {
    out.status.code()
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[test]
fn kdump_configs_command_forms_load_report_and_unload_the_crash_kernel() {
    let h = Host::new();
    let out = h.kexec(&[
        "-p",
        "--command-line=console=ttyS0,115200 irqpoll maxcpus=1 reset_devices",
        "--initrd=initrd.gz",
        "vmlinuz",
    ]);
    assert_eq!(code(&out), Some(0), "{}", stderr(&out));
    assert!(out.stdout.is_empty() && out.stderr.is_empty(), "{out:?}");
    assert_eq!(h.status("crash"), "loaded");
    assert_eq!(code(&h.kexec(&["-p", "-S"])), Some(1), "loaded");
    // kdump-config's Secure Boot form: -s is accepted and ignored.
    let out = h.kexec(&[
        "-p",
        "-s",
        "--command-line=quiet",
        "--initrd",
        "initrd.gz",
        "vmlinuz",
    ]);
    assert_eq!(code(&out), Some(0), "{}", stderr(&out));
    let out = h.kexec(&["-p", "-u"]);
    assert_eq!(code(&out), Some(0), "{}", stderr(&out));
    assert_eq!(code(&h.kexec(&["-p", "-S"])), Some(0), "not loaded");
    assert_eq!(h.status("crash"), "not loaded");
    assert_eq!(code(&h.kexec(&["-S"])), Some(0), "-S is of the crash image");
}

#[test]
fn l_loads_the_default_image_and_e_syncs_and_enters_it() {
    let h = Host::new();
    let out = h.kexec(&["-e"]);
    assert_eq!(failed(&out, 1), "kexec: Nothing has been loaded!\n");
    let out = h.kexec(&[
        "-l",
        "--append=console=ttyS0",
        "--ramdisk=initrd.gz",
        "vmlinuz",
    ]);
    assert_eq!(code(&out), Some(0), "{}", stderr(&out));
    assert_eq!(h.status("default"), "loaded");
    assert_eq!(h.status("crash"), "not loaded");
    assert_eq!(code(&h.kexec(&["-l", "-S"])), Some(1));
    let out = h.kexec(&["-e"]);
    assert_eq!(code(&out), Some(0), "{}", stderr(&out));
    let out = h.native(&["exec", "--type", "default"]);
    assert_eq!(code(&out), Some(1), "an exec is in progress: EBUSY");
}

#[test]
fn d_prints_the_plan_on_stderr_and_loads() {
    let h = Host::new();
    let out = h.kexec(&["-pd", "--initrd=initrd.gz", "vmlinuz"]);
    assert_eq!(code(&out), Some(0), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(err.starts_with("loaded crash image: 8 segments"), "{err}");
    assert!(err.contains("initrd.gz"), "{err}");
    assert!(err.contains("core header: PT_LOAD"), "{err}");
    assert_eq!(h.status("crash"), "loaded");
}

#[test]
fn version_names_the_xen_interface_and_help_lists_the_options() {
    let h = Host::new();
    let out = h.kexec(&["-v"]);
    assert_eq!(code(&out), Some(0));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.starts_with("kexec (xen-kexec) "), "{text}");
    assert!(
        text.contains("Xen kexec interface 4.23, 0x00041700"),
        "{text}"
    );
    let out = h.native(&["--version"]);
    assert!(String::from_utf8_lossy(&out.stdout).contains("0x00041700"));
    let out = h.kexec(&["--help"]);
    assert_eq!(code(&out), Some(0));
    let text = String::from_utf8_lossy(&out.stdout);
    for o in OPTIONS {
        assert!(text.contains(&format!("--{}", o.long)), "--{}", o.long);
    }
}

#[test]
fn the_subcommand_form_is_the_personality() {
    let h = Host::new();
    let state = format!("sim:{}", h.path("host.json"));
    let out = Command::new(env!("CARGO_BIN_EXE_xen-kexec"))
        .args([
            "--backend",
            &state,
            "kexec",
            "-p",
            "--initrd=initrd.gz",
            "vmlinuz",
        ])
        .current_dir(h.dir.path())
        .env("XEN_KEXEC_STATE_DIR", h.path("run"))
        .output()
        .expect("runs");
    assert_eq!(code(&out), Some(0), "{}", stderr(&out));
    assert_eq!(code(&h.kexec(&["-p", "-S"])), Some(1));
}

#[test]
fn failures_exit_255_and_usage_errors_1() {
    let h = Host::new();
    let out = h.kexec(&["-p", "missing-vmlinuz"]);
    let err = failed(&out, 255);
    assert!(err.contains("missing-vmlinuz"), "{err}");
    assert_eq!(failed(&h.kexec(&["-l"]), 1), "kexec: No kernel specified\n");
    let err = failed(&h.kexec(&["vmlinuz"]), 1);
    assert!(err.contains("shutdown -r now"), "{err}");
    let err = failed(&h.kexec(&["--no-such-option"]), 1);
    assert!(err.contains("--no-such-option"), "{err}");
}

/// The rows of the option table in docs/cli.md: (spelling, what it does).
fn doc_rows() -> Vec<(String, String)> {
    let doc = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs/cli.md"))
        .expect("docs/cli.md");
    let table = doc
        .split("<!-- kexec options begin -->")
        .nth(1)
        .and_then(|t| t.split("<!-- kexec options end -->").next())
        .expect("the kexec option table");
    table
        .lines()
        .filter(|l| l.starts_with("| `"))
        .map(|l| {
            let cells: Vec<&str> = l.split('|').map(str::trim).collect();
            (cells[1].to_owned(), cells[2].to_owned())
        })
        .collect()
}

/// Each option's row in the table: every option has one, saying what it does.
#[test]
fn the_docs_table_has_one_row_per_option_with_its_disposition() {
    let rows = doc_rows();
    assert_eq!(rows.len(), OPTIONS.len(), "{rows:?}");
    for o in OPTIONS {
        let spelling = format!("`--{}", o.long);
        let (_, does) = rows
            .iter()
            .find(|(s, _)| {
                s.starts_with(&spelling) && s[spelling.len()..].starts_with(['`', '=', ' '])
            })
            .unwrap_or_else(|| panic!("no row for --{}", o.long));
        match o.disposition {
            Disposition::Accepted => assert!(does.starts_with("accepted"), "--{}: {does}", o.long),
            Disposition::Ignored(why) => {
                assert!(does.starts_with("ignored"), "--{}: {does}", o.long);
                assert!(does.contains(why), "--{}: {does}", o.long);
            }
            Disposition::Refused(why) => {
                assert!(does.starts_with("refused"), "--{}: {does}", o.long);
                assert!(does.contains(why), "--{}: {does}", o.long);
            }
        }
    }
}

/// An argument that gives `o` (its value `1` or a file).
fn spell(o: &xen_kexec_toolstack::cli::kexec::KexecOption, short: bool) -> Vec<String> {
    let value = match (o.long, o.value) {
        ("type", _) => Some("bzImage"),
        ("initrd" | "ramdisk", _) => Some("initrd.gz"),
        (_, Some(_)) => Some("1"),
        (_, None) => None,
    };
    match (short, o.short, value) {
        (true, Some(c), Some(v)) => vec![format!("-{c}"), v.to_owned()],
        (true, Some(c), None) => vec![format!("-{c}")],
        (_, _, Some(v)) => vec![format!("--{}={v}", o.long)],
        (_, _, None) => vec![format!("--{}", o.long)],
    }
}

/// Every ignored option leaves a crash load working; every refused one is refused,
/// naming it, with exit 1 and nothing loaded; accepted ones act (as the tests above
/// show in detail), each in its long and short spelling.
#[test]
fn every_option_of_the_table_behaves_as_its_row_says() {
    let h = Host::new();
    for o in OPTIONS {
        for short in [false, true] {
            if short && o.short.is_none() {
                continue;
            }
            let arg = spell(o, short);
            // -f after -p would load the crash image and enter the DEFAULT one, as
            // kexec-tools' flags do: -f is tried alone.
            let mut args: Vec<&str> = if o.long == "force" {
                vec![]
            } else {
                vec!["-p"]
            };
            args.extend(arg.iter().map(String::as_str));
            args.push("vmlinuz");
            // An entered image keeps the simulated host busy: -f gets a host of its own.
            let fresh = (o.long == "force").then(Host::new);
            let out = fresh.as_ref().unwrap_or(&h).kexec(&args);
            match (o.disposition, o.long) {
                (Disposition::Refused(why), _) => {
                    let err = failed(&out, 1);
                    assert_eq!(
                        err,
                        format!("kexec: --{} is not supported on Xen: {why}\n", o.long)
                    );
                    assert_eq!(h.status("crash"), "not loaded", "{args:?}");
                }
                (Disposition::Ignored(_), _)
                | (
                    Disposition::Accepted,
                    "load" | "load-panic" | "initrd" | "ramdisk" | "append" | "command-line"
                    | "reuse-cmdline" | "no-checks" | "no-sync" | "debug" | "type",
                ) => {
                    assert_eq!(code(&out), Some(0), "{args:?}: {}", stderr(&out));
                    assert_eq!(h.status("crash"), "loaded", "{args:?}");
                    let out = h.kexec(&["-p", "-u"]);
                    assert_eq!(code(&out), Some(0), "{}", stderr(&out));
                }
                // -u after -p: the unload (nothing loaded: 0); the kernel is not
                // looked at.
                (Disposition::Accepted, "unload") => {
                    assert_eq!(code(&out), Some(0), "{args:?}: {}", stderr(&out));
                }
                // -S after -p: not loaded.
                (Disposition::Accepted, "status") => assert_eq!(code(&out), Some(0)),
                // -e enters the DEFAULT image, and none is loaded.
                (Disposition::Accepted, "exec") => {
                    assert_eq!(failed(&out, 1), "kexec: Nothing has been loaded!\n");
                }
                // -f loads the DEFAULT image and enters it.
                (Disposition::Accepted, "force") => {
                    assert_eq!(code(&out), Some(0), "{args:?}: {}", stderr(&out));
                    let fresh = fresh.as_ref().expect("a host of its own");
                    assert_eq!(fresh.status("default"), "loaded");
                    let err = failed(&fresh.kexec(&["-u"]), 255);
                    assert!(err.contains("EBUSY"), "entered: {err}");
                }
                (Disposition::Accepted, "print-ckr-size") => {
                    assert_eq!(code(&out), Some(0));
                    assert_eq!(String::from_utf8_lossy(&out.stdout), "201326592\n");
                }
                (Disposition::Accepted, "version" | "help") => {
                    assert_eq!(code(&out), Some(0));
                    assert!(!out.stdout.is_empty());
                }
                (Disposition::Accepted, other) => panic!("--{other} has no case here"),
            }
        }
    }
}

#[test]
fn a_refused_type_is_named() {
    let h = Host::new();
    let err = failed(&h.kexec(&["-p", "--type=multiboot-x86", "vmlinuz"]), 1);
    assert!(err.contains("multiboot-x86"), "{err}");
}
