// SPDX-License-Identifier: MIT
//! Seeds for the decoder's fuzz target (`fuzz/fuzz_targets/decode.rs`), made from the
//! cases of `fixtures/cases.toml` and their committed images, so that fuzzing starts from
//! every valid and malformed request the manifest knows. `cargo run -p headgen --
//! generate` writes them.
//!
//! A seed is laid out as the fuzz target reads its input:
//! `[abi: 1][cmd: 4 LE][arg selector: 1][crash start: 8 LE][crash size: 8 LE][split: 2 LE]`
//! then the memory at 0x10000 (`split` bytes) and the memory at 0x20000. Only cases whose
//! regions lie at those two addresses, with the argument at 0x10000, fit it.

use std::collections::BTreeMap;
use std::path::PathBuf;

use xen_kexec_abi::GuestAbi;

use crate::manifest::Case;

/// Where the fuzz target maps its first region, and where it aims the argument when the
/// selector is 0.
pub const REGION_A: u64 = 0x10000;
/// Where the fuzz target maps its second region.
pub const REGION_B: u64 = 0x20000;
/// The size of the seed's header.
pub const HEADER_LEN: usize = 1 + 4 + 1 + 8 + 8 + 2;

/// The seed of `case`, or `None` when its memory does not fit the target's two regions.
///
/// # Errors
/// A message when a number in the case is malformed or an image is missing.
pub fn seed(case: &Case, images: &BTreeMap<PathBuf, Vec<u8>>) -> Result<Option<Vec<u8>>, String> {
    if case.arg.u64()? != REGION_A {
        return Ok(None);
    }
    let (mut a, mut b) = (Vec::new(), Vec::new());
    for (i, region) in case.regions.iter().enumerate() {
        let bytes = images.get(&case.region_path(i)?).ok_or("missing image")?;
        match region.addr.u64()? {
            REGION_A => a.clone_from(bytes),
            REGION_B => b.clone_from(bytes),
            _ => return Ok(None),
        }
    }
    let abi = case.guest_abi()?;
    let (start, size) = match &case.crash_region {
        Some([start, size]) => (start.u64()?, size.u64()?),
        None => (0, 0),
    };
    let split = u16::try_from(a.len()).map_err(|_| "region too large")?;
    let mut out = vec![u8::from(abi == GuestAbi::X86_64)];
    out.extend(case.cmd_value()?.to_le_bytes());
    out.push(0); // selector 0: the argument at 0x10000
    out.extend(start.to_le_bytes());
    out.extend(size.to_le_bytes());
    out.extend(split.to_le_bytes());
    out.extend(a);
    out.extend(b);
    Ok(Some(out))
}
