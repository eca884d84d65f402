// SPDX-License-Identifier: MIT
//! The case manifest, `fixtures/cases.toml`: each case names a command, a guest width,
//! the guest memory (regions of ABI structures at chosen addresses), the host (its crash
//! region) and the outcome the decoder must give.
//!
//! ```toml
//! [[case]]
//! name = "load-default-1-segment-x86_64"     # also the fixture directory: fixtures/cases/NAME/
//! about = "what the case proves"
//! guest = "x86_64"                            # or "x86_32"
//! cmd = "KEXEC_CMD_kexec_load"                # a C name or a number
//! arg = "0x10000"                             # numbers: TOML integers or "0x..." strings
//! crash_region = ["0x1000000", "0x1000000"]   # optional: start, size
//! rules = "xen"                               # optional: the host's rule profile (default "strict")
//! expect.ok = { load = { ... } }              # the decoded operation's JSON, or:
//! # expect.errno = "EINVAL"  with  expect.error = { too_many_segments = { ... } }
//!
//! [[case.region]]
//! addr = "0x10000"
//! struct = "xen_kexec_load"                   # a structure of the layout model
//! value = { type = "KEXEC_TYPE_DEFAULT", arch = "EM_X86_64", nr_segments = 1, segments = "0x20000" }
//! # or: array = [ { ... }, { ... } ]  (an array of the structure)
//! # truncate = 40                     (keep only the first 40 bytes: memory ends there)
//! ```
//!
//! A manifest may include others (`include = ["more.toml"]`, before the first case);
//! [`load`] appends their cases to its own. The encoder's cases (`[[encode]]`) are
//! described in [`crate::encode_case`].
//!
//! The bytes of every region are made by the C compiler (see [`crate::fixtures`]); the
//! expected outcomes are the manifest's, written by a person: they are the specification.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Deserialize;
use serde_json::Value;
use xen_kexec_abi::decode::{decode, Operation};
use xen_kexec_abi::guest_mem::{Copying, GuestRegion, SparseMemory};
use xen_kexec_abi::host::{HostDescription, MachineRange, RuleProfile};
use xen_kexec_abi::{layout, x86_32, x86_64, Error, GuestAbi, KexecCmd};
use zerocopy::FromBytes;

use crate::cvalue::{constant, FieldValue, StructValue};
use crate::encode_case::EncodeCase;
use crate::fixtures::Spec;

/// The whole manifest.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Manifest {
    /// Other manifest files whose cases follow this file's, as paths relative to this
    /// file's directory (`include = ["cases-multi-fault.toml"]`, before the first case).
    /// [`load`] reads them, so every consumer sees all cases.
    #[serde(default)]
    pub include: Vec<String>,
    /// The cases, in file order, then those of each included file in turn.
    #[serde(rename = "case", default)]
    pub cases: Vec<Case>,
    /// The encoder's cases, in the same order.
    #[serde(rename = "encode", default)]
    pub encodes: Vec<EncodeCase>,
}

/// A number as the manifest writes it: a TOML integer, a `"0x..."` string, or a
/// constant's C name.
#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(untagged)]
pub enum Num {
    /// A TOML integer.
    Int(i64),
    /// A hex string or a C name.
    Text(String),
}

impl Num {
    /// The value.
    ///
    /// # Errors
    /// A message naming the text that is neither a number nor a known constant.
    pub fn value(&self) -> Result<i128, String> {
        match self {
            Num::Int(n) => Ok(i128::from(*n)),
            Num::Text(t) => match t.strip_prefix("0x") {
                Some(hex) => i128::from_str_radix(&hex.replace('_', ""), 16)
                    .map_err(|e| format!("{t:?}: {e}")),
                None => constant(t)
                    .ok_or_else(|| format!("{t:?} is neither 0x-hex nor a known constant")),
            },
        }
    }

    /// The value as an unsigned 64-bit number.
    ///
    /// # Errors
    /// As [`value`](Self::value), or when it does not fit in 64 bits.
    pub fn u64(&self) -> Result<u64, String> {
        let v = self.value()?;
        u64::try_from(v).map_err(|_| format!("{v:#x} does not fit in 64 bits"))
    }

    fn field_value(&self) -> Result<FieldValue, String> {
        match self {
            Num::Text(t) if !t.starts_with("0x") => {
                constant(t).ok_or_else(|| format!("unknown constant {t}"))?;
                Ok(FieldValue::Named(t.clone()))
            }
            other => other.value().map(FieldValue::Num),
        }
    }
}

/// One region of guest memory.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Region {
    /// The guest address of its first byte.
    pub addr: Num,
    /// The C structure tag of what it holds (`xen_kexec_load`).
    #[serde(rename = "struct")]
    pub structure: String,
    /// One structure value (fields by C name; absent fields are zero).
    #[serde(default)]
    pub value: Option<BTreeMap<String, Num>>,
    /// An array of structure values.
    #[serde(default)]
    pub array: Option<Vec<BTreeMap<String, Num>>>,
    /// Keep only this many bytes.
    #[serde(default)]
    pub truncate: Option<usize>,
}

/// What a case must give.
#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Expect {
    /// The decoded operation, as its JSON (numbers may be `"0x..."` strings).
    #[serde(default)]
    pub ok: Option<toml::Value>,
    /// The errno's name without `XEN_` (`EINVAL`).
    #[serde(default)]
    pub errno: Option<String>,
    /// The error, as its JSON: the rule, and the segment where there is one.
    #[serde(default)]
    pub error: Option<toml::Value>,
}

/// One case.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Case {
    /// Its name, unique; also its fixture directory.
    pub name: String,
    /// What it proves.
    pub about: String,
    /// `x86_32` or `x86_64`.
    pub guest: String,
    /// The command.
    pub cmd: Num,
    /// The argument's guest address.
    pub arg: Num,
    /// The host's crash region: start and size.
    #[serde(default)]
    pub crash_region: Option<[Num; 2]>,
    /// The host's rule profile: `"strict"` (the default) or `"xen"`
    /// ([`RuleProfile::Xen`]).
    #[serde(default)]
    pub rules: Option<String>,
    /// For get_range: the hypervisor's answer, `[size, start]`, to write back; the
    /// expected `ok` is then `{ written = <the guest's structure read back> }`.
    #[serde(default)]
    pub answer: Option<[Num; 2]>,
    /// The guest memory.
    #[serde(default, rename = "region")]
    pub regions: Vec<Region>,
    /// The outcome.
    pub expect: Expect,
}

/// The manifest's path.
pub fn manifest_path() -> PathBuf {
    crate::fixtures::fixtures_dir().join("cases.toml")
}

/// Reads and checks the manifest at `path`, and the files it includes (and theirs).
///
/// # Errors
/// A message naming the file and what is wrong in it: unreadable or malformed, a case
/// name used twice (across all files), an include that cannot be read or that includes
/// itself.
pub fn load(path: &Path) -> Result<Manifest, String> {
    load_with(path, &|path| std::fs::read_to_string(path))
}

/// [`load`], with each file's text from `read` (the generator gives it the text it has
/// just rendered for a generated file, rather than reading that file back).
///
/// # Errors
/// As [`load`].
pub fn load_with(
    path: &Path,
    read: &dyn Fn(&Path) -> std::io::Result<String>,
) -> Result<Manifest, String> {
    let manifest = read_with_includes(path, read, &mut Vec::new())?;
    let mut names = std::collections::BTreeSet::new();
    for case in &manifest.cases {
        if !names.insert(case.name.clone()) {
            return Err(format!(
                "{}: case name {} is used twice",
                path.display(),
                case.name
            ));
        }
        case.guest_abi()?;
        case.expected()?;
    }
    for case in &manifest.encodes {
        for abi in case.guest_abis()? {
            if !names.insert(case.full_name(abi)) {
                return Err(format!(
                    "{}: case name {} is used twice",
                    path.display(),
                    case.full_name(abi)
                ));
            }
        }
        case.expected()?;
        case.segments()?;
        case.header()?;
    }
    Ok(manifest)
}

/// Reads the manifest at `path` and appends the cases of the files it includes;
/// `stack` holds the files being read, to refuse a cycle.
fn read_with_includes(
    path: &Path,
    read: &dyn Fn(&Path) -> std::io::Result<String>,
    stack: &mut Vec<PathBuf>,
) -> Result<Manifest, String> {
    if stack.iter().any(|p| p == path) {
        return Err(format!("{}: included by itself", path.display()));
    }
    let text = read(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let mut manifest: Manifest =
        toml::from_str(&text).map_err(|e| format!("{}: {e}", path.display()))?;
    stack.push(path.to_path_buf());
    let dir = path.parent().unwrap_or(Path::new("."));
    for name in &manifest.include {
        let included = read_with_includes(&dir.join(name), read, stack)
            .map_err(|e| format!("{e} (included by {})", path.display()))?;
        manifest.cases.extend(included.cases);
        manifest.encodes.extend(included.encodes);
    }
    stack.pop();
    Ok(manifest)
}

/// The decoder's outcome in comparable form: the operation's JSON, or (errno name,
/// error JSON).
#[derive(Clone, Debug, PartialEq)]
pub enum Outcome {
    /// Decoded.
    Ok(Value),
    /// Refused.
    Err {
        /// The errno's name without `XEN_`.
        errno: String,
        /// The error's JSON.
        error: Value,
    },
}

/// Replaces every `"0x..."` string in a JSON tree by its number, so that expectations
/// can write addresses in hex.
///
/// # Errors
/// A message naming a `"0x..."` string that is not a 64-bit number.
pub fn hex_to_numbers(value: Value) -> Result<Value, String> {
    Ok(match value {
        Value::String(s) if s.starts_with("0x") => Value::from(Num::Text(s).u64()?),
        Value::Array(items) => Value::Array(
            items
                .into_iter()
                .map(hex_to_numbers)
                .collect::<Result<_, _>>()?,
        ),
        Value::Object(map) => Value::Object(
            map.into_iter()
                .map(|(k, v)| hex_to_numbers(v).map(|v| (k, v)))
                .collect::<Result<_, _>>()?,
        ),
        other => other,
    })
}

/// The outcome of `result` in comparable form.
pub fn outcome_of(result: &Result<Operation, Error>) -> Outcome {
    match result {
        Ok(op) => Outcome::Ok(serde_json::to_value(op).unwrap_or(Value::Null)),
        Err(e) => Outcome::Err {
            errno: errno_name(e),
            error: serde_json::to_value(e).unwrap_or(Value::Null),
        },
    }
}

/// The errno's name without `XEN_` (`EINVAL`).
pub fn errno_name(e: &Error) -> String {
    e.errno().to_string().trim_start_matches("XEN_").to_string()
}

impl Case {
    /// The guest width.
    ///
    /// # Errors
    /// A message naming the case and the unknown width.
    pub fn guest_abi(&self) -> Result<GuestAbi, String> {
        GuestAbi::ALL
            .into_iter()
            .find(|a| a.name() == self.guest)
            .ok_or_else(|| {
                format!(
                    "case {}: guest {:?} is not x86_32 or x86_64",
                    self.name, self.guest
                )
            })
    }

    /// The command number.
    ///
    /// # Errors
    /// A message naming the case.
    pub fn cmd_value(&self) -> Result<u32, String> {
        let v = self
            .cmd
            .value()
            .map_err(|e| format!("case {}: cmd {e}", self.name))?;
        u32::try_from(v).map_err(|_| format!("case {}: cmd {v} is not an unsigned int", self.name))
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
                    .ok_or_else(|| format!("case {}: crash region wraps", self.name))?,
            ),
        };
        let profile = match self.rules.as_deref() {
            None | Some("strict") => RuleProfile::Strict,
            Some("xen") => RuleProfile::Xen,
            Some(other) => return Err(format!("case {}: unknown rules {other:?}", self.name)),
        };
        Ok(HostDescription::x86(crash).with_profile(profile))
    }

    /// The expected outcome.
    ///
    /// # Errors
    /// A message naming the case when the expectation is malformed.
    pub fn expected(&self) -> Result<Outcome, String> {
        let json = |v: &toml::Value| {
            serde_json::to_value(v)
                .map_err(|e| e.to_string())
                .and_then(hex_to_numbers)
                .map_err(|e| format!("case {}: {e}", self.name))
        };
        match (&self.expect.ok, &self.expect.errno, &self.expect.error) {
            (Some(ok), None, None) => Ok(Outcome::Ok(json(ok)?)),
            (None, Some(errno), Some(error)) => Ok(Outcome::Err {
                errno: errno.clone(),
                error: json(error)?,
            }),
            _ => Err(format!(
                "case {}: expect needs either ok, or errno and error",
                self.name
            )),
        }
    }

    /// The fixture path of region `index`.
    ///
    /// # Errors
    /// A message when the region's address is not a number.
    pub fn region_path(&self, index: usize) -> Result<PathBuf, String> {
        let region = &self.regions[index];
        Ok(PathBuf::from(format!(
            "cases/{}/{:#x}.bin",
            self.name,
            region.addr.u64()?
        )))
    }

    /// The fixture specs of this case's regions.
    ///
    /// # Errors
    /// A message naming the case, region and field that is wrong.
    pub fn specs(&self) -> Result<Vec<Spec>, String> {
        let abi = self.guest_abi()?;
        let mut specs = Vec::new();
        for (i, region) in self.regions.iter().enumerate() {
            let here = |e: String| format!("case {} region {i}: {e}", self.name);
            let def = layout::ALL
                .iter()
                .find(|d| d.c_name == region.structure)
                .ok_or_else(|| here(format!("unknown struct {}", region.structure)))?;
            let to_value = |fields: &BTreeMap<String, Num>| -> Result<StructValue, String> {
                let fields = fields
                    .iter()
                    .map(|(k, v)| v.field_value().map(|v| (k.clone(), v)))
                    .collect::<Result<_, _>>()?;
                Ok(StructValue { def, fields })
            };
            let (values, array) = match (&region.value, &region.array) {
                (Some(v), None) => (vec![to_value(v).map_err(here)?], false),
                (None, Some(items)) => (
                    items
                        .iter()
                        .map(to_value)
                        .collect::<Result<Vec<_>, _>>()
                        .map_err(here)?,
                    true,
                ),
                _ => return Err(here("needs exactly one of value or array".into())),
            };
            specs.push(Spec {
                path: self.region_path(i).map_err(here)?,
                abi,
                values,
                array,
                truncate: region.truncate,
            });
        }
        Ok(specs)
    }

    /// Runs the case through the decoder over the images in `images` (fixture path →
    /// bytes) and returns what it gave.
    ///
    /// # Errors
    /// A message naming the case when its memory cannot be set up.
    pub fn run(&self, images: &BTreeMap<PathBuf, Vec<u8>>) -> Result<Outcome, String> {
        let abi = self.guest_abi()?;
        let mut copies = Vec::new();
        for i in 0..self.regions.len() {
            let path = self.region_path(i)?;
            let bytes = images
                .get(&path)
                .ok_or_else(|| format!("case {}: no image {}", self.name, path.display()))?;
            copies.push((self.regions[i].addr.u64()?, bytes.clone()));
        }
        let mut regions = as_regions(&mut copies);
        let mut mem =
            SparseMemory::new(&mut regions).map_err(|e| format!("case {}: {e}", self.name))?;
        let (cmd, arg, host) = (KexecCmd(self.cmd_value()?), self.arg.u64()?, self.host()?);
        let result = decode(abi, cmd, arg, &mut mem, &host);
        // The decoder's other path, over memory it can only copy from: the same answer.
        let through_copying = decode(abi, cmd, arg, &mut Copying(&mut mem), &host);
        if through_copying != result {
            return Err(format!(
                "case {}: decoded {result:?} from SparseMemory but {through_copying:?} through Copying",
                self.name
            ));
        }
        let Some([size, start]) = &self.answer else {
            return Ok(outcome_of(&result));
        };
        let query = match result {
            Ok(Operation::GetRange(query)) => query,
            other => return Ok(outcome_of(&other)),
        };
        let before: Vec<Vec<u8>> = copies.iter().map(|(_, b)| b.clone()).collect();
        let mut regions = as_regions(&mut copies);
        let mut mem =
            SparseMemory::new(&mut regions).map_err(|e| format!("case {}: {e}", self.name))?;
        if let Err(e) = query.complete(&mut mem, size.u64()?, start.u64()?) {
            let after: Vec<Vec<u8>> = copies.iter().map(|(_, b)| b.clone()).collect();
            if after != before {
                return Err(format!(
                    "case {}: a refused answer changed guest memory",
                    self.name
                ));
            }
            return Ok(outcome_of(&Err(e)));
        }
        let written = copies
            .iter()
            .find(|(base, _)| *base == query.arg)
            .map(|(_, bytes)| bytes.as_slice())
            .ok_or_else(|| format!("case {}: no region at the argument", self.name))?;
        let bad = || {
            format!(
                "case {}: the argument region is not one range structure",
                self.name
            )
        };
        let json = match abi {
            GuestAbi::X86_32 => x86_32::KexecRange::read_from_bytes(written)
                .map_err(|_| bad())
                .map(serde_json::to_value),
            GuestAbi::X86_64 => x86_64::KexecRange::read_from_bytes(written)
                .map_err(|_| bad())
                .map(serde_json::to_value),
        }?
        .map_err(|e| e.to_string())?;
        let mut map = serde_json::Map::new();
        map.insert("written".into(), json);
        Ok(Outcome::Ok(Value::Object(map)))
    }

    /// Runs the case and compares with the expectation.
    ///
    /// # Errors
    /// A message naming the case, what was expected and what came.
    pub fn check(&self, images: &BTreeMap<PathBuf, Vec<u8>>) -> Result<(), String> {
        let got = self.run(images)?;
        let want = self.expected()?;
        if got == want {
            Ok(())
        } else {
            Err(format!(
                "case {} ({}):\n  expected {}\n  got      {}",
                self.name,
                self.about,
                describe(&want),
                describe(&got)
            ))
        }
    }
}

/// Guest regions over owned `(base, bytes)` copies.
fn as_regions(copies: &mut [(u64, Vec<u8>)]) -> Vec<GuestRegion<&mut [u8]>> {
    copies
        .iter_mut()
        .map(|(base, bytes)| GuestRegion {
            base: *base,
            bytes: bytes.as_mut_slice(),
        })
        .collect()
}

/// An outcome in one line.
pub fn describe(outcome: &Outcome) -> String {
    match outcome {
        Outcome::Ok(v) => format!("ok {v}"),
        Outcome::Err { errno, error } => format!("{errno} {error}"),
    }
}

/// Reads the committed images of every case region.
///
/// # Errors
/// A message naming the missing file.
pub fn committed_images(manifest: &Manifest) -> Result<BTreeMap<PathBuf, Vec<u8>>, String> {
    let dir = crate::fixtures::fixtures_dir();
    let mut images = BTreeMap::new();
    for case in &manifest.cases {
        for i in 0..case.regions.len() {
            let path = case.region_path(i)?;
            let bytes =
                std::fs::read(dir.join(&path)).map_err(|e| format!("{}: {e}", path.display()))?;
            images.insert(path, bytes);
        }
    }
    Ok(images)
}
