// SPDX-License-Identifier: MIT
//! The simulated transport (`--backend sim:PATH`): the `xen-kexec-hypervisor` engine in
//! process, over its simulated host, with the whole state persisted in a file.
//!
//! The state file holds the host's description (crash region, CPUs, Xen's range,
//! vmcoreinfo), the simulated dom0 kernel's width, the engine's image slots, the machine
//! bytes the loads wrote and the last entry: everything a later invocation needs.
//!
//! **Format** (`xen-kexec-sim 2`): one line of JSON, the header
//! (`{"format": "xen-kexec-sim 2", "kernel": "x86_64", "sim": {...}, "pages": [m, a, b]}`,
//! the host with no pages), a newline, then the body: the `m` pages of machine memory,
//! then the `a` and `b` pages of staging areas A and B, each as its machine address
//! (8 bytes, little-endian) and its 4096 bytes, in ascending address order; nothing
//! after. A load of N MiB costs N MiB and 0.2% of file. Only a command that needs the
//! bytes (a load, an unload, an exec, `sim dump`) reads the body: a status or a range
//! query reads the header line. A file of format `xen-kexec-sim 1` (all JSON, pages as
//! hex strings keyed by address) is still read; the first save that changes it writes
//! format 2.
//!
//! The file is kept by [`crate::store`]: locked by one
//! process from [`SimTransport::open`] to its drop, written whole to a unique temporary
//! file that is synced and renamed over the old one, so that commands run at once take
//! turns and an interrupted command never leaves half a state. A command that changed
//! nothing (a status, a refused load) writes nothing.
//!
//! The simulated dom0's memory is the hypercall buffers of the call, each at its own
//! guest address below 4 GiB (so that a 32-bit kernel's handles hold them); every other
//! guest address faults.

use std::io::{BufRead, BufReader, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use xen_kexec_abi::consts::XENMEM_machine_memory_map;
use xen_kexec_abi::GuestAbi;
use xen_kexec_abi::KexecCmd;
use xen_kexec_hypervisor::sim::{Entered, PageMap, Sim, SimConfig, SimPages, SIM_PAGE_LEN};
use xen_kexec_hypervisor::Error as EngineError;

use self::dom0::Dom0Memory;
pub use self::dom0::{SimBuffer, SOURCE_PIECE};
use crate::input::InputError;
use crate::store::{self, LockedFile, StoreError};
use crate::transport::{
    CallError, FillPart, Hypercall, Refused, StatusMeaning, Transport, TransportError,
};

/// The `format` of a state file this version writes (and reads).
pub const FORMAT: &str = "xen-kexec-sim 2";

/// The earlier `format`, all JSON with hex pages, which this version still reads.
pub const FORMAT_1: &str = "xen-kexec-sim 1";

/// The first guest address of the simulated dom0's hypercall buffers.
const GUEST_BASE: u64 = 0x0010_0000;
/// The end of the simulated dom0's buffer addresses: below 4 GiB.
const GUEST_END: u64 = 0xffff_f000;

mod dom0;

/// The state file's header (format 2), or all of a format-1 file.
#[derive(Deserialize)]
struct SimFile {
    format: String,
    /// The simulated dom0 kernel's width: the layout its hypercalls have, by its
    /// command-line name (`"x86_64"`).
    #[serde(with = "abi_by_name")]
    kernel: GuestAbi,
    sim: Sim,
    /// Format 2: how many pages of machine memory, staging area A and B the body holds.
    pages: Option<[u64; 3]>,
}

/// [`SimFile`] as written.
#[derive(Serialize)]
struct SimHeader<'a> {
    format: &'a str,
    #[serde(with = "abi_by_name")]
    kernel: GuestAbi,
    sim: &'a Sim,
    pages: [u64; 3],
}

/// Where the body of pages starts in the state file, and how many each map has.
#[derive(Debug, Clone, Copy)]
struct Body {
    offset: u64,
    counts: [u64; 3],
}

/// The bytes of one page in the body: address and contents.
const RECORD_LEN: usize = 8 + SIM_PAGE_LEN;

fn count(map: &PageMap) -> u64 {
    map.stored_bytes() / xen_kexec_hypervisor::sim::SIM_PAGE
}

/// Writes the format-2 file: header line, then the pages.
fn write_state(
    out: &mut dyn Write,
    kernel: GuestAbi,
    meta: &Sim,
    pages: &SimPages,
) -> std::io::Result<()> {
    let maps = [&pages.machine, &pages.staged[0], &pages.staged[1]];
    let header = SimHeader {
        format: FORMAT,
        kernel,
        sim: meta,
        pages: maps.map(count),
    };
    serde_json::to_writer(&mut *out, &header)?;
    out.write_all(b"\n")?;
    for map in maps {
        for (addr, page) in map.pages() {
            out.write_all(&addr.to_le_bytes())?;
            out.write_all(page)?;
        }
    }
    Ok(())
}

/// Reads the body's pages.
fn read_body(file: &std::fs::File, body: Body) -> std::io::Result<SimPages> {
    let bad = |what: &str| std::io::Error::new(std::io::ErrorKind::InvalidData, what.to_owned());
    let mut file = file;
    file.seek(SeekFrom::Start(body.offset))?;
    let mut input = BufReader::with_capacity(1 << 20, file);
    let mut pages = SimPages::default();
    let mut record = [0u8; RECORD_LEN];
    for (i, &n) in body.counts.iter().enumerate() {
        let map = match i {
            0 => &mut pages.machine,
            1 => &mut pages.staged[0],
            _ => &mut pages.staged[1],
        };
        let mut last = None;
        for _ in 0..n {
            input.read_exact(&mut record).map_err(|e| {
                if e.kind() == std::io::ErrorKind::UnexpectedEof {
                    bad("its pages end early")
                } else {
                    e
                }
            })?;
            let (addr, bytes) = record.split_at(8);
            let addr = u64::from_le_bytes(addr.try_into().map_err(|_| bad("short record"))?);
            if last.is_some_and(|l| l >= addr) {
                return Err(bad("its pages are not in ascending order"));
            }
            last = Some(addr);
            let page: Box<[u8; SIM_PAGE_LEN]> =
                Box::new(bytes.try_into().map_err(|_| bad("short record"))?);
            if !map.insert_page(addr, page) {
                return Err(bad("a page address is not 4096-aligned"));
            }
        }
    }
    if input.read(&mut [0u8; 1])? != 0 {
        return Err(bad("bytes follow its last page"));
    }
    Ok(pages)
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

/// `kexec_op` and `memory_op` into a simulated hypervisor persisted at a path.
#[derive(Debug)]
pub struct SimTransport {
    path: PathBuf,
    kernel: GuestAbi,
    sim: Sim,
    next_addr: u64,
    /// The state file, locked, and the simulated host as it was read, without its pages
    /// (`None` for a host [`create`](SimTransport::create)d, not yet saved).
    stored: Option<(LockedFile, Sim)>,
    /// The file's body of pages, not read yet: `sim` has none of its pages until
    /// [`SimTransport::load_pages`].
    unread: Option<Body>,
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
            unread: None,
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
        let not_state = |e: &dyn std::fmt::Display| {
            sim_error(format!(
                "{} is not a simulated host's state: {e}",
                path.display()
            ))
        };
        // The header line only (all of a format-1 file): never the pages.
        let mut header = Vec::new();
        BufReader::new(locked.file())
            .read_until(b'\n', &mut header)
            .map_err(|e| not_state(&e))?;
        let state: SimFile = serde_json::from_slice(&header).map_err(|e| not_state(&e))?;
        let unread = match (state.format.as_str(), state.pages) {
            (FORMAT, Some(counts)) if header.last() == Some(&b'\n') => Some(Body {
                offset: u64::try_from(header.len()).unwrap_or(u64::MAX),
                counts,
            }),
            (FORMAT_1, None) => None,
            (FORMAT | FORMAT_1, _) => {
                return Err(not_state(&"its header and its pages disagree"));
            }
            (other, _) => {
                return Err(sim_error(format!(
                    "{} has state format `{other}`, not `{FORMAT}`",
                    path.display(),
                )));
            }
        };
        let mut sim = state.sim;
        let pages = sim.take_pages();
        if unread.is_some() && pages.stored_bytes() != 0 {
            return Err(not_state(&"its header holds pages"));
        }
        let meta = sim.clone();
        sim.put_pages(pages)
            .map_err(|e| not_state(&format_args!("{e}")))?;
        let mut sim = SimTransport::with(path, sim, state.kernel);
        sim.stored = Some((locked, meta));
        sim.unread = unread;
        Ok(sim)
    }

    /// Reads the state file's pages into the simulated host, when they are not yet: the
    /// commands that need machine bytes call it first (see the module documentation).
    ///
    /// # Errors
    /// [`TransportError::Sim`] naming the file when its pages cannot be read or are
    /// damaged.
    pub fn load_pages(&mut self) -> Result<(), TransportError> {
        let (Some(body), Some((locked, _))) = (self.unread, &self.stored) else {
            return Ok(());
        };
        let damaged = |e: &dyn std::fmt::Display| {
            sim_error(format!(
                "cannot read the pages of simulated host {}: {e}",
                self.path.display()
            ))
        };
        let pages = read_body(locked.file(), body).map_err(|e| damaged(&e))?;
        self.sim
            .put_pages(pages)
            .map_err(|e| damaged(&format_args!("{e}")))?;
        self.unread = None;
        Ok(())
    }

    /// Writes the state back to its file when it changed since it was read (a new
    /// host: always), through [`crate::store`]: the file's permissions are kept, and
    /// it stays locked.
    ///
    /// # Errors
    /// [`TransportError::Sim`] naming the file; the file is then as it was.
    pub fn save(&mut self) -> Result<(), TransportError> {
        let failed = |e: StoreError| sim_error(format!("cannot save simulated host: {e}"));
        let touched = self.sim.host().pages_touched();
        // The pages are compared by whether a hook touched them, not byte by byte: no
        // second copy of them is kept.
        let mut pages = self.sim.take_pages();
        let meta = self.sim.clone();
        if !touched && matches!(&self.stored, Some((_, read)) if *read == meta) {
            // Infallible: these pages fitted the limit a moment ago.
            let _ = self.sim.put_pages(pages);
            return Ok(());
        }
        if self.unread.is_some() {
            // Only the metadata changed, and the pages were never read: read them now.
            let _ = self.sim.put_pages(pages);
            self.load_pages()?;
            pages = self.sim.take_pages();
        }
        let kernel = self.kernel;
        let write = |out: &mut dyn Write| write_state(out, kernel, &meta, &pages);
        let saved = match &mut self.stored {
            Some((locked, read)) => locked.replace(write).map(|()| *read = meta.clone()),
            None => store::create(&self.path, write),
        };
        let _ = self.sim.put_pages(pages);
        saved.map_err(failed)?;
        self.sim.forget_pages_touched();
        Ok(())
    }

    /// The path of the state file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The simulated dom0 kernel's width.
    pub fn kernel(&self) -> GuestAbi {
        self.kernel
    }

    /// The engine and its simulated host; a host [`open`](SimTransport::open)ed has its
    /// pages only after [`load_pages`](SimTransport::load_pages) (or a hypercall that
    /// needs them).
    pub fn sim(&self) -> &Sim {
        &self.sim
    }

    /// The guest address of a new buffer of `len` bytes, below 4 GiB, with a page
    /// between it and the next, so that a read past a buffer faults.
    fn reserve(&mut self, len: usize) -> Result<u64, TransportError> {
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
        self.next_addr = end + 0x1000;
        Ok(addr)
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
        Ok(SimBuffer::whole(self.reserve(len)?, len))
    }

    /// A source kept in pieces, each given back once the hypervisor has read it
    /// ([`SimBuffer`]).
    fn alloc_source<E: From<TransportError>>(
        &mut self,
        len: usize,
        fill: &mut FillPart<'_, E>,
    ) -> Result<SimBuffer, E> {
        SimBuffer::source(self.reserve(len)?, len, fill)
    }

    fn hypercall(
        &mut self,
        call: Hypercall,
        buffers: &mut [&mut SimBuffer],
    ) -> Result<i64, CallError> {
        let mut mem = Dom0Memory::new(buffers);
        // The simulated kernel makes the hypercall: its width is the layout the
        // hypervisor reads, whatever layout the client chose.
        if let Hypercall::KexecOp { cmd, .. } = call {
            if cmd != KexecCmd::STATUS && cmd != KexecCmd::GET_RANGE {
                self.load_pages()?;
            }
        }
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
