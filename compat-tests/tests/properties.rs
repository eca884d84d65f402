// SPDX-License-Identifier: MIT
//! Property tests across the C and Rust views and across guest widths.

use std::path::PathBuf;

use compat_tests::cvalue::{FieldValue, StructValue};
use compat_tests::fixtures::{self, Spec};
use proptest::prelude::*;
use xen_kexec_abi::decode::{decode, Operation};
use xen_kexec_abi::encode;
use xen_kexec_abi::guest_mem::{GuestMemory, GuestRegion, SparseMemory};
use xen_kexec_abi::host::{HostDescription, MachineRange};
use xen_kexec_abi::layout::{self, CType};
use xen_kexec_abi::load::{LoadRequest, Segment};
use xen_kexec_abi::{
    x86_32, x86_64, ElfMachine, EntryMode, Errno, GuestAbi, KexecCmd, KexecRangeKind, KexecType,
};
use zerocopy::{FromBytes, IntoBytes};

fn abi() -> impl Strategy<Value = GuestAbi> {
    prop_oneof![Just(GuestAbi::X86_32), Just(GuestAbi::X86_64)]
}

/// A value of structure `which` with every field set from `raw`, cut to the field's
/// range for `abi`.
fn random_value(which: usize, raw: [u64; 6], abi: GuestAbi) -> StructValue {
    let def = layout::ALL[which % layout::ALL.len()];
    let fields = def
        .iter()
        .zip(raw)
        .map(|(field, r)| {
            let bits = field.size(abi.arch()) * 8;
            let n = match field.ctype {
                CType::Int => {
                    i128::from(i32::from_le_bytes(r.to_le_bytes()[..4].try_into().unwrap()))
                }
                // All 8 bytes: a 32-bit guest's upper half is written through `_pad`.
                CType::Handle(_) => i128::from(r),
                _ if bits == 64 => i128::from(r),
                _ => i128::from(r & ((1u64 << bits) - 1)),
            };
            (field.name.to_string(), FieldValue::Num(n))
        })
        .collect();
    StructValue { def, fields }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(12))]

    /// Random values of every structure, laid out by gcc -m32/-m64 in one translation
    /// unit per case, give the bytes the Rust structures encode.
    #[test]
    fn gcc_lays_out_random_values_exactly_as_rust_encodes_them(
        values in prop::collection::vec((0usize..6, any::<[u64; 6]>(), abi()), 24),
    ) {
        let specs: Vec<Spec> = values
            .iter()
            .enumerate()
            .map(|(i, (which, raw, abi))| Spec {
                path: PathBuf::from(format!("random/{i}.bin")),
                abi: *abi,
                values: vec![random_value(*which, *raw, *abi)],
                array: false,
                truncate: None,
            })
            .collect();
        let images = fixtures::make(&specs).expect("gcc compiles the values");
        for spec in &specs {
            prop_assert_eq!(&images[&spec.path], &spec.rust_bytes().expect("fits"), "{:?}", spec.values[0]);
        }
    }
}

/// A valid load request: up to 16 disjoint page-aligned destinations, buffers below
/// 4 GiB (so a 32-bit toolstack can address them), inside the crash region for CRASH.
fn load_request() -> impl Strategy<Value = (LoadRequest, HostDescription)> {
    let segment = (1u64..4, 0u64..3, 0u64..0x1_0000, 0u64..0xffff_f000);
    (
        any::<bool>(),
        any::<bool>(),
        prop::collection::vec(segment, 0..=16),
        0u64..0x10_0000,
    )
        .prop_map(|(crash, x86_64_image, segs, entry_off)| {
            let base = 0x1000_0000u64;
            let arch = if x86_64_image {
                ElfMachine::EM_X86_64
            } else {
                ElfMachine::EM_386
            };
            let kind = if crash {
                KexecType::CRASH
            } else {
                KexecType::DEFAULT
            };
            let mut req = LoadRequest::new(kind, arch, base + entry_off);
            let mut next = base;
            for (pages, gap, buf_size, buf) in segs {
                let dest_size = pages * 0x1000;
                next += gap * 0x1000;
                req.push_segment(Segment {
                    buf: if buf_size == 0 { 0 } else { buf | 1 },
                    buf_size: buf_size.min(dest_size),
                    dest_maddr: next,
                    dest_size,
                })
                .expect("at most 16");
                next += dest_size;
            }
            let host = HostDescription::x86(MachineRange::new(base, next - base + 0x10_0000));
            (req, host)
        })
}

fn decode_encoded(
    req: &LoadRequest,
    host: &HostDescription,
    abi: GuestAbi,
) -> Result<Operation, xen_kexec_abi::Error> {
    let encoded = encode::load(req, host, abi, 0x2000).expect("the strategy's requests fit");
    let mut page = vec![0u8; 0x2000];
    let mut regions = [GuestRegion {
        base: 0x1000,
        bytes: &mut page[..],
    }];
    let mut mem = SparseMemory::new(&mut regions).expect("one region");
    encoded
        .write_to(&mut mem, 0x1000)
        .expect("the page holds the load");
    decode(abi, KexecCmd::LOAD, 0x1000, &mut mem, host)
}

proptest! {
    /// The same logical request, encoded by a 32-bit and by a 64-bit toolstack, decodes
    /// to the same validated load, entered in the mode of the image's own arch.
    #[test]
    fn one_request_from_either_width_decodes_to_the_same_load((req, host) in load_request()) {
        let from_32 = decode_encoded(&req, &host, GuestAbi::X86_32);
        let from_64 = decode_encoded(&req, &host, GuestAbi::X86_64);
        prop_assert_eq!(from_32, from_64);
        let Ok(Operation::Load(load)) = from_64 else {
            return Err(TestCaseError::fail(format!("not a load: {from_64:?}")));
        };
        prop_assert_eq!(load.request(), req);
        let mode = if req.arch == ElfMachine::EM_386 { EntryMode::Protected32 } else { EntryMode::Long64 };
        prop_assert_eq!(load.entry_mode(), mode);
    }

    /// 32 → 64 → 32 through guest memory is the identity: a 32-bit guest's get_range,
    /// answered with its own values widened, writes back exactly its 16 bytes.
    #[test]
    fn a_32_bit_range_round_trips_through_the_hypervisor(kind in 0i32..7, nr: i32, size: u32, start: u32) {
        let arg = encode::get_range(GuestAbi::X86_32, KexecRangeKind(kind), nr);
        let mut bytes = arg.as_bytes().to_vec();
        let mut regions = [GuestRegion { base: 0x4000, bytes: &mut bytes[..] }];
        let mut mem = SparseMemory::new(&mut regions).expect("region");
        let op = decode(GuestAbi::X86_32, KexecCmd::GET_RANGE, 0x4000, &mut mem, &HostDescription::x86(None));
        let Ok(Operation::GetRange(query)) = op else {
            return Err(TestCaseError::fail(format!("not a get_range: {op:?}")));
        };
        let narrow = x86_32::KexecRange { range: KexecRangeKind(kind), nr, size, start };
        let wide = x86_64::KexecRange::from(narrow);
        query.complete(&mut mem, wide.size, wide.start).expect("fits");
        let mut back = [0u8; 16];
        mem.read(0x4000, &mut back).expect("read back");
        prop_assert_eq!(&back[..], narrow.as_bytes());
        prop_assert_eq!(x86_32::KexecRange::try_from(wide), Ok(narrow));
    }

    /// A 64-bit answer reaches a 32-bit guest losslessly, or is refused with ERANGE and
    /// leaves its memory untouched.
    #[test]
    fn a_64_bit_answer_is_lossless_or_erange_for_a_32_bit_guest(size: u64, start: u64, small in any::<bool>()) {
        let (size, start) = if small { (size & 0xffff_ffff, start & 0xffff_ffff) } else { (size, start) };
        let arg = encode::get_range(GuestAbi::X86_32, KexecRangeKind::MA_CRASH, 0);
        let mut bytes = arg.as_bytes().to_vec();
        let before = bytes.clone();
        let mut regions = [GuestRegion { base: 0x4000, bytes: &mut bytes[..] }];
        let mut mem = SparseMemory::new(&mut regions).expect("region");
        let Ok(Operation::GetRange(query)) =
            decode(GuestAbi::X86_32, KexecCmd::GET_RANGE, 0x4000, &mut mem, &HostDescription::x86(None))
        else {
            return Err(TestCaseError::fail("not a get_range"));
        };
        let fits = u32::try_from(size).is_ok() && u32::try_from(start).is_ok();
        match query.complete(&mut mem, size, start) {
            Ok(()) => {
                prop_assert!(fits);
                let mut back = [0u8; 16];
                mem.read(0x4000, &mut back).expect("read back");
                let got = x86_64::KexecRange::from(x86_32::KexecRange::read_from_bytes(&back).expect("16 bytes"));
                prop_assert_eq!((got.size, got.start), (size, start));
            }
            Err(e) => {
                prop_assert!(!fits);
                prop_assert_eq!(e.errno(), Errno::ERANGE);
                prop_assert_eq!(bytes, before);
            }
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    /// The decoder is total: arbitrary memory, commands, arguments, widths and crash
    /// regions give an operation or an error, never a panic; and a load it accepts is one
    /// the rules accept again.
    #[test]
    fn the_decoder_is_total_over_arbitrary_memory_commands_and_widths(
        abi in abi(),
        cmd in prop_oneof![0u32..8, any::<u32>()],
        regions in prop::collection::vec((any::<u64>(), prop::collection::vec(any::<u8>(), 0..600)), 0..3),
        arg_choice in any::<prop::sample::Index>(),
        arg_any: u64,
        crash in proptest::option::of((any::<u64>(), any::<u64>())),
    ) {
        let mut owned = regions;
        // Keep regions that do not overlap (SparseMemory refuses overlaps, by design).
        owned.sort_by_key(|(base, _)| *base);
        let mut kept: Vec<(u64, Vec<u8>)> = Vec::new();
        for (base, bytes) in owned {
            let clear = kept.last().is_none_or(|(b, prev)| b.checked_add(prev.len() as u64).is_some_and(|end| end <= base));
            if clear && base.checked_add(bytes.len() as u64).is_some() {
                kept.push((base, bytes));
            }
        }
        // Aim the argument at a region most of the time.
        let arg = if kept.is_empty() || arg_any % 4 == 0 { arg_any } else { kept[arg_choice.index(kept.len())].0 };
        let host = HostDescription::x86(crash.and_then(|(s, n)| MachineRange::new(s, n)));
        let mut regions: Vec<GuestRegion<&[u8]>> =
            kept.iter().map(|(base, bytes)| GuestRegion { base: *base, bytes: bytes.as_slice() }).collect();
        let Ok(mut mem) = SparseMemory::new(&mut regions) else { return Ok(()) };
        if let Ok(Operation::Load(load)) = decode(abi, KexecCmd(cmd), arg, &mut mem, &host) {
            prop_assert_eq!(load.request().validate(&host), Ok(load));
        }
    }
}
