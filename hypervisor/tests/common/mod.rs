// SPDX-License-Identifier: MIT
//! A guest for the tests: byte regions at guest addresses, a log of every byte read, and
//! helpers that put a command's argument in its memory and make the hypercall on a sim.
#![allow(dead_code, unreachable_pub)]

use std::collections::BTreeMap;

use xen_kexec_abi::encode;
use xen_kexec_abi::guest_mem::GuestMemory;
use xen_kexec_abi::load::LoadRequest;
use xen_kexec_abi::{
    x86_32, x86_64, Access, GuestAbi, GuestFault, KexecCmd, KexecRangeKind, KexecType,
};
use xen_kexec_hypervisor::sim::Sim;
use zerocopy::FromBytes;

/// Where the helpers put a command's argument.
pub const ARG: u64 = 0x1000;
/// Where the helpers put a load's segment array.
pub const SEGMENTS: u64 = 0x1800;

/// Guest memory: disjoint byte regions; every other address faults. Counts how often
/// each source byte is read.
#[derive(Default)]
pub struct Guest {
    regions: Vec<(u64, Vec<u8>)>,
    /// How many times each byte at or above `count_from` was read.
    pub reads: BTreeMap<u64, u32>,
    pub count_from: u64,
}

impl Guest {
    /// A guest whose page at `ARG` holds arguments; source bytes are counted from
    /// 0x10_0000 up.
    pub fn new() -> Guest {
        let mut g = Guest {
            count_from: 0x10_0000,
            ..Guest::default()
        };
        g.map(ARG, vec![0; 0x1000]);
        g
    }

    /// Backs `[base, base + bytes.len())` with `bytes`.
    pub fn map(&mut self, base: u64, bytes: Vec<u8>) {
        self.regions.push((base, bytes));
    }

    fn find(&self, addr: u64, len: usize) -> Option<(usize, usize)> {
        let end = addr.checked_add(len as u64)?;
        self.regions
            .iter()
            .enumerate()
            .find_map(|(i, (base, bytes))| {
                let top = base + bytes.len() as u64;
                (*base <= addr && end <= top).then(|| (i, usize::try_from(addr - base).unwrap()))
            })
    }
}

impl GuestMemory for Guest {
    fn read(&mut self, addr: u64, buf: &mut [u8]) -> Result<(), GuestFault> {
        let (i, off) =
            self.find(addr, buf.len())
                .ok_or(GuestFault::new(addr, buf.len(), Access::Read))?;
        buf.copy_from_slice(&self.regions[i].1[off..off + buf.len()]);
        if addr >= self.count_from {
            for a in addr..addr + buf.len() as u64 {
                *self.reads.entry(a).or_default() += 1;
            }
        }
        Ok(())
    }

    fn write(&mut self, addr: u64, bytes: &[u8]) -> Result<(), GuestFault> {
        let (i, off) = self.find(addr, bytes.len()).ok_or(GuestFault::new(
            addr,
            bytes.len(),
            Access::Write,
        ))?;
        self.regions[i].1[off..off + bytes.len()].copy_from_slice(bytes);
        Ok(())
    }
}

/// `kexec_op(cmd, ARG)` with `arg` written at `ARG`.
pub fn call(sim: &mut Sim, guest: &mut Guest, abi: GuestAbi, cmd: KexecCmd, arg: &[u8]) -> i64 {
    guest.write(ARG, arg).unwrap();
    sim.hypercall(abi, cmd, ARG, guest)
}

pub fn status(sim: &mut Sim, guest: &mut Guest, abi: GuestAbi, type_: KexecType) -> i64 {
    call(
        sim,
        guest,
        abi,
        KexecCmd::STATUS,
        encode::status(type_).as_bytes(),
    )
}

pub fn unload(sim: &mut Sim, guest: &mut Guest, abi: GuestAbi, type_: KexecType) -> i64 {
    call(
        sim,
        guest,
        abi,
        KexecCmd::UNLOAD,
        encode::unload(type_).as_bytes(),
    )
}

pub fn exec(sim: &mut Sim, guest: &mut Guest, abi: GuestAbi, type_: KexecType) -> i64 {
    call(
        sim,
        guest,
        abi,
        KexecCmd::KEXEC,
        encode::exec(type_).as_bytes(),
    )
}

/// Loads `req` (valid on the sim's host) through the guest's memory.
pub fn load(sim: &mut Sim, guest: &mut Guest, abi: GuestAbi, req: &LoadRequest) -> i64 {
    let host = xen_kexec_hypervisor::Host::description(sim.host());
    let encoded = req.validate(&host).unwrap().encode(abi, SEGMENTS).unwrap();
    encoded.write_to(guest, ARG).unwrap();
    sim.hypercall(abi, KexecCmd::LOAD, ARG, guest)
}

/// get_range: the hypercall's value and the (size, start) the guest then reads back.
pub fn get_range(
    sim: &mut Sim,
    guest: &mut Guest,
    abi: GuestAbi,
    range: KexecRangeKind,
    nr: i32,
) -> (i64, u64, u64) {
    let ret = call(
        sim,
        guest,
        abi,
        KexecCmd::GET_RANGE,
        encode::get_range(abi, range, nr).as_bytes(),
    );
    let mut back = [0u8; 24];
    guest.read(ARG, &mut back).unwrap();
    let (size, start) = match abi {
        GuestAbi::X86_64 => {
            let r = x86_64::KexecRange::read_from_prefix(&back).unwrap().0;
            (r.size, r.start)
        }
        GuestAbi::X86_32 => {
            let r = x86_32::KexecRange::read_from_prefix(&back).unwrap().0;
            (u64::from(r.size), u64::from(r.start))
        }
    };
    (ret, size, start)
}

/// `n` bytes of a recognisable pattern, never zero, different for each `seed`.
pub fn pattern(seed: u8, n: usize) -> Vec<u8> {
    (0..n)
        .map(|i| u8::try_from((i * 7 + usize::from(seed) * 31) % 251).unwrap() + 1)
        .collect()
}
