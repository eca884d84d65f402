// SPDX-License-Identifier: MIT
//! What the runner prints on dom0's console, and reading it back from the serial log.
//!
//! `@@DX run seed=S count=N base=0x… crash=0x…:0x…` first; then `@@DX a FIRST E E …`,
//! one entry per call from call `FIRST` on, each the return value in decimal, followed by
//! `:` and the hex of the 24 bytes at the argument when the call changed them; `@@DX end
//! N` after the last; `@@DX error I MESSAGE` if the runner could not make call `I`.

use std::fmt::Write as _;

use crate::gen::{Params, Region};

/// The prefix of every line.
pub const MARK: &str = "@@DX";
/// How many entries one line holds.
pub const PER_LINE: usize = 32;

/// What one call returned, and what it wrote.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Answer {
    /// The return value (`-errno` on failure).
    pub rc: i64,
    /// The 24 bytes at the argument after the call, when the call changed them.
    pub wrote: Option<Vec<u8>>,
}

impl Answer {
    /// The entry as printed.
    pub fn entry(&self) -> String {
        let mut s = self.rc.to_string();
        if let Some(bytes) = &self.wrote {
            s.push(':');
            for b in bytes {
                let _ = write!(s, "{b:02x}");
            }
        }
        s
    }

    fn parse(entry: &str) -> Result<Answer, String> {
        let (rc, wrote) = match entry.split_once(':') {
            Some((rc, hex)) => (rc, Some(unhex(hex)?)),
            None => (entry, None),
        };
        let rc = rc.parse().map_err(|e| format!("entry `{entry}`: {e}"))?;
        Ok(Answer { rc, wrote })
    }
}

fn unhex(hex: &str) -> Result<Vec<u8>, String> {
    if !hex.len().is_multiple_of(2) {
        return Err(format!("odd hex `{hex}`"));
    }
    (0..hex.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&hex[i..i + 2], 16).map_err(|e| format!("hex `{hex}`: {e}")))
        .collect()
}

/// The header line.
pub fn header(p: &Params) -> String {
    format!(
        "{MARK} run seed={} count={} base={:#x} crash={:#x}:{:#x}",
        p.seed, p.count, p.base, p.crash.start, p.crash.size
    )
}

/// A run read back from a serial log.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Transcript {
    /// What the sequence was generated from.
    pub params: Params,
    /// Xen's answers, in order (fewer than `params.count` if the run stopped).
    pub answers: Vec<Answer>,
    /// Whether the runner printed its end line.
    pub ended: bool,
    /// The runner's error, if it gave up.
    pub error: Option<String>,
}

fn hex_u64(s: &str) -> Result<u64, String> {
    u64::from_str_radix(s.trim_start_matches("0x"), 16).map_err(|e| format!("`{s}`: {e}"))
}

fn parse_header(rest: &str) -> Result<Params, String> {
    let field = |name: &str| {
        rest.split(' ')
            .find_map(|w| w.strip_prefix(name)?.strip_prefix('='))
            .ok_or_else(|| format!("run line without {name}: {rest}"))
    };
    let (start, size) = field("crash")?
        .split_once(':')
        .ok_or_else(|| format!("crash= is not START:SIZE: {rest}"))?;
    Ok(Params {
        seed: field("seed")?.parse().map_err(|e| format!("seed: {e}"))?,
        count: field("count")?.parse().map_err(|e| format!("count: {e}"))?,
        base: hex_u64(field("base")?)?,
        crash: Region {
            start: hex_u64(start)?,
            size: hex_u64(size)?,
        },
    })
}

/// Reads the runner's lines out of a serial log (other lines are ignored; a line the
/// console repeats is read once).
///
/// # Errors
/// No run line, a malformed line, or entries out of order.
pub fn parse(log: &str) -> Result<Transcript, String> {
    let mut params = None;
    let mut answers: Vec<Answer> = Vec::new();
    let (mut ended, mut error) = (false, None);
    for line in log.lines() {
        let Some(at) = line.find(MARK) else { continue };
        let line = line[at + MARK.len()..].trim();
        let (tag, rest) = line.split_once(' ').unwrap_or((line, ""));
        match tag {
            "run" => params = Some(parse_header(rest)?),
            "a" => {
                let mut words = rest.split(' ');
                let first: usize = words
                    .next()
                    .and_then(|w| w.parse().ok())
                    .ok_or_else(|| format!("answer line without its first call: {line}"))?;
                let got: Vec<Answer> = words.map(Answer::parse).collect::<Result<_, _>>()?;
                if first < answers.len() {
                    continue; // a repeated line
                }
                if first != answers.len() {
                    return Err(format!(
                        "answers from call {first} follow {} answers: a line was lost",
                        answers.len()
                    ));
                }
                answers.extend(got);
            }
            "end" => ended = true,
            "error" => error = Some(rest.to_owned()),
            _ => {}
        }
    }
    let params = params.ok_or("the runner printed no run line")?;
    Ok(Transcript {
        params,
        answers,
        ended,
        error,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_transcript_reads_back_what_the_runner_printed() {
        let p = Params {
            seed: 42,
            count: 3,
            base: 0x7f12_3456_0000,
            crash: Region {
                start: 0x2000_0000,
                size: 0x400_0000,
            },
        };
        let a = [
            Answer {
                rc: 0,
                wrote: Some(vec![1, 2, 0xff]),
            },
            Answer {
                rc: -22,
                wrote: None,
            },
        ];
        let entries: Vec<String> = a.iter().map(Answer::entry).collect();
        let line = format!("{MARK} a 0 {}", entries.join(" "));
        let log = format!(
            "noise\r\n{}\r\n{line}\r\n{line}\r\n(XEN) x {MARK} end 2\r\n",
            header(&p)
        );
        let t = parse(&log).unwrap();
        assert_eq!(t.params, p);
        assert_eq!(t.answers, a);
        assert!(t.ended);
        let lost = format!("{}\n{MARK} a 5 0\n", header(&p));
        assert!(parse(&lost).unwrap_err().contains("a line was lost"));
    }
}
