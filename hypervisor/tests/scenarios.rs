// SPDX-License-Identifier: MIT
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
    /// Every zeroing call: (maddr, len).
    zeros: Vec<(u64, u64)>,
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
        self.zeros.push((maddr, len));
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
        self.zeros.push((maddr, len));
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
            zeros: vec![],
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

#[test]
fn exec_without_an_image_is_enoent_both_widths() {
    for abi in GuestAbi::ALL {
        let (mut sim, mut g) = (sim(), Guest::new());
        for type_ in [KexecType::DEFAULT, KexecType::CRASH] {
            assert_eq!(
                exec(&mut sim, &mut g, abi, type_),
                errno(Errno::ENOENT),
                "{abi:?} {type_:?}"
            );
        }
        assert_eq!(
            sim.kexec().exec_in_progress(),
            None,
            "a refused exec starts nothing"
        );
        assert_eq!(sim.host().entered(), None);
        // Unknown types are the decoder's EINVAL, as in Xen.
        let bad = [7u8, 0, 0, 0];
        assert_eq!(
            call(&mut sim, &mut g, abi, KexecCmd::KEXEC, &bad),
            errno(Errno::EINVAL)
        );
        assert_eq!(
            call(&mut sim, &mut g, abi, KexecCmd::STATUS, &bad[..1]),
            errno(Errno::EINVAL)
        );
        assert_eq!(
            call(&mut sim, &mut g, abi, KexecCmd::UNLOAD, &bad[..1]),
            errno(Errno::EINVAL)
        );
        // Unknown and removed commands are EOPNOTSUPP.
        for cmd in [
            KexecCmd::LOAD_V1,
            KexecCmd::UNLOAD_V1,
            KexecCmd(7),
            KexecCmd(u32::MAX),
        ] {
            assert_eq!(
                call(&mut sim, &mut g, abi, cmd, &[]),
                errno(Errno::EOPNOTSUPP),
                "{cmd:?}"
            );
        }
    }
}

#[test]
fn after_exec_load_unload_and_exec_are_ebusy_both_widths() {
    for abi in GuestAbi::ALL {
        for type_ in [KexecType::DEFAULT, KexecType::CRASH] {
            let (mut sim, mut g) = (sim(), Guest::new());
            with_source(&mut g, SRC, 5, 0x1000);
            let req = one_segment(type_, ElfMachine::EM_386, SRC, 0x1000, dest_for(type_));
            assert_eq!(load(&mut sim, &mut g, abi, &req), 0);
            assert_eq!(
                exec(&mut sim, &mut g, abi, type_),
                0,
                "the simulated host returns"
            );
            assert_eq!(sim.kexec().exec_in_progress(), Some(type_));
            assert_eq!(
                sim.host()
                    .entered()
                    .map(|e| (e.type_, e.entry_maddr, e.entry_mode)),
                Some((type_, dest_for(type_), EntryMode::Protected32))
            );
            let busy = errno(Errno::EBUSY);
            for other in [KexecType::DEFAULT, KexecType::CRASH] {
                assert_eq!(
                    load(
                        &mut sim,
                        &mut g,
                        abi,
                        &one_segment(other, ElfMachine::EM_X86_64, SRC, 0x1000, dest_for(other))
                    ),
                    busy,
                    "{abi:?} load {other:?}"
                );
                assert_eq!(
                    unload(&mut sim, &mut g, abi, other),
                    busy,
                    "{abi:?} unload {other:?}"
                );
            }
            assert_eq!(exec(&mut sim, &mut g, abi, type_), busy);
            assert_eq!(
                sim.kexec_op(abi, KexecCmd::KEXEC, ARG, &mut g),
                Err(Error::ExecInProgress { type_ })
            );
            // Status and get_range still answer; the image is still there.
            assert_eq!(status(&mut sim, &mut g, abi, type_), 1);
            assert_eq!(
                get_range(&mut sim, &mut g, abi, KexecRangeKind::MA_CRASH, 0).0,
                0
            );
        }
    }
}

/// Checks that every source byte at or above `from` was read exactly once, and that
/// `expected` bytes were read in all.
fn read_once(g: &Guest, expected: usize) {
    assert!(
        g.reads.values().all(|&n| n == 1),
        "a source byte was read twice"
    );
    assert_eq!(g.reads.len(), expected, "source bytes read");
}

#[test]
fn machine_bytes_equal_the_sources_with_tails_zeroed_each_source_byte_read_once() {
    for abi in GuestAbi::ALL {
        for type_ in [KexecType::CRASH, KexecType::DEFAULT] {
            let (mut sim, mut g) = (sim(), Guest::new());
            let base = dest_for(type_);
            // Sizes that cross chunk and page boundaries and end mid-page.
            let a = with_source(&mut g, SRC, 6, 0x2a51);
            let b = with_source(&mut g, 0x20_0000, 7, 0x3ff);
            let mut req = LoadRequest::new(type_, ElfMachine::EM_X86_64, base);
            req.push_segment(Segment {
                buf: SRC,
                buf_size: 0x2a51,
                dest_maddr: base,
                dest_size: 0x5000,
            })
            .unwrap();
            // No buffer: only mapped, neither written nor zeroed.
            req.push_segment(Segment {
                buf: 0,
                buf_size: 0,
                dest_maddr: base + 0x5000,
                dest_size: 0x1000,
            })
            .unwrap();
            req.push_segment(Segment {
                buf: 0x20_0000,
                buf_size: 0x3ff,
                dest_maddr: base + 0x8000,
                dest_size: 0x2000,
            })
            .unwrap();
            // Old bytes where the tails and the unbuffered segment go, to see them zeroed
            // (or left alone).
            if type_ == KexecType::CRASH {
                let junk = vec![0xee; 0xa000];
                sim_write_machine(&mut sim, base, &junk);
            }
            assert_eq!(load(&mut sim, &mut g, abi, &req), 0, "{abi:?} {type_:?}");
            read_once(&g, 0x2a51 + 0x3ff);

            let mut found = vec![0xffu8; 0xa000];
            sim.image_bytes(type_, base, &mut found).unwrap();
            assert_eq!(&found[..0x2a51], &a[..], "{abi:?} {type_:?}: segment 0");
            assert!(
                found[0x2a51..0x5000].iter().all(|&x| x == 0),
                "segment 0's tail is zeroed"
            );
            let untouched = if type_ == KexecType::CRASH { 0xee } else { 0 };
            assert!(
                found[0x5000..0x8000].iter().all(|&x| x == untouched),
                "{type_:?}: the unbuffered segment and the gap are not written"
            );
            assert_eq!(&found[0x8000..0x83ff], &b[..], "segment 2");
            assert!(
                found[0x83ff..0xa000].iter().all(|&x| x == 0),
                "segment 2's tail is zeroed"
            );
            // The DEFAULT image is staged, not written to machine memory before exec.
            if type_ == KexecType::DEFAULT {
                let mut machine = vec![0xffu8; 0xa000];
                sim.host().machine().read(base, &mut machine);
                assert!(machine.iter().all(|&x| x == 0));
            }
        }
    }
}

/// Writes `bytes` into the sim's crash region as an earlier, failed crash load leaves
/// them.
fn sim_write_machine(sim: &mut Sim, maddr: u64, bytes: &[u8]) {
    let mut g = Guest::new();
    g.map(0x30_0000, bytes.to_vec());
    let mut req = LoadRequest::new(KexecType::CRASH, ElfMachine::EM_X86_64, maddr);
    req.push_segment(Segment {
        buf: 0x30_0000,
        // One page more than is mapped: the load faults after writing `bytes`, which
        // stay in machine memory (an unloaded image's bytes are freed).
        buf_size: bytes.len() as u64 + 0x1000,
        dest_maddr: maddr,
        dest_size: bytes.len() as u64 + 0x1000,
    })
    .unwrap();
    assert_eq!(
        load(sim, &mut g, GuestAbi::X86_64, &req),
        errno(Errno::EFAULT)
    );
}

#[test]
fn the_entry_mode_follows_the_image_arch_not_the_loader_width() {
    for abi in GuestAbi::ALL {
        for (arch, mode) in [
            (ElfMachine::EM_386, EntryMode::Protected32),
            (ElfMachine::EM_X86_64, EntryMode::Long64),
        ] {
            let (mut sim, mut g) = (sim(), Guest::new());
            with_source(&mut g, SRC, 8, 0x100);
            let req = one_segment(KexecType::CRASH, arch, SRC, 0x100, CRASH_START);
            assert_eq!(load(&mut sim, &mut g, abi, &req), 0);
            assert_eq!(
                sim.kexec()
                    .image(KexecType::CRASH)
                    .map(xen_kexec_hypervisor::Image::entry_mode),
                Some(mode)
            );
            assert_eq!(exec(&mut sim, &mut g, abi, KexecType::CRASH), 0);
            assert_eq!(
                sim.host().entered().map(|e| e.entry_mode),
                Some(mode),
                "{abi:?} {arch:?}"
            );
        }
    }
}

#[test]
fn a_bad_arch_is_refused_before_any_source_is_read_and_the_old_crash_image_stays() {
    for abi in GuestAbi::ALL {
        let (mut sim, mut g) = (sim(), Guest::new());
        let old = with_source(&mut g, SRC, 9, 0x2000);
        let first = one_segment(
            KexecType::CRASH,
            ElfMachine::EM_X86_64,
            SRC,
            0x2000,
            CRASH_START,
        );
        assert_eq!(load(&mut sim, &mut g, abi, &first), 0);
        g.reads.clear();
        with_source(&mut g, 0x20_0000, 10, 0x2000);
        let req = one_segment(
            KexecType::CRASH,
            ElfMachine::EM_X86_64,
            0x20_0000,
            0x2000,
            CRASH_START,
        );
        let host = sim.host().description();
        req.validate(&host)
            .unwrap()
            .encode(abi, SEGMENTS)
            .unwrap()
            .write_to(&mut g, ARG)
            .unwrap();
        // arch is at offset 2 of xen_kexec_load_t (both widths): EM_ARM (40).
        g.write(ARG + 2, &40u16.to_le_bytes()).unwrap();
        assert_eq!(
            sim.kexec_op(abi, KexecCmd::LOAD, ARG, &mut g),
            Err(Error::Abi(xen_kexec_abi::Error::UnsupportedArch {
                arch: ElfMachine(40)
            }))
        );
        assert!(g.reads.is_empty(), "{abi:?}: no source byte was read");
        assert_eq!(
            status(&mut sim, &mut g, abi, KexecType::CRASH),
            1,
            "the old image is untouched"
        );
        let mut found = vec![0u8; 0x2000];
        sim.image_bytes(KexecType::CRASH, CRASH_START, &mut found)
            .unwrap();
        assert_eq!(found, old);
    }
}

#[test]
fn get_range_answers_every_kind_at_the_callers_width() {
    use KexecRangeKind as K;
    let config = SimConfig::default();
    for abi in GuestAbi::ALL {
        let (mut sim, mut g) = (sim(), Guest::new());
        let crash = config.crash_region.unwrap();
        assert_eq!(
            get_range(&mut sim, &mut g, abi, K::MA_CRASH, 0),
            (0, crash.size, crash.start)
        );
        assert_eq!(
            get_range(&mut sim, &mut g, abi, K::MA_XEN, 0),
            (0, config.xen.size, config.xen.start)
        );
        let notes = config.cpu_notes.unwrap();
        for cpu in 0..config.cpus {
            assert_eq!(
                get_range(
                    &mut sim,
                    &mut g,
                    abi,
                    K::MA_CPU,
                    i32::try_from(cpu).unwrap()
                ),
                (0, notes.size, notes.start + u64::from(cpu) * notes.size),
                "{abi:?} CPU {cpu}"
            );
        }
        for nr in [-1, i32::try_from(config.cpus).unwrap(), i32::MAX, i32::MIN] {
            assert_eq!(
                get_range(&mut sim, &mut g, abi, K::MA_CPU, nr).0,
                errno(Errno::ERANGE),
                "nr {nr}"
            );
        }
        let vmci = config.vmcoreinfo.unwrap();
        assert_eq!(
            get_range(&mut sim, &mut g, abi, K::MA_VMCOREINFO, 0),
            (0, vmci.size, vmci.start)
        );
        for kind in [K::MA_XENHEAP, K::MA_BOOT_PARAM, K::MA_EFI_MEMMAP] {
            let (ret, _, _) = get_range(&mut sim, &mut g, abi, kind, 0);
            assert_eq!(
                ret,
                errno(Errno::EINVAL),
                "{abi:?} {kind:?} is not answered on x86"
            );
        }
        assert_eq!(
            get_range(&mut sim, &mut g, abi, KexecRangeKind(7), 0).0,
            errno(Errno::EINVAL)
        );
        assert_eq!(
            get_range(&mut sim, &mut g, abi, KexecRangeKind(-1), 0).0,
            errno(Errno::EINVAL)
        );
    }
}

#[test]
fn get_range_without_a_crash_region_notes_or_vmcoreinfo_and_above_4_gib() {
    use KexecRangeKind as K;
    let config = SimConfig {
        crash_region: None,
        cpu_notes: None,
        vmcoreinfo: None,
        xen: SimRange {
            start: 0x1_2345_6000,
            size: 0x60_0000,
        },
        ..SimConfig::default()
    };
    for abi in GuestAbi::ALL {
        let mut sim = Sim::new(config.clone()).unwrap();
        let mut g = Guest::new();
        // As Xen: no crash region answers start = size = 0.
        assert_eq!(get_range(&mut sim, &mut g, abi, K::MA_CRASH, 0), (0, 0, 0));
        assert_eq!(
            get_range(&mut sim, &mut g, abi, K::MA_CPU, 0).0,
            errno(Errno::EINVAL)
        );
        assert_eq!(
            get_range(&mut sim, &mut g, abi, K::MA_VMCOREINFO, 0).0,
            errno(Errno::EINVAL)
        );
        // CPU numbers are checked before the notes: ERANGE, not EINVAL.
        assert_eq!(
            get_range(&mut sim, &mut g, abi, K::MA_CPU, -1).0,
            errno(Errno::ERANGE)
        );
        // Xen above 4 GiB: a 32-bit caller gets ERANGE and its structure is untouched.
        let (ret, size, start) = get_range(&mut sim, &mut g, abi, K::MA_XEN, 0);
        match abi {
            GuestAbi::X86_64 => assert_eq!((ret, size, start), (0, 0x60_0000, 0x1_2345_6000)),
            GuestAbi::X86_32 => assert_eq!((ret, size, start), (errno(Errno::ERANGE), 0, 0)),
        }
    }
}

#[test]
fn a_load_beyond_the_host_memory_is_enomem_and_undone() {
    let config = SimConfig {
        memory_limit: 0x3000,
        ..SimConfig::default()
    };
    for abi in GuestAbi::ALL {
        for type_ in [KexecType::DEFAULT, KexecType::CRASH] {
            let mut sim = Sim::new(config.clone()).unwrap();
            let mut g = Guest::new();
            with_source(&mut g, SRC, 11, 0x4000);
            let mut req = LoadRequest::new(type_, ElfMachine::EM_X86_64, dest_for(type_));
            req.push_segment(Segment {
                buf: SRC,
                buf_size: 0x4000,
                dest_maddr: dest_for(type_),
                dest_size: 0x4000,
            })
            .unwrap();
            assert_eq!(
                load(&mut sim, &mut g, abi, &req),
                errno(Errno::ENOMEM),
                "{abi:?} {type_:?}"
            );
            assert_eq!(status(&mut sim, &mut g, abi, type_), 0);
            if type_ == KexecType::DEFAULT {
                assert_eq!(sim.host().stored_bytes(), 0, "nothing staged stays staged");
            }
        }
    }
}

#[test]
fn the_sim_state_round_trips_through_json_and_a_tampered_one_is_refused() {
    let (mut sim, mut g) = (sim(), Guest::new());
    let a = with_source(&mut g, SRC, 12, 0x1800);
    assert_eq!(
        load(
            &mut sim,
            &mut g,
            GuestAbi::X86_32,
            &one_segment(
                KexecType::CRASH,
                ElfMachine::EM_386,
                SRC,
                0x1800,
                CRASH_START
            )
        ),
        0
    );
    assert_eq!(
        load(
            &mut sim,
            &mut g,
            GuestAbi::X86_64,
            &one_segment(
                KexecType::DEFAULT,
                ElfMachine::EM_X86_64,
                SRC,
                0x1800,
                0x100_0000
            )
        ),
        0
    );
    assert_eq!(
        exec(&mut sim, &mut g, GuestAbi::X86_64, KexecType::DEFAULT),
        0
    );

    let json = serde_json::to_string(&sim).unwrap();
    let mut back: Sim = serde_json::from_str(&json).unwrap();
    assert_eq!(back, sim);
    for type_ in [KexecType::DEFAULT, KexecType::CRASH] {
        let mut found = vec![0u8; 0x1800];
        back.image_bytes(type_, dest_for(type_), &mut found)
            .unwrap();
        assert_eq!(found, a, "{type_:?}");
    }
    assert_eq!(
        exec(&mut back, &mut g, GuestAbi::X86_64, KexecType::CRASH),
        errno(Errno::EBUSY),
        "the exec in progress persists"
    );

    // A crash image moved outside the crash region is refused on load.
    let tampered = json.replace(
        &format!("\"dest_maddr\":{CRASH_START}"),
        "\"dest_maddr\":4096",
    );
    assert_ne!(tampered, json);
    assert!(serde_json::from_str::<Sim>(&tampered)
        .unwrap_err()
        .to_string()
        .contains("load rules"));
    // A page that is not 8192 hex digits is refused.
    let short = json.replacen("\":\"", "\":\"0", 1);
    assert!(serde_json::from_str::<Sim>(&short)
        .unwrap_err()
        .to_string()
        .contains("hex digits"));
}

#[test]
fn each_tail_beyond_the_source_is_zeroed_by_one_hook_call_both_types() {
    use xen_kexec_hypervisor::Kexec;
    for abi in GuestAbi::ALL {
        for type_ in [KexecType::DEFAULT, KexecType::CRASH] {
            let mut g = Guest::new();
            with_source(&mut g, SRC, 13, 0x4000);
            let base = dest_for(type_);
            let mut req = LoadRequest::new(type_, ElfMachine::EM_X86_64, base);
            for seg in [
                // A 64 MiB tail (a bss) is one call, not one per page.
                Segment {
                    buf: SRC,
                    buf_size: 0x2a51,
                    dest_maddr: base,
                    dest_size: 0x400_0000 - 0x4000,
                },
                // Without a buffer: no call at all.
                Segment {
                    buf: 0,
                    buf_size: 0,
                    dest_maddr: base + 0x3ff_c000,
                    dest_size: 0x1000,
                },
                // Exactly filled: no zeroing call.
                Segment {
                    buf: SRC,
                    buf_size: 0x3000,
                    dest_maddr: base + 0x3ff_d000,
                    dest_size: 0x3000,
                },
            ] {
                req.push_segment(seg).unwrap();
            }
            let mut host = Logged {
                inner: xen_kexec_hypervisor::sim::SimHost::new(SimConfig::default()).unwrap(),
                log: vec![],
                fail_after_stages: None,
                zeros: vec![],
            };
            req.validate(&host.description())
                .unwrap()
                .encode(abi, SEGMENTS)
                .unwrap()
                .write_to(&mut g, ARG)
                .unwrap();
            let mut kexec = Kexec::new();
            assert_eq!(
                kexec.kexec_op(abi, KexecCmd::LOAD, ARG, &mut g, &mut host),
                Ok(Outcome::Loaded)
            );
            assert_eq!(
                host.zeros,
                [(base + 0x2a51, 0x400_0000 - 0x4000 - 0x2a51)],
                "{abi:?} {type_:?}"
            );
        }
    }
}

#[test]
fn the_sim_host_refuses_bad_configs_and_writes_outside_its_crash_region() {
    use xen_kexec_hypervisor::sim::SimHost;
    assert_eq!(
        SimHost::new(SimConfig {
            page_size: 3000,
            ..SimConfig::default()
        })
        .unwrap_err(),
        SimError::PageSize { page_size: 3000 }
    );
    let wraps = SimRange {
        start: u64::MAX,
        size: 2,
    };
    assert_eq!(
        SimHost::new(SimConfig {
            xen: wraps,
            ..SimConfig::default()
        })
        .unwrap_err(),
        SimError::RangeWraps {
            field: "xen",
            range: wraps
        }
    );
    let mut host = SimHost::new(SimConfig::default()).unwrap();
    let outside = xen_kexec_hypervisor::HostError::new(Errno::EADDRNOTAVAIL);
    assert_eq!(host.write_crash(CRASH_START - 1, &[1, 2]), Err(outside));
    assert_eq!(host.zero_crash(CRASH_START + 0x400_0000, 1), Err(outside));
    assert_eq!(host.write_crash(CRASH_START + 0x3ff_ffff, &[7]), Ok(()));
    assert_eq!(host.machine().stored_bytes(), 0x1000);
    // The dump of a range past 2^64 is refused, not wrapped.
    let (mut sim, mut g) = (sim(), Guest::new());
    with_source(&mut g, SRC, 14, 0x10);
    assert_eq!(
        load(
            &mut sim,
            &mut g,
            GuestAbi::X86_64,
            &one_segment(
                KexecType::CRASH,
                ElfMachine::EM_X86_64,
                SRC,
                0x10,
                CRASH_START
            )
        ),
        0
    );
    let mut buf = [0u8; 2];
    assert_eq!(
        sim.image_bytes(KexecType::CRASH, u64::MAX, &mut buf),
        Err(SimError::AddressWraps {
            maddr: u64::MAX,
            len: 2
        })
    );
}

/// A crash image of `len` bytes from `SRC` at `dest`.
fn crash_image(len: u64, dest: u64) -> LoadRequest {
    let mut req = LoadRequest::new(KexecType::CRASH, ElfMachine::EM_X86_64, dest);
    req.push_segment(Segment {
        buf: SRC,
        buf_size: len,
        dest_maddr: dest,
        dest_size: len,
    })
    .unwrap();
    req
}

#[test]
fn unloaded_and_replaced_crash_images_free_their_memory_so_cycles_never_run_out() {
    // Room for one 1 MiB image, not two: each load goes elsewhere in the crash region,
    // so only freeing the old image's pages lets the next one in.
    let config = SimConfig {
        memory_limit: 0x18_0000,
        ..SimConfig::default()
    };
    let len = 0x10_0000u64;
    let mut sim = Sim::new(config).unwrap();
    let mut g = Guest::new();
    with_source(&mut g, SRC, 7, 0x10_0000);
    for round in 0..8u64 {
        let req = crash_image(len, CRASH_START + round * len);
        let abi = GuestAbi::X86_64;
        assert_eq!(load(&mut sim, &mut g, abi, &req), 0, "load {round}");
        assert_eq!(sim.host().stored_bytes(), len, "only this image's pages");
        // Replaced by a load elsewhere: the old pages go.
        let req = crash_image(len, CRASH_START + 0x100_0000 + round * len);
        assert_eq!(load(&mut sim, &mut g, abi, &req), 0, "replace {round}");
        assert_eq!(
            sim.host().stored_bytes(),
            len,
            "the replaced image is freed"
        );
        assert_eq!(unload(&mut sim, &mut g, abi, KexecType::CRASH), 0);
        assert_eq!(sim.host().stored_bytes(), 0, "the unloaded image is freed");
    }
}

#[test]
fn a_failed_crash_load_leaves_its_bytes_in_machine_memory() {
    let config = SimConfig {
        memory_limit: 0x3000,
        ..SimConfig::default()
    };
    let mut sim = Sim::new(config).unwrap();
    let mut g = Guest::new();
    with_source(&mut g, SRC, 3, 0x4000);
    let req = crash_image(0x4000, CRASH_START);
    assert_eq!(
        load(&mut sim, &mut g, GuestAbi::X86_64, &req),
        errno(Errno::ENOMEM)
    );
    assert_eq!(
        sim.host().stored_bytes(),
        0x3000,
        "as on Xen: written pages stay"
    );
}

#[test]
fn images_whose_destination_ends_exactly_at_2_pow_64_load_and_hold_their_bytes() {
    use xen_kexec_hypervisor::sim::SimRange;
    let top = u64::MAX - 0xfff;
    for abi in GuestAbi::ALL {
        // DEFAULT: staged for the last page of the address space.
        let (mut sim, mut g) = (sim(), Guest::new());
        let bytes = with_source(&mut g, SRC, 21, 0x1000);
        let mut req = LoadRequest::new(KexecType::DEFAULT, ElfMachine::EM_X86_64, top);
        req.push_segment(Segment {
            buf: SRC,
            buf_size: 0x1000,
            dest_maddr: top,
            dest_size: 0x1000,
        })
        .unwrap();
        assert_eq!(load(&mut sim, &mut g, abi, &req), 0, "{abi:?}");
        let mut found = vec![0u8; 0x1000];
        sim.image_bytes(KexecType::DEFAULT, top, &mut found)
            .unwrap();
        assert_eq!(found, bytes);
        // CRASH: a crash region at the top of memory, written to its last page.
        let mut sim = Sim::new(SimConfig {
            crash_region: Some(SimRange {
                start: u64::MAX - 0xf_ffff,
                size: 0x10_0000,
            }),
            ..SimConfig::default()
        })
        .unwrap();
        let req = LoadRequest {
            type_: KexecType::CRASH,
            ..req
        };
        assert_eq!(load(&mut sim, &mut g, abi, &req), 0, "{abi:?}");
        assert_eq!(status(&mut sim, &mut g, abi, KexecType::CRASH), 1);
        let mut found = vec![0u8; 0x1000];
        sim.image_bytes(KexecType::CRASH, top, &mut found).unwrap();
        assert_eq!(found, bytes);
    }
}
