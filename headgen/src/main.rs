//! headgen: renders `include/public/kexec.h` from the `xen-kexec-abi` crate, checks it
//! against real C compilers, reports layouts, and decodes captured hypercalls.
//!
//! `cargo run -p headgen` with no subcommand generates the header, then checks it.
//!
//! - `generate` writes the generated files: `include/public/kexec.h` (cbindgen over the
//!   abi crate, in Xen's form), `docs/layout.md` and `abi/doc/<struct>.md` (the layout
//!   model's tables; rustdoc includes the latter in each structure's documentation).
//! - `check` regenerates them in memory and fails, with a unified diff and the command to
//!   run, when a committed one is stale; then it compiles the header with gcc and clang
//!   for x86_32, x86_64, arm32 and arm64, asserting every size, alignment, offset and
//!   constant of the layout model ([`checks`]).
//! - `layout` prints the layout model pahole-style, or as markdown.

use std::path::Path;
use std::process::ExitCode;

use clap::{Parser, Subcommand, ValueEnum};
use xen_kexec_abi::layout::{self, Arch, StructDef};

mod bindgen;
mod cdecl;
mod checks;
mod error;
mod ffi_header;
mod header;
mod outputs;
mod report;
mod xenify;

use bindgen::AbiSources;
use error::Error;

/// The command that regenerates the committed files.
pub(crate) const GENERATE_COMMAND: &str = "cargo run -p headgen -- generate";

/// The workspace this headgen was built in: where the abi crate and the committed
/// generated files are.
pub(crate) fn workspace_root() -> &'static Path {
    Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/.."))
}

/// Command line of headgen.
#[derive(Debug, Parser)]
#[command(version, about)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Write include/public/kexec.h, docs/layout.md and abi/doc/*.md from the abi crate.
    Generate,
    /// Fail if a committed generated file is stale, then compile the header for every
    /// arch and assert the layout model's numbers.
    Check,
    /// Print the layout model: every structure's fields with offsets and sizes, holes and
    /// padding, and the x86_32 and x86_64 layouts side by side.
    Layout(LayoutArgs),
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
    let root = workspace_root();
    let result = match cli.command {
        Some(Command::Generate) => generate(root),
        Some(Command::Check) => check(root, &layout::ALL).map(|lines| print_lines(&lines)),
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
        None => {
            generate(root).and_then(|()| check(root, &layout::ALL).map(|lines| print_lines(&lines)))
        }
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

/// `headgen generate`: writes every generated file that changed.
fn generate(root: &Path) -> Result<(), Error> {
    let outputs = outputs::all(root, &AbiSources::in_workspace(root), &layout::ALL)?;
    for (path, what) in outputs::write(root, &outputs)? {
        let what = match what {
            outputs::Written::UpToDate => "up to date",
            outputs::Written::Updated => "written",
            outputs::Written::Removed => "removed",
        };
        println!("{}: {what}", path.display());
    }
    Ok(())
}

/// `headgen check`: the freshness of every committed generated file, then the C checks
/// of the generated header against `model`. Returns the report, or every failure.
fn check(root: &Path, model: &[&'static StructDef]) -> Result<Vec<String>, Error> {
    let outputs = outputs::all(root, &AbiSources::in_workspace(root), model)?;
    let mut failures = outputs::stale(root, &outputs)?;
    let mut lines: Vec<String> = outputs
        .iter()
        .filter(|o| {
            !failures
                .iter()
                .any(|f| matches!(f, Error::Stale { path, .. } if *path == o.path))
        })
        .map(|o| format!("{}: up to date", o.path.display()))
        .collect();
    let header = outputs
        .iter()
        .find(|o| o.path == Path::new(header::PATH))
        .and_then(|o| o.text.as_deref())
        .unwrap_or_default();
    let outcomes = checks::run(
        header,
        &checks::standard_checks(),
        model,
        &header::header_constants(),
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
        lines.push(format!("{} checked: {}", header::PATH, arches.join(", ")));
        Ok(lines)
    } else {
        Err(Error::Many(failures))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Plain `cargo test` runs `headgen check`: a stale committed file or a header that
    /// does not lay out as the model says fails it.
    #[test]
    fn check_passes_on_the_committed_tree() {
        let lines = check(workspace_root(), &layout::ALL).unwrap_or_else(|e| {
            eprintln!("{e}");
            Vec::new()
        });
        assert!(
            lines
                .last()
                .is_some_and(|l| l.ends_with("checked: x86_32, x86_64, arm32, arm64")),
            "headgen check failed (see above); run `{GENERATE_COMMAND}` if a file is stale"
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
        let root = workspace_root();
        let mut files = vec![
            "abi/src/x86_64.rs".to_owned(),
            "abi/src/consts.rs".to_owned(),
            header::PATH.to_owned(),
            outputs::LAYOUT_MD.to_owned(),
        ];
        for def in layout::ALL {
            files.push(format!("{}/{}.md", outputs::STRUCT_DOC_DIR, def.c_name));
        }
        files.push(ffi_header::PATH.to_owned());
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
        let header = tree.path().join(header::PATH);
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
