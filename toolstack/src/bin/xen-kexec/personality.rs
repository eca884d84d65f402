// SPDX-License-Identifier: MIT
//! The `kexec` personality: kexec-tools' command line ([`xen_kexec_toolstack::cli::kexec`]
//! parses it) over the same calls as the native commands: [`linux_load::plan_on`] plans,
//! [`Tracked`] loads, unloads and answers status with the record kept.
//!
//! Exit status, as kexec-tools 2.0's `main` (`kexec/kexec.c`): 0 success; 1 a usage
//! error (its `usage(); return 1`), an option Xen cannot do, or `-e` with nothing loaded
//! (its `die("Nothing has been loaded!")`); 255 a load, unload, status or exec that
//! failed (its `return -1`). `-S`: 1 loaded, 0 not loaded.

use std::ffi::OsString;
use std::process::ExitCode;

use xen_kexec_abi::{Errno, KexecRangeKind, KexecType};
use xen_kexec_toolstack::cli::kexec::{KexecAction, KexecLoad, KexecSteps, KexecUsage};
use xen_kexec_toolstack::cli::{self, AutoGuest, Backend};
use xen_kexec_toolstack::privcmd::PrivcmdTransport;
use xen_kexec_toolstack::record::RecordStore;
use xen_kexec_toolstack::sim::SimTransport;
use xen_kexec_toolstack::tracked::{StatusSource, Tracked};
use xen_kexec_toolstack::{Client, ClientError, TransportError};

use crate::output::Failure;
use crate::report::{Head, LoadReport};
use crate::{kept, linux_load, warn, CliTransport};

/// What ends a run that did not succeed.
enum Exit {
    /// Exit 1, with the message.
    Usage(String),
    /// Exit 255 (kexec-tools' -1), with the message.
    Failed(String),
}

impl From<Failure> for Exit {
    fn from(f: Failure) -> Self {
        Exit::Failed(f.text())
    }
}

impl From<TransportError> for Exit {
    fn from(e: TransportError) -> Self {
        Failure::from(e).into()
    }
}

impl From<ClientError> for Exit {
    fn from(e: ClientError) -> Self {
        Failure::from(e).into()
    }
}

/// Runs the personality on `args` (after the program name). `native` is the native
/// command line's `--backend` and `--guest` (`xen-kexec kexec ...`); run as `kexec`, the
/// backend is the one `XEN_KEXEC_BACKEND` names, else privcmd.
pub(crate) fn main(args: &[OsString], native: Option<(&Backend, AutoGuest)>) -> ExitCode {
    let action = match cli::parse_kexec(args) {
        Ok(action) => action,
        Err(KexecUsage(message)) => {
            note!("kexec: {message}");
            return ExitCode::from(1);
        }
    };
    // What prints needs a stdout; the rest only a closed descriptor filled.
    let prints = matches!(
        action,
        KexecAction::Help | KexecAction::Version | KexecAction::PrintCkrSize
    );
    if let (Err(f), true) = (crate::output::check_stdout(), prints) {
        note!("kexec: {}", f.text());
        return ExitCode::from(1);
    }
    let result = match action {
        KexecAction::Help => print(&cli::kexec_command().render_long_help().to_string()),
        KexecAction::Version => print(&format!("kexec (xen-kexec) {}\n", cli::version_text())),
        action => backend(native).and_then(|(backend, guest)| match backend {
            Backend::Privcmd => PrivcmdTransport::open()
                .map_err(|e| Exit::from(Failure::from(e)))
                .and_then(|t| on(t, guest, &action)),
            Backend::Sim(path) => SimTransport::open(&path)
                .map_err(|e| Exit::from(Failure::from(e)))
                .and_then(|t| on(t, guest, &action)),
        }),
    };
    match result {
        Ok(code) => ExitCode::from(code),
        Err(Exit::Usage(m)) => {
            note!("kexec: {m}");
            ExitCode::from(1)
        }
        Err(Exit::Failed(m)) => {
            note!("kexec: {m}");
            ExitCode::from(255)
        }
    }
}

fn print(text: &str) -> Result<u8, Exit> {
    crate::output::write_stdout(text.as_bytes())?;
    Ok(0)
}

/// The backend: the native command line's, or `XEN_KEXEC_BACKEND`'s, or privcmd.
fn backend(native: Option<(&Backend, AutoGuest)>) -> Result<(Backend, AutoGuest), Exit> {
    if let Some((backend, guest)) = native {
        return Ok((backend.clone(), guest));
    }
    match std::env::var(cli::BACKEND_ENV) {
        Ok(text) if !text.is_empty() => cli::parse_backend(&text)
            .map(|b| (b, None))
            .map_err(|e| Exit::Usage(format!("{}: {e}", cli::BACKEND_ENV))),
        _ => Ok((Backend::Privcmd, None)),
    }
}

/// Runs `action` over `transport`: the exit status.
fn on<T: CliTransport>(transport: T, guest: AutoGuest, action: &KexecAction) -> Result<u8, Exit> {
    let client = Client::new(transport, guest).map_err(|e| Exit::from(Failure::from(e)))?;
    let mut tracked = Tracked::new(client, RecordStore::from_env());
    let result = match action {
        KexecAction::Status(type_) => status(&mut tracked, *type_),
        KexecAction::PrintCkrSize => print_ckr_size(tracked.client_mut()),
        KexecAction::Run(steps) => run(&mut tracked, steps).map(|()| 0),
        KexecAction::Help | KexecAction::Version => Ok(0),
    };
    warn(&mut tracked, "kexec");
    result
}

/// `-S`: 1 loaded, 0 not. When the record and Xen's bit disagree, Xen's bit, with a
/// warning: kexec-tools' answer, the best there is.
fn status<T: CliTransport>(tracked: &mut Tracked<T>, type_: KexecType) -> Result<u8, Exit> {
    let answer = tracked
        .status(type_)
        .map_err(|e| Exit::Failed(format!("status failed: {}", Failure::from(e).text())))?;
    let loaded = answer.loaded.unwrap_or_else(|| {
        debug_assert_eq!(answer.source, StatusSource::Unknown);
        note!(
            "kexec: warning: {}; answering with Xen's status bit ({}), as kexec-tools does",
            answer.unknown_because().unwrap_or_default(),
            u8::from(answer.hypervisor_answer)
        );
        answer.hypervisor_answer
    });
    Ok(u8::from(loaded))
}

/// `--print-ckr-size`: the crash region's size in bytes, in decimal (0 without one).
fn print_ckr_size<T: CliTransport>(client: &mut Client<T>) -> Result<u8, Exit> {
    let range = client.get_range(KexecRangeKind::MA_CRASH, 0)?;
    print(&format!("{}\n", range.size))
}

/// Unload, load, sync, exec: kexec-tools' order.
fn run<T: CliTransport>(tracked: &mut Tracked<T>, steps: &KexecSteps) -> Result<(), Exit> {
    if let Some(type_) = steps.unload {
        let r = tracked.unload(type_);
        kept(tracked.client_mut().transport_mut(), r, "kexec")
            .map_err(|e| Exit::Failed(format!("unload failed: {}", Failure::from(e).text())))?;
    }
    if let Some(load) = &steps.load {
        load_linux(tracked, load, steps.debug)?;
    }
    if steps.sync {
        rustix::fs::sync();
    }
    if steps.exec {
        exec(tracked.client_mut())?;
    }
    Ok(())
}

/// A load through [`linux_load::plan_on`] and [`Tracked::load`], as `load --kernel`.
fn load_linux<T: CliTransport>(
    tracked: &mut Tracked<T>,
    load: &KexecLoad,
    debug: bool,
) -> Result<(), Exit> {
    let args = linux_load::LinuxArgs {
        type_: load.type_,
        kernel: &load.kernel,
        initrd: load.initrd.as_ref(),
        append: load.append.as_deref(),
        reuse_cmdline: load.reuse_cmdline,
        no_checks: load.no_checks,
        corrupt_digest: false,
        omit_elfcorehdr: false,
    };
    let linux = linux_load::plan_on(tracked.client_mut(), &args)?;
    let r = tracked.load(&linux.load, args.note());
    let summary = kept(tracked.client_mut().transport_mut(), r, "kexec")
        .map_err(|e| Exit::Failed(format!("load failed: {}", Failure::from(e).text())))?;
    if debug {
        // The plan as loaded (the load ran the rules once; the report reuses its answer).
        let head = Head::new("load", tracked.client_mut().abi());
        let report = LoadReport::new(
            head,
            false,
            &linux.load.segments,
            &summary,
            &linux.layout.core_phdrs,
        );
        note!("{report}");
    }
    Ok(())
}

/// `-e`: enter the DEFAULT image (kexec-tools' Xen path execs DEFAULT whatever `-p`
/// says). ENOENT: nothing is loaded, refused as kexec-tools refuses it.
fn exec<T: CliTransport>(client: &mut Client<T>) -> Result<(), Exit> {
    let r = client.exec(KexecType::DEFAULT);
    match kept(client.transport_mut(), r, "kexec") {
        Ok(()) => Ok(()),
        Err(ClientError::Refused(r)) if r.errno == Errno::ENOENT => {
            Err(Exit::Usage("Nothing has been loaded!".into()))
        }
        Err(e) => Err(Exit::Failed(format!(
            "kexec failed: {}",
            Failure::from(e).text()
        ))),
    }
}
