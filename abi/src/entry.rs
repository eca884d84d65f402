// SPDX-License-Identifier: MIT
//! The mode in which Xen enters a loaded image, decided by the image's own ELF machine.

use crate::enums::{ElfMachine, KexecExecType, KexecType};
use crate::error::Error;
use crate::{x86_32, x86_64};

/// How Xen enters an image: chosen by the image's `arch`, never by the width of the
/// guest that loaded it (a 32-bit dom0 may load a 64-bit image and the other way round).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[non_exhaustive]
pub enum EntryMode {
    /// 32-bit protected mode, for `EM_386` (Xen's `KEXEC_RELOC_FLAG_COMPAT`).
    Protected32,
    /// 64-bit long mode, for `EM_X86_64`.
    Long64,
}

impl EntryMode {
    /// The entry mode of an image whose ELF machine is `arch`.
    ///
    /// # Errors
    /// [`Error::UnsupportedArch`] (`EINVAL`) for anything but `EM_386` and `EM_X86_64`.
    ///
    /// ```
    /// use xen_kexec_abi::{ElfMachine, EntryMode, Errno};
    /// assert_eq!(EntryMode::for_arch(ElfMachine::EM_X86_64), Ok(EntryMode::Long64));
    /// assert_eq!(EntryMode::for_arch(ElfMachine(183)).unwrap_err().errno(), Errno::EINVAL);
    /// ```
    pub const fn for_arch(arch: ElfMachine) -> Result<EntryMode, Error> {
        match arch {
            ElfMachine::EM_386 => Ok(EntryMode::Protected32),
            ElfMachine::EM_X86_64 => Ok(EntryMode::Long64),
            _ => Err(Error::UnsupportedArch { arch }),
        }
    }
}

impl KexecType {
    /// This value if it is `KEXEC_TYPE_DEFAULT` or `KEXEC_TYPE_CRASH`.
    ///
    /// # Errors
    /// [`Error::UnknownType`] (`EINVAL`) otherwise.
    pub const fn known(self) -> Result<KexecType, Error> {
        if self.is_known() {
            Ok(self)
        } else {
            Err(Error::UnknownType {
                value: self.0 as i32,
            })
        }
    }
}

impl KexecExecType {
    /// This value as a [`KexecType`], if it is `KEXEC_TYPE_DEFAULT` or
    /// `KEXEC_TYPE_CRASH`.
    ///
    /// # Errors
    /// [`Error::UnknownType`] (`EINVAL`) for any other `int`.
    pub fn kexec_type(self) -> Result<KexecType, Error> {
        u8::try_from(self.0)
            .map(KexecType)
            .map_err(|_| Error::UnknownType { value: self.0 })
            .and_then(KexecType::known)
    }
}

impl x86_64::KexecExec {
    /// The image type this request names, as a checked [`KexecType`].
    ///
    /// # Errors
    /// [`Error::UnknownType`] (`EINVAL`) for an `int` that is not a known type.
    pub fn kexec_type(&self) -> Result<KexecType, Error> {
        self.type_.kexec_type()
    }
}

impl x86_64::KexecLoad {
    /// How Xen will enter this image: from its `arch` alone.
    ///
    /// # Errors
    /// [`Error::UnsupportedArch`] (`EINVAL`) for anything but `EM_386` and `EM_X86_64`.
    pub const fn entry_mode(&self) -> Result<EntryMode, Error> {
        EntryMode::for_arch(self.arch)
    }
}

impl x86_32::KexecLoad {
    /// How Xen will enter this image: from its `arch` alone, exactly as for a 64-bit
    /// guest's request.
    ///
    /// # Errors
    /// [`Error::UnsupportedArch`] (`EINVAL`) for anything but `EM_386` and `EM_X86_64`.
    pub const fn entry_mode(&self) -> Result<EntryMode, Error> {
        EntryMode::for_arch(self.arch)
    }
}
