// SPDX-License-Identifier: MIT
//! Property tests of the decoder and the builder, for both guest widths:
//! - no input panics: arbitrary bytes, commands, addresses and hosts;
//! - the load rules agree with the oracle, the independent restatement of them in
//!   `compat_tests::oracle` (exact error or exact load), over lent and copied memory;
//! - the builder's bytes, decoded, give back the request.
//!
//! Here rather than in `abi/tests`: the oracle is also what the multi-fault section of the
//! catalogue is generated from, so it lives in this crate, which depends on `abi` (`abi`
//! cannot depend back on it).

use compat_tests::oracle::expected_load;
use proptest::prelude::*;
use xen_kexec_abi::decode::{decode, Operation};
use xen_kexec_abi::encode::{EncodeError, HandleField};
use xen_kexec_abi::guest_mem::{Copying, GuestRegion, SparseMemory};
use xen_kexec_abi::host::{HostDescription, MachineRange, PageSize, RuleProfile};
use xen_kexec_abi::layout;
use xen_kexec_abi::load::{LoadRequest, Segment, SegmentList, ValidatedLoad};
use xen_kexec_abi::{
    x86_32, x86_64, ElfMachine, Errno, Error, GuestAbi, GuestHandle64, KexecCmd, KexecType,
};
use zerocopy::IntoBytes;

/// Where the tests put the load structure.
const ARG: u64 = 0x10_0000;
/// Where the tests put the segment array.
const SEGS: u64 = 0x10_1000;
/// 4 KiB.
const PAGE: u64 = 0x1000;

/// Decodes `kexec_op(cmd, arg)` from a guest whose memory is `regions`, over memory the
/// decoder may borrow and over memory it can only copy from: the same answer both ways.
fn decode_both(
    abi: GuestAbi,
    regions: &mut [(u64, Vec<u8>)],
    cmd: KexecCmd,
    arg: u64,
    host: &HostDescription,
) -> Result<Operation, Error> {
    let mut lent: Vec<GuestRegion<&mut [u8]>> = regions
        .iter_mut()
        .map(|(base, bytes)| GuestRegion {
            base: *base,
            bytes: &mut bytes[..],
        })
        .collect();
    let mut mem = SparseMemory::new(&mut lent).expect("test regions are disjoint");
    let borrowed = decode(abi, cmd, arg, &mut mem, host);
    let copied = decode(abi, cmd, arg, &mut Copying(&mut mem), host);
    assert_eq!(
        borrowed, copied,
        "lending and copying memory answer differently"
    );
    borrowed
}

/// Decodes the load `load` with the segment array `segs` at [`SEGS`], both written in
/// `abi`'s layout (every byte of a 32-bit guest's 8-byte handles kept).
fn decode_load(
    abi: GuestAbi,
    load: &x86_64::KexecLoad,
    segs: &[x86_64::KexecSegment],
    host: &HostDescription,
) -> Result<ValidatedLoad, Error> {
    let (load_bytes, seg_bytes) = match abi {
        GuestAbi::X86_64 => (load.as_bytes().to_vec(), segs.as_bytes().to_vec()),
        GuestAbi::X86_32 => {
            let narrow: Vec<x86_32::KexecSegment> = segs
                .iter()
                .copied()
                .map(x86_32::KexecSegment::from)
                .collect();
            (
                x86_32::KexecLoad::from(*load).as_bytes().to_vec(),
                narrow.as_bytes().to_vec(),
            )
        }
    };
    let mut regions = vec![(ARG, load_bytes)];
    if !segs.is_empty() {
        regions.push((SEGS, seg_bytes));
    }
    match decode_both(abi, &mut regions, KexecCmd::LOAD, ARG, host)? {
        Operation::Load(load) => Ok(load),
        other => panic!("a load decoded as {other:?}"),
    }
}

/// A segment as the guest writes it, `buf` all 8 bytes of the handle field.
fn raw_seg(buf: u64, buf_size: u64, dest_maddr: u64, dest_size: u64) -> x86_64::KexecSegment {
    x86_64::KexecSegment {
        buf: GuestHandle64::from_raw(buf),
        buf_size,
        dest_maddr,
        dest_size,
    }
}

fn abi() -> impl Strategy<Value = GuestAbi> {
    prop_oneof![Just(GuestAbi::X86_32), Just(GuestAbi::X86_64)]
}

fn host() -> impl Strategy<Value = HostDescription> {
    let region = prop_oneof![
        Just(None),
        (any::<u64>(), any::<u64>()).prop_map(|(s, n)| MachineRange::new(s, n)),
        (0u64..32, 0u64..64).prop_map(|(s, n)| MachineRange::new(0x4000_0000 + s * PAGE, n * PAGE)),
    ];
    let page = prop_oneof![
        Just(PageSize::X86),
        (0u32..64).prop_map(|s| PageSize::new(1u64 << s).unwrap())
    ];
    (page, region).prop_map(|(page_size, crash_region)| HostDescription {
        page_size,
        crash_region,
        profile: RuleProfile::Strict,
    })
}

/// Every errno the decoder may answer with.
const ERRNOS: [Errno; 5] = [
    Errno::EFAULT,
    Errno::EINVAL,
    Errno::EOPNOTSUPP,
    Errno::EADDRNOTAVAIL,
    Errno::ERANGE,
];

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    /// Arbitrary memory contents at an arbitrary (often top-of-space) address, arbitrary
    /// command and argument address: a result or an error, never a panic.
    #[test]
    fn decoding_arbitrary_bytes_never_panics(
        abi in abi(),
        cmd in prop_oneof![0u32..8, any::<u32>()],
        bytes in prop::collection::vec(any::<u8>(), 0..700),
        base in prop_oneof![any::<u64>(), Just(u64::MAX - 600), Just(0u64)],
        arg_off in prop_oneof![0u64..64, any::<u64>()],
        host in host(),
        answer in (any::<u64>(), any::<u64>()),
    ) {
        let mut bytes = bytes;
        let len = u64::try_from(bytes.len()).unwrap();
        // Keep the region inside the address space; the argument may still run off it.
        let base = base.min(u64::MAX - len);
        let arg = base.wrapping_add(arg_off);
        let mut regions = [GuestRegion { base, bytes: &mut bytes[..] }];
        let mut mem = SparseMemory::new(&mut regions).unwrap();
        match decode(abi, KexecCmd(cmd), arg, &mut mem, &host) {
            Ok(Operation::GetRange(q)) => {
                if let Err(e) = q.complete(&mut mem, answer.0, answer.1) {
                    let expected = matches!(e, Error::RangeTooWide { .. } | Error::GuestFault(_));
                    prop_assert!(expected, "{:?}", e);
                }
            }
            Ok(Operation::Load(load)) => {
                prop_assert_eq!(load.request().validate(&host), Ok(load));
            }
            Ok(_) => {}
            Err(e) => prop_assert!(ERRNOS.contains(&e.errno()), "{:?}", e),
        }
    }

    /// Loads with each field biased towards the interesting values: the decoder's
    /// answer is exactly the independent model's.
    #[test]
    fn load_rules_match_an_independent_model(
        abi in abi(),
        host in host(),
        type_ in prop_oneof![4 => 0u8..2, 1 => any::<u8>()],
        pad in prop_oneof![6 => Just(0u8), 1 => any::<u8>()],
        arch in prop_oneof![3 => Just(3u16), 3 => Just(62u16), 1 => any::<u16>()],
        segs in prop::collection::vec(raw_segment(), 0..=17),
        nr_override in prop_oneof![8 => Just(None), 1 => any::<u32>().prop_map(Some)],
        entry in prop_oneof![(0u64..0x60).prop_map(|p| 0x4000_0000 + p * PAGE - 1), any::<u64>()],
    ) {
        let nr = nr_override.unwrap_or(u32::try_from(segs.len()).unwrap());
        let load = x86_64::KexecLoad {
            type_: KexecType(type_),
            _pad: pad,
            arch: ElfMachine(arch),
            nr_segments: nr,
            segments: GuestHandle64::from_raw(SEGS),
            entry_maddr: entry,
        };
        agree_with_oracle(abi, &load, &segs, &host)?;
    }

    /// Valid loads with one to three fields changed, so that every rule, the late ones
    /// (overlap, crash region, entry) included, is met both kept and broken: the
    /// decoder's answer is exactly the independent model's.
    #[test]
    fn mutated_valid_loads_match_an_independent_model(
        abi in abi(),
        case in valid_request(),
        mutations in prop::collection::vec(mutation(), 1..4),
    ) {
        let (req, mut host) = case;
        let mut load = x86_64::KexecLoad {
            type_: req.type_,
            _pad: 0,
            arch: req.arch,
            nr_segments: u32::try_from(req.segments.len()).unwrap(),
            segments: GuestHandle64::from_raw(SEGS),
            entry_maddr: req.entry_maddr,
        };
        let mut segs: Vec<x86_64::KexecSegment> = req
            .segments
            .iter()
            .map(|s| raw_seg(s.buf, s.buf_size, s.dest_maddr, s.dest_size))
            .collect();
        for m in mutations {
            m.apply(&mut load, &mut segs, &mut host);
        }
        agree_with_oracle(abi, &load, &segs, &host)?;
    }

    /// A valid request built with the builder, encoded for a width and decoded by the
    /// hypervisor side for that width, is the request again; so is the same request sent
    /// by the other width. A buffer above 4 GiB cannot be encoded for a 32-bit guest.
    #[test]
    fn builder_bytes_decode_to_the_request(case in valid_request()) {
        let (req, host) = case;
        let validated = req.validate(&host).expect("the strategy builds valid requests");
        for abi in GuestAbi::ALL {
            let wide_buf = req.segments.iter().position(|s| s.buf > u64::from(u32::MAX));
            let encoded = validated.encode(abi, SEGS);
            if let (GuestAbi::X86_32, Some(i)) = (abi, wide_buf) {
                let i = u8::try_from(i).unwrap();
                let value = req.segments.as_slice()[usize::from(i)].buf;
                prop_assert_eq!(encoded, Err(EncodeError::HandleTooWide { handle: HandleField::Buf(i), value }));
                continue;
            }
            let encoded = encoded.expect("encodes");
            prop_assert_eq!(encoded.load_bytes().len(), layout::LOAD.size(abi.arch()));
            prop_assert_eq!(
                encoded.segment_bytes().len(),
                layout::SEGMENT.size(abi.arch()) * req.segments.len()
            );
            let mut regions = vec![(ARG, encoded.load_bytes().to_vec()), (SEGS, encoded.segment_bytes().to_vec())];
            let op = decode_both(abi, &mut regions, KexecCmd::LOAD, ARG, &host);
            prop_assert_eq!(op, Ok(Operation::Load(validated)));
            prop_assert_eq!(validated.request(), req);
        }
    }
}

/// Decodes `load` and `segs` and compares the outcome with the oracle's.
fn agree_with_oracle(
    abi: GuestAbi,
    load: &x86_64::KexecLoad,
    segs: &[x86_64::KexecSegment],
    host: &HostDescription,
) -> Result<(), TestCaseError> {
    let got = decode_load(abi, load, segs, host);
    let want = expected_load(abi, load, segs, host);
    if let (Ok(decoded), Ok(expected)) = (&got, &want) {
        prop_assert_eq!(decoded.segments(), &expected.segments[..]);
        prop_assert_eq!(decoded.kexec_type(), load.type_);
        prop_assert_eq!(decoded.arch(), load.arch);
        prop_assert_eq!(decoded.entry_maddr(), load.entry_maddr);
        prop_assert_eq!(decoded.entry_mode(), expected.entry_mode);
    } else {
        prop_assert_eq!(got.map(|_| ()), want.map(|_| ()));
    }
    Ok(())
}

/// One change to a load request or its host.
#[derive(Clone, Debug)]
enum Mutation {
    Type(u8),
    Pad(u8),
    Arch(u16),
    Nr(u32),
    Entry(i64),
    Dest(usize, i64),
    Size(usize, i64),
    BufSize(usize, i64),
    /// Makes segment `.0`'s buffer one byte larger than its destination.
    BufOneOver(usize),
    Buf(usize, u64),
    /// Moves segment `.1`'s destination to start inside segment `.0`'s.
    Overlap(usize, usize, u64),
    NoCrashRegion,
    ShrinkCrashRegion(u64),
}

fn mutation() -> impl Strategy<Value = Mutation> {
    let delta = prop_oneof![
        (-3i64..4).prop_map(|p| p * 4096),
        -4096i64..4097,
        any::<i64>()
    ];
    prop_oneof![
        any::<u8>().prop_map(Mutation::Type),
        (1u8..).prop_map(Mutation::Pad),
        any::<u16>().prop_map(Mutation::Arch),
        prop_oneof![0u32..20, any::<u32>()].prop_map(Mutation::Nr),
        prop_oneof![-2i64..3, (-3i64..4).prop_map(|p| p * 4096), any::<i64>()]
            .prop_map(Mutation::Entry),
        (0usize..16, delta.clone()).prop_map(|(i, d)| Mutation::Dest(i, d)),
        (0usize..16, delta.clone()).prop_map(|(i, d)| Mutation::Size(i, d)),
        (0usize..16, delta).prop_map(|(i, d)| Mutation::BufSize(i, d)),
        (0usize..16).prop_map(Mutation::BufOneOver),
        (0usize..16, prop_oneof![Just(0u64), any::<u64>()]).prop_map(|(i, b)| Mutation::Buf(i, b)),
        (0usize..16, 0usize..16, 0u64..4).prop_map(|(i, j, k)| Mutation::Overlap(i, j, k)),
        Just(Mutation::NoCrashRegion),
        (0u64..8).prop_map(Mutation::ShrinkCrashRegion),
    ]
}

impl Mutation {
    fn apply(
        &self,
        load: &mut x86_64::KexecLoad,
        segs: &mut [x86_64::KexecSegment],
        host: &mut HostDescription,
    ) {
        let n = segs.len();
        let at = |i: usize| if n == 0 { None } else { Some(i % n) };
        match *self {
            Mutation::Type(t) => load.type_ = KexecType(t),
            Mutation::Pad(p) => load._pad = p,
            Mutation::Arch(a) => load.arch = ElfMachine(a),
            Mutation::Nr(nr) => load.nr_segments = nr,
            Mutation::Entry(d) => load.entry_maddr = load.entry_maddr.wrapping_add_signed(d),
            Mutation::Dest(i, d) => {
                if let Some(i) = at(i) {
                    segs[i].dest_maddr = segs[i].dest_maddr.wrapping_add_signed(d);
                }
            }
            Mutation::Size(i, d) => {
                if let Some(i) = at(i) {
                    segs[i].dest_size = segs[i].dest_size.wrapping_add_signed(d);
                }
            }
            Mutation::BufSize(i, d) => {
                if let Some(i) = at(i) {
                    segs[i].buf_size = segs[i].buf_size.wrapping_add_signed(d);
                }
            }
            Mutation::BufOneOver(i) => {
                if let Some(i) = at(i) {
                    segs[i].buf_size = segs[i].dest_size.wrapping_add(1);
                }
            }
            Mutation::Buf(i, b) => {
                if let Some(i) = at(i) {
                    segs[i].buf = GuestHandle64::from_raw(b);
                }
            }
            Mutation::Overlap(i, j, k) => {
                if let (Some(i), Some(j)) = (at(i), at(j)) {
                    segs[j].dest_maddr = segs[i].dest_maddr.wrapping_add(k * 4096);
                }
            }
            Mutation::NoCrashRegion => host.crash_region = None,
            Mutation::ShrinkCrashRegion(pages) => {
                if let Some(r) = host.crash_region {
                    host.crash_region = MachineRange::new(
                        r.start().saturating_add(pages * 4096),
                        r.size().saturating_sub(pages * 4096),
                    );
                }
            }
        }
    }
}

fn raw_segment() -> impl Strategy<Value = x86_64::KexecSegment> {
    let buf = prop_oneof![Just(0u64), any::<u32>().prop_map(u64::from), any::<u64>()];
    let dest = prop_oneof![
        4 => (0u64..0x60).prop_map(|p| 0x4000_0000 + p * PAGE),
        1 => (1u64..4).prop_map(|p| 0u64.wrapping_sub(p * PAGE)),
        1 => any::<u64>(),
    ];
    let size = prop_oneof![4 => (0u64..8).prop_map(|p| p * PAGE), 1 => any::<u64>(), 1 => (1u64..3).prop_map(|p| 0u64.wrapping_sub(p * PAGE))];
    (
        buf,
        dest,
        size,
        prop_oneof![Just(None), any::<u64>().prop_map(Some)],
    )
        .prop_map(|(buf, dest, size, bs)| raw_seg(buf, bs.unwrap_or(size / 2), dest, size))
}

/// Valid requests: up to 16 disjoint (often touching) page-aligned segments in shuffled
/// order, and a host whose crash region holds them and the entry.
fn valid_request() -> impl Strategy<Value = (LoadRequest, HostDescription)> {
    let seg = (
        0u64..3,
        0u64..4,
        prop_oneof![Just(0u64), any::<u32>().prop_map(u64::from), any::<u64>()],
        any::<u64>(),
    );
    (
        prop_oneof![Just(KexecType::DEFAULT), Just(KexecType::CRASH)],
        prop_oneof![Just(ElfMachine::EM_386), Just(ElfMachine::EM_X86_64)],
        prop_oneof![0u64..0x1000, Just((1u64 << 52) - 0x100)],
        prop::collection::vec(seg, 0..=16),
        any::<u64>(),
    )
        .prop_flat_map(|(type_, arch, base_page, segs, entry_seed)| {
            let mut cursor = base_page * PAGE;
            let mut list = Vec::new();
            for (gap, pages, buf, size_seed) in segs {
                let dest = cursor + gap * PAGE;
                let dest_size = pages * PAGE;
                cursor = dest + dest_size;
                let buf_size = if dest_size == 0 {
                    0
                } else {
                    size_seed % (dest_size + 1)
                };
                list.push(Segment {
                    buf,
                    buf_size,
                    dest_maddr: dest,
                    dest_size,
                });
            }
            let start = base_page * PAGE;
            let region = MachineRange::new(start, cursor - start + PAGE).unwrap();
            let entry = if type_ == KexecType::CRASH {
                start + entry_seed % region.size()
            } else {
                entry_seed
            };
            (
                Just(list).prop_shuffle(),
                Just((type_, arch, entry, region)),
            )
        })
        .prop_map(|(list, (type_, arch, entry, region))| {
            let mut req = LoadRequest::new(type_, arch, entry);
            req.segments = SegmentList::from_slice(&list).unwrap();
            (req, HostDescription::x86(Some(region)))
        })
}
