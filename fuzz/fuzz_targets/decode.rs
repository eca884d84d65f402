// SPDX-License-Identifier: MIT
//! Fuzzes the hypervisor-side decoder: every command, both guest widths, arbitrary guest
//! memory and crash regions, and the write-back of get_range answers. A panic or a
//! sanitizer report is a bug; so is an accepted load that the rules would not accept
//! again, and a refused get_range answer that changed guest memory.
//!
//! Input: [abi: 1][cmd: 4][arg selector: 1][crash start: 8][crash size: 8][split: 2][memory...]
//! The memory is cut at `split` into two regions, one at 0x10000 and one at 0x20000, where
//! the manifest's cases put the argument and the segment array (`compat-tests`'
//! `generated` module, run by `cargo run -p headgen -- generate`, writes them in this
//! layout); the selector aims the argument at either
//! region, a byte inside one, or an unmapped address. A crash size of 0 means the host
//! reserves no crash region. The crash start and size double as a get_range answer.
#![no_main]

use libfuzzer_sys::fuzz_target;
use xen_kexec_abi::decode::{decode, Operation};
use xen_kexec_abi::guest_mem::{GuestRegion, SparseMemory};
use xen_kexec_abi::host::{HostDescription, MachineRange};
use xen_kexec_abi::{GuestAbi, KexecCmd};

const HEADER: usize = 1 + 4 + 1 + 8 + 8 + 2;

fuzz_target!(|data: &[u8]| {
    let Some((head, memory)) = data.split_first_chunk::<HEADER>() else {
        return;
    };
    let abi = if head[0] & 1 == 0 { GuestAbi::X86_32 } else { GuestAbi::X86_64 };
    let raw_cmd = u32::from_le_bytes([head[1], head[2], head[3], head[4]]);
    // Mostly the defined commands, sometimes any number.
    let cmd = if raw_cmd & 0x8000_0000 == 0 { raw_cmd % 8 } else { raw_cmd };
    let selector = head[5];
    let crash_start = u64::from_le_bytes(head[6..14].try_into().unwrap_or_default());
    let crash_size = u64::from_le_bytes(head[14..22].try_into().unwrap_or_default());
    let split = usize::from(u16::from_le_bytes([head[22], head[23]])).min(memory.len());
    let (a, b) = memory.split_at(split);
    let mut a = a[..a.len().min(0x10000)].to_vec();
    let mut b = b.to_vec();
    let arg = match selector % 4 {
        0 => 0x10000,
        1 => 0x20000,
        2 => 0x10000 + u64::from(selector),
        _ => 0xdead_0000,
    };
    let crash = if crash_size == 0 { None } else { MachineRange::new(crash_start, crash_size) };
    let host = HostDescription::x86(crash);
    let before = (a.clone(), b.clone());
    let mut regions = [
        GuestRegion { base: 0x10000, bytes: &mut a[..] },
        GuestRegion { base: 0x20000, bytes: &mut b[..] },
    ];
    let Ok(mut mem) = SparseMemory::new(&mut regions) else {
        return;
    };
    match decode(abi, KexecCmd(cmd), arg, &mut mem, &host) {
        Ok(Operation::Load(load)) => assert_eq!(load.request().validate(&host), Ok(load)),
        Ok(Operation::GetRange(query)) => {
            if query.complete(&mut mem, crash_size, crash_start).is_err() {
                assert_eq!((a, b), before, "a refused answer changed guest memory");
            }
        }
        _ => {}
    }
});
