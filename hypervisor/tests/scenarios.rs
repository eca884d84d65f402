//! The acceptance scenarios, through the entry point, for both guest widths.

mod common;

use common::{call, exec, get_range, load, pattern, status, unload, Guest, ARG, SEGMENTS};
use xen_kexec_abi::guest_mem::GuestMemory;
use xen_kexec_abi::load::{LoadRequest, Segment};
use xen_kexec_abi::{ElfMachine, EntryMode, Errno, GuestAbi, KexecCmd, KexecRangeKind, KexecType};
use xen_kexec_hypervisor::sim::{Sim, SimConfig, SimError, SimRange};
use xen_kexec_hypervisor::{Error, Host, Outcome};

const CRASH_START: u64 = 0x2000_0000;
const SRC: u64 = 0x10_0000;

fn sim() -> Sim {
    Sim::new(SimConfig::default()).unwrap()
}

fn errno(e: Errno) -> i64 {
    e.to_hypercall_ret()
}

/// A guest with source bytes `pattern(seed, len)` at `addr`.
fn with_source(guest: &mut Guest, addr: u64, seed: u8, len: usize) -> Vec<u8> {
    let bytes = pattern(seed, len);
    guest.map(addr, bytes.clone());
    bytes
}

/// A one-segment image of `type_` from `len` source bytes at `src`, to `dest`
/// (`dest_size` 2 pages).
fn one_segment(type_: KexecType, arch: ElfMachine, src: u64, len: u64, dest: u64) -> LoadRequest {
    let mut req = LoadRequest::new(type_, arch, dest);
    req.push_segment(Segment {
        buf: src,
        buf_size: len,
        dest_maddr: dest,
        dest_size: 0x2000,
    })
    .unwrap();
    req
}

fn dest_for(type_: KexecType) -> u64 {
    if type_ == KexecType::CRASH {
        CRASH_START
    } else {
        0x100_0000
    }
}

#[test]
fn status_reports_presence_across_load_load_unload_both_widths() {
    for abi in GuestAbi::ALL {
        for type_ in [KexecType::DEFAULT, KexecType::CRASH] {
            let (mut sim, mut g) = (sim(), Guest::new());
            with_source(&mut g, SRC, 1, 0x1800);
            let req = one_segment(type_, ElfMachine::EM_X86_64, SRC, 0x1800, dest_for(type_));
            assert_eq!(
                status(&mut sim, &mut g, abi, type_),
                0,
                "{abi:?} {type_:?} before"
            );
            assert_eq!(load(&mut sim, &mut g, abi, &req), 0);
            assert_eq!(
                status(&mut sim, &mut g, abi, type_),
                1,
                "{abi:?} {type_:?} after one load"
            );
            assert_eq!(load(&mut sim, &mut g, abi, &req), 0);
            // Xen answers 0 here: its slot-position bit flipped back.
            assert_eq!(
                status(&mut sim, &mut g, abi, type_),
                1,
                "{abi:?} {type_:?} after two loads"
            );
            assert_eq!(unload(&mut sim, &mut g, abi, type_), 0);
            // Xen answers 1 here.
            assert_eq!(
                status(&mut sim, &mut g, abi, type_),
                0,
                "{abi:?} {type_:?} after unload"
            );
            assert_eq!(
                unload(&mut sim, &mut g, abi, type_),
                0,
                "unloading nothing is 0"
            );
            assert_eq!(status(&mut sim, &mut g, abi, type_), 0);
            // The other type was never touched.
            let other = KexecType(1 - type_.0);
            assert_eq!(status(&mut sim, &mut g, abi, other), 0);
        }
    }
}

#[test]
fn crash_load_whose_second_source_faults_leaves_no_crash_image_both_widths() {
    for abi in GuestAbi::ALL {
        let (mut sim, mut g) = (sim(), Guest::new());
        let good = with_source(&mut g, SRC, 2, 0x2000);
        // A first crash image is loaded and reported.
        let first = one_segment(
            KexecType::CRASH,
            ElfMachine::EM_X86_64,
            SRC,
            0x2000,
            CRASH_START,
        );
        assert_eq!(load(&mut sim, &mut g, abi, &first), 0);
        assert_eq!(status(&mut sim, &mut g, abi, KexecType::CRASH), 1);

        // The new image's second segment's source is not mapped in the guest.
        let mut req = LoadRequest::new(KexecType::CRASH, ElfMachine::EM_X86_64, CRASH_START);
        req.push_segment(Segment {
            buf: SRC,
            buf_size: 0x1000,
            dest_maddr: CRASH_START,
            dest_size: 0x1000,
        })
        .unwrap();
        req.push_segment(Segment {
            buf: 0x7000_0000,
            buf_size: 0x10,
            dest_maddr: CRASH_START + 0x4000,
            dest_size: 0x1000,
        })
        .unwrap();
        assert_eq!(
            load(&mut sim, &mut g, abi, &req),
            errno(Errno::EFAULT),
            "{abi:?}"
        );
        assert_eq!(
            status(&mut sim, &mut g, abi, KexecType::CRASH),
            0,
            "{abi:?}: no stale image"
        );
        assert_eq!(sim.kexec().image(KexecType::CRASH), None);
        let mut buf = [0u8; 16];
        assert_eq!(
            sim.image_bytes(KexecType::CRASH, CRASH_START, &mut buf),
            Err(SimError::NoImage {
                type_: KexecType::CRASH
            })
        );
        // Nothing to crash into: exec is ENOENT, not a half-written image.
        assert_eq!(
            exec(&mut sim, &mut g, abi, KexecType::CRASH),
            errno(Errno::ENOENT)
        );
        // The first segment was written before the fault (the memory is scratch now).
        let mut mem = vec![0u8; 0x1000];
        sim.host().machine().read(CRASH_START, &mut mem);
        assert_eq!(mem, good[..0x1000]);
        // A good load afterwards works.
        assert_eq!(load(&mut sim, &mut g, abi, &first), 0);
        assert_eq!(status(&mut sim, &mut g, abi, KexecType::CRASH), 1);
    }
}

/// A host that logs the memory calls and releases (a run of the same call once), around
/// the simulated one, and can run out of memory after a number of staging calls.
struct Logged {
    inner: xen_kexec_hypervisor::sim::SimHost,
    log: Vec<String>,
    fail_after_stages: Option<usize>,
}

trait Log {
    fn note(&mut self, entry: String);
}

impl Log for Vec<String> {
    fn note(&mut self, entry: String) {
        if self.last() != Some(&entry) {
            self.push(entry);
        }
    }
}

impl Host for Logged {
    fn page_size(&self) -> xen_kexec_abi::host::PageSize {
        self.inner.page_size()
    }
    fn crash_region(&self) -> Option<xen_kexec_abi::host::MachineRange> {
        self.inner.crash_region()
    }
    fn xen_range(&self) -> xen_kexec_abi::host::MachineRange {
        self.inner.xen_range()
    }
    fn cpu_count(&self) -> u32 {
        self.inner.cpu_count()
    }
    fn cpu_notes(&self, cpu: u32) -> Option<xen_kexec_abi::host::MachineRange> {
        self.inner.cpu_notes(cpu)
    }
    fn vmcoreinfo(&self) -> Option<xen_kexec_abi::host::MachineRange> {
        self.inner.vmcoreinfo()
    }
    fn write_crash(
        &mut self,
        maddr: u64,
        bytes: &[u8],
    ) -> Result<(), xen_kexec_hypervisor::HostError> {
        self.log.note(format!("write_crash {maddr:#x}"));
        self.inner.write_crash(maddr, bytes)
    }
    fn zero_crash(&mut self, maddr: u64, len: u64) -> Result<(), xen_kexec_hypervisor::HostError> {
        self.log.note(format!("zero_crash {maddr:#x}"));
        self.inner.zero_crash(maddr, len)
    }
    fn stage_default(
        &mut self,
        area: xen_kexec_hypervisor::StagingArea,
        maddr: u64,
        bytes: &[u8],
    ) -> Result<(), xen_kexec_hypervisor::HostError> {
        if let Some(n) = self.fail_after_stages.as_mut() {
            if *n == 0 {
                return Err(xen_kexec_hypervisor::HostError::ENOMEM);
            }
            *n -= 1;
        }
        self.log.note(format!("stage {area:?}"));
        self.inner.stage_default(area, maddr, bytes)
    }
    fn zero_default(
        &mut self,
        area: xen_kexec_hypervisor::StagingArea,
        maddr: u64,
        len: u64,
    ) -> Result<(), xen_kexec_hypervisor::HostError> {
        self.log.note(format!("zero {area:?}"));
        self.inner.zero_default(area, maddr, len)
    }
    fn release(&mut self, slot: xen_kexec_hypervisor::ImageSlot) {
        self.log.note(format!("release {slot:?}"));
        self.inner.release(slot);
    }
    fn enter(
        &mut self,
        image: &xen_kexec_hypervisor::Image,
    ) -> Result<(), xen_kexec_hypervisor::HostError> {
        self.log.note("enter".into());
        self.inner.enter(image)
    }
}

#[test]
fn default_reload_keeps_the_old_image_until_the_new_one_is_staged_both_widths() {
    use xen_kexec_hypervisor::Kexec;
    for abi in GuestAbi::ALL {
        let mut g = Guest::new();
        let old = with_source(&mut g, SRC, 3, 0x2000);
        let new = with_source(&mut g, 0x20_0000, 4, 0x2000);
        let mut host = Logged {
            inner: xen_kexec_hypervisor::sim::SimHost::new(SimConfig::default()).unwrap(),
            log: vec![],
            fail_after_stages: None,
        };
        let mut kexec = Kexec::new();
        let do_load = |kexec: &mut Kexec, host: &mut Logged, g: &mut Guest, src: u64| {
            let req = one_segment(
                KexecType::DEFAULT,
                ElfMachine::EM_X86_64,
                src,
                0x2000,
                0x100_0000,
            );
            req.validate(&host.description())
                .unwrap()
                .encode(abi, SEGMENTS)
                .unwrap()
                .write_to(g, ARG)
                .unwrap();
            kexec.kexec_op(abi, KexecCmd::LOAD, ARG, g, host)
        };
        assert_eq!(
            do_load(&mut kexec, &mut host, &mut g, SRC),
            Ok(Outcome::Loaded)
        );
        assert_eq!(
            host.log,
            ["stage A"],
            "{abi:?}: the first image goes to area A"
        );
        host.log.clear();

        // The reload stages in area B, and only then is area A released.
        assert_eq!(
            do_load(&mut kexec, &mut host, &mut g, 0x20_0000),
            Ok(Outcome::Loaded)
        );
        assert_eq!(host.log, ["stage B", "release Default(A)"]);
        host.log.clear();

        // A reload that fails part way (the host runs out of memory after one page)
        // leaves the current image (in B) loaded, whole and enterable.
        host.fail_after_stages = Some(1);
        assert_eq!(
            do_load(&mut kexec, &mut host, &mut g, SRC),
            Err(Error::Host(xen_kexec_hypervisor::HostError::ENOMEM))
        );
        assert_eq!(
            host.log,
            ["stage A", "release Default(A)"],
            "{abi:?}: the partial image is released"
        );
        assert!(kexec.is_loaded(KexecType::DEFAULT));
        let sim = Sim::from_parts(kexec, host.inner.clone()).unwrap();
        let mut found = vec![0u8; 0x2000];
        sim.image_bytes(KexecType::DEFAULT, 0x100_0000, &mut found)
            .unwrap();
        assert_eq!(found, new, "{abi:?}: the image in place is the second one");
        assert_ne!(found, old);
        assert!(host
            .inner
            .staged(xen_kexec_hypervisor::StagingArea::A)
            .page_addrs()
            .next()
            .is_none());
        host.fail_after_stages = None;
        g.write(
            ARG,
            xen_kexec_abi::encode::exec(KexecType::DEFAULT).as_bytes(),
        )
        .unwrap();
        assert_eq!(
            kexec.kexec_op(abi, KexecCmd::KEXEC, ARG, &mut g, &mut host),
            Ok(Outcome::Entered)
        );
    }
}
