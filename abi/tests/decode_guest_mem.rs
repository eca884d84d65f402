// SPDX-License-Identifier: MIT
//! The in-memory guests: disjoint regions, exact faults naming address and length,
//! checked address arithmetic at the top of the address space, all-or-nothing writes;
//! `FlatMemory`'s one region; `SparseMemory` at 20,000 regions.

use xen_kexec_abi::decode;
use xen_kexec_abi::guest_mem::{FlatMemory, GuestMemory, GuestRegion, RegionError, SparseMemory};
use xen_kexec_abi::host::HostDescription;
use xen_kexec_abi::load::{LoadRequest, Segment};
use xen_kexec_abi::{Access, ElfMachine, Errno, Error, GuestAbi, GuestFault, KexecType};

#[test]
fn overlapping_regions_are_refused_and_touching_ones_accepted() {
    let (a, b) = ([0u8; 16], [0u8; 16]);
    let mut overlap = [
        GuestRegion {
            base: 0x100,
            bytes: &a[..],
        },
        GuestRegion {
            base: 0x10f,
            bytes: &b[..],
        },
    ];
    assert_eq!(
        SparseMemory::new(&mut overlap).unwrap_err(),
        RegionError::Overlap {
            first: 0,
            second: 1
        }
    );
    let mut inside = [
        GuestRegion {
            base: 0x100,
            bytes: &a[..],
        },
        GuestRegion {
            base: 0x0f8,
            bytes: &b[..],
        },
    ];
    assert_eq!(
        SparseMemory::new(&mut inside).unwrap_err(),
        RegionError::Overlap {
            first: 0,
            second: 1
        }
    );
    let mut touching = [
        GuestRegion {
            base: 0x100,
            bytes: &a[..],
        },
        GuestRegion {
            base: 0x110,
            bytes: &b[..],
        },
    ];
    assert!(SparseMemory::new(&mut touching).is_ok());
    let empty: &[u8] = &[];
    let mut with_empty = [
        GuestRegion {
            base: 0x100,
            bytes: &a[..],
        },
        GuestRegion {
            base: 0x104,
            bytes: empty,
        },
    ];
    assert!(SparseMemory::new(&mut with_empty).is_ok());
}

#[test]
fn region_past_the_top_of_the_address_space_is_refused() {
    let a = [0u8; 16];
    let mut wraps = [GuestRegion {
        base: u64::MAX - 14,
        bytes: &a[..],
    }];
    assert_eq!(
        SparseMemory::new(&mut wraps).unwrap_err(),
        RegionError::Wraps { index: 0 }
    );
}

#[test]
fn region_ending_at_2_pow_64_is_readable_to_its_last_byte() {
    let a = [7u8; 16];
    let mut regions = [GuestRegion {
        base: u64::MAX - 15,
        bytes: &a[..],
    }];
    let mut mem = SparseMemory::new(&mut regions).unwrap();
    let mut buf = [0u8; 16];
    mem.read(u64::MAX - 15, &mut buf).unwrap();
    assert_eq!(buf, [7; 16]);
    let mut one = [0u8; 1];
    mem.read(u64::MAX, &mut one).unwrap();
    // One byte more would wrap to address 0: a fault, not a wrap and not a panic.
    let mut two = [0u8; 2];
    assert_eq!(
        mem.read(u64::MAX, &mut two),
        Err(GuestFault {
            addr: u64::MAX,
            len: 2,
            access: Access::Read
        })
    );
}

#[test]
fn access_wrapping_past_2_pow_64_faults_even_with_memory_at_0() {
    let (low, high) = ([1u8; 16], [2u8; 16]);
    let mut regions = [
        GuestRegion {
            base: 0,
            bytes: &low[..],
        },
        GuestRegion {
            base: u64::MAX - 15,
            bytes: &high[..],
        },
    ];
    let mut mem = SparseMemory::new(&mut regions).unwrap();
    let mut buf = [0u8; 32];
    let err = mem.read(u64::MAX - 15, &mut buf).unwrap_err();
    assert_eq!(
        err,
        GuestFault {
            addr: u64::MAX - 15,
            len: 32,
            access: Access::Read
        }
    );
    assert_eq!(err.errno(), Errno::EFAULT);
}

#[test]
fn access_spans_touching_regions_but_not_a_gap() {
    let (a, b, c) = ([1u8; 4], [2u8; 4], [3u8; 4]);
    let mut regions = [
        GuestRegion {
            base: 0x10,
            bytes: &a[..],
        },
        GuestRegion {
            base: 0x14,
            bytes: &b[..],
        },
        GuestRegion {
            base: 0x19,
            bytes: &c[..],
        }, // one-byte gap at 0x18
    ];
    let mut mem = SparseMemory::new(&mut regions).unwrap();
    let mut buf = [0u8; 8];
    mem.read(0x10, &mut buf).unwrap();
    assert_eq!(buf, [1, 1, 1, 1, 2, 2, 2, 2]);
    let mut buf = [0u8; 4];
    assert_eq!(
        mem.read(0x16, &mut buf),
        Err(GuestFault {
            addr: 0x16,
            len: 4,
            access: Access::Read
        })
    );
}

#[test]
fn write_is_all_or_nothing() {
    let (mut a, mut b) = ([0u8; 4], [0u8; 4]);
    {
        let mut regions = [
            GuestRegion {
                base: 0x10,
                bytes: &mut a[..],
            },
            GuestRegion {
                base: 0x20,
                bytes: &mut b[..],
            },
        ];
        let mut mem = SparseMemory::new(&mut regions).unwrap();
        // Runs off the end of the first region: nothing written.
        assert_eq!(
            mem.write(0x12, &[9; 4]),
            Err(GuestFault {
                addr: 0x12,
                len: 4,
                access: Access::Write
            })
        );
        mem.write(0x20, &[5, 6]).unwrap();
    }
    assert_eq!(a, [0; 4]);
    assert_eq!(b, [5, 6, 0, 0]);
}

#[test]
fn read_only_regions_fault_on_write_and_arrays_are_writable() {
    let ro = [1u8; 4];
    let mut regions = [GuestRegion {
        base: 0x10,
        bytes: &ro[..],
    }];
    let mut mem = SparseMemory::new(&mut regions).unwrap();
    assert_eq!(
        mem.write(0x10, &[0]),
        Err(GuestFault {
            addr: 0x10,
            len: 1,
            access: Access::Write
        })
    );

    let mut owned = [GuestRegion {
        base: 0x10,
        bytes: [0u8; 4],
    }];
    let mut mem = SparseMemory::new(&mut owned).unwrap();
    mem.write(0x11, &[8]).unwrap();
    assert_eq!(mem.regions()[0].bytes, [0, 8, 0, 0]);
}

#[test]
fn zero_length_access_succeeds_anywhere() {
    let mut regions: [GuestRegion<&[u8]>; 0] = [];
    let mut mem = SparseMemory::new(&mut regions).unwrap();
    mem.read(u64::MAX, &mut []).unwrap();
    mem.write(0, &[]).unwrap();
}

fn read_fault(addr: u64, len: u64) -> Result<(), GuestFault> {
    Err(GuestFault {
        addr,
        len,
        access: Access::Read,
    })
}

#[test]
fn flat_memory_copies_inside_its_bytes_and_faults_on_any_byte_outside() {
    let mut page: Vec<u8> = (0..=255).collect();
    let mut mem = FlatMemory::new(0x1000, &mut page[..]).unwrap();
    assert_eq!(mem.base(), 0x1000);
    let mut buf = [0u8; 4];
    mem.read(0x10fc, &mut buf).unwrap();
    assert_eq!(buf, [252, 253, 254, 255]);
    // One byte before the base, one past the end, and an access straddling the end.
    assert_eq!(mem.read(0x0fff, &mut buf), read_fault(0x0fff, 4));
    assert_eq!(mem.read(0x1100, &mut buf[..1]), read_fault(0x1100, 1));
    assert_eq!(mem.read(0x10fd, &mut buf), read_fault(0x10fd, 4));
    // Far below the base: the offset wraps, and is still outside.
    assert_eq!(mem.read(0, &mut buf), read_fault(0, 4));
    // Zero-length accesses succeed anywhere, as SparseMemory's do.
    mem.read(u64::MAX, &mut []).unwrap();
    mem.write(0, &[]).unwrap();
    // A write is all or nothing.
    assert_eq!(
        mem.write(0x10fe, &[9, 9, 9]),
        Err(GuestFault {
            addr: 0x10fe,
            len: 3,
            access: Access::Write
        })
    );
    mem.write(0x10fe, &[7, 7]).unwrap();
    assert_eq!(&mem.bytes()[250..], &[250, 251, 252, 253, 7, 7]);

    let ro = [1u8; 4];
    let mut mem = FlatMemory::new(0x10, &ro[..]).unwrap();
    assert_eq!(
        mem.write(0x10, &[0]),
        Err(GuestFault {
            addr: 0x10,
            len: 1,
            access: Access::Write
        })
    );
}

#[test]
fn flat_memory_reaches_2_pow_64_but_never_wraps() {
    let top = [7u8; 16];
    let mut mem = FlatMemory::new(u64::MAX - 15, &top[..]).unwrap();
    let mut one = [0u8; 1];
    mem.read(u64::MAX, &mut one).unwrap();
    assert_eq!(one, [7]);
    let mut two = [0u8; 2];
    assert_eq!(mem.read(u64::MAX, &mut two), read_fault(u64::MAX, 2));
    assert_eq!(
        FlatMemory::new(u64::MAX - 14, &top[..]).unwrap_err(),
        RegionError::Wraps { index: 0 }
    );
}

#[test]
fn flat_and_sparse_memory_decode_the_same_load() {
    let host = HostDescription::x86(None);
    let mut req = LoadRequest::new(KexecType::DEFAULT, ElfMachine::EM_386, 0x10_0000);
    for i in 0..16u64 {
        req.push_segment(Segment {
            buf: 0x8000 + i * 0x1000,
            buf_size: 0x800,
            dest_maddr: 0x10_0000 + i * 0x2000,
            dest_size: 0x1000,
        })
        .unwrap();
    }
    for abi in GuestAbi::ALL {
        let encoded = req.validate(&host).unwrap().encode(abi, 0x2000).unwrap();
        let mut bytes = vec![0u8; 0x2000];
        encoded
            .write_to(
                &mut FlatMemory::new(0x1000, &mut bytes[..]).unwrap(),
                0x1000,
            )
            .unwrap();
        let mut flat = FlatMemory::new(0x1000, &bytes[..]).unwrap();
        let mut regions = [GuestRegion {
            base: 0x1000,
            bytes: &bytes[..],
        }];
        let mut sparse = SparseMemory::new(&mut regions).unwrap();
        let from_flat = decode::load(abi, &mut flat, 0x1000, &host);
        assert_eq!(from_flat.map(|l| l.request()), Ok(req));
        assert_eq!(from_flat, decode::load(abi, &mut sparse, 0x1000, &host));
        // The segment array split across two touching regions: no one region can lend it
        // whole, so the decoder copies it piece by piece, then checks: the same load.
        let split = 0x1000 + 7 * 32;
        let mut regions = [
            GuestRegion {
                base: 0x1000,
                bytes: &bytes[..split],
            },
            GuestRegion {
                base: 0x1000 + split as u64,
                bytes: &bytes[split..],
            },
        ];
        let mut split_memory = SparseMemory::new(&mut regions).unwrap();
        assert_eq!(
            from_flat,
            decode::load(abi, &mut split_memory, 0x1000, &host)
        );
        // The segment array cut short by the end of memory: the same fault.
        let short = &bytes[..0x1000 + 15 * 32];
        let mut flat = FlatMemory::new(0x1000, short).unwrap();
        let mut regions = [GuestRegion {
            base: 0x1000,
            bytes: short,
        }];
        let mut sparse = SparseMemory::new(&mut regions).unwrap();
        let fault = decode::load(abi, &mut flat, 0x1000, &host);
        assert!(matches!(fault, Err(Error::GuestFault(_))), "{fault:?}");
        assert_eq!(fault, decode::load(abi, &mut sparse, 0x1000, &host));
    }
}

/// 20,000 regions of 16 bytes, 16 bytes apart, given in a scrambled order; region `i`
/// (by address) holds bytes of value `i % 251`.
fn many_regions(backing: &[u8]) -> Vec<GuestRegion<&[u8]>> {
    let mut regions: Vec<_> = backing
        .chunks(16)
        .zip(0u64..)
        .map(|(bytes, i)| GuestRegion {
            base: 0x1_0000 + i * 32,
            bytes,
        })
        .collect();
    // A fixed scramble: a stride coprime to the count visits every index once.
    let n = regions.len();
    for i in 0..n {
        regions.swap(i, (i * 7919) % n);
    }
    regions
}

fn many_backing() -> Vec<u8> {
    (0..20_000u32)
        .flat_map(|i| [u8::try_from(i % 251).unwrap(); 16])
        .collect()
}

#[test]
fn twenty_thousand_regions_set_up_fast_and_every_byte_is_found() {
    let backing = many_backing();
    let mut regions = many_regions(&backing);
    let start = std::time::Instant::now();
    let mut mem = SparseMemory::new(&mut regions).unwrap();
    let setup = start.elapsed();
    // Quadratic set-up took 7 s in a release build; O(n log n) takes milliseconds even
    // unoptimised. The bound leaves room for a busy machine.
    assert!(setup.as_secs_f64() < 1.0, "set-up took {setup:?}");
    assert!(mem.regions().windows(2).all(|w| w[0].base < w[1].base));
    let start = std::time::Instant::now();
    let mut buf = [0u8; 16];
    for i in 0..20_000u64 {
        let base = 0x1_0000 + i * 32;
        mem.read(base, &mut buf).unwrap();
        assert_eq!(
            buf,
            [u8::try_from(i % 251).unwrap(); 16],
            "region at {base:#x}"
        );
        // The gap after each region is unbacked.
        assert_eq!(mem.read(base + 15, &mut buf[..2]), read_fault(base + 15, 2));
    }
    assert!(
        start.elapsed().as_secs_f64() < 2.0,
        "40,000 lookups took {:?}",
        start.elapsed()
    );
}

#[test]
fn errors_among_many_regions_name_the_right_regions() {
    let backing = many_backing();
    // A region that wraps is named by its index in the slice as given.
    let top = [0u8; 2];
    let mut regions = many_regions(&backing);
    regions[12_345] = GuestRegion {
        base: u64::MAX,
        bytes: &top[..],
    };
    assert_eq!(
        SparseMemory::new(&mut regions).unwrap_err(),
        RegionError::Wraps { index: 12_345 }
    );
    // An overlap is named by the positions of the two regions in the sorted slice,
    // which the caller can then look at: here the region at 0x1_0000 + 9,000 * 32 and
    // one planted 8 bytes into it.
    let mut regions = many_regions(&backing);
    let planted_at = 0x1_0000 + 9_000 * 32 + 8;
    regions[4_321] = GuestRegion {
        base: planted_at,
        bytes: &top[..],
    };
    let Err(RegionError::Overlap { first, second }) = SparseMemory::new(&mut regions) else {
        panic!("the planted region overlaps");
    };
    assert_eq!(
        (regions[first].base, regions[second].base),
        (0x1_0000 + 9_000 * 32, planted_at)
    );
    // Regions without bytes are sorted last and never hide a region that has some.
    let empty: &[u8] = &[];
    let mut regions = many_regions(&backing);
    regions[77] = GuestRegion {
        base: 0x1_0000 + 500 * 32 + 4,
        bytes: empty,
    };
    let mut mem = SparseMemory::new(&mut regions).unwrap();
    assert!(mem.regions().last().unwrap().bytes.is_empty());
    let mut buf = [0u8; 8];
    mem.read(0x1_0000 + 500 * 32 + 2, &mut buf).unwrap();
    assert_eq!(buf, [u8::try_from(500 % 251).unwrap(); 8]);
}
