// SPDX-License-Identifier: MIT
//! Numbers and regions on the command line: decimal or `0x` hexadecimal.

use xen_kexec_abi::host::MachineRange;

/// A 64-bit number in decimal or `0x` hexadecimal.
///
/// ```
/// use xen_kexec_toolstack::num::parse_u64;
/// assert_eq!(parse_u64("0x1000"), Ok(4096));
/// assert_eq!(parse_u64("4096"), Ok(4096));
/// assert!(parse_u64("0x").unwrap_err().contains("`0x`"));
/// ```
///
/// # Errors
/// A message naming the text.
pub fn parse_u64(text: &str) -> Result<u64, String> {
    let (digits, radix) = match text.strip_prefix("0x").or_else(|| text.strip_prefix("0X")) {
        Some(hex) => (hex, 16),
        None => (text, 10),
    };
    // `from_str_radix` accepts a leading `+`; a number here is digits only.
    if digits.starts_with('+') {
        return Err(format!("`{text}` is not a number (decimal or 0x hex)"));
    }
    u64::from_str_radix(digits, radix)
        .map_err(|e| format!("`{text}` is not a 64-bit number (decimal or 0x hex): {e}"))
}

/// A 32-bit unsigned number in decimal or `0x` hexadecimal.
///
/// # Errors
/// A message naming the text.
pub fn parse_u32(text: &str) -> Result<u32, String> {
    let n = parse_u64(text)?;
    u32::try_from(n).map_err(|_| format!("`{text}` does not fit in 32 bits"))
}

/// A C `int` in decimal or `0x` hexadecimal, with an optional `-` (a CPU number; a
/// negative one is the hypervisor's to refuse).
///
/// ```
/// use xen_kexec_toolstack::num::parse_i32;
/// assert_eq!(parse_i32("0x10"), Ok(16));
/// assert_eq!(parse_i32("-1"), Ok(-1));
/// assert_eq!(parse_i32("-0x80000000"), Ok(i32::MIN));
/// assert!(parse_i32("0x80000000").is_err());
/// ```
///
/// # Errors
/// A message naming the text.
pub fn parse_i32(text: &str) -> Result<i32, String> {
    let too_big = || format!("`{text}` does not fit in a C int");
    match text.strip_prefix('-') {
        Some(magnitude) => {
            let n = i64::try_from(parse_u64(magnitude)?).map_err(|_| too_big())?;
            i32::try_from(-n).map_err(|_| too_big())
        }
        None => i32::try_from(parse_u64(text)?).map_err(|_| too_big()),
    }
}

/// `START:SIZE`, a machine range that ends at or below 2^64.
///
/// ```
/// use xen_kexec_toolstack::num::parse_range;
/// let top = parse_range("0xfffffffff0000000:0x10000000").unwrap(); // ends at 2^64
/// assert_eq!(top.last(), Some(u64::MAX));
/// assert!(parse_range("0xfffffffff0000000:0x10000001").is_err());
/// ```
///
/// # Errors
/// A message naming the text.
pub fn parse_range(text: &str) -> Result<MachineRange, String> {
    let (start, size) = text
        .split_once(':')
        .ok_or_else(|| format!("`{text}` is not START:SIZE"))?;
    let (start, size) = (parse_u64(start)?, parse_u64(size)?);
    MachineRange::new(start, size)
        .ok_or_else(|| format!("region `{text}` runs past the top of the address space"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_are_decimal_or_hex_and_bad_text_is_named() {
        assert_eq!(parse_u64("0XfFfF"), Ok(0xffff));
        assert_eq!(parse_u64("0xffffffffffffffff"), Ok(u64::MAX));
        for bad in [
            "",
            "0x",
            "-1",
            "+1",
            "0x+1",
            "0x1_000",
            "12abc",
            "0x10000000000000000",
        ] {
            let e = parse_u64(bad).unwrap_err();
            assert!(e.contains(&format!("`{bad}`")), "{e}");
        }
        assert_eq!(parse_u32("0x4"), Ok(4));
        assert!(parse_u32("0x100000000").unwrap_err().contains("32 bits"));
        assert_eq!(parse_i32("2147483647"), Ok(i32::MAX));
        assert!(parse_i32("2147483648").unwrap_err().contains("C int"));
    }

    #[test]
    fn regions_parse_or_name_the_text() {
        let r = parse_range("0x40000000:0x10000000").expect("parses");
        assert_eq!((r.start(), r.size()), (0x4000_0000, 0x1000_0000));
        assert!(parse_range("0x4000").unwrap_err().contains("START:SIZE"));
        assert!(parse_range("0xffffffffffffffff:2")
            .unwrap_err()
            .contains("past the top"));
    }
}
