// SPDX-License-Identifier: MIT
//! Debian's Xen, dom0 kernel and busybox, as `scripts/setup` leaves them: the packages
//! `xen-hypervisor-4.17-amd64`, `linux-image-<release>-amd64` (the one `linux-image-amd64`
//! names) and `busybox-static` unpacked with `dpkg-deb -x` under one root, not installed,
//! so the machine's own `/boot` is left alone.

use std::fs;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use object::{Object, ObjectSection};

/// The kernel modules dom0 needs for `/dev/xen/privcmd` and `/dev/xen/hypercall`.
pub const MODULES: [&str; 2] = ["xen-privcmd", "xenfs"];

/// The files a boot takes from the unpacked packages.
#[derive(Debug)]
pub struct Files {
    /// Xen, gzip-compressed (`boot/xen-*-amd64.gz`).
    pub xen_gz: PathBuf,
    /// The dom0 kernel (`boot/vmlinuz-<release>`).
    pub vmlinuz: PathBuf,
    /// The kernel's release, as `uname -r` prints it.
    pub release: String,
    /// [`MODULES`] in an order `insmod` accepts (each after the modules it depends on).
    pub modules: Vec<Module>,
    /// The static busybox (`bin/busybox`).
    pub busybox: PathBuf,
}

/// A kernel module file and what its `.modinfo` says.
#[derive(Debug, Clone)]
pub struct Module {
    /// Its name (`xenfs`).
    pub name: String,
    /// The `.ko` file.
    pub path: PathBuf,
    /// The modules it needs loaded first (`depends=`).
    pub depends: Vec<String>,
}

/// Finds the files under `root`.
///
/// # Errors
/// A message naming what is missing or inconsistent: no Xen, not exactly one kernel, a
/// module missing, built for another kernel, or needing a module that is not packed.
pub fn locate(root: &Path) -> Result<Files, String> {
    let boot = root.join("boot");
    let xen_gz = single(&boot, |n| n.starts_with("xen-") && n.ends_with("-amd64.gz"))?;
    let vmlinuz = single(&boot, |n| n.starts_with("vmlinuz-"))?;
    let release = file_name(&vmlinuz)
        .trim_start_matches("vmlinuz-")
        .to_owned();
    let drivers = root
        .join("lib/modules")
        .join(&release)
        .join("kernel/drivers/xen");
    let mut found = Vec::new();
    for name in MODULES {
        // xenfs lives in a directory of its own.
        let path = [
            drivers.join(format!("{name}.ko")),
            drivers.join(name).join(format!("{name}.ko")),
        ]
        .into_iter()
        .find(|p| p.is_file())
        .ok_or_else(|| format!("{}: no {name}.ko", drivers.display()))?;
        found.push(read_module(name, &path, &release)?);
    }
    let busybox = root.join("bin/busybox");
    if !busybox.is_file() {
        return Err(format!(
            "{}: missing (package busybox-static)",
            busybox.display()
        ));
    }
    Ok(Files {
        xen_gz,
        vmlinuz,
        release,
        modules: load_order(found)?,
        busybox,
    })
}

fn file_name(path: &Path) -> &str {
    path.file_name()
        .and_then(|n| n.to_str())
        .unwrap_or_default()
}

/// The one file in `dir` whose name passes `want`.
fn single(dir: &Path, want: impl Fn(&str) -> bool) -> Result<PathBuf, String> {
    let entries = fs::read_dir(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let mut hits: Vec<PathBuf> = entries
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| want(file_name(p)))
        .collect();
    match hits.len() {
        1 => Ok(hits.remove(0)),
        0 => Err(format!("{}: the file is missing", dir.display())),
        _ => Err(format!(
            "{}: more than one candidate: {hits:?}",
            dir.display()
        )),
    }
}

/// Reads a module's `.modinfo` (`key=value` strings, NUL-separated).
fn read_module(name: &str, path: &Path, release: &str) -> Result<Module, String> {
    let bytes = fs::read(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let file = object::File::parse(&*bytes)
        .map_err(|e| format!("{}: not an ELF object: {e}", path.display()))?;
    let modinfo = file
        .section_by_name(".modinfo")
        .and_then(|s| s.data().ok())
        .ok_or_else(|| format!("{}: no .modinfo section", path.display()))?;
    let info = |key: &str| {
        modinfo
            .split(|&b| b == 0)
            .filter_map(|kv| std::str::from_utf8(kv).ok())
            .find_map(|kv| kv.strip_prefix(key)?.strip_prefix('='))
            .map(str::to_owned)
    };
    let vermagic = info("vermagic").unwrap_or_default();
    if vermagic.split(' ').next() != Some(release) {
        return Err(format!(
            "{}: vermagic {vermagic:?} is not for kernel {release}",
            path.display()
        ));
    }
    let depends = info("depends")
        .unwrap_or_default()
        .split(',')
        .filter(|d| !d.is_empty())
        .map(str::to_owned)
        .collect();
    Ok(Module {
        name: name.to_owned(),
        path: path.to_owned(),
        depends,
    })
}

/// Orders modules so that each comes after those it depends on.
///
/// # Errors
/// A module depending on one that is not among them, or a dependency cycle.
pub fn load_order(mut pending: Vec<Module>) -> Result<Vec<Module>, String> {
    let names: Vec<String> = pending.iter().map(|m| m.name.clone()).collect();
    for m in &pending {
        if let Some(d) = m.depends.iter().find(|d| !names.contains(d)) {
            return Err(format!(
                "{}: needs module {d}, which is not packed",
                m.path.display()
            ));
        }
    }
    let mut ordered: Vec<Module> = Vec::new();
    while !pending.is_empty() {
        let ready = pending
            .iter()
            .position(|m| {
                m.depends
                    .iter()
                    .all(|d| ordered.iter().any(|o| &o.name == d))
            })
            .ok_or_else(|| format!("module dependency cycle among {pending:?}"))?;
        ordered.push(pending.remove(ready));
    }
    Ok(ordered)
}

/// The ELF kernel (`vmlinux`) inside a bzImage, decompressed on the host: Xen boots it as
/// dom0 as it boots the bzImage, but decompressing Debian's xz payload itself takes Xen
/// about 9 s under TCG. The payload's place comes from the boot protocol's setup header
/// (`setup_sects` at 0x1f1, `HdrS` at 0x202, `payload_offset`/`payload_length` at
/// 0x248/0x24c, counted from the protected-mode code after the setup sectors).
///
/// # Errors
/// Not a bzImage with a payload, an unknown compression, a failed decompressor, or a
/// result that is not an x86_64 ELF.
pub fn vmlinux(bzimage: &Path, out: &Path) -> Result<(), String> {
    let what = bzimage.display();
    let image = fs::read(bzimage).map_err(|e| format!("{what}: {e}"))?;
    let u32_at = |at: usize| {
        image
            .get(at..at + 4)
            .and_then(|b| <[u8; 4]>::try_from(b).ok())
            .map(u32::from_le_bytes)
    };
    if image.get(0x202..0x206) != Some(b"HdrS") {
        return Err(format!("{what}: no bzImage setup header"));
    }
    let setup_sects = match image[0x1f1] {
        0 => 4,
        n => usize::from(n),
    };
    let (Some(offset), Some(length)) = (u32_at(0x248), u32_at(0x24c)) else {
        return Err(format!("{what}: setup header too short"));
    };
    let start = (setup_sects + 1) * 512 + offset as usize;
    let payload = image
        .get(start..start + length as usize)
        .ok_or_else(|| format!("{what}: payload {start:#x}+{length:#x} lies outside the file"))?;
    let tool = match payload {
        [0xfd, b'7', b'z', b'X', b'Z', 0, ..] => ["xz", "-dc", "--single-stream"].as_slice(),
        [0x1f, 0x8b, ..] => ["gzip", "-dc"].as_slice(),
        [0x28, 0xb5, 0x2f, 0xfd, ..] => ["zstd", "-dcq"].as_slice(),
        _ => return Err(format!("{what}: payload compression not xz, gzip or zstd")),
    };
    let mut child = Command::new(tool[0])
        .args(&tool[1..])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("{}: {e}", tool[0]))?;
    let mut stdin = child.stdin.take().ok_or("no pipe to the decompressor")?;
    let written = std::thread::scope(|scope| {
        let writer = scope.spawn(move || stdin.write_all(payload));
        let output = child.wait_with_output();
        (writer.join(), output)
    });
    let output = match written {
        (Ok(Ok(())), Ok(output)) if output.status.success() => output,
        (_, Ok(output)) => {
            return Err(format!(
                "{} of {what}'s payload: {}",
                tool.join(" "),
                String::from_utf8_lossy(&output.stderr).trim()
            ))
        }
        (_, Err(e)) => return Err(format!("{}: {e}", tool[0])),
    };
    let elf = crate::elf::summarize(&format!("{what}'s payload"), &output.stdout)?;
    if elf.machine != object::elf::EM_X86_64 {
        return Err(format!("{what}'s payload is not an x86_64 kernel"));
    }
    fs::write(out, &output.stdout).map_err(|e| format!("{}: {e}", out.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn module(name: &str, depends: &[&str]) -> Module {
        Module {
            name: name.into(),
            path: PathBuf::from(format!("{name}.ko")),
            depends: depends.iter().map(|d| (*d).to_owned()).collect(),
        }
    }

    fn names(ms: &[Module]) -> Vec<&str> {
        ms.iter().map(|m| m.name.as_str()).collect()
    }

    #[test]
    fn a_module_loads_after_its_dependencies_whatever_the_input_order() {
        let order = load_order(vec![
            module("xenfs", &["xen-privcmd"]),
            module("xen-privcmd", &[]),
        ])
        .unwrap();
        assert_eq!(names(&order), ["xen-privcmd", "xenfs"]);
        let order = load_order(vec![
            module("xen-privcmd", &[]),
            module("xenfs", &["xen-privcmd"]),
        ])
        .unwrap();
        assert_eq!(names(&order), ["xen-privcmd", "xenfs"]);
    }

    #[test]
    fn a_dependency_that_is_not_packed_is_named() {
        let err = load_order(vec![module("xenfs", &["xen-privcmd"])]).unwrap_err();
        assert!(
            err.contains("xenfs.ko") && err.contains("xen-privcmd"),
            "{err}"
        );
    }

    #[test]
    fn a_cycle_is_refused() {
        let err = load_order(vec![module("a", &["b"]), module("b", &["a"])]).unwrap_err();
        assert!(err.contains("cycle"), "{err}");
    }

    #[test]
    fn something_that_is_not_a_bzimage_is_refused_by_name() {
        let dir = std::env::temp_dir().join(format!("realxen-{}-bz", std::process::id()));
        fs::create_dir_all(&dir).unwrap();
        let fake = dir.join("vmlinuz-fake");
        let mut bytes = vec![0u8; 0x1000];
        fs::write(&fake, &bytes).unwrap();
        let err = vmlinux(&fake, &dir.join("out")).unwrap_err();
        assert!(
            err.contains("vmlinuz-fake: no bzImage setup header"),
            "{err}"
        );
        // A header whose payload runs past the end of the file.
        bytes[0x202..0x206].copy_from_slice(b"HdrS");
        bytes[0x1f1] = 1;
        bytes[0x24c..0x250].copy_from_slice(&0x10_0000u32.to_le_bytes());
        fs::write(&fake, &bytes).unwrap();
        let err = vmlinux(&fake, &dir.join("out")).unwrap_err();
        assert!(err.contains("lies outside the file"), "{err}");
        // A payload in no known compression.
        bytes[0x24c..0x250].copy_from_slice(&0x10u32.to_le_bytes());
        fs::write(&fake, &bytes).unwrap();
        let err = vmlinux(&fake, &dir.join("out")).unwrap_err();
        assert!(err.contains("not xz, gzip or zstd"), "{err}");
        fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_missing_tree_names_the_directory() {
        let err = locate(Path::new("/nonexistent-realxen-root")).unwrap_err();
        assert!(err.contains("/nonexistent-realxen-root/boot"), "{err}");
    }
}
