// SPDX-License-Identifier: MIT
//! Why the engine never has Xen's crash-reload panic (`docs/realxen.md`): Xen keeps a
//! crash image's control pages (indirection page, page tables) inside the crash region
//! and frees the old image after copying the new one over them. The engine keeps its
//! images' descriptions in its own state, never in guest-writable or region memory, and
//! releases the old crash image before the first byte of the new one is written.

use kexec_diff::gen::{Call, Load, Request, Seg};
use kexec_diff::replay::{Engine, Plant};
use xen_kexec_hypervisor::sim::SimConfig;

const BASE: u64 = 0x7f00_0000_0000;
const REGION: u64 = 0x2000_0000;

fn crash_load(dest: u64, size: u64) -> Call {
    Call {
        cmd: 4,
        arg: BASE,
        req: Request::Load(Load {
            type_: 1,
            pad: 0,
            arch: 62,
            nr_segments: 1,
            segments: BASE + 0x1000,
            entry: dest,
            segs: vec![Seg {
                buf: BASE + 0x2000,
                buf_size: 0x1000,
                dest,
                size,
            }],
        }),
        guard: false,
    }
}

fn small(cmd: u32) -> Call {
    Call {
        cmd,
        arg: BASE,
        req: Request::Unload { type_: 1 },
        guard: false,
    }
}

#[test]
fn a_crash_load_over_the_loaded_images_placement_cannot_corrupt_the_engine() {
    let mut engine = Engine::new(SimConfig::default(), BASE, Plant::None).unwrap();
    // Xen's panicking pair: A above the region's base, then B from the base over the
    // hole where Xen put A's control pages.
    assert_eq!(engine.call(&crash_load(REGION + 0x10_0000, 0x1_0000)).rc, 0);
    assert_eq!(engine.call(&crash_load(REGION, 0x20_0000)).rc, 0);
    // Status (presence) says loaded, and unload and a third load work: the engine's
    // state was never in the bytes B overwrote.
    assert_eq!(engine.call(&small(6)).rc, 1);
    assert_eq!(engine.call(&small(5)).rc, 0);
    assert_eq!(engine.call(&small(6)).rc, 0);
    assert_eq!(engine.call(&crash_load(REGION + 0x10_0000, 0x1_0000)).rc, 0);
    // Reloading many times in a row, each placement over the last, stays sound.
    for k in 0..32 {
        let dest = REGION + (k % 4) * 0x8_0000;
        assert_eq!(
            engine.call(&crash_load(dest, 0x20_0000)).rc,
            0,
            "reload {k}"
        );
    }
    assert_eq!(engine.call(&small(6)).rc, 1);
}
