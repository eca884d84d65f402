// SPDX-License-Identifier: MIT
//! The encoder's cases of the catalogue (`[[encode]]` in `fixtures/cases-encode.toml`,
//! included by `fixtures/cases.toml`): load requests as a toolstack builds them, for the
//! builder and encoder of every interface (the Rust library here and in
//! `compat-tests/tests/cases.rs`, the C interface's `xen_kexec_encode_load` in
//! `ffi/tests/c_harness.rs`), with the outcome each must give.
//!
//! ```toml
//! [[encode]]
//! name = "misaligned"                  # the case is run as encode-NAME-GUEST
//! about = "what the case proves"
//! guests = ["x86_32", "x86_64"]        # optional: both by default
//! crash_region = ["0x20000000", "0x4000000"]   # optional: start, size
//! type = "KEXEC_TYPE_DEFAULT"          # numbers: TOML integers, "0x..." strings or C names
//! arch = "EM_X86_64"
//! entry_maddr = "0x100000"
//! segments_addr = "0x2000"             # where the encoded segment array will be
//! segments = [ { buf = "0x4000", buf_size = "0xff0", dest_maddr = "0x100800", dest_size = "0x1000" } ]
//! expect.ok = true                     # encoded, and its bytes decode back to the request; or:
//! # expect.errno = "EADDRNOTAVAIL"  with  expect.error = { Refused = { SegmentMisaligned = { ... } } }
//! ```
//!
//! A request that the rules refuse is refused by the encoder with the decoder's error
//! ([`EncodeError::Refused`]); the encoder's own refusal is a handle too wide for a
//! 32-bit guest ([`EncodeError::HandleTooWide`]).

use std::collections::BTreeMap;

use serde::Deserialize;
use serde_json::Value;
use xen_kexec_abi::decode::{decode, Operation};
use xen_kexec_abi::encode::{EncodeError, EncodedLoad};
use xen_kexec_abi::guest_mem::{GuestRegion, SparseMemory};
use xen_kexec_abi::host::{HostDescription, MachineRange};
use xen_kexec_abi::load::{LoadRequest, Segment};
use xen_kexec_abi::{ElfMachine, GuestAbi, KexecCmd, KexecType};

use crate::manifest::{hex_to_numbers, Num};

/// Where the round trip puts the encoded load structure in the guest's memory.
pub const LOAD_ADDR: u64 = 0x1000;

/// One request for the encoder.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EncodeCase {
    /// Its name; run as `encode-NAME-GUEST`.
    pub name: String,
    /// What it proves.
    pub about: String,
    /// The guest widths it runs for (`x86_32`, `x86_64`); both when absent.
    #[serde(default)]
    pub guests: Option<Vec<String>>,
    /// The host's crash region: start and size.
    #[serde(default)]
    pub crash_region: Option<[Num; 2]>,
    /// `type`.
    #[serde(rename = "type")]
    pub type_: Num,
    /// `arch`.
    pub arch: Num,
    /// `entry_maddr`.
    pub entry_maddr: Num,
    /// The guest address the encoded segment array is for.
    pub segments_addr: Num,
    /// The segments, `buf` as the toolstack knows it.
    #[serde(default)]
    pub segments: Vec<BTreeMap<String, Num>>,
    /// The outcome.
    pub expect: EncodeExpect,
}

/// What an encode case must give.
#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct EncodeExpect {
    /// Encoded, and the bytes, decoded at the guest's width, give back the request.
    #[serde(default)]
    pub ok: bool,
    /// The errno's name without `XEN_`.
    #[serde(default)]
    pub errno: Option<String>,
    /// The encoder's error, as its JSON (numbers may be `"0x..."` strings).
    #[serde(default)]
    pub error: Option<toml::Value>,
}

/// An encode case's outcome in comparable form.
#[derive(Clone, Debug, PartialEq)]
pub enum EncodeOutcome {
    /// Encoded, and decoded back to the request.
    RoundTrip,
    /// Refused.
    Err {
        /// The errno's name without `XEN_`.
        errno: String,
        /// The error's JSON.
        error: Value,
    },
}

/// The outcome of encoding, in comparable form.
pub fn encode_outcome_of(result: &Result<EncodedLoad, EncodeError>) -> EncodeOutcome {
    match result {
        Ok(_) => EncodeOutcome::RoundTrip,
        Err(e) => EncodeOutcome::Err {
            errno: e.errno().to_string().trim_start_matches("XEN_").to_string(),
            error: serde_json::to_value(e).unwrap_or(Value::Null),
        },
    }
}

impl EncodeCase {
    /// The guest widths it runs for.
    ///
    /// # Errors
    /// A message naming the case and the unknown width.
    pub fn guest_abis(&self) -> Result<Vec<GuestAbi>, String> {
        let Some(names) = &self.guests else {
            return Ok(GuestAbi::ALL.to_vec());
        };
        names
            .iter()
            .map(|n| {
                GuestAbi::ALL
                    .into_iter()
                    .find(|a| a.name() == n)
                    .ok_or_else(|| format!("encode case {}: guest {n:?} is unknown", self.name))
            })
            .collect()
    }

    /// The name it runs under for `abi`.
    pub fn full_name(&self, abi: GuestAbi) -> String {
        format!("encode-{}-{}", self.name, abi.name())
    }

    /// The host description.
    ///
    /// # Errors
    /// A message naming the case when the crash region wraps.
    pub fn host(&self) -> Result<HostDescription, String> {
        let crash = match &self.crash_region {
            None => None,
            Some([start, size]) => Some(
                MachineRange::new(start.u64()?, size.u64()?)
                    .ok_or_else(|| format!("encode case {}: crash region wraps", self.name))?,
            ),
        };
        Ok(HostDescription::x86(crash))
    }

    /// `type`, `arch`, `entry_maddr` and the segment array's address.
    ///
    /// # Errors
    /// A message naming the case and the field that does not fit its C type.
    pub fn header(&self) -> Result<(KexecType, ElfMachine, u64, u64), String> {
        let here = |field: &str, e: String| format!("encode case {}: {field}: {e}", self.name);
        let type_ = u8::try_from(self.type_.value().map_err(|e| here("type", e))?)
            .map_err(|e| here("type", e.to_string()))?;
        let arch = u16::try_from(self.arch.value().map_err(|e| here("arch", e))?)
            .map_err(|e| here("arch", e.to_string()))?;
        let entry = self.entry_maddr.u64().map_err(|e| here("entry_maddr", e))?;
        let addr = self
            .segments_addr
            .u64()
            .map_err(|e| here("segments_addr", e))?;
        Ok((KexecType(type_), ElfMachine(arch), entry, addr))
    }

    /// The segments.
    ///
    /// # Errors
    /// A message naming the case, the segment and the field that is missing, unknown
    /// or not a 64-bit number.
    pub fn segments(&self) -> Result<Vec<Segment>, String> {
        self.segments
            .iter()
            .enumerate()
            .map(|(i, fields)| {
                let here = |e: String| format!("encode case {} segment {i}: {e}", self.name);
                if let Some(unknown) = fields
                    .keys()
                    .find(|k| !["buf", "buf_size", "dest_maddr", "dest_size"].contains(&k.as_str()))
                {
                    return Err(here(format!("unknown field {unknown}")));
                }
                let get = |name: &str| {
                    fields
                        .get(name)
                        .ok_or_else(|| format!("no {name}"))
                        .and_then(Num::u64)
                        .map_err(here)
                };
                Ok(Segment {
                    buf: get("buf")?,
                    buf_size: get("buf_size")?,
                    dest_maddr: get("dest_maddr")?,
                    dest_size: get("dest_size")?,
                })
            })
            .collect()
    }

    /// The expected outcome.
    ///
    /// # Errors
    /// A message naming the case when the expectation is malformed.
    pub fn expected(&self) -> Result<EncodeOutcome, String> {
        match (&self.expect.ok, &self.expect.errno, &self.expect.error) {
            (true, None, None) => Ok(EncodeOutcome::RoundTrip),
            (false, Some(errno), Some(error)) => Ok(EncodeOutcome::Err {
                errno: errno.clone(),
                error: serde_json::to_value(error)
                    .map_err(|e| e.to_string())
                    .and_then(hex_to_numbers)
                    .map_err(|e| format!("encode case {}: {e}", self.name))?,
            }),
            _ => Err(format!(
                "encode case {}: expect needs either ok = true, or errno and error",
                self.name
            )),
        }
    }

    /// The request the Rust builder makes of this case, and its encoding for `abi` by
    /// the Rust encoder: the builder refuses a 17th segment, `validate` a broken rule,
    /// `encode` a handle too wide for the width.
    ///
    /// # Errors
    /// A message naming the case when it is malformed.
    pub fn encode(
        &self,
        abi: GuestAbi,
    ) -> Result<(LoadRequest, Result<EncodedLoad, EncodeError>), String> {
        let (type_, arch, entry, addr) = self.header()?;
        let host = self.host()?;
        let mut request = LoadRequest::new(type_, arch, entry);
        let encoded = self
            .segments()?
            .into_iter()
            .try_for_each(|s| request.push_segment(s).map(|_| ()))
            .and_then(|()| request.validate(&host))
            .map_err(EncodeError::from)
            .and_then(|load| load.encode(abi, addr));
        Ok((request, encoded))
    }

    /// Runs the case through the Rust builder and encoder for `abi`, and an encoded load
    /// back through the decoder (at [`LOAD_ADDR`] and the segment array's address).
    ///
    /// # Errors
    /// A message naming the case when it is malformed, or when the encoded bytes do not
    /// decode to the request.
    pub fn run(&self, abi: GuestAbi) -> Result<EncodeOutcome, String> {
        let (request, encoded) = self.encode(abi)?;
        if let Ok(enc) = &encoded {
            let decoded = decode_encoded(abi, enc, self.header()?.3, &self.host()?)
                .map_err(|e| format!("{}: {e}", self.full_name(abi)))?;
            match decoded {
                Ok(Operation::Load(load)) if load.request() == request => {}
                other => {
                    return Err(format!(
                        "{}: the encoded load decodes to {other:?}",
                        self.full_name(abi)
                    ))
                }
            }
        }
        Ok(encode_outcome_of(&encoded))
    }

    /// Runs the case for `abi` and compares with the expectation.
    ///
    /// # Errors
    /// A message naming the case, what was expected and what came.
    pub fn check(&self, abi: GuestAbi) -> Result<(), String> {
        let got = self.run(abi)?;
        let want = self.expected()?;
        if got == want {
            Ok(())
        } else {
            Err(format!(
                "{} ({}):\n  expected {want:?}\n  got      {got:?}",
                self.full_name(abi),
                self.about
            ))
        }
    }
}

/// Decodes an encoded load from a guest of width `abi` holding its load structure at
/// [`LOAD_ADDR`] and its segment array at `segments_addr`: the decoder's answer.
///
/// # Errors
/// A message when the two regions overlap (the case's `segments_addr` is too close to
/// [`LOAD_ADDR`]).
pub fn decode_encoded(
    abi: GuestAbi,
    encoded: &EncodedLoad,
    segments_addr: u64,
    host: &HostDescription,
) -> Result<Result<Operation, xen_kexec_abi::Error>, String> {
    let mut regions = [
        GuestRegion {
            base: LOAD_ADDR,
            bytes: encoded.load_bytes(),
        },
        GuestRegion {
            base: segments_addr,
            bytes: encoded.segment_bytes(),
        },
    ];
    let mut mem = SparseMemory::new(&mut regions[..])
        .map_err(|e| format!("the encoded load and segment array: {e}"))?;
    Ok(decode(abi, KexecCmd::LOAD, LOAD_ADDR, &mut mem, host))
}
