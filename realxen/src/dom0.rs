// SPDX-License-Identifier: MIT
//! dom0's `/init`, rendered for one boot: mount, load the modules, run the steps, report
//! each on the console (which reaches the serial log through Xen) and power off.
//!
//! Every report line is `@@RX SEQ TAG ...` ([`crate::serial`] reads them back); `SEQ`
//! counts up so a line the console repeats is recognised as the same line. Each step
//! reports its stdout and stderr lines, its exit status and how long it ran (`ms ID MS`:
//! milliseconds of `/proc/uptime`, which counts in 10 ms steps).

use std::fmt::Write as _;

use crate::debian::Module;
use crate::scenario::Build;

/// Where the test images are in the initramfs.
pub const IMAGES_DIR: &str = "/images";
/// Where the modules are in the initramfs.
pub const MODULES_DIR: &str = "/lib/modules";
/// The prefix of every report line.
pub const MARK: &str = "@@RX";

/// One command for dom0 to run and report under `id`.
#[derive(Clone, Debug)]
pub struct Dom0Step {
    /// The step's id (`SCENARIO/STEP`).
    pub id: String,
    /// Which build runs it.
    pub build: Build,
    /// Its arguments, image paths already made dom0 paths.
    pub args: Vec<String>,
}

/// The shell arithmetic that turns `$up`, an uptime with two decimals (`12.34`), into
/// milliseconds; `1` before the decimals keeps `05` from reading as octal.
pub const UPTIME_MS: &str = "$((${up%.*} * 1000 + 1${up#*.} * 10 - 1000))";

/// Quotes a word for the shell.
pub fn quote(word: &str) -> String {
    format!("'{}'", word.replace('\'', r"'\''"))
}

/// The `/init` script.
pub fn render(boot: &str, modules: &[Module], steps: &[Dom0Step]) -> String {
    render_around(boot, modules, "", steps, "")
}

/// The `/init` script with shell lines of the boot's own `before` the steps (after the
/// modules are loaded) and `after` them (before the script's end and power-off).
pub fn render_around(
    boot: &str,
    modules: &[Module],
    before: &str,
    steps: &[Dom0Step],
    after: &str,
) -> String {
    let mut s = format!(
        r#"#!/bin/busybox sh
# dom0's /init for the "{boot}" boot, rendered by realxen/src/dom0.rs.
/bin/busybox --install -s /bin
export PATH=/bin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
seq=0
say() {{ seq=$((seq + 1)); echo "{MARK} $seq $*"; }}
fatal() {{ say fatal "$*"; poweroff -f; }}
# Milliseconds of uptime (/proc/uptime has two decimals).
ms() {{ read -r up _ </proc/uptime; echo {UPTIME_MS}; }}
step() {{
    id=$1; shift
    t0=$(ms)
    "$@" >/tmp/out 2>/tmp/err
    rc=$?
    t1=$(ms)
    while IFS= read -r line || [ -n "$line" ]; do say out "$id" "$line"; done </tmp/out
    while IFS= read -r line || [ -n "$line" ]; do say err "$id" "$line"; done </tmp/err
    say rc "$id" "$rc"
    say ms "$id" "$((t1 - t0))"
}}
say init "$(cut -d' ' -f1 /proc/uptime)"
say uname "$(uname -r -v)"
"#
    );
    for m in modules {
        let file = format!("{MODULES_DIR}/{}.ko", m.name);
        writeln!(
            s,
            "insmod {} || fatal {}",
            quote(&file),
            quote(&format!("insmod {file} failed"))
        )
        .expect("writing to a String");
    }
    s.push_str("[ -c /dev/xen/privcmd ] || fatal 'no /dev/xen/privcmd after insmod'\n");
    s.push_str(before);
    for step in steps {
        let mut line = format!("step {} /bin/{}", quote(&step.id), step.build.dom0_name());
        for arg in &step.args {
            line.push(' ');
            line.push_str(&quote(arg));
        }
        s.push_str(&line);
        s.push('\n');
    }
    s.push_str(after);
    s.push_str("say end \"$(cut -d' ' -f1 /proc/uptime)\"\npoweroff -f\n");
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::PathBuf;

    fn module(name: &str) -> Module {
        Module {
            name: name.into(),
            path: PathBuf::from(name),
            depends: vec![],
        }
    }

    #[test]
    fn modules_load_in_the_given_order_before_the_steps() {
        let steps = [Dom0Step {
            id: "a/b".into(),
            build: Build::I686,
            args: vec!["status".into(), "--type".into(), "crash".into()],
        }];
        let script = render("t", &[module("xen-privcmd"), module("xenfs")], &steps);
        let at = |needle: &str| {
            script
                .find(needle)
                .unwrap_or_else(|| panic!("{needle} missing"))
        };
        assert!(at("insmod '/lib/modules/xen-privcmd.ko'") < at("insmod '/lib/modules/xenfs.ko'"));
        assert!(
            at("insmod '/lib/modules/xenfs.ko'")
                < at("step 'a/b' /bin/xen-kexec-i686 'status' '--type' 'crash'")
        );
        assert!(script.trim_end().ends_with("poweroff -f"));
    }

    #[test]
    fn each_step_is_timed_around_the_command_alone() {
        let script = render("t", &[], &[]);
        let step = &script[script.find("step() {").expect("step()")..];
        let at = |needle: &str| step.find(needle).unwrap_or_else(|| panic!("{needle}"));
        assert!(at("t0=$(ms)") < at("\"$@\" >/tmp/out") && at("rc=$?") < at("t1=$(ms)"));
        assert!(at("t1=$(ms)") < at("say out"));
        assert!(step.contains("say ms \"$id\" \"$((t1 - t0))\""));
        assert!(script.contains(&format!("echo {UPTIME_MS};")));
    }

    #[test]
    fn an_uptime_with_two_decimals_becomes_milliseconds_in_the_shell() {
        for (uptime, want) in [("0.05", "50"), ("12.90", "12900"), ("3762.08", "3762080")] {
            let out = std::process::Command::new("sh")
                .arg("-c")
                .arg(format!("up={uptime}; echo {UPTIME_MS}"))
                .output()
                .expect("sh runs");
            assert_eq!(
                String::from_utf8_lossy(&out.stdout).trim(),
                want,
                "{uptime}"
            );
        }
    }

    #[test]
    fn quoting_survives_a_single_quote() {
        assert_eq!(quote("it's"), r"'it'\''s'");
    }
}
