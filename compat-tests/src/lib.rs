// SPDX-License-Identifier: MIT
//! Cross-checks of the `xen-kexec-abi` crate against real C compilers: the renderers of
//! the fixtures, the multi-fault cases and the fuzz seeds that
//! `cargo run -p headgen -- generate` calls ([`generated`]), the harness the tests in
//! `tests/` share, and the benchmarks' inputs and instruction-count gate.

pub mod bench_inputs;
pub mod bench_table;
pub mod c_reference;
pub mod cc;
pub mod cost_gate;
pub mod cvalue;
pub mod encode_case;
pub mod fixtures;
pub mod fuzzseed;
pub mod generated;
pub mod manifest;
pub mod multifault;
pub mod oracle;
