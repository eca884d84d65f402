// SPDX-License-Identifier: MIT
//! The same calls through the engine (`xen-kexec-hypervisor`) on its simulated host,
//! configured from the booted Xen's own get_range answers (the probes).

use xen_kexec_abi::guest_mem::{GuestRegion, SparseMemory};
use xen_kexec_abi::{GuestAbi, KexecCmd};
use xen_kexec_hypervisor::sim::{SimConfig, SimHost, SimRange};
use xen_kexec_hypervisor::Kexec;

use crate::gen::{in_buffer, Call, BUF_LEN};
use crate::sequence::PROBES;
use crate::transcript::Answer;

/// A departure planted in the engine's answers, for the harness test that the
/// differential run reports one (`tests/planted.rs`): a mutated copy of one rule.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Plant {
    /// The engine as it is.
    None,
    /// An unknown command answered `-ENOSYS` (38) instead of `-EOPNOTSUPP` (95).
    UnknownCmdIsEnosys,
}

/// The range a get_range answer wrote: `(start, size)` from the 64-bit
/// `xen_kexec_range_t` (`size` at 8, `start` at 16).
pub fn range_of(answer: &Answer) -> Option<SimRange> {
    let b = answer.wrote.as_ref().filter(|_| answer.rc == 0)?;
    let word = |at: usize| Some(u64::from_le_bytes(b.get(at..at + 8)?.try_into().ok()?));
    Some(SimRange {
        size: word(8)?,
        start: word(16)?,
    })
}

/// The simulated host the booted Xen describes: its crash region, Xen's range,
/// vmcoreinfo and CPU 0's notes from the probes' answers, and `cpus` CPUs.
///
/// # Errors
/// A probe Xen did not answer with a range.
pub fn sim_config(xen: &[Answer], cpus: u32) -> Result<SimConfig, String> {
    let mut ranges = Vec::new();
    for (i, kind) in PROBES.iter().enumerate() {
        let answer = xen.get(i).ok_or("the run stopped before the probes")?;
        ranges.push(range_of(answer).ok_or_else(|| {
            format!(
                "Xen answered the probe get_range {kind} with {}",
                answer.entry()
            )
        })?);
    }
    Ok(SimConfig {
        crash_region: Some(ranges[0]),
        xen: ranges[1],
        vmcoreinfo: Some(ranges[2]),
        cpu_notes: Some(ranges[3]),
        cpus,
        ..SimConfig::default()
    })
}

/// The engine, its host and the guest buffer's address: a replay in progress.
pub struct Engine {
    kexec: Kexec,
    host: SimHost,
    base: u64,
    plant: Plant,
}

impl Engine {
    /// A fresh engine on a host made from `config`, the guest buffer at `base`.
    ///
    /// # Errors
    /// The configuration is refused by the simulated host.
    pub fn new(config: SimConfig, base: u64, plant: Plant) -> Result<Engine, String> {
        let host = SimHost::new(config).map_err(|e| format!("sim host: {e:?}"))?;
        Ok(Engine {
            kexec: Kexec::new(),
            host,
            base,
            plant,
        })
    }

    /// One call, as the runner makes it: a zeroed buffer with the call's bytes
    /// written, the call, and the 24 bytes at the argument if they changed.
    pub fn call(&mut self, call: &Call) -> Answer {
        let mut buf = vec![0u8; BUF_LEN];
        for (addr, bytes) in call.writes(self.base) {
            let at = usize::try_from(addr - self.base).unwrap_or(0);
            buf[at..at + bytes.len()].copy_from_slice(&bytes);
        }
        let window = arg_window(self.base, call.arg);
        let before = window.clone().map(|w| buf[w].to_vec());
        let rc = {
            let mut regions = [GuestRegion {
                base: self.base,
                bytes: &mut buf[..],
            }];
            match SparseMemory::new(&mut regions) {
                Ok(mut mem) => self.kexec.hypercall(
                    GuestAbi::X86_64,
                    KexecCmd(call.cmd),
                    call.arg,
                    &mut mem,
                    &mut self.host,
                ),
                Err(_) => i64::MIN,
            }
        };
        let rc = match self.plant {
            Plant::UnknownCmdIsEnosys if call.cmd > 6 && rc == -95 => -38,
            _ => rc,
        };
        let after = window.map(|w| buf[w].to_vec());
        Answer {
            rc,
            wrote: after.filter(|a| Some(a) != before.as_ref()),
        }
    }
}

/// The bytes the runner watches: 24 at the argument, clipped to the buffer.
pub fn arg_window(base: u64, arg: u64) -> Option<std::ops::Range<usize>> {
    if !in_buffer(base, arg, 1) {
        return None;
    }
    let at = usize::try_from(arg - base).ok()?;
    Some(at..(at + 24).min(BUF_LEN))
}

/// Every call through a fresh engine.
///
/// # Errors
/// The configuration is refused by the simulated host.
pub fn replay(
    calls: &[&Call],
    config: &SimConfig,
    base: u64,
    plant: Plant,
) -> Result<Vec<Answer>, String> {
    let mut engine = Engine::new(config.clone(), base, plant)?;
    Ok(calls.iter().map(|c| engine.call(c)).collect())
}
