// SPDX-License-Identifier: MIT
//! The dom0 runner of the differential test (a static binary in the real-Xen harness's
//! initramfs). Every hypercall goes through the toolstack's privcmd transport.
//!
//!     kexec-diff run SEED COUNT CRASH_START CRASH_SIZE
//!         the generated calls, exactly as generated; prints the transcript
//!         (`kexec_diff::transcript`) on stdout, which is dom0's console
//!     kexec-diff crash-reload CRASH_START CRASH_SIZE
//!         two raw crash loads, the second over the first's control pages: the Xen
//!         panic of `docs/realxen.md`; prints `@@DX step A|B RC`, then `@@DX survived`
//!     kexec-diff compare LOG [CPUS]
//!         (on the host) replays a serial log's run on the engine and compares

use std::io::Write as _;
use std::process::ExitCode;

use kexec_diff::gen::{Call, Load, Params, Region, Request, Seg, BUF_LEN};
use kexec_diff::replay::{arg_window, Plant};
use kexec_diff::sequence::generate;
use kexec_diff::transcript::{header, Answer, MARK, PER_LINE};
use xen_kexec_abi::KexecCmd;
use xen_kexec_toolstack::privcmd::{PrivcmdBuffer, PrivcmdTransport};
use xen_kexec_toolstack::transport::{CallError, HypercallBuffer, Transport};

fn number(s: Option<&String>) -> Result<u64, String> {
    let s = s.ok_or("missing argument (see the usage in src/bin/kexec-diff.rs)")?;
    match s.strip_prefix("0x") {
        Some(hex) => u64::from_str_radix(hex, 16),
        None => s.parse(),
    }
    .map_err(|e| format!("`{s}`: {e}"))
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = match args.first().map(String::as_str) {
        Some("run") => run(&args[1..]),
        Some("crash-reload") => crash_reload(&args[1..]),
        Some("compare") => compare(&args[1..]),
        _ => Err("usage: kexec-diff run SEED COUNT CRASH_START CRASH_SIZE | kexec-diff crash-reload CRASH_START CRASH_SIZE".to_owned()),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            println!("{MARK} error {e}");
            ExitCode::FAILURE
        }
    }
}

/// The transport and its one buffer.
struct Runner {
    transport: PrivcmdTransport,
    buf: PrivcmdBuffer,
    base: u64,
}

impl Runner {
    fn open() -> Result<Runner, String> {
        let mut transport = PrivcmdTransport::open().map_err(|e| e.to_string())?;
        let buf = transport.alloc(BUF_LEN).map_err(|e| e.to_string())?;
        let base = buf.guest_addr();
        Ok(Runner {
            transport,
            buf,
            base,
        })
    }

    /// One call as generated; the buffer is zero again afterwards.
    fn call(&mut self, call: &Call) -> Result<Answer, String> {
        let writes = call.writes(self.base);
        let at = |addr: u64| usize::try_from(addr - self.base).unwrap_or(0);
        for (addr, bytes) in &writes {
            let at = at(*addr);
            self.buf.bytes_mut()[at..at + bytes.len()].copy_from_slice(bytes);
        }
        let window = arg_window(self.base, call.arg);
        let before = window.clone().map(|w| self.buf.bytes()[w].to_vec());
        let rc = match self
            .transport
            .kexec_op(KexecCmd(call.cmd), call.arg, &mut [&mut self.buf])
        {
            Ok(v) => v,
            Err(CallError::Refused(r)) => -i64::from(r.errno.0),
            Err(CallError::Transport(e)) => return Err(e.to_string()),
        };
        let after = window.clone().map(|w| self.buf.bytes()[w].to_vec());
        for (addr, bytes) in &writes {
            let at = at(*addr);
            self.buf.bytes_mut()[at..at + bytes.len()].fill(0);
        }
        if let Some(w) = window {
            self.buf.bytes_mut()[w].fill(0);
        }
        Ok(Answer {
            rc,
            wrote: after.filter(|a| Some(a) != before.as_ref()),
        })
    }
}

fn run(args: &[String]) -> Result<(), String> {
    let mut runner = Runner::open()?;
    let count = usize::try_from(number(args.get(1))?).map_err(|e| e.to_string())?;
    let p = Params {
        seed: number(args.first())?,
        count,
        base: runner.base,
        crash: Region {
            start: number(args.get(2))?,
            size: number(args.get(3))?,
        },
    };
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "{}", header(&p));
    let calls = generate(&p);
    let mut line: Vec<String> = Vec::new();
    for (i, call) in calls.iter().enumerate() {
        let answer = runner.call(call).map_err(|e| format!("{i} {e}"))?;
        line.push(answer.entry());
        if line.len() == PER_LINE || i + 1 == calls.len() {
            let first = i + 1 - line.len();
            let _ = writeln!(out, "{MARK} a {first} {}", line.join(" "));
            let _ = out.flush();
            line.clear();
        }
    }
    let _ = writeln!(out, "{MARK} end {}", calls.len());
    Ok(())
}

fn compare(args: &[String]) -> Result<(), String> {
    let path = args.first().ok_or("compare LOG [CPUS]")?;
    let log = std::fs::read(path).map_err(|e| format!("{path}: {e}"))?;
    let t = kexec_diff::transcript::parse(&String::from_utf8_lossy(&log))?;
    let cpus = args.get(1).map_or(Ok(1), |_| number(args.get(1)))?;
    let outcome = kexec_diff::judge(
        &t,
        u32::try_from(cpus).map_err(|e| e.to_string())?,
        Plant::None,
    )?;
    print!("seed {}: {}", t.params.seed, outcome.summary.render());
    for (at, why) in outcome.summary.differences.iter().take(20) {
        println!("  call {at}: {why}");
    }
    if let Some(s) = outcome.shrunk {
        print!("{s}");
        return Err("differences no rule permits".to_owned());
    }
    Ok(())
}

/// What the crash images' sources hold: 64-bit words that, read as kexec page-list
/// entries, are source pages (`IND_SOURCE`) at addresses no RAM has. Zeros would end
/// Xen's walk of an overwritten list harmlessly.
const GARBAGE: u64 = 0x4141_4141_4141_4008;

fn crash_reload(args: &[String]) -> Result<(), String> {
    let mut runner = Runner::open()?;
    let start = number(args.first())?;
    let base = runner.base;
    for word in runner.buf.bytes_mut()[0x2000..].chunks_exact_mut(8) {
        word.copy_from_slice(&GARBAGE.to_le_bytes());
    }
    // Each segment's source is the garbage from offset 0x2000 on, as long as the
    // destination (B's 56 KiB covers every control page A's load took).
    let load = |dest: u64, size: u64| Call {
        cmd: 4,
        arg: base,
        req: Request::Load(Load {
            type_: 1,
            pad: 0,
            arch: 62,
            nr_segments: 1,
            segments: base + 0x1000,
            entry: dest,
            segs: vec![Seg {
                buf: base + 0x2000,
                buf_size: size,
                dest,
                size,
            }],
        }),
        guard: false,
    };
    // A: above the region's base (its control pages go to the hole below it);
    // B: from the base, over them.
    for (name, call) in [
        ("A", load(start + 0x10_0000, 0x1000)),
        ("B", load(start, 0xe000)),
    ] {
        let answer = runner.call(&call)?;
        println!("{MARK} step {name} {}", answer.rc);
        let _ = std::io::stdout().flush();
    }
    println!("{MARK} survived");
    let unload = Call {
        cmd: 5,
        arg: base,
        req: Request::Unload { type_: 1 },
        guard: false,
    };
    let answer = runner.call(&unload)?;
    println!("{MARK} step unload {}", answer.rc);
    Ok(())
}
