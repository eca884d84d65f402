// SPDX-License-Identifier: MIT
//! The generated files kept in the repository, writing them, and checking that the
//! committed ones are fresh.

use std::path::{Path, PathBuf};

use xen_kexec_abi::layout::{Arch, StructDef};

use crate::abi_docs::AbiDocs;
use crate::error::Error;
use crate::{ffi_header, kexec_h, repo, report};

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
    pub(crate) text: Option<String>,
}

/// Every generated file of the checkout at `root`, rendered from the layout `model`
/// and the abi crate's items and doc comments (read from `root`). Each output is one
/// entry here, the ffi crate's C header among them.
pub(crate) fn all(root: &Path, model: &[&'static StructDef]) -> Result<Vec<Output>, Error> {
    let docs = AbiDocs::read(root)?;
    let mut outputs = vec![
        Output {
            path: kexec_h::PATH.into(),
            text: Some(kexec_h::render(model, &docs)?),
        },
        Output {
            path: LAYOUT_MD.into(),
            text: Some(report::markdown(model, &Arch::ALL)),
        },
        Output {
            path: ffi_header::PATH.into(),
            // Like the abi sources, the ffi crate is read from the checkout at `root`.
            text: Some(
                ffi_header::generate(&root.join(ffi_header::SOURCE)).map_err(Error::Cbindgen)?,
            ),
        },
    ];
    let docs: Vec<Output> = model
        .iter()
        .map(|def| Output {
            path: Path::new(STRUCT_DOC_DIR).join(format!("{}.md", def.c_name)),
            text: Some(report::struct_doc(def)),
        })
        .collect();
    // A table left behind by a structure the model no longer has.
    let dir = root.join(STRUCT_DOC_DIR);
    if dir.is_dir() {
        let entries = std::fs::read_dir(&dir)
            .map_err(|e| Error::io(format!("listing {}", dir.display()), e))?;
        let mut extra = Vec::new();
        for entry in entries {
            let entry = entry.map_err(|e| Error::io(format!("listing {}", dir.display()), e))?;
            let path = Path::new(STRUCT_DOC_DIR).join(entry.file_name());
            if path.extension().is_some_and(|e| e == "md") && !docs.iter().any(|d| d.path == path) {
                extra.push(Output { path, text: None });
            }
        }
        extra.sort_by(|a, b| a.path.cmp(&b.path));
        outputs.extend(extra);
    }
    outputs.extend(docs);
    Ok(outputs)
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
        let what = match (&output.text, current) {
            (Some(text), Some(current)) if *text == current => Written::UpToDate,
            (Some(text), _) => {
                if let Some(dir) = path.parent() {
                    std::fs::create_dir_all(dir)
                        .map_err(|e| Error::io(format!("creating {}", dir.display()), e))?;
                }
                std::fs::write(&path, text)
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
pub(crate) fn stale(root: &Path, outputs: &[Output]) -> Result<Vec<Error>, Error> {
    let mut errors = Vec::new();
    for output in outputs {
        let committed = read(&root.join(&output.path))?;
        if committed != output.text {
            errors.push(Error::Stale {
                path: output.path.clone(),
                diff: unified_diff(&output.path, committed.as_deref(), output.text.as_deref()),
                command: repo::GENERATE_COMMAND,
            });
        }
    }
    Ok(errors)
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
fn read(path: &Path) -> Result<Option<String>, Error> {
    match std::fs::read_to_string(path) {
        Ok(text) => Ok(Some(text)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(Error::io(format!("reading {}", path.display()), e)),
    }
}

#[cfg(test)]
mod tests {
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

    /// The staleness errors of the committed header against one generated from `src`.
    fn header_staleness(src: &Path, model: &[&'static StructDef]) -> Vec<String> {
        let header: Vec<_> = all(src, model)
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
    fn the_committed_files_are_fresh() {
        let outputs = all(&test_root(), &layout::ALL).expect("generates");
        let stale = stale(&test_root(), &outputs).expect("reads");
        assert!(stale.is_empty(), "{}", Error::Many(stale));
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
            Output {
                path: "a/x.md".into(),
                text: Some("x\n".to_owned()),
            },
            Output {
                path: "a/gone.md".into(),
                text: None,
            },
        ];
        std::fs::create_dir_all(dir.path().join("a")).expect("mkdir");
        std::fs::write(dir.path().join("a/gone.md"), "old").expect("write");
        let first = write(dir.path(), &outputs).expect("writes");
        assert_eq!(
            first.iter().map(|(_, w)| *w).collect::<Vec<_>>(),
            [Written::Updated, Written::Removed]
        );
        assert!(stale(dir.path(), &outputs).expect("reads").is_empty());
        let second = write(dir.path(), &outputs).expect("writes");
        assert_eq!(
            second.iter().map(|(_, w)| *w).collect::<Vec<_>>(),
            [Written::UpToDate, Written::UpToDate]
        );
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
        assert_eq!(leftover.text, None);
        let errors = stale(dir.path(), std::slice::from_ref(leftover)).expect("reads");
        assert!(
            errors[0].to_string().contains("+++ /dev/null"),
            "{}",
            errors[0]
        );
    }
}
