// SPDX-License-Identifier: MIT
//! A host whose hooks fail at any call with any errno (0, negative, `i32::MIN`, huge
//! values included): every hypercall that fails returns a negative value, exactly
//! `-errno` for an errno that is a failure (1 to 4095) and `-EIO` for any other, and
//! status always agrees with a model of the slots (issue 30, item 2).

mod common;

use common::{Guest, ARG, SEGMENTS};
use proptest::prelude::*;
use xen_kexec_abi::encode;
use xen_kexec_abi::guest_mem::GuestMemory;
use xen_kexec_abi::host::{MachineRange, PageSize};
use xen_kexec_abi::load::{LoadRequest, Segment};
use xen_kexec_abi::{ElfMachine, Errno, GuestAbi, KexecCmd, KexecType};
use xen_kexec_hypervisor::sim::{SimConfig, SimHost};
use xen_kexec_hypervisor::{Host, HostError, Image, ImageSlot, Kexec, StagingArea};

const CRASH_START: u64 = 0x2000_0000;
const SRC: u64 = 0x10_0000;

/// The simulated host, with the fallible hooks' calls counted: the calls whose index is
/// in `failures` fail with that errno, made a [`HostError`] by `HostError::new`.
struct Failing {
    inner: SimHost,
    calls: usize,
    failures: Vec<(usize, i32)>,
    /// Whether a hook failed during the current hypercall.
    failed: Option<HostError>,
}

impl Failing {
    fn hook(&mut self) -> Result<(), HostError> {
        let index = self.calls;
        self.calls += 1;
        match self.failures.iter().find(|(at, _)| *at == index) {
            Some(&(_, errno)) => {
                let e = HostError::new(Errno(errno));
                self.failed = Some(e);
                Err(e)
            }
            None => Ok(()),
        }
    }
}

impl Host for Failing {
    fn page_size(&self) -> PageSize {
        self.inner.page_size()
    }
    fn crash_region(&self) -> Option<MachineRange> {
        self.inner.crash_region()
    }
    fn xen_range(&self) -> MachineRange {
        self.inner.xen_range()
    }
    fn cpu_count(&self) -> u32 {
        self.inner.cpu_count()
    }
    fn cpu_notes(&self, cpu: u32) -> Option<MachineRange> {
        self.inner.cpu_notes(cpu)
    }
    fn vmcoreinfo(&self) -> Option<MachineRange> {
        self.inner.vmcoreinfo()
    }
    fn write_crash(&mut self, maddr: u64, bytes: &[u8]) -> Result<(), HostError> {
        self.hook()?;
        self.inner.write_crash(maddr, bytes)
    }
    fn zero_crash(&mut self, maddr: u64, len: u64) -> Result<(), HostError> {
        self.hook()?;
        self.inner.zero_crash(maddr, len)
    }
    fn stage_default(
        &mut self,
        area: StagingArea,
        maddr: u64,
        bytes: &[u8],
    ) -> Result<(), HostError> {
        self.hook()?;
        self.inner.stage_default(area, maddr, bytes)
    }
    fn zero_default(&mut self, area: StagingArea, maddr: u64, len: u64) -> Result<(), HostError> {
        self.hook()?;
        self.inner.zero_default(area, maddr, len)
    }
    fn release(&mut self, slot: ImageSlot) {
        self.inner.release(slot);
    }
    fn enter(&mut self, image: &Image) -> Result<(), HostError> {
        self.hook()?;
        self.inner.enter(image)
    }
}

#[derive(Clone, Copy, Debug)]
enum Call {
    /// A valid load of the type: `pages` pages of source into a 4-page destination.
    Load(KexecType, u64),
    Unload(KexecType),
    Exec(KexecType),
    Status(KexecType),
}

fn type_() -> impl Strategy<Value = KexecType> {
    prop_oneof![Just(KexecType::DEFAULT), Just(KexecType::CRASH)]
}

fn call() -> impl Strategy<Value = Call> {
    prop_oneof![
        4 => (type_(), 0u64..4).prop_map(|(t, pages)| Call::Load(t, pages)),
        1 => type_().prop_map(Call::Unload),
        1 => type_().prop_map(Call::Exec),
        2 => type_().prop_map(Call::Status),
    ]
}

/// Any errno, weighted towards the ones a careless host would give.
fn errno() -> impl Strategy<Value = i32> {
    prop_oneof![
        Just(0),
        Just(-12),
        Just(i32::MIN),
        Just(i32::MAX),
        Just(4095),
        Just(4096),
        1i32..200,
        any::<i32>(),
    ]
}

/// What the hypercall returns for a hook's failure with `errno`.
fn failure_ret(errno: i32) -> i64 {
    if (1..=4095).contains(&errno) {
        -i64::from(errno)
    } else {
        Errno::EIO.to_hypercall_ret()
    }
}

fn slot(t: KexecType) -> usize {
    usize::from(t == KexecType::CRASH)
}

fn request(t: KexecType, pages: u64) -> LoadRequest {
    let dest = if t == KexecType::CRASH {
        CRASH_START
    } else {
        0x100_0000
    };
    let mut req = LoadRequest::new(t, ElfMachine::EM_X86_64, dest);
    req.push_segment(Segment {
        buf: SRC,
        buf_size: pages * 0x1000,
        dest_maddr: dest,
        dest_size: 0x4000,
    })
    .unwrap();
    req
}

/// Makes `call` on the engine; gives (its return, the command's argument written).
fn make(
    kexec: &mut Kexec,
    host: &mut Failing,
    guest: &mut Guest,
    abi: GuestAbi,
    call: Call,
) -> i64 {
    let cmd = match call {
        Call::Load(t, pages) => {
            let encoded = request(t, pages)
                .validate(&host.description())
                .unwrap()
                .encode(abi, SEGMENTS)
                .unwrap();
            encoded.write_to(guest, ARG).unwrap();
            KexecCmd::LOAD
        }
        Call::Unload(t) => {
            guest.write(ARG, encode::unload(t).as_bytes()).unwrap();
            KexecCmd::UNLOAD
        }
        Call::Exec(t) => {
            guest.write(ARG, encode::exec(t).as_bytes()).unwrap();
            KexecCmd::KEXEC
        }
        Call::Status(t) => {
            guest.write(ARG, encode::status(t).as_bytes()).unwrap();
            KexecCmd::STATUS
        }
    };
    kexec.hypercall(abi, cmd, ARG, guest, host)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(1024))]

    #[test]
    fn a_host_failing_at_any_call_with_any_errno_makes_a_negative_return_and_status_follows_the_model(
        calls in prop::collection::vec((prop_oneof![Just(GuestAbi::X86_32), Just(GuestAbi::X86_64)], call()), 1..24),
        failures in prop::collection::vec((0usize..48, errno()), 0..8),
    ) {
        let mut host = Failing {
            inner: SimHost::new(SimConfig::default()).unwrap(),
            calls: 0,
            failures,
            failed: None,
        };
        let mut kexec = Kexec::new();
        let mut guest = Guest::new();
        guest.count_from = u64::MAX;
        guest.map(SRC, vec![0x5a; 0x4000]);
        // The model: which types are loaded, and whether an exec is in progress.
        let (mut loaded, mut busy) = ([false, false], false);
        for &(abi, call) in &calls {
            let errno_at = |host: &Failing| host.failures.iter().find(|(at, _)| *at + 1 == host.calls).map(|&(_, e)| e);
            host.failed = None;
            let ret = make(&mut kexec, &mut host, &mut guest, abi, call);
            let expected = match call {
                Call::Status(t) => i64::from(loaded[slot(t)]),
                _ if busy && !matches!(call, Call::Exec(t) if !loaded[slot(t)]) => Errno::EBUSY.to_hypercall_ret(),
                Call::Exec(t) if !loaded[slot(t)] => Errno::ENOENT.to_hypercall_ret(),
                Call::Unload(t) => {
                    loaded[slot(t)] = false;
                    0
                }
                Call::Exec(_) => if host.failed.is_some() {
                    failure_ret(errno_at(&host).unwrap())
                } else {
                    busy = true;
                    0
                },
                Call::Load(t, _) => if host.failed.is_some() {
                    // A failed CRASH load leaves no crash image; a failed DEFAULT load
                    // leaves the old one.
                    if t == KexecType::CRASH {
                        loaded[1] = false;
                    }
                    failure_ret(errno_at(&host).unwrap())
                } else {
                    loaded[slot(t)] = true;
                    0
                },
            };
            if host.failed.is_some() {
                prop_assert!(ret < 0, "{:?} failed in the host and returned {}", call, ret);
            }
            prop_assert_eq!(ret, expected, "{:?} {:?}", abi, call);
            for t in [KexecType::DEFAULT, KexecType::CRASH] {
                prop_assert_eq!(kexec.is_loaded(t), loaded[slot(t)], "status of {:?}", t);
            }
            prop_assert_eq!(kexec.exec_in_progress().is_some(), busy);
        }
    }
}

#[test]
fn a_host_error_never_carries_an_errno_that_is_not_a_failure() {
    for errno in [0, -1, -12, i32::MIN, 4096, i32::MAX] {
        assert_eq!(HostError::new(Errno(errno)).errno(), Errno::EIO, "{errno}");
    }
    for errno in [1, 12, 99, 4095] {
        assert_eq!(HostError::new(Errno(errno)).errno(), Errno(errno));
    }
}

#[test]
fn a_host_error_deserialized_with_a_bad_errno_is_eio() {
    let e: HostError = serde_json::from_str(r#"{"errno":0}"#).unwrap();
    assert_eq!(e, HostError::EIO);
    let e: HostError = serde_json::from_str(r#"{"errno":-12}"#).unwrap();
    assert_eq!(e, HostError::EIO);
    let e: HostError = serde_json::from_str(r#"{"errno":12}"#).unwrap();
    assert_eq!(
        (e, serde_json::to_string(&e).unwrap()),
        (HostError::ENOMEM, r#"{"errno":12}"#.to_owned())
    );
}
