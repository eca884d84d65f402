// SPDX-License-Identifier: MIT
//! headgen: the header tool, and the one entry for every generated file. It renders
//! `include/public/kexec.h` from the `xen-kexec-abi` crate, checks it against real C
//! compilers, and reports layouts; `generate` writes, and `check` checks, every file
//! derived from the model ([`outputs::all`]): the two headers, the layout docs, the
//! case catalogue's multi-fault section, the fixtures' golden images and the fuzz seeds.
//!
//! The pipeline reads top to bottom: the layout model and the crate's items and doc
//! comments ([`abi_docs`]) → rendering ([`kexec_h`], [`report`]) → checks (freshness of
//! the committed files in [`outputs`], then the C compilers in [`checks`]). Nothing
//! rendered is ever read back.
//!
//! headgen works on the checkout that holds the current directory ([`repo`]). Decoding
//! captured hypercalls is the toolstack's `xen-kexec decode`.

use std::path::Path;
use std::process::ExitCode;

use clap::{Parser, Subcommand, ValueEnum};
use xen_kexec_abi::layout::{self, Arch, StructDef};

mod abi_docs;
mod cdecl;
mod checks;
mod cli_docs;
mod comment;
mod error;
mod ffi_header;
mod kexec_h;
mod outputs;
mod purgatory;
mod repo;
mod report;

use error::Error;

/// What the bare command does, for `--help`.
const ABOUT: &str = "The header tool of xen-kexec-abi, and the one entry for every generated \
file: renders include/public/kexec.h from the abi crate and checks it with C compilers. With no \
command: `generate`, then `check`.";

const LONG_ABOUT: &str = "The header tool of xen-kexec-abi, and the one entry for every generated \
file: renders include/public/kexec.h from the abi crate and checks it with C compilers.

With no command, headgen writes every generated file into the checkout that holds the \
current directory: include/public/kexec.h (Xen's public header), include/xen-kexec.h (the \
C interface of the ffi crate), docs/layout.md and abi/doc/<structure>.md (the layout \
tables), fixtures/cases-multi-fault.toml (the case catalogue's multi-fault section), the \
golden images below fixtures/walk and fixtures/cases (laid out by gcc -m32/-m64), and the \
fuzz seeds below fuzz/corpus/decode (not committed, so never checked); then it runs \
`check`. Files already up to date are left untouched.";

/// Command line of headgen.
#[derive(Debug, Parser)]
#[command(version, about = ABOUT, long_about = LONG_ABOUT)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Write every generated file: the headers, docs/layout.md, abi/doc/*.md, the
    /// multi-fault cases, the fixtures and the fuzz seeds.
    Generate,
    /// Fail with a diff if a committed generated file is stale, then compile the header
    /// for x86_32, x86_64, arm32 and arm64 and assert the layout model's numbers.
    Check,
    /// Print the layout model: every structure's fields with offsets and sizes, holes and
    /// padding, and the x86_32 and x86_64 layouts side by side.
    Layout(LayoutArgs),
    /// Build the purgatory (purgatory/, for x86_64-unknown-none) reproducibly and write
    /// toolstack/purgatory/xen-kexec-purgatory.elf, which the toolstack embeds.
    Purgatory {
        /// Write nothing: fail unless a fresh build gives the committed file's bytes.
        #[arg(long)]
        check: bool,
    },
}

/// Arguments of `headgen layout`.
#[derive(Debug, clap::Args)]
struct LayoutArgs {
    /// The arch to report, or all of them.
    #[arg(long, value_enum, default_value_t = ArchArg::All)]
    arch: ArchArg,
    /// Plain text (pahole-style) or markdown (the form of docs/layout.md).
    #[arg(long, value_enum, default_value_t = Format::Text)]
    format: Format,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
enum ArchArg {
    #[value(name = "x86_32")]
    X86_32,
    #[value(name = "x86_64")]
    X86_64,
    #[value(name = "arm32")]
    Arm32,
    #[value(name = "arm64")]
    Arm64,
    #[value(name = "all")]
    All,
}

impl ArchArg {
    fn arches(self) -> Vec<Arch> {
        match self {
            ArchArg::X86_32 => vec![Arch::X86_32],
            ArchArg::X86_64 => vec![Arch::X86_64],
            ArchArg::Arm32 => vec![Arch::Arm32],
            ArchArg::Arm64 => vec![Arch::Arm64],
            ArchArg::All => Arch::ALL.to_vec(),
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
enum Format {
    Text,
    Markdown,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Some(Command::Layout(args)) => {
            let arches = args.arch.arches();
            print!(
                "{}",
                match args.format {
                    Format::Text => report::text(&layout::ALL, &arches),
                    Format::Markdown => report::markdown(&layout::ALL, &arches),
                }
            );
            Ok(())
        }
        Some(Command::Generate) => repo::from_current_dir()
            .and_then(|root| generate(&root))
            .map(|lines| print_lines(&lines)),
        Some(Command::Check) => repo::from_current_dir()
            .and_then(|root| check(&root, &layout::ALL))
            .map(|lines| print_lines(&lines)),
        Some(Command::Purgatory { check }) => repo::from_current_dir()
            .and_then(|root| {
                let target = root.join("target/purgatory");
                if check {
                    purgatory::check(&root, &target)
                        .map(|n| format!("{}: up to date ({n} bytes)", purgatory::PATH))
                } else {
                    purgatory::write(&root, &target)
                }
            })
            .map(|line| println!("{line}")),
        None => repo::from_current_dir()
            .and_then(|root| generate_and_check(&root))
            .map(|lines| print_lines(&lines)),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("headgen: {e}");
            ExitCode::FAILURE
        }
    }
}

fn print_lines(lines: &[String]) {
    for line in lines {
        println!("{line}");
    }
}

/// `headgen generate`: writes every generated file that changed, and says so; the
/// files already up to date are counted.
fn generate(root: &Path) -> Result<Vec<String>, Error> {
    let outputs = outputs::all(root, &layout::ALL)?;
    let mut up_to_date = 0;
    let mut lines = Vec::new();
    for (path, what) in outputs::write(root, &outputs)? {
        match what {
            outputs::Written::UpToDate => up_to_date += 1,
            outputs::Written::Updated => lines.push(format!("{}: written", path.display())),
            outputs::Written::Removed => lines.push(format!("{}: removed", path.display())),
        }
    }
    lines.push(format!("{up_to_date} generated files up to date"));
    Ok(lines)
}

/// Bare `headgen`: `generate`, then `check`. `generate` has just said what it wrote and
/// counted the rest, so the check adds only the C compilers' lines: each output is
/// reported once.
fn generate_and_check(root: &Path) -> Result<Vec<String>, Error> {
    let mut lines = generate(root)?;
    lines.extend(checked(root, &layout::ALL, Freshness::Quiet)?);
    Ok(lines)
}

/// Whether a check names each fresh file in its report.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Freshness {
    /// `path: up to date` for each fresh file, and the images counted.
    Said,
    /// Fresh files go unsaid (a stale one still fails).
    Quiet,
}

/// Whether `path` is one of many like it (a golden image or a fuzz seed), which the
/// report counts rather than lists.
fn one_of_many(path: &Path) -> bool {
    [
        "fixtures/walk",
        "fixtures/cases",
        compat_tests::generated::FUZZ_SEEDS,
    ]
    .iter()
    .any(|dir| path.starts_with(dir))
}

/// `headgen check`: the freshness of every committed generated file, then the C checks
/// of the generated header against `model`. Returns the report, or every failure.
fn check(root: &Path, model: &[&'static StructDef]) -> Result<Vec<String>, Error> {
    checked(root, model, Freshness::Said)
}

/// [`check`], saying the fresh files or not.
fn checked(
    root: &Path,
    model: &[&'static StructDef],
    freshness: Freshness,
) -> Result<Vec<String>, Error> {
    let outputs = outputs::all(root, model)?;
    let mut failures = outputs::stale(root, &outputs)?;
    let fresh: Vec<&outputs::Output> = outputs
        .iter()
        .filter(|o| {
            o.committed
                && !failures
                    .iter()
                    .any(|f| matches!(f, Error::Stale { path, .. } if *path == o.path))
        })
        .collect();
    let mut lines: Vec<String> = Vec::new();
    if freshness == Freshness::Said {
        lines.extend(
            fresh
                .iter()
                .filter(|o| !one_of_many(&o.path))
                .map(|o| format!("{}: up to date", o.path.display())),
        );
        lines.push(format!(
            "fixtures/walk, fixtures/cases: {} images up to date",
            fresh.iter().filter(|o| one_of_many(&o.path)).count()
        ));
    }
    let header = outputs
        .iter()
        .find(|o| o.path == Path::new(kexec_h::PATH))
        .and_then(outputs::Output::as_text)
        .unwrap_or_default();
    let outcomes = checks::run(
        header,
        &checks::standard_checks(),
        &checks::Expected::of(model),
    )?;
    for outcome in outcomes {
        match outcome.result {
            Ok(()) => lines.push(format!(
                "ok: {} ({} assertions)",
                outcome.check.label(),
                outcome.assertions
            )),
            Err(e) => failures.push(e),
        }
    }
    if failures.is_empty() {
        let arches: Vec<_> = Arch::ALL.iter().map(|a| a.name()).collect();
        lines.push(format!("{} checked: {}", kexec_h::PATH, arches.join(", ")));
        Ok(lines)
    } else {
        Err(Error::Many(failures))
    }
}

/// How headgen's modules use each other: no module uses one that uses it.
#[cfg(test)]
mod module_graph {
    use std::collections::{BTreeMap, BTreeSet};
    use std::path::Path;

    use syn::visit::Visit;

    /// Module → the modules it names through `crate::`. A name that is no module of
    /// `modules` is an item of the crate root, `main`, which declares every module.
    type Graph = BTreeMap<String, BTreeSet<String>>;

    #[derive(Default)]
    struct CrateRefs(BTreeSet<String>);

    impl<'ast> Visit<'ast> for CrateRefs {
        fn visit_path(&mut self, path: &'ast syn::Path) {
            let mut segments = path.segments.iter();
            if segments.next().is_some_and(|s| s.ident == "crate") {
                if let Some(next) = segments.next() {
                    self.0.insert(next.ident.to_string());
                }
            }
            syn::visit::visit_path(self, path);
        }

        fn visit_use_tree(&mut self, tree: &'ast syn::UseTree) {
            if let syn::UseTree::Path(p) = tree {
                if p.ident == "crate" {
                    let mut firsts = vec![&*p.tree];
                    while let Some(t) = firsts.pop() {
                        match t {
                            syn::UseTree::Path(p) => {
                                self.0.insert(p.ident.to_string());
                            }
                            syn::UseTree::Name(n) => {
                                self.0.insert(n.ident.to_string());
                            }
                            syn::UseTree::Rename(r) => {
                                self.0.insert(r.ident.to_string());
                            }
                            syn::UseTree::Group(g) => firsts.extend(g.items.iter()),
                            syn::UseTree::Glob(_) => {
                                self.0.insert("main".to_owned());
                            }
                        }
                    }
                    return;
                }
            }
            syn::visit::visit_use_tree(self, tree);
        }
    }

    /// The graph of the modules in `dir` (one file each, `main.rs` the root).
    fn graph(dir: &Path) -> Graph {
        let mut files: BTreeMap<String, String> = BTreeMap::new();
        for entry in std::fs::read_dir(dir).expect("list src") {
            let path = entry.expect("entry").path();
            if path.extension().is_some_and(|e| e == "rs") {
                let name = path
                    .file_stem()
                    .expect("stem")
                    .to_string_lossy()
                    .into_owned();
                files.insert(name, std::fs::read_to_string(&path).expect("read"));
            }
        }
        let modules: BTreeSet<String> = files.keys().cloned().collect();
        files
            .iter()
            .map(|(name, source)| {
                let mut refs = CrateRefs::default();
                refs.visit_file(&syn::parse_file(source).expect("parses"));
                let uses = if name == "main" {
                    modules.iter().filter(|m| *m != "main").cloned().collect()
                } else {
                    refs.0
                        .into_iter()
                        .map(|r| {
                            if modules.contains(&r) {
                                r
                            } else {
                                "main".to_owned()
                            }
                        })
                        .filter(|r| r != name)
                        .collect()
                };
                (name.clone(), uses)
            })
            .collect()
    }

    /// A cycle of `graph`, if it has one.
    fn cycle(graph: &Graph) -> Option<Vec<String>> {
        fn visit(
            node: &str,
            graph: &Graph,
            path: &mut Vec<String>,
            done: &mut BTreeSet<String>,
        ) -> Option<Vec<String>> {
            if let Some(i) = path.iter().position(|n| n == node) {
                let mut cycle = path[i..].to_vec();
                cycle.push(node.to_owned());
                return Some(cycle);
            }
            if done.contains(node) {
                return None;
            }
            path.push(node.to_owned());
            for next in graph.get(node).into_iter().flatten() {
                if let Some(c) = visit(next, graph, path, done) {
                    return Some(c);
                }
            }
            path.pop();
            done.insert(node.to_owned());
            None
        }
        let mut done = BTreeSet::new();
        graph
            .keys()
            .find_map(|n| visit(n, graph, &mut Vec::new(), &mut done))
    }

    #[test]
    fn no_module_uses_a_module_that_uses_it() {
        let g = graph(&Path::new(env!("CARGO_MANIFEST_DIR")).join("src"));
        assert!(
            g["kexec_h"].contains("abi_docs"),
            "the graph is read: {g:?}"
        );
        assert_eq!(cycle(&g), None, "{g:#?}");
    }

    #[test]
    fn a_cycle_is_found_however_long() {
        let g: Graph = [("main", "a"), ("a", "b"), ("b", "c"), ("c", "a")]
            .into_iter()
            .map(|(m, u)| (m.to_owned(), BTreeSet::from([u.to_owned()])))
            .collect();
        assert_eq!(
            cycle(&g),
            Some(vec!["a".into(), "b".into(), "c".into(), "a".into()])
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Plain `cargo test` runs `headgen check`: a stale committed file or a header that
    /// does not lay out as the model says fails it.
    #[test]
    fn check_passes_on_the_committed_tree() {
        let lines = check(&repo::for_tests(), &layout::ALL).unwrap_or_else(|e| {
            eprintln!("{e}");
            Vec::new()
        });
        assert!(
            lines
                .last()
                .is_some_and(|l| l.ends_with("checked: x86_32, x86_64, arm32, arm64")),
            "headgen check failed (see above); run `{}` if a file is stale",
            repo::GENERATE_COMMAND
        );
        assert!(
            lines
                .iter()
                .any(|l| l == "include/public/kexec.h: up to date"),
            "{lines:?}"
        );
        assert_eq!(
            lines.iter().filter(|l| l.starts_with("ok: ")).count(),
            8,
            "{lines:?}"
        );
    }

    /// A copy of the files `check` reads, in a scratch directory.
    fn scratch_tree() -> tempfile::TempDir {
        let dir = tempfile::tempdir().expect("temp dir");
        let root = repo::for_tests();
        let mut files = vec![
            abi_docs::STRUCTS.to_owned(),
            abi_docs::CONSTS.to_owned(),
            kexec_h::PATH.to_owned(),
            outputs::LAYOUT_MD.to_owned(),
        ];
        for def in layout::ALL {
            files.push(format!("{}/{}.md", outputs::STRUCT_DOC_DIR, def.c_name));
        }
        files.push(ffi_header::PATH.to_owned());
        files.extend(ffi_header::source_files(&root));
        files.extend(outputs::tests::derived_inputs());
        files.push(compat_tests::generated::MULTI_FAULT.to_owned());
        for dir in compat_tests::generated::image_dirs() {
            for entry in std::fs::read_dir(root.join(&dir)).expect("list") {
                let sub = dir.join(entry.expect("entry").file_name());
                if root.join(&sub).is_dir() {
                    for file in std::fs::read_dir(root.join(&sub)).expect("list") {
                        files.push(
                            sub.join(file.expect("entry").file_name())
                                .display()
                                .to_string(),
                        );
                    }
                } else {
                    files.push(sub.display().to_string());
                }
            }
        }
        for file in files {
            let to = dir.path().join(&file);
            std::fs::create_dir_all(to.parent().expect("a file has a directory")).expect("mkdir");
            std::fs::copy(root.join(&file), &to).expect("copy");
        }
        dir
    }

    #[test]
    fn check_of_a_hand_edited_header_fails_with_the_diff_and_the_command() {
        let tree = scratch_tree();
        let header = tree.path().join(kexec_h::PATH);
        let text = std::fs::read_to_string(&header).expect("read");
        let edited = text.replacen("    uint64_t buf_size;", "    uint32_t buf_size;", 1);
        assert_ne!(edited, text);
        std::fs::write(&header, edited).expect("write");
        let e = check(tree.path(), &layout::ALL)
            .expect_err("stale")
            .to_string();
        assert!(e.starts_with("include/public/kexec.h is stale"), "{e}");
        assert!(
            e.contains("Run `cargo run -p headgen -- generate` and commit the result."),
            "{e}"
        );
        assert!(
            e.contains("\n-    uint32_t buf_size;\n+    uint64_t buf_size;\n"),
            "{e}"
        );
        assert!(
            !e.contains("docs/layout.md"),
            "only the header is stale: {e}"
        );
    }

    #[test]
    fn generate_then_check_repairs_a_stale_tree() {
        let tree = scratch_tree();
        std::fs::write(tree.path().join(outputs::LAYOUT_MD), "hand-written\n").expect("write");
        assert!(check(tree.path(), &layout::ALL).is_err());
        generate(tree.path()).expect("generates");
        let lines = check(tree.path(), &layout::ALL).expect("fresh after generate");
        assert!(
            lines.iter().any(|l| l == "docs/layout.md: up to date"),
            "{lines:?}"
        );
    }

    #[test]
    fn bare_headgen_reports_each_output_once() {
        let tree = scratch_tree();
        std::fs::write(tree.path().join(outputs::LAYOUT_MD), "hand-written\n").expect("write");
        let lines = generate_and_check(tree.path()).expect("generates and checks");
        let mut seen = std::collections::BTreeSet::new();
        for line in &lines {
            assert!(seen.insert(line), "{line:?} printed twice: {lines:?}");
        }
        assert!(
            lines.iter().any(|l| l == "docs/layout.md: written"),
            "{lines:?}"
        );
        assert!(
            !lines.iter().any(|l| l.ends_with(": up to date")),
            "generate counted the fresh files; the check must not list them again: {lines:?}"
        );
        assert!(
            lines
                .last()
                .is_some_and(|l| l.ends_with("checked: x86_32, x86_64, arm32, arm64")),
            "{lines:?}"
        );
    }

    #[test]
    fn layout_accepts_each_arch_name_and_refuses_others() {
        for (name, arches) in [
            ("x86_32", vec![Arch::X86_32]),
            ("arm64", vec![Arch::Arm64]),
            ("all", Arch::ALL.to_vec()),
        ] {
            let cli =
                Cli::try_parse_from(["headgen", "layout", "--arch", name, "--format", "markdown"])
                    .expect("parses");
            let Some(Command::Layout(args)) = cli.command else {
                unreachable!("layout parses as layout");
            };
            assert_eq!(args.arch.arches(), arches);
            assert_eq!(args.format, Format::Markdown);
        }
        let e = Cli::try_parse_from(["headgen", "layout", "--arch", "mips"])
            .expect_err("unknown arch")
            .to_string();
        assert!(e.contains("mips") && e.contains("x86_32"), "{e}");
    }
}
