// SPDX-License-Identifier: MIT
//! Runs one benchmarked decode in a loop, for counting its instructions under callgrind
//! (stable on a busy machine, unlike wall-clock time), and the instruction-count gate:
//!
//! ```text
//! cargo build --release -p compat-tests --example decode_cost
//! valgrind --tool=callgrind --callgrind-out-file=/dev/null \
//!     target/release/examples/decode_cost x86_64 16 ascending default rust 1000
//! cargo run --release -p compat-tests --example decode_cost -- gate
//! ```
//!
//! Arguments: width (x86_32, x86_64), segments (1..=16), order (ascending,
//! ascending+low, descending), type (default, crash), what, iterations. What is one of
//! rust (`decode::load_into` over `FlatMemory`), copying (the same over
//! `Copying(FlatMemory)`, which copies, then checks), decode (`decode::decode`), c, copy
//! (the benchmark's floor), or race: time rust, c, copy, copying and decode in turn,
//! `iterations` rounds, and print each one's fastest round in ns per decode.
//! The instructions of one decode are the difference between two iteration counts over
//! their difference: `scripts/decode-cost WIDTH SEGMENTS ORDER TYPE WHAT` does that.
//!
//! `gate` runs this program under callgrind for every row of
//! [`compat_tests::cost_gate`], prints the table, and fails naming each row where the
//! Rust decode executes more instructions than the C reference.

use std::hint::black_box;
use std::process::ExitCode;
use std::time::Instant;

use compat_tests::bench_inputs::{
    copy_floor, decode_once, guest_memory, host, load_once, request, Order, FLOOR_OUT, LOAD_ADDR,
};
use compat_tests::c_reference::{CReference, RefLoad};
use compat_tests::cost_gate;
use xen_kexec_abi::decode::LoadSlot;
use xen_kexec_abi::guest_mem::{Copying, FlatMemory};
use xen_kexec_abi::host::HostDescription;
use xen_kexec_abi::{GuestAbi, KexecType};

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.len() == 1 && args[0] == "gate" {
        return gate();
    }
    let [width, n, order, kind, what, iterations] = &args[..] else {
        eprintln!(
            "usage: decode_cost WIDTH SEGMENTS ORDER TYPE rust|copying|decode|c|copy|race ITERATIONS\n\
             \x20      decode_cost gate"
        );
        return ExitCode::from(2);
    };
    let abi = if width == "x86_32" {
        GuestAbi::X86_32
    } else {
        GuestAbi::X86_64
    };
    let n: usize = n.parse().expect("a count");
    let order = Order::ALL
        .into_iter()
        .find(|o| o.name() == order)
        .expect("an order");
    let kind = if kind == "crash" {
        KexecType::CRASH
    } else {
        KexecType::DEFAULT
    };
    let iterations: u64 = iterations.parse().expect("a number");
    let host = host();
    let bytes = guest_memory(&request(kind, n, order), abi);
    let bytes = &bytes[..];
    match what.as_str() {
        "rust" => {
            let mut mem = FlatMemory::new(LOAD_ADDR, bytes).expect("flat");
            let mut slot = LoadSlot::new();
            for _ in 0..iterations {
                assert!(load_once(abi, &mut mem, &host, &mut slot));
            }
        }
        "copying" => {
            let mut mem = Copying(FlatMemory::new(LOAD_ADDR, bytes).expect("flat"));
            let mut slot = LoadSlot::new();
            for _ in 0..iterations {
                assert!(load_once(abi, &mut mem, &host, &mut slot));
            }
        }
        "decode" => {
            let mut mem = FlatMemory::new(LOAD_ADDR, bytes).expect("flat");
            for _ in 0..iterations {
                assert!(decode_once(abi, &mut mem, &host));
            }
        }
        "c" => {
            let reference = CReference::new(LOAD_ADDR, bytes, &host);
            let mut out = RefLoad::new();
            for _ in 0..iterations {
                let ret = reference.load(black_box(abi), black_box(LOAD_ADDR), &mut out);
                assert_eq!(black_box(ret), 0);
                black_box(&mut out);
            }
        }
        "race" => race(abi, n, bytes, &host, iterations),
        "copy" => {
            let mut out = FLOOR_OUT;
            for _ in 0..iterations {
                copy_floor(bytes, n, &mut out);
            }
        }
        other => {
            eprintln!("decode_cost: unknown WHAT {other:?}");
            return ExitCode::from(2);
        }
    }
    ExitCode::SUCCESS
}

/// The instruction-count gate (see [`compat_tests::cost_gate`]): this program, under
/// callgrind, for every row.
fn gate() -> ExitCode {
    if cfg!(debug_assertions) {
        eprintln!("decode_cost gate: build with --release (the gate counts the release build)");
        return ExitCode::from(2);
    }
    let exe = match std::env::current_exe() {
        Ok(exe) => exe,
        Err(e) => {
            eprintln!("decode_cost gate: {e}");
            return ExitCode::FAILURE;
        }
    };
    let rows = match cost_gate::measure(&exe) {
        Ok(rows) => rows,
        Err(e) => {
            eprintln!("decode_cost gate: {e}");
            return ExitCode::FAILURE;
        }
    };
    print!(
        "Instructions per decode (callgrind), ascending segments:\n\n{}",
        cost_gate::table(&rows)
    );
    match cost_gate::verdict(&rows) {
        Ok(()) => {
            println!(
                "ok: the Rust decode is at or below the C decode on all {} rows",
                rows.len()
            );
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("{e}");
            ExitCode::FAILURE
        }
    }
}

/// Times `decode::load_into`, the C reference, the copy, `decode::load_into` over
/// `Copying(FlatMemory)` and `decode::decode` (by value) in turn, `rounds` times 10,000
/// decodes each, and prints each one's fastest round in ns per decode.
fn race(abi: GuestAbi, n: usize, bytes: &[u8], host: &HostDescription, rounds: u64) {
    const PER_ROUND: u32 = 10_000;
    let mut mem = FlatMemory::new(LOAD_ADDR, bytes).expect("flat");
    let mut slot = LoadSlot::new();
    let reference = CReference::new(LOAD_ADDR, bytes, host);
    let mut out = RefLoad::new();
    let mut copied = FLOOR_OUT;
    let mut copying = Copying(FlatMemory::new(LOAD_ADDR, bytes).expect("flat"));
    let mut best = [f64::MAX; 5];
    let mut time = |i: usize, f: &mut dyn FnMut()| {
        let t = Instant::now();
        for _ in 0..PER_ROUND {
            f();
        }
        best[i] = best[i].min(t.elapsed().as_secs_f64());
    };
    for _ in 0..rounds {
        time(0, &mut || {
            assert!(load_once(abi, &mut mem, host, &mut slot));
        });
        time(1, &mut || {
            let ret = reference.load(black_box(abi), black_box(LOAD_ADDR), &mut out);
            assert_eq!(black_box(ret), 0);
            black_box(&mut out);
        });
        time(2, &mut || copy_floor(bytes, n, &mut copied));
        time(3, &mut || {
            assert!(load_once(abi, &mut copying, host, &mut slot));
        });
        time(4, &mut || assert!(decode_once(abi, &mut mem, host)));
    }
    let ns = best.map(|s| s * 1e9 / f64::from(PER_ROUND));
    println!(
        "rust {:.1} c {:.1} copy {:.1} copying {:.1} by-value {:.1} rust/c {:.2} rust/copy {:.2}",
        ns[0],
        ns[1],
        ns[2],
        ns[3],
        ns[4],
        ns[0] / ns[1],
        ns[0] / ns[2]
    );
}
