// SPDX-License-Identifier: MIT
//! The simulated host's `memory_op(XENMEM_machine_memory_map)`: Xen's semantics in both
//! guest widths (count-only call, a buffer too small, faults, other commands), the
//! default map, the checks of a configured map, and old states reading with the default.

use xen_kexec_abi::consts::XENMEM_machine_memory_map;
use xen_kexec_abi::guest_mem::{GuestMemory, GuestRegion, SparseMemory};
use xen_kexec_abi::memory::{E820Entry, MemoryMapArg, E820_ENTRY_SIZE};
use xen_kexec_abi::{Errno, GuestAbi};
use xen_kexec_hypervisor::sim::{
    default_memory_map, MemoryOpError, Sim, SimConfig, SimE820, SimError, SIM_E820_MAX,
};
use zerocopy::FromBytes;

const ARG: u64 = 0x1000;
const BUF: u64 = 0x10_0000;

/// Makes the call with `nr_entries` and `buffer` from a guest of width `abi` whose
/// buffer region holds `capacity` entries; returns the result, the argument read back
/// and the buffer's bytes.
fn call(
    sim: &mut Sim,
    abi: GuestAbi,
    nr_entries: u32,
    buffer: u64,
    capacity: usize,
) -> (Result<i64, MemoryOpError>, MemoryMapArg, Vec<u8>) {
    let mut arg = vec![0xeeu8; 0x100];
    let mut raw = [0u8; 16];
    let encoded = MemoryMapArg { nr_entries, buffer }
        .encode(abi, &mut raw)
        .expect("fits");
    arg[..encoded.len()].copy_from_slice(encoded);
    let mut buf = vec![0u8; capacity * E820_ENTRY_SIZE];
    let mut regions = [
        GuestRegion {
            base: ARG,
            bytes: &mut arg[..],
        },
        GuestRegion {
            base: BUF,
            bytes: &mut buf[..],
        },
    ];
    let mut mem = SparseMemory::new(&mut regions).expect("disjoint");
    let r = sim.memory_op(abi, XENMEM_machine_memory_map, ARG, &mut mem);
    let mut back = [0u8; 16];
    mem.read(ARG, &mut back[..MemoryMapArg::size(abi)])
        .expect("readable");
    // The bytes after the argument structure are never touched.
    assert!(arg[MemoryMapArg::size(abi)..].iter().all(|&b| b == 0xee));
    (
        r,
        MemoryMapArg::decode(abi, &back).expect("long enough"),
        buf,
    )
}

fn entries(bytes: &[u8], n: usize) -> Vec<SimE820> {
    bytes
        .chunks_exact(E820_ENTRY_SIZE)
        .take(n)
        .map(|c| {
            let e = E820Entry::read_from_bytes(c).expect("20 bytes");
            SimE820 {
                start: e.addr.get(),
                size: e.size.get(),
                kind: e.kind.get(),
            }
        })
        .collect()
}

#[test]
fn both_widths_get_the_default_map_and_its_count() {
    for abi in GuestAbi::ALL {
        let mut sim = Sim::new(SimConfig::default()).unwrap();
        let (r, back, buf) = call(&mut sim, abi, 128, BUF, 128);
        assert_eq!(r, Ok(0), "{abi:?}");
        assert_eq!(back.nr_entries, 6, "{abi:?}: the entries written");
        assert_eq!(
            back.buffer, BUF,
            "{abi:?}: the handle is written back as read"
        );
        assert_eq!(entries(&buf, 6), default_memory_map(), "{abi:?}");
        assert!(buf[6 * E820_ENTRY_SIZE..].iter().all(|&b| b == 0));
    }
}

#[test]
fn a_null_buffer_asks_for_the_count_only() {
    for abi in GuestAbi::ALL {
        let mut sim = Sim::new(SimConfig::default()).unwrap();
        let (r, back, buf) = call(&mut sim, abi, 0, 0, 8);
        assert_eq!(r, Ok(0), "{abi:?}");
        assert_eq!(back.nr_entries, 6, "{abi:?}");
        assert!(buf.iter().all(|&b| b == 0), "{abi:?}: nothing written");
    }
}

#[test]
fn a_buffer_too_small_is_einval_and_xen_wants_one_entry_more() {
    for abi in GuestAbi::ALL {
        let mut sim = Sim::new(SimConfig::default()).unwrap();
        // Exactly the map's entries: Xen wants one more.
        let (r, back, buf) = call(&mut sim, abi, 6, BUF, 6);
        let e = r.expect_err("too small");
        assert_eq!(
            e,
            MemoryOpError::BufferTooSmall {
                nr_entries: 6,
                needed: 7
            }
        );
        assert_eq!(e.errno(), Errno::EINVAL);
        assert_eq!(e.rule(), "BufferTooSmall");
        assert_eq!(back.nr_entries, 6, "{abi:?}: the argument is not written");
        assert!(buf.iter().all(|&b| b == 0), "{abi:?}: nothing written");
        // One more is enough.
        let (r, back, _) = call(&mut sim, abi, 7, BUF, 7);
        assert_eq!((r, back.nr_entries), (Ok(0), 6), "{abi:?}");
    }
}

#[test]
fn an_unwritable_buffer_is_efault_and_other_commands_enosys() {
    for abi in GuestAbi::ALL {
        let mut sim = Sim::new(SimConfig::default()).unwrap();
        // The buffer says 128 entries; only 2 are mapped.
        let (r, _, _) = call(&mut sim, abi, 128, BUF, 2);
        assert_eq!(r.map_err(|e| e.errno()), Err(Errno::EFAULT), "{abi:?}");
        let mut arg = [0u8; 16];
        let mut regions = [GuestRegion {
            base: ARG,
            bytes: &mut arg[..],
        }];
        let mut mem = SparseMemory::new(&mut regions).unwrap();
        // The argument itself unreadable.
        let r = sim.memory_op(abi, XENMEM_machine_memory_map, 0x9000, &mut mem);
        assert_eq!(r.map_err(|e| e.errno()), Err(Errno::EFAULT));
        // XENMEM_memory_map (9), the caller's own map, is not simulated.
        let r = sim.memory_op(abi, 9, ARG, &mut mem);
        assert_eq!(r, Err(MemoryOpError::UnknownCommand { cmd: 9 }));
        assert_eq!(r.unwrap_err().errno(), Errno::ENOSYS);
    }
}

#[test]
fn a_map_larger_than_the_first_buffer_is_counted_then_written() {
    let map: Vec<SimE820> = (0..200u64)
        .map(|i| SimE820 {
            start: i << 20,
            size: 0x8_0000,
            kind: SimE820::RAM,
        })
        .collect();
    let mut sim = Sim::new(SimConfig {
        memory_map: map.clone(),
        ..SimConfig::default()
    })
    .unwrap();
    for abi in GuestAbi::ALL {
        let (r, _, _) = call(&mut sim, abi, 128, BUF, 128);
        assert_eq!(r.map_err(|e| e.errno()), Err(Errno::EINVAL));
        let (_, count, _) = call(&mut sim, abi, 0, 0, 0);
        assert_eq!(count.nr_entries, 200);
        let (r, back, buf) = call(&mut sim, abi, 201, BUF, 201);
        assert_eq!((r, back.nr_entries), (Ok(0), 200));
        assert_eq!(entries(&buf, 200), map);
    }
}

#[test]
fn the_default_hosts_ranges_lie_in_the_default_maps_ram() {
    let config = SimConfig::default();
    let in_ram = |start: u64, size: u64| {
        config
            .memory_map
            .iter()
            .any(|e| e.kind == SimE820::RAM && e.start <= start && start + size <= e.start + e.size)
    };
    let crash = config.crash_region.expect("a crash region");
    assert!(in_ram(crash.start, crash.size), "crash region {crash:?}");
    assert!(in_ram(config.xen.start, config.xen.size), "xen");
    let notes = config.cpu_notes.expect("notes");
    assert!(in_ram(notes.start, notes.size * u64::from(config.cpus)));
    let vmcoreinfo = config.vmcoreinfo.expect("vmcoreinfo");
    assert!(in_ram(vmcoreinfo.start, vmcoreinfo.size));
}

#[test]
fn a_bad_map_is_refused_naming_the_entry() {
    let bad = |map: Vec<SimE820>| {
        Sim::new(SimConfig {
            memory_map: map,
            ..SimConfig::default()
        })
        .unwrap_err()
    };
    let e = |start, size| SimE820 {
        start,
        size,
        kind: SimE820::RAM,
    };
    let err = bad(vec![e(0, 0x1000), e(0x2000, 0)]);
    assert!(matches!(err, SimError::MemoryMap { index: 1, .. }), "{err}");
    assert_eq!(err.to_string(), "memory map entry 1 is empty");
    let err = bad(vec![e(u64::MAX - 0xfff, 0x2000)]);
    assert!(matches!(err, SimError::MemoryMap { index: 0, .. }), "{err}");
    let err = bad(vec![e(0x1000, 0x2000), e(0x2000, 0x1000)]);
    assert!(matches!(err, SimError::MemoryMap { index: 1, .. }), "{err}");
    assert_eq!(err.rule(), "MemoryMap");
    let err = bad((0..=SIM_E820_MAX as u64)
        .map(|i| e(i << 12, 0x1000))
        .collect());
    assert!(
        matches!(err, SimError::MemoryMap { index, .. } if index == SIM_E820_MAX),
        "{err}"
    );
}

#[test]
fn a_state_saved_before_the_map_existed_reads_with_the_default_map() {
    let sim = Sim::new(SimConfig::default()).unwrap();
    let mut json: serde_json::Value = serde_json::to_value(&sim).unwrap();
    let config = json["host"]["config"].as_object_mut().expect("config");
    assert!(config.remove("memory_map").is_some());
    let back: Sim = serde_json::from_value(json).unwrap();
    assert_eq!(back.host().config().memory_map, default_memory_map());
}
