// SPDX-License-Identifier: MIT
//! The machine every boot runs on: QEMU's settings and Xen's command line, from one
//! description. The crash region named here is what Xen reserves (`crashkernel=`), what the
//! test images are linked at, and what the simulated host is given.

use std::ffi::OsString;
use std::path::Path;

/// A mebibyte.
pub const MIB: u64 = 1 << 20;

/// A range of machine addresses.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Region {
    /// First machine address.
    pub start: u64,
    /// Length in bytes.
    pub size: u64,
}

impl Region {
    /// Whether `addr` lies in `[start, start + size)`.
    pub fn contains(&self, addr: u64) -> bool {
        addr >= self.start && addr - self.start < self.size
    }

    /// The `START:SIZE` form of `xen-kexec sim init`'s region flags.
    pub fn to_flag(&self) -> String {
        format!("{:#x}:{:#x}", self.start, self.size)
    }
}

/// The emulated machine and the hypervisor's boot settings.
#[derive(Clone, Copy, Debug)]
pub struct Machine {
    /// Guest RAM in MiB.
    pub memory_mib: u64,
    /// Physical CPUs (`-smp`).
    pub cpus: u32,
    /// Memory given to dom0 in MiB (`dom0_mem=`).
    pub dom0_mem_mib: u64,
    /// The crash region Xen reserves (`crashkernel=SIZE@START`), both whole MiB.
    pub crash: Region,
    /// More of Xen's command line (the xen-with-rust boots' options), or "".
    pub xen_extra: &'static str,
}

/// The machine of every boot: 1 GiB, one CPU, dom0 with 384 MiB, 64 MiB of crash region at
/// 512 MiB (Xen's `crashkernel=64M@512M`).
pub const MACHINE: Machine = Machine {
    memory_mib: 1024,
    cpus: 1,
    dom0_mem_mib: 384,
    crash: Region {
        start: 512 * MIB,
        size: 64 * MIB,
    },
    xen_extra: "",
};

// `crashkernel=` takes whole MiB.
const _: () =
    assert!(MACHINE.crash.start.is_multiple_of(MIB) && MACHINE.crash.size.is_multiple_of(MIB));

/// Port of QEMU's `isa-debug-exit` device: a byte `v` written there ends QEMU with exit
/// status `(v << 1) | 1`. The test images use it to end a run once they have reported.
pub const DEBUG_EXIT_PORT: u16 = 0xf4;
/// The byte the test images write to [`DEBUG_EXIT_PORT`].
pub const DEBUG_EXIT_VALUE: u8 = 0x10;
/// QEMU's exit status after the test image wrote [`DEBUG_EXIT_VALUE`].
pub const DEBUG_EXIT_STATUS: i32 = ((DEBUG_EXIT_VALUE as i32) << 1) | 1;

impl Machine {
    /// Xen's command line: COM1 console, dom0's memory, the crash region (whole MiB, asserted at
    /// compile time for [`MACHINE`]), and no reboot when dom0 crashes (so a failing boot ends and its log says why).
    pub fn xen_cmdline(&self) -> String {
        let line = format!(
            "console=com1 com1=115200,8n1 dom0_mem={}M crashkernel={}M@{}M noreboot",
            self.dom0_mem_mib,
            self.crash.size / MIB,
            self.crash.start / MIB
        );
        if self.xen_extra.is_empty() {
            line
        } else {
            format!("{line} {}", self.xen_extra)
        }
    }

    /// QEMU's arguments to boot `xen` (the multiboot image) with the dom0 `kernel` and
    /// `initramfs` as its two modules. `-cpu qemu64` matters: with `-cpu max` Xen's
    /// self-test fails and dom0 crashes; KVM stops on Xen's shadow-stack instructions, so TCG.
    ///
    /// # Errors
    /// A path with a comma, which QEMU's `-initrd` list cannot carry.
    pub fn qemu_args(
        &self,
        xen: &Path,
        kernel: &Path,
        initramfs: &Path,
    ) -> Result<Vec<OsString>, String> {
        for path in [kernel, initramfs] {
            if path.to_string_lossy().contains(',') {
                return Err(format!(
                    "{}: QEMU's -initrd list cannot hold a path with a comma",
                    path.display()
                ));
            }
        }
        let modules = format!(
            "{} console=hvc0 quiet rdinit=/init,{}",
            kernel.display(),
            initramfs.display()
        );
        let mut args: Vec<OsString> = [
            "-accel",
            "tcg",
            "-cpu",
            "qemu64",
            "-m",
            &self.memory_mib.to_string(),
            "-smp",
            &self.cpus.to_string(),
            "-nographic",
            "-no-reboot",
            "-serial",
            "mon:stdio",
            "-device",
            &format!("isa-debug-exit,iobase={DEBUG_EXIT_PORT:#x},iosize=0x04"),
            "-kernel",
        ]
        .iter()
        .map(OsString::from)
        .collect();
        args.push(xen.into());
        args.extend([
            "-append".into(),
            self.xen_cmdline().into(),
            "-initrd".into(),
            modules.into(),
        ]);
        Ok(args)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn xen_cmdline_reserves_the_crash_region_it_describes() {
        let cmdline = MACHINE.xen_cmdline();
        let arg = cmdline
            .split(' ')
            .find_map(|a| a.strip_prefix("crashkernel="))
            .expect("crashkernel= present");
        let (size, start) = arg.split_once('@').unwrap();
        let mib = |s: &str| s.strip_suffix('M').unwrap().parse::<u64>().unwrap() * MIB;
        assert_eq!(
            Region {
                start: mib(start),
                size: mib(size)
            },
            MACHINE.crash
        );
        assert!(cmdline.contains(&format!("dom0_mem={}M", MACHINE.dom0_mem_mib)));
    }

    #[test]
    fn qemu_args_pass_kernel_and_initramfs_as_modules() {
        let args = MACHINE
            .qemu_args(
                Path::new("/x/xen"),
                Path::new("/x/vmlinuz"),
                Path::new("/x/ir.cpio"),
            )
            .unwrap();
        let after = |flag: &str| {
            let i = args.iter().position(|a| a == flag).unwrap();
            args[i + 1].to_string_lossy().into_owned()
        };
        assert_eq!(after("-kernel"), "/x/xen");
        assert_eq!(
            after("-initrd"),
            "/x/vmlinuz console=hvc0 quiet rdinit=/init,/x/ir.cpio"
        );
        assert_eq!(after("-cpu"), "qemu64");
        assert_eq!(after("-smp"), MACHINE.cpus.to_string());
        assert_eq!(DEBUG_EXIT_STATUS, 33);
    }

    #[test]
    fn a_comma_in_a_module_path_is_refused() {
        let err = MACHINE
            .qemu_args(
                Path::new("/x/xen"),
                Path::new("/a,b/vmlinuz"),
                Path::new("/x/ir"),
            )
            .unwrap_err();
        assert!(err.contains("/a,b/vmlinuz"), "{err}");
    }

    #[test]
    fn region_contains_is_half_open() {
        let r = MACHINE.crash;
        assert!(r.contains(r.start) && r.contains(r.start + r.size - 1));
        assert!(!r.contains(r.start + r.size) && !r.contains(r.start - 1));
        assert_eq!(r.to_flag(), "0x20000000:0x4000000");
    }
}
