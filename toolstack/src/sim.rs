// SPDX-License-Identifier: MIT
//! The simulated transport (`--backend sim:PATH`): the `xen-kexec-hypervisor` engine in
//! process, over its simulated host, with the whole state persisted in a file.
//!
//! The state file holds the host's description (crash region, CPUs, Xen's range,
//! vmcoreinfo), the simulated dom0 kernel's width, the engine's image slots, the machine
//! bytes the loads wrote and the last entry: everything a later invocation needs. It is
//! JSON (`{"format": "xen-kexec-sim 1", "kernel": "x86_64", "sim": {...}}`; the pages
//! are hex strings keyed by machine address), kept by [`crate::store`]: locked by one
//! process from [`SimTransport::open`] to its drop, written whole to a unique temporary
//! file that is synced and renamed over the old one, so that commands run at once take
//! turns and an interrupted command never leaves half a state. A command that changed
//! nothing (a status, a refused load) writes nothing.
//!
//! The simulated dom0's memory is the hypercall buffers of the call, each at its own
//! guest address below 4 GiB (so that a 32-bit kernel's handles hold them); every other
//! guest address faults.

use std::io::BufReader;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use xen_kexec_abi::consts::XENMEM_machine_memory_map;
use xen_kexec_abi::guest_mem::{GuestRegion, SparseMemory};
use xen_kexec_abi::GuestAbi;
use xen_kexec_hypervisor::sim::{Entered, Sim, SimConfig};
use xen_kexec_hypervisor::Error as EngineError;

use crate::input::InputError;
use crate::store::{self, LockedFile, StoreError};
use crate::transport::{
    CallError, Hypercall, HypercallBuffer, Refused, StatusMeaning, Transport, TransportError,
};

/// The `format` of a state file this version reads and writes.
pub const FORMAT: &str = "xen-kexec-sim 1";

/// The first guest address of the simulated dom0's hypercall buffers.
const GUEST_BASE: u64 = 0x0010_0000;
/// The end of the simulated dom0's buffer addresses: below 4 GiB.
const GUEST_END: u64 = 0xffff_f000;

/// The state file's contents.
#[derive(Serialize, Deserialize)]
struct SimFile {
    format: String,
    /// The simulated dom0 kernel's width: the layout its hypercalls have, by its
    /// command-line name (`"x86_64"`).
    #[serde(with = "abi_by_name")]
    kernel: GuestAbi,
    sim: Sim,
}

/// A [`GuestAbi`] in the state file: its name (`x86_32`, `x86_64`), as on command lines.
mod abi_by_name {
    use serde::de::Error as _;
    use serde::{Deserialize, Deserializer, Serializer};
    use xen_kexec_abi::GuestAbi;

    // serde's `with` passes the field by reference.
    #[allow(clippy::trivially_copy_pass_by_ref)]
    pub(super) fn serialize<S: Serializer>(abi: &GuestAbi, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(abi.name())
    }

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<GuestAbi, D::Error> {
        let name = String::deserialize(d)?;
        GuestAbi::from_name(&name)
            .ok_or_else(|| D::Error::unknown_variant(&name, &["x86_32", "x86_64"]))
    }
}

/// A hypercall buffer of the simulated dom0.
#[derive(Debug)]
pub struct SimBuffer {
    addr: u64,
    bytes: Vec<u8>,
}

impl HypercallBuffer for SimBuffer {
    fn guest_addr(&self) -> u64 {
        self.addr
    }

    fn as_bytes(&self) -> &[u8] {
        &self.bytes
    }

    fn as_mut_bytes(&mut self) -> &mut [u8] {
        &mut self.bytes
    }
}

/// `kexec_op` and `memory_op` into a simulated hypervisor persisted at a path.
#[derive(Debug)]
pub struct SimTransport {
    path: PathBuf,
    kernel: GuestAbi,
    sim: Sim,
    next_addr: u64,
    /// The state file, locked, and the simulated host as it was read (`None` for a
    /// host [`create`](SimTransport::create)d, not yet saved).
    stored: Option<(LockedFile, Sim)>,
}

fn sim_error(message: String) -> TransportError {
    TransportError::Sim { message }
}

impl SimTransport {
    /// A new simulated host set up as `config` says, with a dom0 kernel of width
    /// `kernel`, not yet saved.
    ///
    /// # Errors
    /// [`TransportError::Sim`] for a configuration the simulated host refuses.
    pub fn create(
        path: &Path,
        config: SimConfig,
        kernel: GuestAbi,
    ) -> Result<SimTransport, TransportError> {
        let sim = Sim::new(config).map_err(|e| sim_error(format!("sim init: {e}")))?;
        Ok(SimTransport::with(path, sim, kernel))
    }

    fn with(path: &Path, sim: Sim, kernel: GuestAbi) -> SimTransport {
        SimTransport {
            path: path.to_owned(),
            kernel,
            sim,
            next_addr: GUEST_BASE,
            stored: None,
        }
    }

    /// Reads the state at `path` (a symlink is followed to its file), and keeps the file
    /// locked until this transport is dropped: another `xen-kexec` process that opens it
    /// waits until then.
    ///
    /// # Errors
    /// [`TransportError::Sim`] naming the file: missing, not a regular file, not a state
    /// file, or a state its host refuses.
    pub fn open(path: &Path) -> Result<SimTransport, TransportError> {
        let locked = LockedFile::open(path).map_err(|e| match e {
            StoreError::Open(InputError::Open { source, .. })
                if source.kind() == std::io::ErrorKind::NotFound =>
            {
                sim_error(format!(
                    "cannot open simulated host {}: {source} (create it with `xen-kexec sim init`)",
                    path.display()
                ))
            }
            e => sim_error(format!("cannot open simulated host: {e}")),
        })?;
        let state: SimFile =
            serde_json::from_reader(BufReader::new(locked.file())).map_err(|e| {
                sim_error(format!(
                    "{} is not a simulated host's state: {e}",
                    path.display()
                ))
            })?;
        if state.format != FORMAT {
            return Err(sim_error(format!(
                "{} has state format `{}`, not `{FORMAT}`",
                path.display(),
                state.format
            )));
        }
        let mut sim = SimTransport::with(path, state.sim.clone(), state.kernel);
        sim.stored = Some((locked, state.sim));
        Ok(sim)
    }

    /// Writes the state back to its file when it changed since it was read (a new
    /// host: always), through [`crate::store`]: the file's permissions are kept, and
    /// it stays locked.
    ///
    /// # Errors
    /// [`TransportError::Sim`] naming the file; the file is then as it was.
    pub fn save(&mut self) -> Result<(), TransportError> {
        let failed = |e: StoreError| sim_error(format!("cannot save simulated host: {e}"));
        let state = SimFile {
            format: FORMAT.to_owned(),
            kernel: self.kernel,
            sim: self.sim.clone(),
        };
        let write = |out: &mut dyn std::io::Write| {
            serde_json::to_writer(out, &state).map_err(std::io::Error::from)
        };
        match &mut self.stored {
            Some((_, read)) if *read == self.sim => Ok(()),
            Some((locked, read)) => {
                locked.replace(write).map_err(failed)?;
                read.clone_from(&self.sim);
                Ok(())
            }
            None => store::create(&self.path, write).map_err(failed),
        }
    }

    /// The path of the state file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The simulated dom0 kernel's width.
    pub fn kernel(&self) -> GuestAbi {
        self.kernel
    }

    /// The engine and its simulated host.
    pub fn sim(&self) -> &Sim {
        &self.sim
    }

    /// The last image the simulated host entered.
    pub fn entered(&self) -> Option<Entered> {
        self.sim.host().entered()
    }
}

impl Transport for SimTransport {
    type Buffer = SimBuffer;

    fn kernel_abi(&self) -> Result<GuestAbi, TransportError> {
        Ok(self.kernel)
    }

    /// The engine reports presence (its documented departure from Xen).
    fn status_meaning(&self) -> StatusMeaning {
        StatusMeaning::Presence
    }

    fn alloc(&mut self, len: usize) -> Result<SimBuffer, TransportError> {
        let addr = self.next_addr;
        let end = u64::try_from(len)
            .ok()
            .and_then(|n| addr.checked_add(n))
            .and_then(|e| e.checked_next_multiple_of(0x1000))
            .filter(|&e| e <= GUEST_END)
            .ok_or_else(|| TransportError::Memory {
                what: format!("simulated dom0 buffer of {len} bytes"),
                source: std::io::Error::other("the simulated dom0's 4 GiB are used up"),
            })?;
        // A page between buffers, so that a read past one faults.
        self.next_addr = end + 0x1000;
        Ok(SimBuffer {
            addr,
            bytes: vec![0; len],
        })
    }

    fn hypercall(
        &mut self,
        call: Hypercall,
        buffers: &mut [&mut SimBuffer],
    ) -> Result<i64, CallError> {
        let mut regions: Vec<GuestRegion<&mut [u8]>> = buffers
            .iter_mut()
            .map(|b| GuestRegion {
                base: b.addr,
                bytes: &mut b.bytes[..],
            })
            .collect();
        let mut mem = SparseMemory::new(&mut regions)
            .map_err(|e| sim_error(format!("simulated dom0 memory: {e}")))?;
        // The simulated kernel makes the hypercall: its width is the layout the
        // hypervisor reads, whatever layout the client chose.
        match call {
            Hypercall::KexecOp { cmd, arg } => self
                .sim
                .kexec_op(self.kernel, cmd, arg, &mut mem)
                .map(xen_kexec_hypervisor::Outcome::ret)
                .map_err(|e| CallError::Refused(refused(&e))),
            Hypercall::MachineMemoryMap { arg } => self
                .sim
                .memory_op(self.kernel, XENMEM_machine_memory_map, arg, &mut mem)
                .map_err(|e| {
                    CallError::Refused(Refused {
                        errno: e.errno(),
                        rule: Some(e.rule()),
                        segment: None,
                        reason: Some(e.to_string()),
                    })
                }),
        }
    }
}

/// The engine's refusal, with its rule, segment and reason.
fn refused(e: &EngineError) -> Refused {
    Refused {
        errno: e.errno(),
        rule: Some(e.rule()),
        segment: e.segment().map(u32::from),
        reason: Some(e.to_string()),
    }
}
