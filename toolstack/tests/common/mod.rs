// SPDX-License-Identifier: MIT
//! What the command-line tests share.

use std::process::Output;

/// Asserts exit `code`, nothing on stdout, and returns stderr.
pub(crate) fn failed(out: &Output, code: i32) -> String {
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert_eq!(out.status.code(), Some(code), "stderr: {stderr}");
    assert!(
        out.stdout.is_empty(),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    stderr
}
