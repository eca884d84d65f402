// SPDX-License-Identifier: MIT
//! Runs one benchmarked decode in a loop, for counting its instructions under callgrind
//! (stable on a busy machine, unlike wall-clock time):
//!
//! ```text
//! cargo build --release -p compat-tests --example decode_cost
//! valgrind --tool=callgrind --callgrind-out-file=/dev/null \
//!     target/release/examples/decode_cost x86_64 16 ascending default rust 1000
//! ```
//!
//! Arguments: width (x86_32, x86_64), segments (1..=16), order (ascending,
//! ascending+low, descending), type (default, crash), what, iterations. What is one of
//! rust (`decode::load_into` over `FlatMemory`), copying (the same over
//! `Copying(FlatMemory)`, which copies, then checks), decode (`decode::decode`), c, copy
//! (the benchmark's floor), or race: time rust, c, copy, copying and decode in turn,
//! `iterations` rounds, and print each one's fastest round in ns per decode (a figure a
//! busy machine disturbs less than a mean).
//! The instructions of one decode are the difference between two iteration counts over
//! their difference: `scripts/decode-cost WIDTH SEGMENTS ORDER TYPE WHAT` does that.

use std::hint::black_box;
use std::time::Instant;

use compat_tests::bench_inputs::{
    decode_once, guest_pages, host, load_once, on_stack_in, request, InputPage, Order, OutputPage,
    FLOOR_OUT, LOAD_ADDR, STACK_WINDOW,
};
use compat_tests::c_reference::{CReference, RefLoad};
use xen_kexec_abi::decode::LoadSlot;
use xen_kexec_abi::guest_mem::{Copying, FlatMemory};
use xen_kexec_abi::{GuestAbi, KexecType};

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [width, n, order, kind, what, iterations] = &args[..] else {
        eprintln!("usage: decode_cost WIDTH SEGMENTS ORDER TYPE rust|c|copy ITERATIONS");
        std::process::exit(2);
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
    // Placed as the benchmark places them (see `OUTPUT_OFFSET` and `INPUT_OFFSET`).
    let host = InputPage::new(host());
    let host = &host.value;
    let pages = guest_pages(&request(kind, n, order), abi);
    let bytes = &pages.0[..];
    match what.as_str() {
        "rust" => {
            let mut mem = InputPage::new(FlatMemory::new(LOAD_ADDR, bytes).expect("flat"));
            let mut slot = OutputPage::new(LoadSlot::new());
            for _ in 0..iterations {
                assert!(load_once(abi, &mut mem.value, host, &mut slot.value));
            }
        }
        "copying" => {
            let mut mem = InputPage::new(Copying(FlatMemory::new(LOAD_ADDR, bytes).expect("flat")));
            let mut slot = OutputPage::new(LoadSlot::new());
            for _ in 0..iterations {
                assert!(load_once(abi, &mut mem.value, host, &mut slot.value));
            }
        }
        "decode" => {
            let mut mem = InputPage::new(FlatMemory::new(LOAD_ADDR, bytes).expect("flat"));
            for _ in 0..iterations {
                assert!(decode_once(abi, &mut mem.value, host));
            }
        }
        "c" => {
            let reference = InputPage::new(CReference::new(LOAD_ADDR, bytes, host));
            let mut out = OutputPage::new(RefLoad::new());
            for _ in 0..iterations {
                let ret =
                    reference
                        .value
                        .load(black_box(abi), black_box(LOAD_ADDR), &mut out.value);
                assert_eq!(black_box(ret), 0);
                black_box(&mut out.value);
            }
        }
        "race" => race(abi, n, bytes, host, iterations),
        _ => {
            let mut out = OutputPage::new(FLOOR_OUT);
            for _ in 0..iterations {
                compat_tests::copy_floor!(bytes, n, &mut out.value);
            }
        }
    }
}

/// Times `decode::load_into`, the C reference, the copy, `decode::load_into` over
/// `Copying(FlatMemory)` and `decode::decode` (by value) in turn, `rounds` times 10,000
/// decodes each, and prints each one's fastest round in ns per decode.
fn race(
    abi: GuestAbi,
    n: usize,
    bytes: &[u8],
    host: &xen_kexec_abi::host::HostDescription,
    rounds: u64,
) {
    const PER_ROUND: u32 = 10_000;
    let mut mem = InputPage::new(FlatMemory::new(LOAD_ADDR, bytes).expect("flat"));
    let mut slot = OutputPage::new(LoadSlot::new());
    let reference = InputPage::new(CReference::new(LOAD_ADDR, bytes, host));
    let mut out = OutputPage::new(RefLoad::new());
    let mut copied = OutputPage::new(FLOOR_OUT);
    let mut copying = InputPage::new(Copying(FlatMemory::new(LOAD_ADDR, bytes).expect("flat")));
    let mut best = [f64::MAX; 5];
    // On the stack the benchmark uses (see `STACK_WINDOW`).
    let mut time = |i: usize, f: &mut dyn FnMut()| {
        let elapsed = on_stack_in(STACK_WINDOW, || {
            let t = Instant::now();
            for _ in 0..PER_ROUND {
                f();
            }
            t.elapsed()
        });
        best[i] = best[i].min(elapsed.as_secs_f64());
    };
    for _ in 0..rounds {
        time(0, &mut || {
            assert!(load_once(abi, &mut mem.value, host, &mut slot.value));
        });
        time(1, &mut || {
            let ret = reference
                .value
                .load(black_box(abi), black_box(LOAD_ADDR), &mut out.value);
            assert_eq!(black_box(ret), 0);
            black_box(&mut out.value);
        });
        time(2, &mut || {
            compat_tests::copy_floor!(bytes, n, &mut copied.value);
        });
        time(3, &mut || {
            assert!(load_once(abi, &mut copying.value, host, &mut slot.value));
        });
        time(4, &mut || assert!(decode_once(abi, &mut mem.value, host)));
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
