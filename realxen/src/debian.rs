// SPDX-License-Identifier: MIT
//! Debian's Xen, dom0 kernel and busybox, as `scripts/setup` leaves them: the packages
//! `xen-hypervisor-4.17-amd64`, `linux-image-<release>-amd64` (the one `linux-image-amd64`
//! names) and `busybox-static` unpacked with `dpkg-deb -x` under one root, not installed,
//! so the machine's own `/boot` is left alone. Beside them, when it could be had,
//! `kexec-tools`' `/sbin/kexec` with the loader and shared libraries it links, which the
//! kdump boot runs in dom0 to compare load times.

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
    /// Debian's `kexec` and what it links, or why they cannot be had.
    pub kexec_tools: Result<KexecTools, String>,
}

/// Debian's `/sbin/kexec` (package `kexec-tools`) and the files it needs to run in dom0.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KexecTools {
    /// Each file: its path in dom0's root (no leading `/`) and the unpacked file. `kexec`
    /// first, then its loader (at the path its `PT_INTERP` names) and every shared library
    /// the loader resolved, in `/lib/x86_64-linux-gnu` under the name `kexec` links.
    pub files: Vec<(String, PathBuf)>,
}

/// `kexec` in dom0.
pub const KEXEC: &str = "/sbin/kexec";
/// Where dom0 finds `kexec`'s shared libraries.
pub const KEXEC_LIBS: &str = "/lib/x86_64-linux-gnu";
/// The unpacked dynamic loader, relative to the root (`lib64`'s is an absolute link that
/// would run the host's).
const LOADER: &str = "lib/x86_64-linux-gnu/ld-linux-x86-64.so.2";

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
        kexec_tools: kexec_tools(root),
    })
}

/// Finds `kexec` under `root` and what it links, as the unpacked loader resolves it on
/// the host (`ld-linux-x86-64.so.2 --library-path … --list`) with only the unpacked
/// libraries.
///
/// # Errors
/// No `kexec`, no loader, a loader that fails, or a library it finds nowhere or outside
/// `root`.
pub fn kexec_tools(root: &Path) -> Result<KexecTools, String> {
    let kexec = root.join(KEXEC.trim_start_matches('/'));
    let loader = root.join(LOADER);
    for (file, package) in [(&kexec, "kexec-tools"), (&loader, "libc6")] {
        if !file.is_file() {
            return Err(format!(
                "{}: missing (package {package}; scripts/setup unpacks it)",
                file.display()
            ));
        }
    }
    let dirs = [KEXEC_LIBS, "/usr/lib/x86_64-linux-gnu"]
        .map(|d| root.join(d.trim_start_matches('/')).display().to_string());
    let out = Command::new(&loader)
        .arg("--library-path")
        .arg(dirs.join(":"))
        .arg("--list")
        .arg(&kexec)
        .output()
        .map_err(|e| format!("{}: {e}", loader.display()))?;
    let text = String::from_utf8_lossy(&out.stdout);
    if !out.status.success() {
        return Err(format!(
            "{} --list {}: {}{}",
            loader.display(),
            kexec.display(),
            text.trim(),
            String::from_utf8_lossy(&out.stderr).trim()
        ));
    }
    let mut files = vec![(KEXEC.trim_start_matches('/').to_owned(), kexec.clone())];
    for (name, path) in loader_list(&text)? {
        let host = if name.starts_with('/') {
            loader.clone()
        } else if path.starts_with(root) {
            path
        } else {
            return Err(format!(
                "{}: {name} resolved to {}, outside the unpacked root",
                kexec.display(),
                path.display()
            ));
        };
        let dom0 = if name.starts_with('/') {
            name.trim_start_matches('/').to_owned()
        } else {
            format!("{}/{name}", KEXEC_LIBS.trim_start_matches('/'))
        };
        files.push((dom0, host));
    }
    Ok(KexecTools { files })
}

/// The libraries in a loader's `--list` output, each as the name the program links
/// (`libc.so.6`, or the interpreter's absolute path) and the file the loader found; the
/// kernel's vDSO, which is no file, left out.
///
/// # Errors
/// A library the loader did not find, or a line that is not a `--list` line.
pub fn loader_list(text: &str) -> Result<Vec<(String, PathBuf)>, String> {
    let mut libs = Vec::new();
    for line in text.lines().map(str::trim).filter(|l| !l.is_empty()) {
        let bad = || format!("unreadable loader --list line {line:?}");
        let (name, rest) = match line.split_once(" => ") {
            Some((_, "not found")) => return Err(format!("the loader found no {line}")),
            Some((name, rest)) => (name, rest),
            None => {
                let (name, _) = line.split_once(" (0x").ok_or_else(bad)?;
                if !name.starts_with('/') {
                    continue; // linux-vdso.so.1
                }
                (name, line)
            }
        };
        let (path, _) = rest.rsplit_once(" (0x").ok_or_else(bad)?;
        libs.push((name.to_owned(), PathBuf::from(path)));
    }
    Ok(libs)
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
    fn the_loader_list_gives_each_linked_name_and_its_file_without_the_vdso() {
        let text = "\tlinux-vdso.so.1 (0x00007f5088a16000)\n\
            \tlibxenctrl.so.4.17 => /r/usr/lib/x86_64-linux-gnu/libxenctrl.so.4.17 (0x00007f50888dc000)\n\
            \tlibc.so.6 => /r/lib/x86_64-linux-gnu/libc.so.6 (0x00007f50886fa000)\n\
            \t/lib64/ld-linux-x86-64.so.2 => /r/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2 (0x00007f5088a18000)\n";
        let libs = loader_list(text).unwrap();
        let names: Vec<&str> = libs.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(
            names,
            [
                "libxenctrl.so.4.17",
                "libc.so.6",
                "/lib64/ld-linux-x86-64.so.2"
            ]
        );
        assert_eq!(
            libs[1].1,
            PathBuf::from("/r/lib/x86_64-linux-gnu/libc.so.6")
        );
        // The interpreter as a loader run as a program may print it: a path, no arrow.
        let libs = loader_list("\t/lib64/ld-linux-x86-64.so.2 (0x00007f5088a18000)\n").unwrap();
        assert_eq!(libs[0].0, "/lib64/ld-linux-x86-64.so.2");
    }

    #[test]
    fn a_library_the_loader_did_not_find_is_named() {
        let err = loader_list("\tlibxenctrl.so.4.17 => not found\n").unwrap_err();
        assert!(err.contains("libxenctrl.so.4.17"), "{err}");
        let err = loader_list("garbage\n").unwrap_err();
        assert!(err.contains("unreadable"), "{err}");
    }

    #[test]
    fn kexec_tools_missing_is_named_with_its_package() {
        let err = kexec_tools(Path::new("/nonexistent-realxen-root")).unwrap_err();
        assert!(
            err.contains("sbin/kexec: missing (package kexec-tools"),
            "{err}"
        );
    }

    #[test]
    fn a_missing_tree_names_the_directory() {
        let err = locate(Path::new("/nonexistent-realxen-root")).unwrap_err();
        assert!(err.contains("/nonexistent-realxen-root/boot"), "{err}");
    }
}
