// SPDX-License-Identifier: MIT
//! The README's "Hypervisor side" example is `examples/hypervisor_side.rs`: this runs it
//! and checks the README shows it unchanged.

// `pub` so this test can call it; unreachable from here, by design.
#[allow(unreachable_pub)]
#[path = "../examples/hypervisor_side.rs"]
mod example;

#[test]
fn the_readme_example_runs() {
    example::main().unwrap();
}

#[test]
fn the_readme_shows_the_example_file_verbatim() {
    let example = include_str!("../examples/hypervisor_side.rs");
    let code = example
        .split("// README begin\n")
        .nth(1)
        .and_then(|rest| rest.split("// README end").next())
        .expect("the example has README markers");
    let readme = include_str!("../../README.md");
    let section = readme
        .split("## Hypervisor side")
        .nth(1)
        .expect("the README has a Hypervisor side section");
    let block = section
        .split("```rust\n")
        .nth(1)
        .and_then(|rest| rest.split("```").next())
        .expect("the section has a rust code block");
    assert_eq!(
        block, code,
        "README.md's Hypervisor side example differs from hypervisor/examples/hypervisor_side.rs: copy the file's code between the markers"
    );
}
