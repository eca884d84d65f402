// SPDX-License-Identifier: MIT
//! The fuzz seeds carry each case in the fuzz target's input layout.

use compat_tests::fuzzseed::{seed, HEADER_LEN};
use compat_tests::manifest::{self, committed_images};

#[test]
fn a_load_case_becomes_a_seed_in_the_fuzz_targets_layout() {
    let m = manifest::load(&manifest::manifest_path()).expect("manifest");
    let images = committed_images(&m).expect("images");
    let case = m
        .cases
        .iter()
        .find(|c| c.name == "load-crash-16-segments-x86_32")
        .expect("case");
    let s = seed(case, &images)
        .expect("well formed")
        .expect("fits the two regions");
    assert_eq!(s[0], 0, "x86_32");
    assert_eq!(&s[1..5], &4u32.to_le_bytes(), "KEXEC_CMD_kexec_load");
    assert_eq!(s[5], 0, "argument at the first region");
    assert_eq!(&s[6..14], &0x100_0000u64.to_le_bytes(), "crash start");
    assert_eq!(&s[14..22], &0x100_0000u64.to_le_bytes(), "crash size");
    assert_eq!(
        &s[22..24],
        &24u16.to_le_bytes(),
        "split after the load structure"
    );
    assert_eq!(s.len(), HEADER_LEN + 24 + 16 * 32);
    let load = &images[&case.region_path(0).expect("path")];
    assert_eq!(&s[HEADER_LEN..HEADER_LEN + 24], load.as_slice());
}

#[test]
fn cases_outside_the_two_regions_make_no_seed() {
    let m = manifest::load(&manifest::manifest_path()).expect("manifest");
    let images = committed_images(&m).expect("images");
    let case = m
        .cases
        .iter()
        .find(|c| c.name == "exec-arg-unmapped-x86_64")
        .expect("case");
    assert_eq!(seed(case, &images), Ok(None));
    let seeds = m
        .cases
        .iter()
        .filter(|c| matches!(seed(c, &images), Ok(Some(_))))
        .count();
    assert!(seeds >= 80, "only {seeds} seeds");
}
