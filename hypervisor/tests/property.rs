// SPDX-License-Identifier: MIT
//! Any sequence of hypercalls, on arbitrary bytes or on loads built from arbitrary
//! segments, leaves the engine consistent with a model of the slots: every return value
//! is the model's, status agrees with it, and every loaded image holds exactly its
//! sources with zeroed tails. No call panics.
//!
//! The model is independent of the engine except for one oracle: whether and how the
//! `abi` crate decodes an argument (that crate's own tests cover its rules). Given the
//! decoded operation, the model predicts the slots' behaviour from the rules.

mod common;

use common::{Guest, ARG};
use proptest::prelude::*;
use xen_kexec_abi::decode::{decode, Operation};
use xen_kexec_abi::guest_mem::GuestMemory;
use xen_kexec_abi::load::Segment;
use xen_kexec_abi::zerocopy::IntoBytes;
use xen_kexec_abi::{
    x86_64, ElfMachine, Errno, GuestAbi, GuestHandle64, KexecCmd, KexecRangeKind, KexecType,
};
use xen_kexec_hypervisor::sim::{Sim, SimConfig};
use xen_kexec_hypervisor::Host;

/// The guest's source region and the segment array's address.
const SRC: u64 = 0x10_0000;
const SEG_ARRAY: u64 = 0x1800;
const CRASH: u64 = 0x2000_0000;

/// One hypercall to make.
#[derive(Debug, Clone)]
enum Call {
    /// Any command with any argument bytes.
    Raw {
        cmd: u32,
        arg: Vec<u8>,
    },
    /// A load built from arbitrary (often invalid) parts.
    Load {
        type_: u8,
        arch: u16,
        entry: u64,
        segments: Vec<Segment>,
    },
    Status(u8),
    Unload(u8),
    Exec(u8),
    GetRange {
        range: i32,
        nr: i32,
    },
}

fn seg() -> impl Strategy<Value = Segment> {
    let buf = prop_oneof![
        Just(0u64),
        (0u64..0x1000).prop_map(|off| SRC + off),
        Just(0x7000_0000u64),
        // A 32-bit guest ignores the upper half of its handle.
        (0u64..0x1000).prop_map(|off| (0xdead_u64 << 32) | (SRC + off)),
    ];
    let dest = prop_oneof![
        5 => (0u64..12).prop_map(|p| CRASH + p * 0x1000),
        3 => (0u64..12).prop_map(|p| 0x100_0000 + p * 0x1000),
        1 => any::<u64>(),
    ];
    (buf, dest, 0u64..4, 0u64..0x2000, any::<bool>()).prop_map(
        |(buf, dest_maddr, pages, buf_size, fits)| {
            let dest_size = pages * 0x1000;
            Segment {
                buf,
                buf_size: if fits {
                    buf_size.min(dest_size)
                } else {
                    buf_size
                },
                dest_maddr,
                dest_size,
            }
        },
    )
}

fn call() -> impl Strategy<Value = Call> {
    let type_ = prop_oneof![4 => 0u8..2, 1 => any::<u8>()];
    prop_oneof![
        2 => (prop_oneof![0u32..8, any::<u32>()], prop::collection::vec(any::<u8>(), 0..48))
            .prop_map(|(cmd, arg)| Call::Raw { cmd, arg }),
        6 => (
            type_.clone(),
            prop_oneof![4 => Just(3u16), 4 => Just(62u16), 1 => any::<u16>()],
            prop_oneof![4 => (0u64..12).prop_map(|p| CRASH + p * 0x1000), 1 => any::<u64>()],
            prop::collection::vec(seg(), 0..4)
        )
            .prop_map(|(type_, arch, entry, segments)| Call::Load { type_, arch, entry, segments }),
        2 => type_.clone().prop_map(Call::Status),
        2 => type_.clone().prop_map(Call::Unload),
        1 => type_.prop_map(Call::Exec),
        1 => (-1i32..8, -2i32..6).prop_map(|(range, nr)| Call::GetRange { range, nr }),
    ]
}

/// The bytes to put at `ARG` (and the segment array at `SEG_ARRAY`) and the command.
fn encode(abi: GuestAbi, call: &Call) -> (KexecCmd, Vec<u8>, Vec<u8>) {
    use xen_kexec_abi::encode;
    match call {
        Call::Raw { cmd, arg } => (KexecCmd(*cmd), arg.clone(), vec![]),
        Call::Load {
            type_,
            arch,
            entry,
            segments,
        } => {
            let load = x86_64::KexecLoad {
                type_: KexecType(*type_),
                _pad: 0,
                arch: ElfMachine(*arch),
                nr_segments: u32::try_from(segments.len()).unwrap(),
                segments: GuestHandle64::from_raw(SEG_ARRAY),
                entry_maddr: *entry,
            };
            let mut array = vec![];
            for s in segments {
                let raw = x86_64::KexecSegment {
                    buf: GuestHandle64::from_raw(s.buf),
                    buf_size: s.buf_size,
                    dest_maddr: s.dest_maddr,
                    dest_size: s.dest_size,
                };
                array.extend_from_slice(raw.as_bytes());
            }
            (KexecCmd::LOAD, load.as_bytes().to_vec(), array)
        }
        Call::Status(t) => (
            KexecCmd::STATUS,
            encode::status(KexecType(*t)).as_bytes().to_vec(),
            vec![],
        ),
        Call::Unload(t) => (
            KexecCmd::UNLOAD,
            encode::unload(KexecType(*t)).as_bytes().to_vec(),
            vec![],
        ),
        Call::Exec(t) => (
            KexecCmd::KEXEC,
            encode::exec(KexecType(*t)).as_bytes().to_vec(),
            vec![],
        ),
        Call::GetRange { range, nr } => (
            KexecCmd::GET_RANGE,
            encode::get_range(abi, KexecRangeKind(*range), *nr)
                .as_bytes()
                .to_vec(),
            vec![],
        ),
    }
}

/// What the model knows of one loaded image: its buffered segments and their bytes.
#[derive(Debug, Clone, Default)]
struct ModelImage {
    /// (dest_maddr, dest_size, source bytes)
    segments: Vec<(u64, u64, Vec<u8>)>,
}

#[derive(Debug, Default)]
struct Model {
    images: [Option<ModelImage>; 2],
    busy: bool,
}

fn slot(t: KexecType) -> usize {
    usize::from(t == KexecType::CRASH)
}

fn ret(e: Errno) -> i64 {
    e.to_hypercall_ret()
}

impl Model {
    /// Predicts the return value of `op` and updates the model. `source` is the guest's
    /// source region.
    fn step(&mut self, op: &Operation, source: &[u8], config: &SimConfig, abi: GuestAbi) -> i64 {
        match *op {
            Operation::Status { type_ } => i64::from(self.images[slot(type_)].is_some()),
            Operation::Unload { type_ } => {
                if self.busy {
                    return ret(Errno::EBUSY);
                }
                self.images[slot(type_)] = None;
                0
            }
            Operation::Exec { type_ } => {
                if self.images[slot(type_)].is_none() {
                    ret(Errno::ENOENT)
                } else if self.busy {
                    ret(Errno::EBUSY)
                } else {
                    self.busy = true;
                    0
                }
            }
            Operation::Load(ref load) => {
                if self.busy {
                    return ret(Errno::EBUSY);
                }
                let t = slot(load.kexec_type());
                let mut image = ModelImage::default();
                let mut faults = false;
                for s in load.segments().iter().filter(|s| s.has_buffer()) {
                    let start = s.buf.checked_sub(SRC).and_then(|o| usize::try_from(o).ok());
                    let bytes =
                        start.and_then(|o| source.get(o..o + usize::try_from(s.buf_size).ok()?));
                    match bytes {
                        Some(b) => image.segments.push((s.dest_maddr, s.dest_size, b.to_vec())),
                        None if s.buf_size == 0 => {
                            image.segments.push((s.dest_maddr, s.dest_size, vec![]));
                        }
                        None => faults = true,
                    }
                }
                if faults {
                    // A failed CRASH load leaves no crash image; a failed DEFAULT load
                    // leaves the old one.
                    if load.kexec_type() == KexecType::CRASH {
                        self.images[t] = None;
                    }
                    return ret(Errno::EFAULT);
                }
                self.images[t] = Some(image);
                0
            }
            Operation::GetRange(ref q) => {
                let fits = |v: u64| abi == GuestAbi::X86_64 || u32::try_from(v).is_ok();
                let answer = match q.range {
                    KexecRangeKind::MA_CRASH => config.crash_region.map(|r| (r.start, r.size)),
                    KexecRangeKind::MA_XEN => Some((config.xen.start, config.xen.size)),
                    KexecRangeKind::MA_CPU => {
                        match u32::try_from(q.nr).ok().filter(|&c| c < config.cpus) {
                            None => return ret(Errno::ERANGE),
                            Some(c) => config
                                .cpu_notes
                                .map(|n| (n.start + u64::from(c) * n.size, n.size)),
                        }
                    }
                    KexecRangeKind::MA_VMCOREINFO => config.vmcoreinfo.map(|r| (r.start, r.size)),
                    _ => None,
                };
                match answer {
                    Some((start, size)) if fits(start) && fits(size) => 0,
                    Some(_) => ret(Errno::ERANGE),
                    None => ret(Errno::EINVAL),
                }
            }
            ref other => panic!("the model does not know {other:?}"),
        }
    }
}

fn check_consistent(sim: &Sim, model: &Model) {
    for type_ in [KexecType::DEFAULT, KexecType::CRASH] {
        let expected = &model.images[slot(type_)];
        assert_eq!(
            sim.kexec().is_loaded(type_),
            expected.is_some(),
            "status of {type_:?}"
        );
        let Some(image) = expected else { continue };
        for (dest, size, bytes) in &image.segments {
            let mut found = vec![0xa5u8; usize::try_from(*size).unwrap()];
            sim.image_bytes(type_, *dest, &mut found).unwrap();
            assert_eq!(
                &found[..bytes.len()],
                &bytes[..],
                "{type_:?} bytes at {dest:#x}"
            );
            assert!(
                found[bytes.len()..].iter().all(|&b| b == 0),
                "{type_:?} tail at {dest:#x}"
            );
        }
    }
    assert_eq!(sim.kexec().exec_in_progress().is_some(), model.busy);
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn any_sequence_of_hypercalls_keeps_the_engine_consistent_with_the_model(
        source in prop::collection::vec(any::<u8>(), 0x2000..0x3000),
        calls in prop::collection::vec((prop_oneof![Just(GuestAbi::X86_32), Just(GuestAbi::X86_64)], call()), 1..24),
    ) {
        let config = SimConfig::default();
        let mut sim = Sim::new(config.clone()).unwrap();
        let mut model = Model::default();
        let mut guest = Guest::new();
        guest.count_from = u64::MAX; // no read log: this test checks bytes, not reads
        guest.map(SRC, source.clone());
        // Old bytes in the crash region (an earlier crash image, unloaded), so that a
        // tail left unzeroed would show.
        guest.map(0x40_0000, vec![0xee; 0xc000]);
        let junk = x86_64::KexecSegment {
            buf: GuestHandle64::from_raw(0x40_0000),
            buf_size: 0xc000,
            dest_maddr: CRASH,
            dest_size: 0xc000,
        };
        guest.write(SEG_ARRAY, junk.as_bytes()).unwrap();
        let load = x86_64::KexecLoad {
            type_: KexecType::CRASH,
            _pad: 0,
            arch: ElfMachine::EM_X86_64,
            nr_segments: 1,
            segments: GuestHandle64::from_raw(SEG_ARRAY),
            entry_maddr: CRASH,
        };
        guest.write(ARG, load.as_bytes()).unwrap();
        prop_assert_eq!(sim.hypercall(GuestAbi::X86_64, KexecCmd::LOAD, ARG, &mut guest), 0);
        guest.write(ARG, xen_kexec_abi::encode::unload(KexecType::CRASH).as_bytes()).unwrap();
        prop_assert_eq!(sim.hypercall(GuestAbi::X86_64, KexecCmd::UNLOAD, ARG, &mut guest), 0);
        for (abi, call) in &calls {
            let (cmd, arg, array) = encode(*abi, call);
            let mut page = vec![0u8; 0x1000];
            page[..arg.len()].copy_from_slice(&arg);
            page[0x800..0x800 + array.len()].copy_from_slice(&array);
            guest.write(ARG, &page).unwrap();
            // The oracle: how the abi crate decodes this argument on this host.
            let decoded = decode(*abi, cmd, ARG, &mut guest, &sim.host().description());
            let expected = match decoded {
                Err(e) => e.to_hypercall_ret(),
                Ok(op) => model.step(&op, &source, &config, *abi),
            };
            let got = sim.hypercall(*abi, cmd, ARG, &mut guest);
            prop_assert_eq!(got, expected, "{:?} {:?}", abi, call);
            check_consistent(&sim, &model);
        }
    }
}
