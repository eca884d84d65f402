// SPDX-License-Identifier: MIT
//! The README's "Hypervisor side" example (a test checks that the README shows exactly
//! the code between the markers): a 32-bit dom0 loads a crash image into a simulated
//! host through the engine's one entry point.
// README begin
use xen_kexec_abi::guest_mem::{GuestMemory, GuestRegion, SparseMemory};
use xen_kexec_abi::load::{LoadRequest, Segment};
use xen_kexec_abi::{encode, ElfMachine, GuestAbi, KexecCmd, KexecType};
use xen_kexec_hypervisor::sim::{SimConfig, SimHost};
use xen_kexec_hypervisor::{Host, Kexec};

/// A 32-bit guest loads a crash image, then asks its status.
pub fn main() -> Result<(), Box<dyn std::error::Error>> {
    // The hypervisor: one engine, and a host that implements the hooks (here the
    // simulated one, whose crash region is 64 MiB at 512 MiB).
    let mut kexec = Kexec::new();
    let mut host = SimHost::new(SimConfig::default())?;

    // The guest: 12 KiB of memory at 0x8000 holding the arguments and 4 KiB of kernel.
    let mut page = [0u8; 0x3000];
    let mut regions = [GuestRegion {
        base: 0x8000,
        bytes: &mut page[..],
    }];
    let mut guest = SparseMemory::new(&mut regions)?;
    guest.write(0x9000, &[0x90; 0x1000])?;
    let mut req = LoadRequest::new(KexecType::CRASH, ElfMachine::EM_X86_64, 0x2000_0000);
    let seg = Segment {
        buf: 0x9000,
        buf_size: 0x1000,
        dest_maddr: 0x2000_0000,
        dest_size: 0x4000,
    };
    req.push_segment(seg)?;
    let load = req
        .validate(&host.description())?
        .encode(GuestAbi::X86_32, 0x8800)?;
    load.write_to(&mut guest, 0x8000)?;

    // kexec_op(KEXEC_CMD_kexec_load, 0x8000) from a 32-bit guest, then status.
    let (abi, arg) = (GuestAbi::X86_32, 0x8000);
    assert_eq!(
        kexec.hypercall(abi, KexecCmd::LOAD, arg, &mut guest, &mut host),
        0
    );
    guest.write(arg, encode::status(KexecType::CRASH).as_bytes())?;
    assert_eq!(
        kexec.hypercall(abi, KexecCmd::STATUS, arg, &mut guest, &mut host),
        1
    );
    Ok(())
}
// README end
