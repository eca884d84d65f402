// SPDX-License-Identifier: MIT
//! The `kexec` personality: kexec-tools' command line, for what Xen supports.
//!
//! `xen-kexec` run under the name `kexec` (a symlink or hard link), or as
//! `xen-kexec kexec ARGS…`, reads kexec-tools' options as kexec-tools 2.0's `main`
//! (`kexec/kexec.c`) reads them with `getopt_long`: long options as `--opt=VALUE` or
//! `--opt VALUE` and by unambiguous prefix, short options alone or combined (`-pu`), the
//! kernel anywhere. The mode options act in the order given, as kexec-tools' flags do:
//! `-p -u` unloads the crash image; `-u -p` unloads it and then loads one.
//!
//! Every option kexec-tools 2.0 has on x86 is in [`OPTIONS`], with what this personality
//! does with it: acts on it, ignores it (with the reason), or refuses it (with a message
//! naming it, exit 1). The table of `docs/cli.md` lists the same.

use std::ffi::OsString;
use std::path::PathBuf;

use clap::parser::ValueSource;
use clap::{Arg, ArgAction, ArgMatches};
use xen_kexec_abi::KexecType;

/// What the personality does with an option.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Disposition {
    /// Acted on.
    Accepted,
    /// Accepted and ignored, for the reason given.
    Ignored(&'static str),
    /// Refused with exit 1: the reason, after the option's name.
    Refused(&'static str),
}

/// One of kexec-tools' options.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct KexecOption {
    /// The long name, without `--`.
    pub long: &'static str,
    /// The short name, if one.
    pub short: Option<char>,
    /// The value's name, for an option that takes one.
    pub value: Option<&'static str>,
    /// What the personality does with it.
    pub disposition: Disposition,
    /// What an accepted option does, for `--help` and the man page (an ignored or
    /// refused option's help is made from its reason).
    pub help: &'static str,
}

const fn opt(
    long: &'static str,
    short: Option<char>,
    value: Option<&'static str>,
    disposition: Disposition,
    help: &'static str,
) -> KexecOption {
    KexecOption {
        long,
        short,
        value,
        disposition,
        help,
    }
}

use Disposition::{Accepted, Ignored, Refused};

const ONE_LOAD_PATH: &str = "Xen has one load path (kexec_op), whichever system call is named";
const NO_PRESERVE: &str =
    "Xen's kexec has no preserve-context or jump-back image: an exec does not return";
const PLACES_ITSELF: &str =
    "xen-kexec places the segments itself, from Xen's memory map and crash region";
const LINUX_ONLY: &str = "it is a feature of Linux's kexec_file_load, which Xen does not have";
const NO_CONSOLE: &str = "xen-kexec's purgatory sets up no console (it reports a bad digest \
     on the serial port the command line's console=ttyS<n> names)";
const BZIMAGE_ONLY: &str =
    "the kexec personality loads Linux bzImages only (ELF images: xen-kexec load --elf)";
const ELF64_CORE_HEADERS: &str = "xen-kexec builds ELF64 core headers only, which a 64-bit \
     crash kernel reads";
const NO_LIVE_UPDATE: &str = "xen-kexec does not do Xen live update";

/// Every option of kexec-tools 2.0 on x86 (`KEXEC_ALL_OPTIONS` of
/// `kexec/arch/i386/include/arch/options.h` and `kexec/kexec.h`), with its disposition.
pub const OPTIONS: &[KexecOption] = &[
    opt("load", Some('l'), None, Accepted, "Load the kernel as the DEFAULT image (the one a reboot into kexec enters)."),
    opt("load-panic", Some('p'), None, Accepted, "Load the kernel as the CRASH image (kdump); with -u or -S, the crash image."),
    opt("unload", Some('u'), None, Accepted, "Unload the DEFAULT image, or the CRASH image with -p."),
    opt("exec", Some('e'), None, Accepted, "sync(), then enter the loaded DEFAULT image; exit 1 with \"Nothing has been loaded!\" if there is none."),
    opt("status", Some('S'), None, Accepted, "Exit 1 if the CRASH image (with -l: the DEFAULT image) is loaded, 0 if not; loads and unloads nothing."),
    opt("force", Some('f'), None, Accepted, "Load the kernel as the DEFAULT image, sync(), and enter it at once."),
    opt("initrd", None, Some("FILE"), Accepted, "The initial ramdisk."),
    opt("ramdisk", None, Some("FILE"), Accepted, "The initial ramdisk (as --initrd)."),
    opt("append", None, Some("TEXT"), Accepted, "The kernel command line (after --reuse-cmdline's)."),
    opt("command-line", None, Some("TEXT"), Accepted, "The kernel command line (as --append)."),
    opt("reuse-cmdline", None, None, Accepted, "Start the command line with /proc/cmdline, minus crashkernel= and BOOT_IMAGE=."),
    opt("no-checks", Some('i'), None, Accepted, "The purgatory does not check the segments' SHA-256 digests."),
    opt("no-sync", Some('y'), None, Accepted, "No sync() before -e or -f."),
    opt("debug", Some('d'), None, Accepted, "Print the load plan on stderr before loading."),
    opt("type", Some('t'), Some("TYPE"), Accepted, "The kernel's file type: bzImage or bzImage64 (the only ones loaded)."),
    opt("print-ckr-size", None, None, Accepted, "Print the crash region's size in bytes (Xen's KEXEC_RANGE_MA_CRASH)."),
    opt("version", Some('v'), None, Accepted, "Print the version and the Xen interface followed."),
    opt("help", Some('h'), None, Accepted, "Print this help."),
    opt("kexec-file-syscall", Some('s'), None, Ignored(ONE_LOAD_PATH), ""),
    opt("kexec-syscall", Some('c'), None, Ignored(ONE_LOAD_PATH), ""),
    opt("kexec-syscall-auto", Some('a'), None, Ignored(ONE_LOAD_PATH), ""),
    opt("no-ifdown", Some('x'), None, Ignored("xen-kexec never brings network interfaces down"), ""),
    opt("args-linux", None, None, Ignored("Linux-style arguments are the only ones xen-kexec passes"), ""),
    opt("noefi", None, None, Ignored("the zero page xen-kexec builds carries no EFI information"), ""),
    opt("mem-min", None, Some("ADDR"), Refused(PLACES_ITSELF), ""),
    opt("mem-max", None, Some("ADDR"), Refused(PLACES_ITSELF), ""),
    opt("load-preserve-context", None, None, Refused(NO_PRESERVE), ""),
    opt("load-jump-back-helper", None, None, Refused(NO_PRESERVE), ""),
    opt("entry", None, Some("ADDR"), Refused(NO_PRESERVE), ""),
    opt("load-live-update", None, None, Refused(NO_LIVE_UPDATE), ""),
    opt("exec-live-update", None, None, Refused(NO_LIVE_UPDATE), ""),
    opt("reuseinitrd", None, None, Refused("Xen keeps no initrd from the first boot to reuse"), ""),
    opt("hotplug", None, None, Refused(LINUX_ONLY), ""),
    opt("no-cma", None, None, Refused(LINUX_ONLY), ""),
    opt("force-dtb", None, None, Refused(LINUX_ONLY), ""),
    opt("dtb", None, Some("FILE"), Refused("xen-kexec passes no device tree"), ""),
    opt("reset-vga", None, None, Refused(NO_CONSOLE), ""),
    opt("serial", None, Some("PORT"), Refused(NO_CONSOLE), ""),
    opt("serial-baud", None, Some("BAUD"), Refused(NO_CONSOLE), ""),
    opt("console-vga", None, None, Refused(NO_CONSOLE), ""),
    opt("console-serial", None, None, Refused(NO_CONSOLE), ""),
    opt("elf32-core-headers", None, None, Refused(ELF64_CORE_HEADERS), ""),
    opt("elf64-core-headers", None, None, Ignored(ELF64_CORE_HEADERS), ""),
    opt("pass-memmap-cmdline", None, None, Refused("xen-kexec passes the memory map in the zero page's e820 table"), ""),
    opt("reuse-video-type", None, None, Refused("the zero page xen-kexec builds carries no video information"), ""),
    opt("args-elf", None, None, Refused(BZIMAGE_ONLY), ""),
    opt("args-none", None, None, Refused(BZIMAGE_ONLY), ""),
    opt("module", None, Some("FILE"), Refused("multiboot images are not loaded by xen-kexec"), ""),
    opt("real-mode", None, None, Refused("xen-kexec enters the kernel's 64-bit entry through its purgatory"), ""),
    opt("entry-32bit", None, None, Refused("xen-kexec enters the kernel's 64-bit entry through its purgatory"), ""),
];

/// The file types `--type` takes (kexec-tools' names for the bzImage loaders).
pub const TYPES: [&str; 2] = ["bzImage", "bzImage64"];

/// The options of a load: given when nothing is loaded, kexec-tools prints its usage
/// and exits 1 (its check "for bogus options" in `main`).
const LOAD_OPTIONS: [&str; 7] = [
    "initrd",
    "ramdisk",
    "append",
    "command-line",
    "reuse-cmdline",
    "args-linux",
    "type",
];

/// The `kexec` personality's command line, for `--help`, the man page and completions.
pub fn kexec_command() -> clap::Command {
    let mut cmd = clap::Command::new("kexec")
        .about("Load and enter kernels through Xen's kexec_op, with kexec-tools' command line")
        .long_about(KEXEC_ABOUT)
        .version(super::version_text())
        .disable_help_flag(true)
        .disable_version_flag(true)
        .infer_long_args(true)
        .arg(
            Arg::new("kernel")
                .value_name("KERNEL")
                .value_parser(clap::value_parser!(PathBuf))
                .help("The Linux bzImage to load."),
        );
    for o in OPTIONS {
        let help = match o.disposition {
            Accepted => o.help.to_owned(),
            Ignored(why) => format!("Accepted and ignored: {why}."),
            Refused(why) => format!("Refused: {why}."),
        };
        let mut arg = Arg::new(o.long).long(o.long).help(help);
        if let Some(c) = o.short {
            arg = arg.short(c);
        }
        arg = match o.value {
            Some(v) => arg
                .value_name(v)
                .action(ArgAction::Append)
                .allow_hyphen_values(true),
            None => arg.action(ArgAction::Count),
        };
        if o.long == "type" {
            arg = arg.value_parser(TYPES);
        } else if o.value == Some("FILE") {
            arg = arg.value_parser(clap::value_parser!(PathBuf));
        }
        cmd = cmd.arg(arg);
    }
    cmd
}

/// The long description of the personality (its man page's DESCRIPTION).
const KEXEC_ABOUT: &str = "xen-kexec run as `kexec` (a symlink or hard link to it), or as \
`xen-kexec kexec ARGS...`, reads kexec-tools' command line and loads, unloads and enters \
Linux bzImages through Xen's kexec_op, as the rest of xen-kexec does. Distribution \
scripts (kdump-config, kdumpctl) run unchanged: `kexec -p --command-line=TEXT \
--initrd=FILE KERNEL` loads a crash kernel, `kexec -p -u` unloads it, `kexec -p -S` \
exits 1 when it is loaded.\n\n\
Exit status: 0 success; 1 a usage error, an option Xen cannot do (named), or -e with \
nothing loaded; 255 a failed load, unload, status or exec (as kexec-tools' -1). With -S: \
1 loaded, 0 not loaded.\n\n\
Options kexec-tools has that Xen cannot do (--mem-min, --mem-max, --load-preserve-context, \
--load-jump-back-helper, --entry, live update, --reuseinitrd, --dtb, console and \
core-header options, multiboot and ELF image options) are refused with a message naming \
them. The hypervisor interface is Linux privcmd, or the one XEN_KEXEC_BACKEND names \
(`privcmd` or `sim:PATH`). Status is read from xen-kexec's record under /run/xen-kexec \
(XEN_KEXEC_STATE_DIR), because Xen's own status answer is a bit that every load and \
unload flips.";

/// A Linux load the personality asks for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KexecLoad {
    /// DEFAULT (`-l`, `-f`) or CRASH (`-p`).
    pub type_: KexecType,
    /// The bzImage.
    pub kernel: PathBuf,
    /// `--initrd` / `--ramdisk` (the last given).
    pub initrd: Option<PathBuf>,
    /// `--append` / `--command-line` (the last given).
    pub append: Option<String>,
    /// `--reuse-cmdline`.
    pub reuse_cmdline: bool,
    /// `-i` / `--no-checks`.
    pub no_checks: bool,
}

/// The steps of a run, in kexec-tools' order: unload, load, sync, exec.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KexecSteps {
    /// Unload the image of this type first.
    pub unload: Option<KexecType>,
    /// Then load.
    pub load: Option<KexecLoad>,
    /// Then `sync()` (before an exec, unless `-y`).
    pub sync: bool,
    /// Then enter the DEFAULT image (kexec-tools' Xen path always execs DEFAULT).
    pub exec: bool,
    /// `-d`: print the load's plan on stderr.
    pub debug: bool,
}

/// What the command line asks for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum KexecAction {
    /// `-h`: the help text.
    Help,
    /// `-v`: the version.
    Version,
    /// `--print-ckr-size`.
    PrintCkrSize,
    /// `-S`: the status of this type.
    Status(KexecType),
    /// Unload, load, sync, exec.
    Run(KexecSteps),
}

/// A command line the personality refuses: the message, for stderr, and exit status 1.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KexecUsage(pub String);

/// The mode options, whose effects depend on their order.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Mode {
    Force,
    Load,
    Unload,
    Exec,
    Panic,
}

/// kexec-tools' `main` flags, as the mode options set them.
#[derive(Clone, Copy, Debug)]
#[allow(clippy::struct_excessive_bools)] // kexec-tools' own flags
struct Flags {
    load: bool,
    exec: bool,
    shutdown: bool,
    sync: bool,
    unload: bool,
    crash: bool,
    has_opt_load: bool,
}

impl Flags {
    /// kexec-tools' defaults: load, then `shutdown -r now`.
    fn new() -> Flags {
        Flags {
            load: true,
            exec: false,
            shutdown: true,
            sync: true,
            unload: false,
            crash: false,
            has_opt_load: false,
        }
    }

    /// One mode option, as `main`'s `switch` treats it.
    fn apply(&mut self, mode: Mode) {
        match mode {
            Mode::Force => {
                (self.load, self.shutdown, self.sync, self.exec) = (true, false, true, true);
            }
            Mode::Load => {
                (self.has_opt_load, self.load, self.exec, self.shutdown) =
                    (true, true, false, false);
            }
            Mode::Unload => {
                (self.load, self.shutdown, self.sync, self.unload) = (false, false, false, true);
            }
            Mode::Exec => {
                (self.load, self.shutdown, self.sync, self.exec) = (false, false, true, true);
            }
            Mode::Panic => {
                (self.load, self.exec, self.shutdown, self.sync, self.crash) =
                    (true, false, false, false, true);
            }
        }
    }
}

/// Parses the personality's arguments (without the program name).
///
/// # Errors
/// A usage error (clap's message, or one naming a refused option), for exit 1.
pub fn parse_kexec(args: &[OsString]) -> Result<KexecAction, KexecUsage> {
    let program_and_args = std::iter::once(OsString::from("kexec")).chain(args.iter().cloned());
    let m = kexec_command()
        .try_get_matches_from(program_and_args)
        .map_err(|e| KexecUsage(e.render().to_string().trim_end().to_owned()))?;
    if count(&m, "help") > 0 {
        return Ok(KexecAction::Help);
    }
    if count(&m, "version") > 0 {
        return Ok(KexecAction::Version);
    }
    refuse_refused(&m)?;
    if count(&m, "print-ckr-size") > 0 {
        return Ok(KexecAction::PrintCkrSize);
    }
    let flags = mode_flags(&m);
    if count(&m, "status") > 0 {
        let type_ = if flags.crash || !flags.has_opt_load {
            KexecType::CRASH
        } else {
            KexecType::DEFAULT
        };
        return loading_options_alone(&m, "-S").map(|()| KexecAction::Status(type_));
    }
    steps(&m, flags).map(KexecAction::Run)
}

fn count(m: &ArgMatches, id: &str) -> u8 {
    m.get_count(id)
}

/// Where `id` was first given on the command line (a flag's default is not given).
fn given_at(m: &ArgMatches, id: &str) -> Option<usize> {
    (m.value_source(id) == Some(ValueSource::CommandLine))
        .then(|| m.index_of(id))
        .flatten()
}

/// Every position `id` was given at.
fn given_all(m: &ArgMatches, id: &str) -> Vec<usize> {
    if m.value_source(id) == Some(ValueSource::CommandLine) {
        m.indices_of(id).into_iter().flatten().collect()
    } else {
        Vec::new()
    }
}

/// The first refused option given (by position), as a usage error.
fn refuse_refused(m: &ArgMatches) -> Result<(), KexecUsage> {
    let refused = OPTIONS
        .iter()
        .filter_map(|o| match o.disposition {
            Refused(why) => given_at(m, o.long).map(|i| (i, o, why)),
            _ => None,
        })
        .min_by_key(|(i, _, _)| *i);
    match refused {
        Some((_, o, why)) => Err(KexecUsage(format!(
            "--{}{} is not supported on Xen: {why}",
            o.long,
            o.short.map(|c| format!(" (-{c})")).unwrap_or_default()
        ))),
        None => Ok(()),
    }
}

/// kexec-tools' flags after the mode options, applied in the order given.
fn mode_flags(m: &ArgMatches) -> Flags {
    let modes = [
        ("force", Mode::Force),
        ("load", Mode::Load),
        ("unload", Mode::Unload),
        ("exec", Mode::Exec),
        ("load-panic", Mode::Panic),
    ];
    let mut given: Vec<(usize, Mode)> = modes
        .iter()
        .flat_map(|(id, mode)| given_all(m, id).into_iter().map(move |i| (i, *mode)))
        .collect();
    given.sort_by_key(|(i, _)| *i);
    let mut flags = Flags::new();
    for (_, mode) in given {
        flags.apply(mode);
    }
    flags
}

/// A load option given with `what` (which loads nothing): refused as kexec-tools does.
fn loading_options_alone(m: &ArgMatches, what: &str) -> Result<(), KexecUsage> {
    match LOAD_OPTIONS.iter().find(|id| given_at(m, id).is_some()) {
        Some(id) => Err(KexecUsage(format!(
            "--{id} is an option of a load (-l, -p or -f), and {what} loads nothing"
        ))),
        None => Ok(()),
    }
}

fn last_value<T: Clone + Send + Sync + 'static>(m: &ArgMatches, ids: &[&str]) -> Option<T> {
    ids.iter()
        .filter_map(|id| {
            let index = *given_all(m, id).last()?;
            let value = m.get_many::<T>(id)?.next_back()?.clone();
            Some((index, value))
        })
        .max_by_key(|(i, _)| *i)
        .map(|(_, v)| v)
}

/// The steps kexec-tools' flags ask for.
fn steps(m: &ArgMatches, flags: Flags) -> Result<KexecSteps, KexecUsage> {
    let kernel = m.get_one::<PathBuf>("kernel").cloned();
    if !flags.load {
        let what = if flags.unload { "-u" } else { "-e" };
        loading_options_alone(m, what)?;
    }
    let load = if flags.load {
        let kernel = kernel.ok_or_else(|| KexecUsage("No kernel specified".into()))?;
        if flags.shutdown {
            return Err(KexecUsage(format!(
                "loading {} and rebooting in one step (kexec-tools runs `shutdown -r now` \
                 when none of -l, -p, -u, -e, -f or -S is given) is not done by xen-kexec: \
                 load with `kexec -l`, then reboot with `systemctl kexec` or `kexec -e`",
                kernel.display()
            )));
        }
        Some(KexecLoad {
            type_: if flags.crash {
                KexecType::CRASH
            } else {
                KexecType::DEFAULT
            },
            kernel,
            initrd: last_value(m, &["initrd", "ramdisk"]),
            append: last_value(m, &["append", "command-line"]),
            reuse_cmdline: count(m, "reuse-cmdline") > 0,
            no_checks: count(m, "no-checks") > 0,
        })
    } else {
        None
    };
    Ok(KexecSteps {
        unload: flags.unload.then_some(if flags.crash {
            KexecType::CRASH
        } else {
            KexecType::DEFAULT
        }),
        load,
        sync: flags.exec && flags.sync && count(m, "no-sync") == 0,
        exec: flags.exec,
        debug: count(m, "debug") > 0,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(args: &[&str]) -> Result<KexecAction, KexecUsage> {
        let args: Vec<OsString> = args.iter().map(OsString::from).collect();
        parse_kexec(&args)
    }

    fn run(args: &[&str]) -> KexecSteps {
        match parse(args) {
            Ok(KexecAction::Run(steps)) => steps,
            other => panic!("{args:?}: {other:?}"),
        }
    }

    #[test]
    fn the_command_line_is_consistent() {
        kexec_command().debug_assert();
    }

    #[test]
    fn kdump_configs_load_takes_both_spellings_of_values() {
        for args in [
            &["-p", "--command-line=quiet irqpoll", "--initrd=/i", "/k"][..],
            &[
                "-p",
                "--command-line",
                "quiet irqpoll",
                "--initrd",
                "/i",
                "/k",
            ],
            &[
                "/k",
                "--load-panic",
                "--append=quiet irqpoll",
                "--ramdisk=/i",
            ],
            &["-ps", "--comm=quiet irqpoll", "--initrd=/i", "/k"],
        ] {
            let s = run(args);
            let load = s.load.expect("a load");
            assert_eq!(load.type_, KexecType::CRASH, "{args:?}");
            assert_eq!(load.kernel, PathBuf::from("/k"));
            assert_eq!(load.initrd, Some(PathBuf::from("/i")));
            assert_eq!(load.append.as_deref(), Some("quiet irqpoll"));
            assert_eq!((s.unload, s.exec, s.sync), (None, false, false));
        }
    }

    #[test]
    fn the_mode_options_act_in_the_order_given_as_kexec_tools_flags_do() {
        let s = run(&["-p", "-u"]);
        assert_eq!((s.unload, s.load), (Some(KexecType::CRASH), None));
        let s = run(&["-pu"]);
        assert_eq!((s.unload, s.load), (Some(KexecType::CRASH), None));
        let s = run(&["-u"]);
        assert_eq!((s.unload, s.load), (Some(KexecType::DEFAULT), None));
        // -u then -p: unload the crash image, then load one.
        let s = run(&["-u", "-p", "/k"]);
        assert_eq!(s.unload, Some(KexecType::CRASH));
        assert_eq!(s.load.expect("a load").type_, KexecType::CRASH);
        let s = run(&["-e"]);
        assert_eq!((s.load, s.exec, s.sync), (None, true, true));
        let s = run(&["-e", "-y"]);
        assert_eq!((s.exec, s.sync), (true, false));
        let s = run(&["-f", "/k"]);
        assert_eq!(s.load.expect("a load").type_, KexecType::DEFAULT);
        assert_eq!((s.exec, s.sync), (true, true));
        let s = run(&["-l", "-d", "-i", "/k"]);
        assert!(s.debug);
        assert!(s.load.expect("a load").no_checks);
    }

    #[test]
    fn status_is_of_the_crash_image_unless_l_without_p() {
        assert_eq!(parse(&["-S"]), Ok(KexecAction::Status(KexecType::CRASH)));
        assert_eq!(
            parse(&["-p", "-S"]),
            Ok(KexecAction::Status(KexecType::CRASH))
        );
        assert_eq!(
            parse(&["-l", "-S"]),
            Ok(KexecAction::Status(KexecType::DEFAULT))
        );
        assert_eq!(
            parse(&["-S", "-l", "-p"]),
            Ok(KexecAction::Status(KexecType::CRASH))
        );
    }

    #[test]
    fn every_refused_option_is_named_with_its_reason() {
        for o in OPTIONS {
            let Refused(why) = o.disposition else {
                continue;
            };
            let arg = match o.value {
                Some(_) => format!("--{}=1", o.long),
                None => format!("--{}", o.long),
            };
            let e = parse(&["-l", &arg, "/k"]).expect_err(&arg);
            assert!(e.0.starts_with(&format!("--{} ", o.long)), "{arg}: {}", e.0);
            assert!(e.0.ends_with(why), "{arg}: {}", e.0);
        }
    }

    #[test]
    fn a_plain_load_and_reboot_and_a_missing_kernel_are_refused() {
        let e = parse(&["/k"]).expect_err("refused");
        assert!(e.0.contains("shutdown -r now"), "{}", e.0);
        assert_eq!(
            parse(&["-l"]),
            Err(KexecUsage("No kernel specified".into()))
        );
        let e = parse(&["-u", "--initrd=/i"]).expect_err("refused");
        assert!(
            e.0.starts_with("--initrd is an option of a load"),
            "{}",
            e.0
        );
        let e = parse(&["-l", "--type=multiboot-x86", "/k"]).expect_err("refused");
        assert!(e.0.contains("multiboot-x86"), "{}", e.0);
        let e = parse(&["--bogus"]).expect_err("refused");
        assert!(e.0.contains("--bogus"), "{}", e.0);
    }
}
