// SPDX-License-Identifier: MIT
//! What decoding `kexec_op` costs over the copy it cannot avoid.
//!
//! Each load group measures, on the same guest memory: `copy_floor`, the two reads any
//! decoder must do (the load structure, then the whole segment array) into stack
//! buffers; and `decode_default` / `decode_crash`, the full decode and validation of the
//! same request as a reboot or a crash image. The other groups measure a 32-bit guest's
//! get_range round trip and the toolstack builder. `cargo bench -p compat-tests`, then
//! `cargo run -p compat-tests --bin bench-table` prints the README's table.

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, Criterion};
use xen_kexec_abi::decode::{decode, Operation};
use xen_kexec_abi::encode;
use xen_kexec_abi::guest_mem::{GuestMemory, GuestRegion, SparseMemory};
use xen_kexec_abi::host::{HostDescription, MachineRange};
use xen_kexec_abi::load::{LoadRequest, Segment, SegmentList};
use xen_kexec_abi::{x86_64, ElfMachine, GuestAbi, KexecCmd, KexecRangeKind, KexecType};
use zerocopy::{FromZeros, IntoBytes};

const LOAD_ADDR: u64 = 0x1000;
const SEGMENTS_ADDR: u64 = 0x2000;
const CRASH_BASE: u64 = 0x1000_0000;

/// A request of `n` one-page segments, in reverse address order so that an overlap
/// check cannot profit from sorted input.
fn request(kind: KexecType, n: usize) -> LoadRequest {
    let mut req = LoadRequest::new(kind, ElfMachine::EM_X86_64, CRASH_BASE);
    for i in (0..n).rev() {
        let page = u64::try_from(i).expect("small") * 0x2000;
        req.push_segment(Segment {
            buf: 0x4000_0000 + page,
            buf_size: 0x1000,
            dest_maddr: CRASH_BASE + page,
            dest_size: 0x1000,
        })
        .expect("at most 16");
    }
    req
}

fn host() -> HostDescription {
    HostDescription::x86(MachineRange::new(CRASH_BASE, 0x1000_0000))
}

/// Guest memory holding the encoded request: one 8 KiB region at `LOAD_ADDR`.
fn guest_memory(req: &LoadRequest, abi: GuestAbi) -> Vec<u8> {
    let mut bytes = vec![0u8; 0x2000];
    let encoded = req
        .validate(&host())
        .expect("valid")
        .encode(abi, SEGMENTS_ADDR)
        .expect("fits");
    let mut regions = [GuestRegion {
        base: LOAD_ADDR,
        bytes: &mut bytes[..],
    }];
    let mut mem = SparseMemory::new(&mut regions).expect("one region");
    encoded.write_to(&mut mem, LOAD_ADDR).expect("in memory");
    bytes
}

fn loads(c: &mut Criterion) {
    for abi in GuestAbi::ALL {
        for n in [1usize, 4, 16] {
            let mut group = c.benchmark_group(format!("load/{}/{n}", abi.name()));
            let host = host();
            for (name, kind) in [
                ("decode_default", KexecType::DEFAULT),
                ("decode_crash", KexecType::CRASH),
            ] {
                let bytes = guest_memory(&request(kind, n), abi);
                let mut regions = [GuestRegion {
                    base: LOAD_ADDR,
                    bytes: &bytes[..],
                }];
                let mut mem = SparseMemory::new(&mut regions).expect("one region");
                if kind == KexecType::DEFAULT {
                    group.bench_function("copy_floor", |b| {
                        b.iter(|| {
                            let mut load = [0u8; size_of::<x86_64::KexecLoad>()];
                            let mut segments =
                                [x86_64::KexecSegment::new_zeroed(); SegmentList::CAPACITY];
                            mem.read(black_box(LOAD_ADDR), &mut load).expect("mapped");
                            mem.read(black_box(SEGMENTS_ADDR), segments[..n].as_mut_bytes())
                                .expect("mapped");
                            black_box((load, segments))
                        });
                    });
                }
                group.bench_function(name, |b| {
                    b.iter(|| {
                        decode(
                            black_box(abi),
                            KexecCmd::LOAD,
                            black_box(LOAD_ADDR),
                            &mut mem,
                            &host,
                        )
                    });
                });
            }
            group.finish();
        }
    }
}

fn get_range(c: &mut Criterion) {
    let mut group = c.benchmark_group("get_range/x86_32");
    let arg = encode::get_range(GuestAbi::X86_32, KexecRangeKind::MA_CRASH, 0);
    let mut bytes = arg.as_bytes().to_vec();
    let mut regions = [GuestRegion {
        base: LOAD_ADDR,
        bytes: &mut bytes[..],
    }];
    let mut mem = SparseMemory::new(&mut regions).expect("one region");
    let host = HostDescription::x86(None);
    group.bench_function("round_trip", |b| {
        b.iter(|| {
            let Ok(Operation::GetRange(query)) = decode(
                GuestAbi::X86_32,
                KexecCmd::GET_RANGE,
                black_box(LOAD_ADDR),
                &mut mem,
                &host,
            ) else {
                unreachable!("a get_range")
            };
            query.complete(&mut mem, black_box(0x1000_0000), black_box(CRASH_BASE))
        });
    });
    group.finish();
}

fn builder(c: &mut Criterion) {
    let mut group = c.benchmark_group("build/16");
    let req = request(KexecType::CRASH, 16);
    let host = host();
    for abi in GuestAbi::ALL {
        group.bench_function(abi.name(), |b| {
            b.iter(|| encode::load(black_box(&req), &host, abi, SEGMENTS_ADDR));
        });
    }
    group.finish();
}

criterion_group!(benches, loads, get_range, builder);
criterion_main!(benches);
