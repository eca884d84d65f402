// SPDX-License-Identifier: MIT
//! Filling in a validated load's source buffers: the toolstack's step between checking a
//! load and sending it, which keeps the validation.
//!
//! A toolstack checks a load before any source byte is read, so before its source
//! buffers exist: it validates the request with stand-in `buf` addresses. The rules of
//! [`crate::load`] read a segment's `buf` only to ask whether it is null (a CRASH
//! image's buffered segments must lie in the crash region; Xen neither copies nor zeroes
//! a segment without a buffer). So swapping each stand-in for the real address, null for
//! null and non-null for non-null, cannot change the verdict:
//! [`ValidatedLoad::with_buffers`] does exactly that swap and refuses any other, and the
//! rules need not, and do not, run again.
//!
//! ```
//! use xen_kexec_abi::host::HostDescription;
//! use xen_kexec_abi::load::{LoadRequest, Segment};
//! use xen_kexec_abi::load_fill::FillError;
//! use xen_kexec_abi::{ElfMachine, GuestAbi, KexecType};
//!
//! let mut req = LoadRequest::new(KexecType::DEFAULT, ElfMachine::EM_X86_64, 0x10_0000);
//! req.push_segment(Segment { buf: 1, buf_size: 0x800, dest_maddr: 0x10_0000, dest_size: 0x1000 })?;
//! req.push_segment(Segment { buf: 0, buf_size: 0, dest_maddr: 0, dest_size: 0x10_0000 })?;
//! let checked = req.validate(&HostDescription::x86(None))?;
//!
//! // The real buffer of segment 0; segment 1 has none.
//! let filled = checked.with_buffers(|i| if i == 0 { 0x7f00_0000 } else { 0 }).unwrap();
//! assert_eq!(filled.request().segments.as_slice()[0].buf, 0x7f00_0000);
//! let encoded = filled.encode(GuestAbi::X86_64, 0x2000).unwrap();
//! assert_eq!(encoded.nr_segments(), 2);
//!
//! // A buffer may not appear or vanish: that could change the verdict.
//! assert_eq!(
//!     checked.with_buffers(|_| 0x7f00_0000).unwrap_err(),
//!     FillError::BufferNullness { segment: 1, was_null: true }
//! );
//! # Ok::<(), xen_kexec_abi::Error>(())
//! ```

use core::fmt;

use crate::encode::{encode_load, EncodeError, EncodedLoad};
use crate::load::{LoadRequest, Segment, SegmentList, ValidatedLoad};
use crate::{EntryMode, Errno, GuestAbi};

/// Why [`ValidatedLoad::with_buffers`] refused to fill in the buffers.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[non_exhaustive]
pub enum FillError {
    /// The new address of a segment's buffer is null where the validated one was not,
    /// or the other way round (`EINVAL`): the rules would have to run again.
    BufferNullness {
        /// The segment's index.
        segment: u8,
        /// Whether the validated `buf` was null.
        was_null: bool,
    },
}

impl FillError {
    /// `EINVAL`.
    pub const fn errno(&self) -> Errno {
        match self {
            FillError::BufferNullness { .. } => Errno::EINVAL,
        }
    }

    /// The name of the rule broken: the variant's name, which is its serde tag.
    pub const fn rule(&self) -> &'static str {
        match self {
            FillError::BufferNullness { .. } => "BufferNullness",
        }
    }

    /// The index of the segment this error is about.
    pub const fn segment(&self) -> Option<u8> {
        match *self {
            FillError::BufferNullness { segment, .. } => Some(segment),
        }
    }
}

impl fmt::Display for FillError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            FillError::BufferNullness { segment, was_null } => write!(
                f,
                "segment {segment}: a buffer may be moved, not {} (the load was validated {})",
                if was_null { "added" } else { "removed" },
                if was_null { "without one" } else { "with one" }
            ),
        }
    }
}

impl core::error::Error for FillError {}

/// A validated load with its source buffers' real addresses: what a toolstack encodes
/// and sends. Made only by [`ValidatedLoad::with_buffers`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FilledLoad {
    request: LoadRequest,
    entry_mode: EntryMode,
}

impl FilledLoad {
    /// The request as it will be sent, with the real buffer addresses.
    pub const fn request(&self) -> LoadRequest {
        self.request
    }

    /// How Xen enters the image: from its `arch` alone.
    pub const fn entry_mode(&self) -> EntryMode {
        self.entry_mode
    }

    /// Encodes this load for a guest of width `abi`, its segment array to be placed at
    /// guest address `segments_addr` (no rule runs: the load was validated).
    ///
    /// # Errors
    /// For a 32-bit guest, [`EncodeError::HandleTooWide`] (`ERANGE`) if `segments_addr`
    /// or a segment's `buf` needs more than 32 bits.
    pub fn encode(&self, abi: GuestAbi, segments_addr: u64) -> Result<EncodedLoad, EncodeError> {
        encode_load(&self.request, abi, segments_addr)
    }
}

impl ValidatedLoad {
    /// This load with each segment's `buf` replaced by `buf(index)`: the real address
    /// of a source buffer that was validated with a stand-in. Null must stay null and
    /// non-null non-null, which is all the rules read of `buf`, so the validation holds
    /// and no rule runs again (see the [module documentation](self)).
    ///
    /// # Errors
    /// [`FillError::BufferNullness`] for the first segment whose buffer would appear
    /// or vanish.
    pub fn with_buffers<F: FnMut(usize) -> u64>(
        &self,
        mut buf: F,
    ) -> Result<FilledLoad, FillError> {
        let mut request = self.request();
        let mut segments = SegmentList::new();
        for (index, seg) in (0u8..).zip(self.segments()) {
            let new = buf(usize::from(index));
            if (seg.buf == 0) != (new == 0) {
                return Err(FillError::BufferNullness {
                    segment: index,
                    was_null: seg.buf == 0,
                });
            }
            // Cannot fail: as many segments as the validated list holds.
            let _ = segments.push(Segment { buf: new, ..*seg });
        }
        request.segments = segments;
        Ok(FilledLoad {
            request,
            entry_mode: self.entry_mode(),
        })
    }
}

#[cfg(all(test, feature = "serde"))]
mod tests {
    use super::FillError;
    use crate::error::tests::serde_tag;

    #[test]
    fn every_fill_error_rule_is_its_serde_tag() {
        let e = FillError::BufferNullness {
            segment: 2,
            was_null: false,
        };
        // Exhaustive: a new variant fails to compile here until it is listed.
        match e {
            FillError::BufferNullness { .. } => {}
        }
        assert_eq!(e.rule(), serde_tag(&e));
        assert_eq!(e.segment(), Some(2));
    }
}
