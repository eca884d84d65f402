// SPDX-License-Identifier: MIT
//! Sparse memory for the simulated host: 4 KiB pages that hold a non-zero byte; every
//! other byte reads as zero.

use alloc::boxed::Box;
use alloc::collections::BTreeMap;
use alloc::vec::Vec;

use crate::host::HostError;

/// The granularity of a [`PageMap`] (whatever the simulated host's page size).
pub const SIM_PAGE: u64 = 4096;

/// `SIM_PAGE` as a length.
pub const SIM_PAGE_LEN: usize = 4096;
use SIM_PAGE_LEN as PAGE_LEN;
const _: () = assert!(PAGE_LEN as u64 == SIM_PAGE);

/// Sparse bytes keyed by address: only pages with a non-zero byte are stored, so zeroing
/// a range frees its pages and a large zeroed range costs nothing.
///
/// ```
/// use xen_kexec_hypervisor::sim::PageMap;
/// let mut m = PageMap::new();
/// m.write(0x1ffe, &[1, 2, 3, 4], u64::MAX).unwrap(); // spans two pages
/// let mut buf = [9u8; 6];
/// m.read(0x1ffd, &mut buf);
/// assert_eq!(buf, [0, 1, 2, 3, 4, 0]);
/// assert_eq!(m.stored_bytes(), 2 * 4096);
/// m.zero(0, 0x10_0000);
/// assert_eq!(m.stored_bytes(), 0);
/// ```
#[derive(Clone, Default, PartialEq, Eq)]
pub struct PageMap {
    pages: BTreeMap<u64, Box<[u8; PAGE_LEN]>>,
}

impl core::fmt::Debug for PageMap {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("PageMap")
            .field("pages", &self.pages.keys().collect::<Vec<_>>())
            .finish()
    }
}

/// The page holding `addr`, and `addr`'s offset in it.
const fn split(addr: u64) -> (u64, usize) {
    // The offset is below 4096: no truncation.
    #[allow(clippy::cast_possible_truncation)]
    let offset = (addr % SIM_PAGE) as usize;
    (addr - addr % SIM_PAGE, offset)
}

impl PageMap {
    /// Empty: every byte zero.
    pub const fn new() -> PageMap {
        PageMap {
            pages: BTreeMap::new(),
        }
    }

    /// Bytes of the pages stored.
    pub fn stored_bytes(&self) -> u64 {
        u64::try_from(self.pages.len()).unwrap_or(u64::MAX) * SIM_PAGE
    }

    /// The addresses of the stored pages, ascending.
    pub fn page_addrs(&self) -> impl Iterator<Item = u64> + '_ {
        self.pages.keys().copied()
    }

    /// The stored pages with their addresses, ascending.
    pub fn pages(&self) -> impl Iterator<Item = (u64, &[u8; PAGE_LEN])> + '_ {
        self.pages.iter().map(|(&addr, page)| (addr, &**page))
    }

    /// Stores `page` at `addr` (a multiple of [`SIM_PAGE`]), replacing what was there;
    /// a page of zeros is not stored. Returns `false`, storing nothing, for an address
    /// that is not a page's.
    pub fn insert_page(&mut self, addr: u64, page: Box<[u8; PAGE_LEN]>) -> bool {
        if addr % SIM_PAGE != 0 {
            return false;
        }
        if page.iter().any(|&b| b != 0) {
            self.pages.insert(addr, page);
        } else {
            self.pages.remove(&addr);
        }
        true
    }

    /// Every byte zero again.
    pub fn clear(&mut self) {
        self.pages.clear();
    }

    /// Fills `buf` from `addr` on; bytes past 2^64 - 1 read as zero.
    pub fn read(&self, addr: u64, buf: &mut [u8]) {
        let mut at = 0;
        while at < buf.len() {
            let Some(cur) = u64::try_from(at).ok().and_then(|a| addr.checked_add(a)) else {
                buf.get_mut(at..).unwrap_or_default().fill(0);
                return;
            };
            let (page, offset) = split(cur);
            let n = (PAGE_LEN - offset).min(buf.len() - at);
            let Some(out) = buf.get_mut(at..at + n) else {
                return;
            };
            match self
                .pages
                .get(&page)
                .and_then(|p| p.get(offset..offset + n))
            {
                Some(stored) => out.copy_from_slice(stored),
                None => out.fill(0),
            }
            at += n;
        }
    }

    /// Writes `bytes` at `addr`, storing at most `room` more bytes of pages.
    ///
    /// # Errors
    /// `ENOMEM` if the write needs more new pages than `room` allows, or runs past
    /// 2^64 - 1; nothing is written then.
    pub fn write(&mut self, addr: u64, bytes: &[u8], room: u64) -> Result<(), HostError> {
        // First count the pages the write adds, so a refused write changes nothing.
        let mut new_pages = 0u64;
        let mut at = 0;
        while at < bytes.len() {
            let cur = u64::try_from(at)
                .ok()
                .and_then(|a| addr.checked_add(a))
                .ok_or(HostError::ENOMEM)?;
            let (page, offset) = split(cur);
            let n = (PAGE_LEN - offset).min(bytes.len() - at);
            let nonzero = bytes
                .get(at..at + n)
                .is_some_and(|b| b.iter().any(|&x| x != 0));
            if nonzero && !self.pages.contains_key(&page) {
                new_pages += 1;
            }
            at += n;
        }
        if new_pages.saturating_mul(SIM_PAGE) > room {
            return Err(HostError::ENOMEM);
        }
        let mut at = 0;
        while at < bytes.len() {
            let Some(cur) = u64::try_from(at).ok().and_then(|a| addr.checked_add(a)) else {
                break;
            };
            let (page, offset) = split(cur);
            let n = (PAGE_LEN - offset).min(bytes.len() - at);
            let Some(src) = bytes.get(at..at + n) else {
                break;
            };
            let nonzero = src.iter().any(|&x| x != 0);
            if nonzero {
                let stored = self
                    .pages
                    .entry(page)
                    .or_insert_with(|| Box::new([0; PAGE_LEN]));
                if let Some(dst) = stored.get_mut(offset..offset + n) {
                    dst.copy_from_slice(src);
                }
            } else if let Some(stored) = self.pages.get_mut(&page) {
                if let Some(dst) = stored.get_mut(offset..offset + n) {
                    dst.fill(0);
                }
                if stored.iter().all(|&x| x == 0) {
                    self.pages.remove(&page);
                }
            }
            at += n;
        }
        Ok(())
    }

    /// Zeroes `[addr, addr + len)` (up to 2^64 - 1), freeing the pages it covers.
    pub fn zero(&mut self, addr: u64, len: u64) {
        if len == 0 {
            return;
        }
        let last = addr.saturating_add(len - 1);
        let (first_page, _) = split(addr);
        let touched: Vec<u64> = self
            .pages
            .range(first_page..=last)
            .map(|(&k, _)| k)
            .collect();
        for page in touched {
            let from = addr.max(page);
            let to = last.min(page + (SIM_PAGE - 1));
            let (_, lo) = split(from);
            let (_, hi) = split(to);
            let now_zero = match self.pages.get_mut(&page) {
                Some(stored) => {
                    if let Some(dst) = stored.get_mut(lo..=hi) {
                        dst.fill(0);
                    }
                    stored.iter().all(|&x| x == 0)
                }
                None => false,
            };
            if now_zero {
                self.pages.remove(&page);
            }
        }
    }
}

#[cfg(feature = "serde")]
mod serde_impl {
    //! A page map serializes as a map from page address to the page's 4096 bytes in
    //! lower-case hex.
    use alloc::boxed::Box;
    use alloc::string::String;
    use core::fmt;

    use serde::de::{Error as _, MapAccess, Visitor};
    use serde::ser::SerializeMap;

    use super::{PageMap, PAGE_LEN, SIM_PAGE};

    impl serde::Serialize for PageMap {
        fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
            let mut map = s.serialize_map(Some(self.pages.len()))?;
            for (addr, page) in &self.pages {
                let mut hex = String::with_capacity(2 * PAGE_LEN);
                for &b in page.iter() {
                    for digit in [b >> 4, b & 0xf] {
                        hex.push(char::from_digit(u32::from(digit), 16).unwrap_or('0'));
                    }
                }
                map.serialize_entry(addr, &hex)?;
            }
            map.end()
        }
    }

    fn nibble(c: u8) -> Option<u8> {
        match c {
            b'0'..=b'9' => Some(c - b'0'),
            b'a'..=b'f' => Some(c - b'a' + 10),
            b'A'..=b'F' => Some(c - b'A' + 10),
            _ => None,
        }
    }

    struct PagesVisitor;

    impl<'de> Visitor<'de> for PagesVisitor {
        type Value = PageMap;

        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("a map from 4096-aligned page address to 8192 hex digits")
        }

        fn visit_map<A: MapAccess<'de>>(self, mut access: A) -> Result<PageMap, A::Error> {
            let mut map = PageMap::new();
            while let Some((addr, hex)) = access.next_entry::<u64, String>()? {
                if addr % SIM_PAGE != 0 {
                    return Err(A::Error::custom(format_args!(
                        "page address {addr:#x} is not 4096-aligned"
                    )));
                }
                let digits = hex.as_bytes();
                if digits.len() != 2 * PAGE_LEN {
                    return Err(A::Error::custom(format_args!(
                        "page {addr:#x} has {} hex digits, not 8192",
                        digits.len()
                    )));
                }
                let mut page = Box::new([0u8; PAGE_LEN]);
                for (byte, pair) in page.iter_mut().zip(digits.chunks_exact(2)) {
                    let (Some(hi), Some(lo)) = (
                        pair.first().copied().and_then(nibble),
                        pair.get(1).copied().and_then(nibble),
                    ) else {
                        return Err(A::Error::custom(format_args!(
                            "page {addr:#x} holds a character that is not a hex digit"
                        )));
                    };
                    *byte = hi << 4 | lo;
                }
                if page.iter().any(|&b| b != 0) {
                    map.pages.insert(addr, page);
                }
            }
            Ok(map)
        }
    }

    impl<'de> serde::Deserialize<'de> for PageMap {
        fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<PageMap, D::Error> {
            d.deserialize_map(PagesVisitor)
        }
    }
}
