// SPDX-License-Identifier: MIT
//! The engine is `&mut self`: the host serialises hypercalls. Here several guest CPUs
//! share one engine and host behind a `Mutex` (as a Rust hypervisor would, where Xen
//! uses its in-hypercall flag), each loading its own image and checking, in the same
//! critical section, that status and the loaded bytes are its own.

mod common;

use std::sync::{Arc, Mutex};
use std::thread;

use common::{load, pattern, status, unload, Guest};
use xen_kexec_abi::load::{LoadRequest, Segment};
use xen_kexec_abi::{ElfMachine, GuestAbi, KexecType};
use xen_kexec_hypervisor::sim::{Sim, SimConfig};

#[test]
fn hypercalls_from_several_threads_serialised_by_a_mutex_each_see_their_own_image() {
    let sim = Arc::new(Mutex::new(Sim::new(SimConfig::default()).unwrap()));
    let threads: Vec<_> = (0u8..4)
        .map(|cpu| {
            let sim = Arc::clone(&sim);
            thread::spawn(move || {
                let abi = GuestAbi::ALL[usize::from(cpu % 2)];
                let mut guest = Guest::new();
                let source = pattern(cpu, 0x1800);
                guest.map(0x10_0000, source.clone());
                let type_ = if cpu < 2 {
                    KexecType::DEFAULT
                } else {
                    KexecType::CRASH
                };
                let dest = if cpu < 2 { 0x100_0000 } else { 0x2000_0000 };
                let mut req = LoadRequest::new(type_, ElfMachine::EM_X86_64, dest);
                req.push_segment(Segment {
                    buf: 0x10_0000,
                    buf_size: 0x1800,
                    dest_maddr: dest,
                    dest_size: 0x2000,
                })
                .unwrap();
                for _ in 0..50 {
                    // One critical section per sequence: nothing interleaves inside it.
                    let mut sim = sim.lock().unwrap();
                    assert_eq!(load(&mut sim, &mut guest, abi, &req), 0);
                    assert_eq!(status(&mut sim, &mut guest, abi, type_), 1);
                    let mut found = vec![0u8; 0x1800];
                    sim.image_bytes(type_, dest, &mut found).unwrap();
                    assert_eq!(found, source, "CPU {cpu} finds its own image");
                    assert_eq!(unload(&mut sim, &mut guest, abi, type_), 0);
                    assert_eq!(status(&mut sim, &mut guest, abi, type_), 0);
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    let sim = sim.lock().unwrap();
    assert!(!sim.kexec().is_loaded(KexecType::DEFAULT));
    assert!(!sim.kexec().is_loaded(KexecType::CRASH));
    assert_eq!(
        sim.host().stored_bytes(),
        sim.host().machine().stored_bytes(),
        "no staged page is left"
    );
}
