// SPDX-License-Identifier: MIT
//! Cross-checks of the `xen-kexec-abi` crate against real C compilers: the fixture
//! tool's library (`make-fixtures` is its binary) and the harness the tests in `tests/`
//! share.

pub mod bench_inputs;
pub mod bench_table;
pub mod c_reference;
pub mod cc;
pub mod cvalue;
pub mod encode_case;
pub mod fixtures;
pub mod fuzzseed;
pub mod manifest;
pub mod multifault;
pub mod oracle;
