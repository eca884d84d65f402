// SPDX-License-Identifier: MIT
//! The initramfs: an uncompressed cpio archive in the "newc" format Linux unpacks
//! (`Documentation/driver-api/early-userspace/buffer-format.rst`): per entry a 110-byte
//! ASCII header (magic `070701`, thirteen 8-digit hex fields), the NUL-terminated name,
//! padding to 4 bytes, the data, padding to 4 bytes; a `TRAILER!!!` entry ends it.

use std::fmt::Write as _;

const MAGIC: &str = "070701";
const TRAILER: &str = "TRAILER!!!";
/// The trailer's name with its NUL.
const TRAILER_NAMESIZE: u32 = 11;
const _: () = assert!(TRAILER.len() + 1 == TRAILER_NAMESIZE as usize);
const S_IFDIR: u32 = 0o040_000;
const S_IFREG: u32 = 0o100_000;

/// An archive built in memory, entry by entry. Parent directories must be added before
/// the files in them.
#[derive(Debug, Default, Clone)]
pub struct Archive {
    bytes: Vec<u8>,
    next_ino: u32,
}

/// The archive's fields are 32-bit: a file (or name) of 4 GiB or more cannot be packed.
#[derive(Debug, PartialEq, Eq)]
pub struct TooLarge {
    /// The entry's name.
    pub name: String,
    /// Its size (or its name's) in bytes.
    pub len: usize,
}

impl std::fmt::Display for TooLarge {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{}: {} bytes do not fit a cpio newc entry",
            self.name, self.len
        )
    }
}

impl std::error::Error for TooLarge {}

/// The header's name size (with the NUL) and file size of an entry.
fn sizes(name: &str, data: &[u8]) -> Result<(u32, u32), TooLarge> {
    let too_large = || TooLarge {
        name: name.chars().take(80).collect(),
        len: data.len().max(name.len()),
    };
    Ok((
        u32::try_from(name.len() + 1).map_err(|_| too_large())?,
        u32::try_from(data.len()).map_err(|_| too_large())?,
    ))
}

impl Archive {
    /// An empty archive.
    pub fn new() -> Archive {
        Archive::default()
    }

    /// Adds a directory (mode 0755).
    ///
    /// # Errors
    /// [`TooLarge`] for a name of 4 GiB or more.
    pub fn dir(&mut self, name: &str) -> Result<(), TooLarge> {
        let (namesize, filesize) = sizes(name, &[])?;
        self.push(name, S_IFDIR | 0o755, 2, &[], namesize, filesize);
        Ok(())
    }

    /// Adds a regular file, executable (0755) or not (0644).
    ///
    /// # Errors
    /// [`TooLarge`] for a name or data of 4 GiB or more.
    pub fn file(&mut self, name: &str, data: &[u8], executable: bool) -> Result<(), TooLarge> {
        let perm = if executable { 0o755 } else { 0o644 };
        let (namesize, filesize) = sizes(name, data)?;
        self.push(name, S_IFREG | perm, 1, data, namesize, filesize);
        Ok(())
    }

    /// Ends the archive with its trailer and returns the bytes.
    pub fn finish(mut self) -> Vec<u8> {
        self.push(TRAILER, 0, 1, &[], TRAILER_NAMESIZE, 0);
        self.bytes
    }

    fn push(
        &mut self,
        name: &str,
        mode: u32,
        nlink: u32,
        data: &[u8],
        namesize: u32,
        filesize: u32,
    ) {
        self.next_ino += 1;
        // ino, mode, uid, gid, nlink, mtime, filesize, devmajor, devminor, rdevmajor,
        // rdevminor, namesize, check.
        let fields = [
            self.next_ino,
            mode,
            0,
            0,
            nlink,
            0,
            filesize,
            0,
            0,
            0,
            0,
            namesize,
            0,
        ];
        let mut header = String::from(MAGIC);
        for field in fields {
            write!(header, "{field:08X}").expect("writing to a String cannot fail");
        }
        self.bytes.extend_from_slice(header.as_bytes());
        self.bytes.extend_from_slice(name.as_bytes());
        self.bytes.push(0);
        self.pad();
        self.bytes.extend_from_slice(data);
        self.pad();
    }

    fn pad(&mut self) {
        while !self.bytes.len().is_multiple_of(4) {
            self.bytes.push(0);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Walks an archive by the format's rules, independently of the writer's code paths:
    /// (name, mode, data) per entry, the trailer excluded; panics on any malformation.
    fn entries(bytes: &[u8]) -> Vec<(String, u32, Vec<u8>)> {
        let hex = |b: &[u8]| u32::from_str_radix(std::str::from_utf8(b).unwrap(), 16).unwrap();
        let align = |n: usize| n.div_ceil(4) * 4;
        let mut out = Vec::new();
        let mut at = 0;
        loop {
            assert_eq!(at % 4, 0, "header at {at} not 4-aligned");
            assert_eq!(&bytes[at..at + 6], MAGIC.as_bytes());
            let field = |i: usize| hex(&bytes[at + 6 + 8 * i..at + 14 + 8 * i]);
            let (mode, filesize, namesize) = (field(1), field(6) as usize, field(11) as usize);
            let name_at = at + 110;
            assert_eq!(bytes[name_at + namesize - 1], 0, "name not NUL-terminated");
            let name = std::str::from_utf8(&bytes[name_at..name_at + namesize - 1]).unwrap();
            let data_at = align(name_at + namesize);
            let data = bytes[data_at..data_at + filesize].to_vec();
            at = align(data_at + filesize);
            if name == TRAILER {
                assert_eq!(at, bytes.len(), "bytes after the trailer");
                return out;
            }
            out.push((name.to_owned(), mode, data));
        }
    }

    #[test]
    fn entries_come_back_with_their_names_modes_and_bytes() {
        let mut a = Archive::new();
        a.dir("bin").unwrap();
        a.file("bin/tool", b"\x7fELF and some odd length", true)
            .unwrap();
        a.file("etc", b"", false).unwrap();
        a.file("x", &[0xAA; 4], false).unwrap();
        let got = entries(&a.finish());
        let names: Vec<_> = got.iter().map(|(n, m, _)| (n.as_str(), *m)).collect();
        assert_eq!(
            names,
            [
                ("bin", S_IFDIR | 0o755),
                ("bin/tool", S_IFREG | 0o755),
                ("etc", S_IFREG | 0o644),
                ("x", S_IFREG | 0o644)
            ]
        );
        assert_eq!(got[1].2, b"\x7fELF and some odd length");
        assert_eq!(got[3].2, [0xAA; 4]);
    }

    #[test]
    fn every_name_length_pads_to_a_4_byte_boundary() {
        let mut a = Archive::new();
        let names: Vec<String> = (1..=9).map(|n| "n".repeat(n)).collect();
        for (i, name) in names.iter().enumerate() {
            a.file(name, &vec![7; i], false).unwrap();
        }
        let got = entries(&a.finish());
        assert_eq!(got.len(), names.len());
        for (i, (name, _, data)) in got.iter().enumerate() {
            assert_eq!((name, data.len()), (&names[i], i));
        }
    }
}
