// SPDX-License-Identifier: MIT
//! Status that can be trusted: loads and unloads that keep the [status
//! record](crate::record), and a status answer that says where it came from.
//!
//! Xen's `KEXEC_CMD_kexec_status` returns the type's slot-position bit, which every load
//! and every unload of the type flips (`kexec_swap_images`, Xen 4.17 to 4.23): after two
//! loads it says "not loaded" with an image loaded, and kexec-tools' `-S` repeats that.
//! [`Tracked`] asks Xen for the bit before and after each load and unload it makes, and
//! writes what is loaded with the bit Xen then shows. [`Tracked::status`] answers from
//! the record when Xen's bit agrees with it, and otherwise says that presence is unknown:
//! the image was loaded or unloaded outside this tool (an odd number of times; an even
//! number cannot be seen, by any query that does not change it).
//!
//! A transport whose hypervisor reports presence
//! ([`StatusMeaning::Presence`], the simulated one) needs no record: its answer is used
//! as it is, and nothing is written.

use serde::Serialize;
use xen_kexec_abi::KexecType;

use crate::client::{Client, ClientError, LoadSummary};
use crate::plan::LoadPlan;
use crate::record::{ImageNote, Record, RecordError, RecordLock, RecordStore};
use crate::transport::{StatusMeaning, Transport};

/// Where a status answer came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum StatusSource {
    /// The record, which Xen's position bit agrees with (no record: the boot state,
    /// nothing loaded and bit 0).
    Record,
    /// The hypervisor's answer: presence from a hypervisor that reports it, or (only
    /// when a caller falls back to it, as kexec's `-S` does) Xen's position bit.
    Hypervisor,
    /// Neither: Xen's bit disagrees with the record, so the image was changed outside
    /// this tool and presence is unknown.
    Unknown,
}

impl StatusSource {
    /// Its name in JSON: `record`, `hypervisor` or `unknown`.
    pub const fn name(self) -> &'static str {
        match self {
            StatusSource::Record => "record",
            StatusSource::Hypervisor => "hypervisor",
            StatusSource::Unknown => "unknown",
        }
    }
}

/// The answer of [`Tracked::status`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StatusAnswer {
    /// The type asked about.
    pub type_: KexecType,
    /// Whether an image is loaded, when known.
    pub loaded: Option<bool>,
    /// Where `loaded` came from.
    pub source: StatusSource,
    /// What the hypervisor answered: presence, or Xen's position bit.
    pub hypervisor_answer: bool,
    /// The record compared with (`None`: the hypervisor reports presence).
    pub record: Option<Record>,
}

impl StatusAnswer {
    /// Why presence is unknown, in words (`None` when it is known).
    pub fn unknown_because(&self) -> Option<String> {
        if self.loaded.is_some() {
            return None;
        }
        let expected = self.record.as_ref().map_or(0, |r| u8::from(r.position_bit));
        Some(format!(
            "the {} image was loaded or unloaded outside xen-kexec: Xen's status bit is {}, \
             and xen-kexec's record expects {expected}, so whether one is loaded is unknown",
            type_word(self.type_),
            u8::from(self.hypervisor_answer),
        ))
    }
}

/// `default` or `crash`.
fn type_word(type_: KexecType) -> &'static str {
    if type_ == KexecType::CRASH {
        "crash"
    } else {
        "default"
    }
}

/// A [`Client`] whose loads and unloads keep the status record.
#[derive(Debug)]
pub struct Tracked<T> {
    client: Client<T>,
    store: RecordStore,
    warnings: Vec<RecordError>,
}

impl<T: Transport> Tracked<T> {
    /// `client`, keeping its records in `store` (unused when the hypervisor reports
    /// presence).
    pub fn new(client: Client<T>, store: RecordStore) -> Tracked<T> {
        Tracked {
            client,
            store,
            warnings: Vec::new(),
        }
    }

    /// The client.
    pub fn client(&self) -> &Client<T> {
        &self.client
    }

    /// The client, mutably (what it does is not recorded).
    pub fn client_mut(&mut self) -> &mut Client<T> {
        &mut self.client
    }

    /// The record directory.
    pub fn store(&self) -> &RecordStore {
        &self.store
    }

    /// The records that could not be read or written since the last call: each makes a
    /// later status unknown, and the operation itself stands.
    pub fn take_warnings(&mut self) -> Vec<RecordError> {
        std::mem::take(&mut self.warnings)
    }

    fn keeps_records(&self) -> bool {
        self.client.transport().status_meaning() == StatusMeaning::PositionBit
    }

    /// The records' lock, held from the status read to the record written (`create`
    /// for a load or unload). A lock that cannot be had is a warning, and the
    /// operation goes on unguarded.
    fn lock(&mut self, create: bool) -> Option<RecordLock> {
        match self.store.lock(create) {
            Ok(lock) => lock,
            Err(e) => {
                self.warnings.push(e);
                None
            }
        }
    }

    /// Whether an image of `type_` is loaded, and where the answer came from.
    ///
    /// # Errors
    /// The hypervisor's refusal of status, or the transport's failure. A record that
    /// cannot be read makes the answer unknown and is a warning.
    pub fn status(&mut self, type_: KexecType) -> Result<StatusAnswer, ClientError> {
        let _lock = if self.keeps_records() {
            self.lock(false)
        } else {
            None
        };
        let answer = self.client.status(type_)?;
        if !self.keeps_records() {
            return Ok(StatusAnswer {
                type_,
                loaded: Some(answer),
                source: StatusSource::Hypervisor,
                hypervisor_answer: answer,
                record: None,
            });
        }
        let record = match self.store.read(type_) {
            Ok(r) => r.unwrap_or_else(|| Record::at_boot(type_)),
            Err(e) => {
                self.warnings.push(e);
                // Unknown whatever the bit: the expected bit is the opposite of Xen's.
                Record::new(type_, false, !answer, None)
            }
        };
        let agrees = record.position_bit == answer;
        Ok(StatusAnswer {
            type_,
            loaded: agrees.then_some(record.loaded),
            source: if agrees {
                StatusSource::Record
            } else {
                StatusSource::Unknown
            },
            hypervisor_answer: answer,
            record: Some(record),
        })
    }

    /// [`Client::load`] of `plan` (for CRASH, the loaded image unloaded first), recorded
    /// with `note`.
    ///
    /// # Errors
    /// As [`Client::load`]; the record is then written only as far as the bit shows
    /// what happened (a CRASH load that failed after its unload: nothing loaded).
    pub fn load(&mut self, plan: &LoadPlan, note: ImageNote) -> Result<LoadSummary, ClientError> {
        if !self.keeps_records() {
            return self.client.load(plan);
        }
        let _lock = self.lock(true);
        let before = self.client.status(plan.type_)?;
        let result = self.client.load(plan);
        self.settle(plan.type_, before, result.is_ok().then_some((true, note)));
        result
    }

    /// [`Client::unload`] of `type_`, recorded.
    ///
    /// # Errors
    /// As [`Client::unload`]; the record is then left as it was.
    pub fn unload(&mut self, type_: KexecType) -> Result<(), ClientError> {
        if !self.keeps_records() {
            return self.client.unload(type_);
        }
        let _lock = self.lock(true);
        let before = self.client.status(type_)?;
        let result = self.client.unload(type_);
        self.settle(
            type_,
            before,
            result.is_ok().then(|| (false, ImageNote::default())),
        );
        result
    }

    /// Writes the record after a load or unload of `type_`: `done` is the presence
    /// (and image) a success leaves, `None` after a failure. `before` is Xen's bit
    /// before it.
    fn settle(&mut self, type_: KexecType, before: bool, done: Option<(bool, ImageNote)>) {
        // Without the bit the record is left as it was: the next status finds it out
        // of step if the operation flipped the bit.
        let Ok(after) = self.client.status(type_) else {
            return;
        };
        let record = match done {
            Some((loaded, note)) => Record::new(type_, loaded, after, Some(note)),
            // A CRASH load that failed with the bit flipped once: its unload was made,
            // its load not. Otherwise nothing changed (or something outside did, which
            // the next status reports).
            None if type_ == KexecType::CRASH && after != before => {
                Record::new(type_, false, after, None)
            }
            None => return,
        };
        if let Err(e) = self.store.write(type_, &record) {
            self.warnings.push(e);
        }
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use xen_kexec_abi::{GuestAbi, KexecCmd};
    use xen_kexec_hypervisor::sim::{SimConfig, SimRange};

    use super::*;
    use crate::linux::plan::{plan, LinuxOptions, MachineFacts};
    use crate::linux::synthetic::BzImageSpec;
    use crate::sim::{SimBuffer, SimTransport};
    use crate::transport::{CallError, Hypercall, HypercallBuffer, TransportError};

    /// The simulated engine with Xen's status: the position bit of each type, flipped
    /// by every successful load and unload of it, and every kexec_op command it saw.
    struct XenStatus {
        sim: SimTransport,
        bits: [bool; 2],
        cmds: Vec<(KexecCmd, u8)>,
        /// Refuse the next load with EINVAL, as Xen refuses an image it cannot use.
        refuse_next_load: bool,
        /// A records' lock file to try at each kexec_op: one another process could
        /// take then is a call made unguarded.
        lock_probe: Option<std::path::PathBuf>,
        /// The kexec_op calls made while `lock_probe` was free.
        unguarded: Vec<KexecCmd>,
    }

    /// The byte at guest address `addr` in `buffers`.
    fn byte_at(buffers: &[&mut SimBuffer], addr: u64) -> u8 {
        buffers
            .iter()
            .find_map(|b| {
                let at = usize::try_from(addr.checked_sub(b.guest_addr())?).ok()?;
                b.as_bytes()?.get(at).copied()
            })
            .expect("the argument is in a buffer")
    }

    impl Transport for XenStatus {
        type Buffer = SimBuffer;

        fn kernel_abi(&self) -> Result<GuestAbi, TransportError> {
            self.sim.kernel_abi()
        }

        fn alloc(&mut self, len: usize) -> Result<SimBuffer, TransportError> {
            self.sim.alloc(len)
        }

        fn hypercall(
            &mut self,
            call: Hypercall,
            buffers: &mut [&mut SimBuffer],
        ) -> Result<i64, CallError> {
            let Hypercall::KexecOp { cmd, arg } = call else {
                return self.sim.hypercall(call, buffers);
            };
            // The type is the first byte of status, unload and load's arguments.
            let type_ = byte_at(buffers, arg);
            self.cmds.push((cmd, type_));
            let recorded = [KexecCmd::LOAD, KexecCmd::UNLOAD, KexecCmd::STATUS];
            if let (Some(probe), true) = (&self.lock_probe, recorded.contains(&cmd)) {
                let op = rustix::fs::FlockOperation::NonBlockingLockExclusive;
                let free = std::fs::File::open(probe)
                    .map_or(true, |file| rustix::fs::flock(&file, op).is_ok());
                if free {
                    self.unguarded.push(cmd);
                }
            }
            if cmd == KexecCmd::STATUS {
                return Ok(i64::from(self.bits[usize::from(type_)]));
            }
            if cmd == KexecCmd::LOAD && std::mem::take(&mut self.refuse_next_load) {
                return Err(CallError::Refused(crate::transport::Refused::from_ret(-22)));
            }
            let ret = self.sim.hypercall(call, buffers)?;
            if cmd == KexecCmd::LOAD || cmd == KexecCmd::UNLOAD {
                self.bits[usize::from(type_)] ^= true;
            }
            Ok(ret)
        }
    }

    const CRASH_192M: SimRange = SimRange {
        start: 0x2000_0000,
        size: 0xc00_0000,
    };

    fn xen(dir: &Path) -> XenStatus {
        let config = SimConfig {
            crash_region: Some(CRASH_192M),
            ..SimConfig::default()
        };
        let sim =
            SimTransport::create(&dir.join("host.json"), config, GuestAbi::X86_64).expect("sim");
        XenStatus {
            sim,
            bits: [false; 2],
            cmds: Vec::new(),
            refuse_next_load: false,
            lock_probe: None,
            unguarded: Vec::new(),
        }
    }

    fn linux_plan<T: Transport>(client: &mut Client<T>, dir: &Path, type_: KexecType) -> LoadPlan {
        let kernel = dir.join("bzImage");
        std::fs::write(&kernel, BzImageSpec::default().build()).expect("write");
        let crash_region = (type_ == KexecType::CRASH).then(|| {
            client
                .get_range(xen_kexec_abi::KexecRangeKind::MA_CRASH, 0)
                .expect("range")
                .machine_range()
                .expect("a region")
        });
        let opts = LinuxOptions {
            type_,
            kernel,
            initrd: None,
            cmdline: "console=ttyS0".into(),
            verify: true,
            corrupt_digest: false,
            omit_elfcorehdr: false,
        };
        let machine = MachineFacts {
            memory_map: client.machine_memory_map().expect("map"),
            crash_region,
            cpu_notes: Vec::new(),
            vmcoreinfo: None,
        };
        plan(&opts, &machine).expect("plans").load
    }

    fn note(name: &str) -> ImageNote {
        ImageNote {
            kernel: Some(name.into()),
            ..ImageNote::default()
        }
    }

    fn tracked(dir: &Path) -> Tracked<XenStatus> {
        let client = Client::new(xen(dir), None).expect("client");
        Tracked::new(client, RecordStore::new(dir.join("run")))
    }

    fn status<T: Transport>(t: &mut Tracked<T>, type_: KexecType) -> (Option<bool>, StatusSource) {
        let a = t.status(type_).expect("status");
        (a.loaded, a.source)
    }

    #[test]
    fn load_load_status_unload_status_answers_presence_where_xens_bit_does_not() {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut t = tracked(dir.path());
        let default = KexecType::DEFAULT;
        assert_eq!(status(&mut t, default), (Some(false), StatusSource::Record));
        let p = linux_plan(t.client_mut(), dir.path(), default);
        t.load(&p, note("first")).expect("loads");
        t.load(&p, note("second")).expect("loads");
        // Xen's bit after two loads: 0, "not loaded".
        assert!(!t.client_mut().status(default).expect("bit"));
        assert_eq!(status(&mut t, default), (Some(true), StatusSource::Record));
        let record = t.store().read(default).expect("reads").expect("a record");
        assert_eq!(record.image, Some(note("second")));
        t.unload(default).expect("unloads");
        // Xen's bit after load, load, unload: 1, "loaded".
        assert!(t.client_mut().status(default).expect("bit"));
        assert_eq!(status(&mut t, default), (Some(false), StatusSource::Record));
        assert!(t.take_warnings().is_empty());
    }

    #[test]
    fn a_load_or_unload_outside_the_tool_makes_presence_unknown() {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut t = tracked(dir.path());
        let p = linux_plan(t.client_mut(), dir.path(), KexecType::DEFAULT);
        t.load(&p, note("ours")).expect("loads");
        // kexec-tools (or anything else) loads again through the same hypervisor.
        t.client_mut().load(&p).expect("loads outside");
        let a = t.status(KexecType::DEFAULT).expect("status");
        assert_eq!((a.loaded, a.source), (None, StatusSource::Unknown));
        let why = a.unknown_because().expect("says why");
        assert!(why.contains("outside xen-kexec"), "{why}");
        assert!(why.contains("status bit is 0"), "{why}");
        // The next load through the tool makes the record right again.
        t.load(&p, note("ours again")).expect("loads");
        assert_eq!(
            status(&mut t, KexecType::DEFAULT),
            (Some(true), StatusSource::Record)
        );
        // An outside unload with no record at all (a tool run before this one's first
        // load): bit 1, the boot state expects 0.
        let dir2 = tempfile::tempdir().expect("tempdir");
        let mut t2 = tracked(dir2.path());
        t2.client_mut().unload(KexecType::CRASH).expect("unloads");
        assert_eq!(
            status(&mut t2, KexecType::CRASH),
            (None, StatusSource::Unknown)
        );
    }

    #[test]
    fn a_crash_load_unloads_the_loaded_crash_image_first() {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut t = tracked(dir.path());
        let crash = KexecType::CRASH;
        let p = linux_plan(t.client_mut(), dir.path(), crash);
        t.load(&p, note("one")).expect("loads");
        t.load(&p, note("two")).expect("loads");
        let sent: Vec<KexecCmd> = t
            .client()
            .transport()
            .cmds
            .iter()
            .filter(|(cmd, type_)| *cmd != KexecCmd::STATUS && *type_ == 1)
            .map(|(cmd, _)| *cmd)
            .collect();
        assert_eq!(
            sent,
            [
                KexecCmd::UNLOAD,
                KexecCmd::LOAD,
                KexecCmd::UNLOAD,
                KexecCmd::LOAD
            ]
        );
        // Unload and load flip Xen's bit twice: it says 0 with an image loaded.
        assert!(!t.client_mut().status(crash).expect("bit"));
        assert_eq!(status(&mut t, crash), (Some(true), StatusSource::Record));
    }

    #[test]
    fn a_crash_load_the_hypervisor_refuses_after_the_unload_is_recorded_as_nothing_loaded() {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut t = tracked(dir.path());
        let crash = KexecType::CRASH;
        let p = linux_plan(t.client_mut(), dir.path(), crash);
        t.load(&p, note("one")).expect("loads");
        // Xen refuses the second load, after its unload.
        t.client_mut().transport_mut().refuse_next_load = true;
        t.load(&p, note("two")).expect_err("refused");
        assert_eq!(status(&mut t, crash), (Some(false), StatusSource::Record));
        let sim = t.client().transport().sim.sim();
        assert!(
            sim.image_bytes(crash, CRASH_192M.start, &mut [0u8; 1])
                .is_err(),
            "no crash image on the engine"
        );
        // A DEFAULT load Xen refuses changes nothing: the record stands.
        let p = linux_plan(t.client_mut(), dir.path(), KexecType::DEFAULT);
        t.load(&p, note("d")).expect("loads");
        t.client_mut().transport_mut().refuse_next_load = true;
        t.load(&p, note("e")).expect_err("refused");
        let record = t.store().read(KexecType::DEFAULT).expect("reads");
        assert_eq!(record.and_then(|r| r.image), Some(note("d")));
    }

    #[test]
    fn loads_unloads_and_status_hold_the_records_lock_across_their_hypercalls() {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut t = tracked(dir.path());
        t.client_mut().transport_mut().lock_probe = Some(t.store().lock_path());
        let p = linux_plan(t.client_mut(), dir.path(), KexecType::CRASH);
        t.load(&p, note("one")).expect("loads");
        t.load(&p, note("two")).expect("loads");
        t.unload(KexecType::CRASH).expect("unloads");
        t.status(KexecType::CRASH).expect("status");
        let xen = t.client().transport();
        assert!(xen.cmds.len() >= 10, "{:?}", xen.cmds);
        assert_eq!(xen.unguarded, [], "kexec_op calls made without the lock");
    }

    #[test]
    fn a_record_that_cannot_be_written_is_a_warning_and_the_load_stands() {
        let dir = tempfile::tempdir().expect("tempdir");
        let client = Client::new(xen(dir.path()), None).expect("client");
        // A file where the directory should be.
        let blocker = dir.path().join("run");
        std::fs::write(&blocker, "").expect("write");
        let mut t = Tracked::new(client, RecordStore::new(&blocker));
        let p = linux_plan(t.client_mut(), dir.path(), KexecType::DEFAULT);
        t.load(&p, note("x")).expect("the load stands");
        let warnings: Vec<String> = t.take_warnings().iter().map(ToString::to_string).collect();
        assert_eq!(warnings.len(), 2, "{warnings:?}");
        assert!(warnings[0].starts_with("locking the status record"));
        assert!(warnings[1].starts_with("writing the status record"));
        assert_eq!(
            status(&mut t, KexecType::DEFAULT),
            (None, StatusSource::Unknown)
        );
    }

    #[test]
    fn the_simulated_hypervisor_answers_presence_and_no_record_is_written() {
        let dir = tempfile::tempdir().expect("tempdir");
        let sim = xen(dir.path()).sim;
        let mut t = Tracked::new(
            Client::new(sim, None).expect("client"),
            RecordStore::new(dir.path().join("run")),
        );
        let p = linux_plan(t.client_mut(), dir.path(), KexecType::DEFAULT);
        t.load(&p, note("x")).expect("loads");
        t.load(&p, note("x")).expect("loads");
        assert_eq!(
            status(&mut t, KexecType::DEFAULT),
            (Some(true), StatusSource::Hypervisor)
        );
        assert!(!dir.path().join("run").exists());
    }
}
