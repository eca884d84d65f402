// SPDX-License-Identifier: MIT
//! The generated files kept in the repository, writing them, and checking that the
//! committed ones are fresh.

use std::path::{Path, PathBuf};

use xen_kexec_abi::layout::{Arch, StructDef};

use crate::abi_docs::AbiDocs;
use crate::error::Error;
use crate::{cli_docs, ffi_header, kexec_h, repo, report};

/// The markdown layout report, relative to the workspace root.
pub(crate) const LAYOUT_MD: &str = "docs/layout.md";

/// The directory of the per-structure layout tables that rustdoc includes.
pub(crate) const STRUCT_DOC_DIR: &str = "abi/doc";

/// One generated file: its path relative to the workspace root, and its contents (or
/// `None` for a stale generated file that must not exist any more).
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Output {
    /// The path, relative to the workspace root.
    pub(crate) path: PathBuf,
    /// What it must contain; `None`: it must not exist.
    pub(crate) bytes: Option<Vec<u8>>,
    /// Whether the file is committed, so [`stale`] checks it. The fuzz seeds are not:
    /// they are written into the fuzzer's corpus, which git ignores.
    pub(crate) committed: bool,
}

impl Output {
    /// A committed file with `text`.
    fn text(path: impl Into<PathBuf>, text: String) -> Output {
        Output {
            path: path.into(),
            bytes: Some(text.into_bytes()),
            committed: true,
        }
    }

    /// A leftover that must not exist.
    fn gone(path: PathBuf) -> Output {
        Output {
            path,
            bytes: None,
            committed: true,
        }
    }

    /// The contents as text, if the file is text (not a `.bin` image).
    pub(crate) fn as_text(&self) -> Option<&str> {
        if is_binary(&self.path) {
            return None;
        }
        self.bytes
            .as_deref()
            .and_then(|b| std::str::from_utf8(b).ok())
    }
}

/// Whether the file at `path` is a binary image (`.bin`), which carries no "generated
/// by" line and is compared by its bytes.
fn is_binary(path: &Path) -> bool {
    path.extension().is_some_and(|e| e == "bin")
}

/// Every generated file of the checkout at `root`, in the order they derive from each
/// other: the headers and layout docs, rendered from the layout `model` and the abi
/// crate's items and doc comments (read from `root`); the case catalogue's multi-fault
/// section; the fixtures' golden images, laid out by the C compilers from the header
/// rendered here; the fuzz seeds, from those images; the toolstack's man pages and shell
/// completions, from its clap definitions. Each output is one entry here.
pub(crate) fn all(root: &Path, model: &[&'static StructDef]) -> Result<Vec<Output>, Error> {
    let mut outputs = from_model(root, model)?;
    let header = outputs[0].as_text().unwrap_or_default().to_owned();
    outputs.extend(derived_from_header(root, &header)?);
    // The toolstack's man pages and completions, from its clap definitions.
    outputs.extend(
        cli_docs::render()?
            .into_iter()
            .map(|(path, text)| Output::text(path, text)),
    );
    Ok(outputs)
}

/// The files rendered from the layout `model` and the abi crate's items and doc
/// comments (read from `root`), the public header first: the headers and layout docs.
fn from_model(root: &Path, model: &[&'static StructDef]) -> Result<Vec<Output>, Error> {
    let docs = AbiDocs::read(root)?;
    let header = kexec_h::render(model, &docs)?;
    let mut outputs = vec![
        Output::text(kexec_h::PATH, header),
        Output::text(LAYOUT_MD, report::markdown(model, &Arch::ALL)),
        // Like the abi sources, the ffi crate is read from the checkout at `root`.
        Output::text(
            ffi_header::PATH,
            ffi_header::generate(&root.join(ffi_header::SOURCE)).map_err(Error::Cbindgen)?,
        ),
    ];
    let docs: Vec<Output> = model
        .iter()
        .map(|def| {
            Output::text(
                Path::new(STRUCT_DOC_DIR).join(format!("{}.md", def.c_name)),
                report::struct_doc(def),
            )
        })
        .collect();
    // A table left behind by a structure the model no longer has.
    outputs.extend(leftovers(root, Path::new(STRUCT_DOC_DIR), &docs, |p| {
        p.extension().is_some_and(|e| e == "md")
    })?);
    outputs.extend(docs);
    Ok(outputs)
}

/// The outputs of compat-tests' generators (`compat_tests::generated`): the multi-fault
/// section, the golden images (laid out from `header`, the header just rendered, not
/// the committed one) with any leftover image, and the fuzz seeds.
fn derived_from_header(root: &Path, header: &str) -> Result<Vec<Output>, Error> {
    use compat_tests::generated;
    let multi_fault = generated::multi_fault_cases();
    let manifest = generated::manifest(root, &multi_fault).map_err(Error::Derived)?;
    let include = tempfile::tempdir().map_err(|e| Error::io("creating a scratch directory", e))?;
    let rendered = include.path().join("kexec.h");
    std::fs::write(&rendered, header)
        .map_err(|e| Error::io(format!("writing {}", rendered.display()), e))?;
    let images = generated::images(
        &manifest,
        &[include.path().to_path_buf(), root.join("headgen/c")],
    )
    .map_err(Error::Derived)?;
    let seeds = generated::fuzz_seeds(&manifest, &images).map_err(Error::Derived)?;
    let mut outputs = vec![Output::text(generated::MULTI_FAULT, multi_fault)];
    let images: Vec<Output> = images
        .into_iter()
        .map(|(path, bytes)| Output {
            path,
            bytes: Some(bytes),
            committed: true,
        })
        .collect();
    for dir in generated::image_dirs() {
        outputs.extend(leftovers(root, &dir, &images, |_| true)?);
    }
    outputs.extend(images);
    outputs.extend(seeds.into_iter().map(|(path, bytes)| Output {
        path,
        bytes: Some(bytes),
        committed: false,
    }));
    Ok(outputs)
}

/// The files below `dir` (relative to `root`, searched recursively) that `is_generated`
/// claims but `made` does not make, sorted: each to be removed.
fn leftovers(
    root: &Path,
    dir: &Path,
    made: &[Output],
    is_generated: impl Fn(&Path) -> bool,
) -> Result<Vec<Output>, Error> {
    let mut extra = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let full = root.join(&d);
        if !full.is_dir() {
            continue;
        }
        let entries = std::fs::read_dir(&full)
            .map_err(|e| Error::io(format!("listing {}", full.display()), e))?;
        for entry in entries {
            let entry = entry.map_err(|e| Error::io(format!("listing {}", full.display()), e))?;
            let path = d.join(entry.file_name());
            if entry.path().is_dir() {
                stack.push(path);
            } else if is_generated(&path) && !made.iter().any(|o| o.path == path) {
                extra.push(Output::gone(path));
            }
        }
    }
    extra.sort_by(|a, b| a.path.cmp(&b.path));
    Ok(extra)
}

/// What [`write()`] did to a file.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Written {
    /// It already had the generated contents and was left untouched (so that cargo
    /// does not rebuild what includes it).
    UpToDate,
    /// It was written.
    Updated,
    /// It was removed.
    Removed,
}

/// Writes each output under `root` whose contents differ.
pub(crate) fn write(root: &Path, outputs: &[Output]) -> Result<Vec<(PathBuf, Written)>, Error> {
    let mut done = Vec::new();
    for output in outputs {
        let path = root.join(&output.path);
        let current = read(&path)?;
        let what = match (&output.bytes, current) {
            (Some(bytes), Some(current)) if *bytes == current => Written::UpToDate,
            (Some(bytes), _) => {
                if let Some(dir) = path.parent() {
                    std::fs::create_dir_all(dir)
                        .map_err(|e| Error::io(format!("creating {}", dir.display()), e))?;
                }
                std::fs::write(&path, bytes)
                    .map_err(|e| Error::io(format!("writing {}", path.display()), e))?;
                Written::Updated
            }
            (None, Some(_)) => {
                std::fs::remove_file(&path)
                    .map_err(|e| Error::io(format!("removing {}", path.display()), e))?;
                Written::Removed
            }
            (None, None) => Written::UpToDate,
        };
        done.push((output.path.clone(), what));
    }
    Ok(done)
}

/// The committed outputs under `root` that differ from `outputs`, each as an
/// [`Error::Stale`] with its diff.
///
/// Outputs that are not committed (the fuzz seeds) are not checked.
pub(crate) fn stale(root: &Path, outputs: &[Output]) -> Result<Vec<Error>, Error> {
    let mut errors = Vec::new();
    for output in outputs.iter().filter(|o| o.committed) {
        let committed = read(&root.join(&output.path))?;
        if committed != output.bytes {
            errors.push(Error::Stale {
                path: output.path.clone(),
                diff: diff(&output.path, committed.as_deref(), output.bytes.as_deref()),
                command: repo::GENERATE_COMMAND,
            });
        }
    }
    Ok(errors)
}

/// The difference from the committed file to the generated one (`None`: absent): a
/// unified diff of text, or the sizes of binary files.
fn diff(path: &Path, committed: Option<&[u8]>, generated: Option<&[u8]>) -> String {
    fn text(b: Option<&[u8]>) -> Result<Option<&str>, std::str::Utf8Error> {
        b.map(std::str::from_utf8).transpose()
    }
    match (text(committed), text(generated)) {
        (Ok(c), Ok(g)) if !is_binary(path) => unified_diff(path, c, g),
        _ => {
            let size =
                |b: Option<&[u8]>| b.map_or("absent".to_owned(), |b| format!("{} bytes", b.len()));
            format!(
                "binary file {}: committed {}, generated {}\n",
                path.display(),
                size(committed),
                size(generated)
            )
        }
    }
}

/// A unified diff from the committed file to the generated one (`None`: absent).
pub(crate) fn unified_diff(
    path: &Path,
    committed: Option<&str>,
    generated: Option<&str>,
) -> String {
    let name = path.display().to_string();
    similar::TextDiff::from_lines(committed.unwrap_or(""), generated.unwrap_or(""))
        .unified_diff()
        .context_radius(3)
        .header(
            &if committed.is_some() {
                format!("a/{name} (committed)")
            } else {
                "/dev/null".to_owned()
            },
            &if generated.is_some() {
                format!("b/{name} (generated)")
            } else {
                "/dev/null".to_owned()
            },
        )
        .to_string()
}

/// The file's contents, or `None` if it does not exist.
fn read(path: &Path) -> Result<Option<Vec<u8>>, Error> {
    match std::fs::read(path) {
        Ok(text) => Ok(Some(text)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(Error::io(format!("reading {}", path.display()), e)),
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::repo::for_tests as test_root;
    use xen_kexec_abi::layout::{self, CType, SEGMENT};

    /// A checkout with only what generation reads, `edit` applied to x86_64.rs.
    fn scratch_with_structs(edit: impl Fn(&str) -> String) -> tempfile::TempDir {
        let dir = tempfile::tempdir().expect("temp dir");
        let mut files = vec![
            crate::abi_docs::CONSTS.to_owned(),
            crate::abi_docs::STRUCTS.to_owned(),
        ];
        files.extend(ffi_header::source_files(&test_root()));
        files.extend(derived_inputs());
        for file in &files {
            let file = file.as_str();
            let to = dir.path().join(file);
            std::fs::create_dir_all(to.parent().expect("has a parent")).expect("mkdir");
            let text = std::fs::read_to_string(test_root().join(file)).expect("read");
            let text = if file == crate::abi_docs::STRUCTS {
                let edited = edit(&text);
                assert_ne!(edited, text, "the edit applies");
                edited
            } else {
                text
            };
            std::fs::write(to, text).expect("write");
        }
        dir
    }

    /// The hand-written files compat-tests' generators read: the case manifest, the
    /// encoder cases it includes, and the test `xen.h` the fixtures compile with.
    pub(crate) fn derived_inputs() -> Vec<String> {
        vec![
            compat_tests::generated::MANIFEST.to_owned(),
            compat_tests::generated::ENCODE_CASES.to_owned(),
            "headgen/c/xen.h".to_owned(),
        ]
    }

    /// The staleness errors of the committed header against one generated from `src`.
    fn header_staleness(src: &Path, model: &[&'static StructDef]) -> Vec<String> {
        let header: Vec<_> = from_model(src, model)
            .expect("generates")
            .into_iter()
            .filter(|o| o.path == Path::new(kexec_h::PATH))
            .collect();
        stale(&test_root(), &header)
            .expect("reads")
            .iter()
            .map(ToString::to_string)
            .collect()
    }

    #[test]
    fn editing_a_field_doc_without_regenerating_makes_the_header_stale_with_a_diff() {
        let src = scratch_with_structs(|s| {
            s.replacen(
                "/// Number of source bytes to copy.",
                "/// Number of source bytes to copy, edited.",
                1,
            )
        });
        let errors = header_staleness(src.path(), &layout::ALL);
        assert_eq!(errors.len(), 1, "{errors:?}");
        let e = &errors[0];
        assert!(e.contains("include/public/kexec.h is stale"), "{e}");
        assert!(e.contains("Run `cargo run -p headgen -- generate`"), "{e}");
        assert!(
            e.contains("--- a/include/public/kexec.h (committed)"),
            "{e}"
        );
        assert!(
            e.contains("\n-    /* Number of source bytes to copy. */\n"),
            "{e}"
        );
        assert!(
            e.contains("\n+    /* Number of source bytes to copy, edited. */\n"),
            "{e}"
        );
    }

    #[test]
    fn renaming_a_field_in_the_crate_and_its_model_makes_the_header_stale_with_a_diff() {
        let src =
            scratch_with_structs(|s| s.replacen("pub dest_size: u64,", "pub dest_len: u64,", 1));
        let fields: Vec<(&'static str, CType)> = SEGMENT
            .fields
            .iter()
            .map(|&(name, t)| {
                (
                    if name == "dest_size" {
                        "dest_len"
                    } else {
                        name
                    },
                    t,
                )
            })
            .collect();
        let renamed: &'static StructDef = Box::leak(Box::new(StructDef {
            fields: Box::leak(fields.into_boxed_slice()),
            ..SEGMENT
        }));
        let model: Vec<&'static StructDef> = layout::ALL
            .iter()
            .map(|d| {
                if d.c_name == SEGMENT.c_name {
                    renamed
                } else {
                    *d
                }
            })
            .collect();
        let errors = header_staleness(src.path(), &model);
        assert_eq!(errors.len(), 1, "{errors:?}");
        assert!(
            errors[0].contains("\n-    uint64_t dest_size;\n+    uint64_t dest_len;\n"),
            "{}",
            errors[0]
        );
    }

    #[test]
    fn a_model_field_the_rust_structure_does_not_document_is_an_error_naming_it() {
        let src =
            scratch_with_structs(|s| s.replacen("pub dest_size: u64,", "pub dest_len: u64,", 1));
        let e = all(src.path(), &layout::ALL)
            .expect_err("the model's dest_size has no doc")
            .to_string();
        assert!(
            e.contains("abi/src/x86_64.rs: KexecSegment.dest_size"),
            "{e}"
        );
    }

    #[test]
    fn a_checkout_without_the_ffi_crate_is_an_error_naming_its_header_and_source() {
        let src = scratch_with_structs(|s| format!("{s}\n"));
        std::fs::remove_dir_all(src.path().join("ffi")).expect("remove ffi/");
        let e = all(src.path(), &layout::ALL).expect_err("no ffi crate to render");
        assert!(matches!(e, Error::Cbindgen(_)), "{e:?}");
        let e = e.to_string();
        assert!(
            e.starts_with("cbindgen could not render include/xen-kexec.h from ffi/src: ")
                && e.contains("ffi/src/lib.rs: not found"),
            "{e}"
        );
    }

    #[test]
    fn write_leaves_fresh_files_alone_and_removes_leftovers() {
        let dir = tempfile::tempdir().expect("temp dir");
        let outputs = [
            Output::text("a/x.md", "x\n".to_owned()),
            Output::gone("a/gone.md".into()),
            Output {
                path: "b/seed".into(),
                bytes: Some(vec![0xff, 0]),
                committed: false,
            },
        ];
        std::fs::create_dir_all(dir.path().join("a")).expect("mkdir");
        std::fs::write(dir.path().join("a/gone.md"), "old").expect("write");
        let first = write(dir.path(), &outputs).expect("writes");
        assert_eq!(
            first.iter().map(|(_, w)| *w).collect::<Vec<_>>(),
            [Written::Updated, Written::Removed, Written::Updated]
        );
        assert!(stale(dir.path(), &outputs).expect("reads").is_empty());
        let second = write(dir.path(), &outputs).expect("writes");
        assert_eq!(
            second.iter().map(|(_, w)| *w).collect::<Vec<_>>(),
            [Written::UpToDate, Written::UpToDate, Written::UpToDate]
        );
    }

    #[test]
    fn a_changed_fixture_byte_is_stale_and_a_stray_image_is_a_leftover() {
        let dir = scratch_with_structs(|s| format!("{s}\n"));
        let outputs = all(dir.path(), &layout::ALL).expect("generates");
        write(dir.path(), &outputs).expect("writes");
        assert!(stale(dir.path(), &outputs).expect("reads").is_empty());
        let image = outputs
            .iter()
            .find(|o| o.path.starts_with("fixtures/walk") && o.committed)
            .expect("a walk image");
        let path = dir.path().join(&image.path);
        let mut bytes = std::fs::read(&path).expect("read");
        bytes[0] ^= 0xff;
        std::fs::write(&path, &bytes).expect("write");
        std::fs::write(dir.path().join("fixtures/cases/stray.bin"), [1]).expect("write");
        let again = all(dir.path(), &layout::ALL).expect("generates");
        let errors: Vec<String> = stale(dir.path(), &again)
            .expect("reads")
            .iter()
            .map(ToString::to_string)
            .collect();
        assert_eq!(errors.len(), 2, "{errors:?}");
        assert!(
            errors.iter().any(
                |e| e.starts_with(&format!("{} is stale", image.path.display()))
                    && e.contains("binary file")
            ),
            "{errors:?}"
        );
        assert!(
            errors
                .iter()
                .any(|e| e.starts_with("fixtures/cases/stray.bin is stale")
                    && e.contains("generated absent")),
            "{errors:?}"
        );
    }

    #[test]
    fn the_fuzz_seeds_are_written_but_never_checked() {
        let dir = scratch_with_structs(|s| format!("{s}\n"));
        let outputs = all(dir.path(), &layout::ALL).expect("generates");
        let seeds: Vec<&Output> = outputs.iter().filter(|o| !o.committed).collect();
        assert!(!seeds.is_empty());
        assert!(seeds
            .iter()
            .all(|o| o.path.starts_with(compat_tests::generated::FUZZ_SEEDS)));
        let stale_seeds = stale(dir.path(), &outputs)
            .expect("reads")
            .iter()
            .filter(|e| e.to_string().contains("seed-"))
            .count();
        assert_eq!(stale_seeds, 0, "absent seeds are not stale");
    }

    #[test]
    fn the_fixtures_are_laid_out_from_the_rendered_header_not_the_committed_one() {
        // The scratch checkout has no include/public/kexec.h at all.
        let dir = scratch_with_structs(|s| format!("{s}\n"));
        assert!(!dir.path().join(kexec_h::PATH).exists());
        let outputs = all(dir.path(), &layout::ALL).expect("generates");
        let committed = test_root();
        let walk: Vec<&Output> = outputs
            .iter()
            .filter(|o| o.path.starts_with("fixtures/walk"))
            .collect();
        assert!(walk.len() > 20);
        for o in walk {
            assert_eq!(
                o.bytes.as_deref(),
                Some(&std::fs::read(committed.join(&o.path)).expect("committed")[..]),
                "{}",
                o.path.display()
            );
        }
    }

    #[test]
    fn every_generated_text_file_starts_with_a_generated_by_line() {
        let outputs = all(&test_root(), &layout::ALL).expect("generates");
        for o in outputs.iter().filter(|o| o.committed) {
            let Some(text) = o.as_text() else { continue };
            // zsh reads `#compdef` from a completion file's first line: the generated
            // line comes second there.
            let first = text
                .lines()
                .find(|l| {
                    !l.starts_with("/* SPDX")
                        && !l.starts_with("// SPDX")
                        && !l.starts_with("#compdef ")
                })
                .unwrap_or_default();
            let first = first.to_lowercase();
            assert!(
                first.contains("generated by") && first.contains("do not edit"),
                "{}: {first:?}",
                o.path.display()
            );
        }
    }

    #[test]
    fn a_leftover_struct_doc_is_reported_stale() {
        let dir = scratch_with_structs(|s| format!("{s}\n"));
        std::fs::create_dir_all(dir.path().join(STRUCT_DOC_DIR)).expect("mkdir");
        std::fs::write(
            dir.path().join(STRUCT_DOC_DIR).join("xen_kexec_old.md"),
            "old\n",
        )
        .expect("write");
        let outputs = all(dir.path(), &layout::ALL).expect("generates");
        let leftover = outputs
            .iter()
            .find(|o| o.path.ends_with("xen_kexec_old.md"))
            .expect("listed");
        assert_eq!(leftover.bytes, None);
        let errors = stale(dir.path(), std::slice::from_ref(leftover)).expect("reads");
        assert!(
            errors[0].to_string().contains("+++ /dev/null"),
            "{}",
            errors[0]
        );
    }
}
