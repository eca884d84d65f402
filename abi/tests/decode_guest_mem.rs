// SPDX-License-Identifier: MIT
//! The in-memory guest: disjoint regions, exact faults naming address and length,
//! checked address arithmetic at the top of the address space, all-or-nothing writes.

use xen_kexec_abi::guest_mem::{GuestMemory, GuestRegion, RegionError, SparseMemory};
use xen_kexec_abi::{Access, Errno, GuestFault};

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
