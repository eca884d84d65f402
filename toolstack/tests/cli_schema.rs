// SPDX-License-Identifier: MIT
//! Every command's `--json` output against the JSON schema of `docs/cli.md`: each
//! command on the simulated hypervisor, each `decode` operation, and refusals, checked by
//! a small validator of the schema's keywords (see the note at the end of `docs/cli.md`).

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;
use xen_kexec_abi::host::{HostDescription, MachineRange};
use xen_kexec_abi::load::{LoadRequest, Segment};
use xen_kexec_abi::{encode, ElfMachine, GuestAbi, KexecRangeKind, KexecType};

/// The schema: the JSON block between the markers of `docs/cli.md`.
fn schema() -> Value {
    let doc = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs/cli.md"))
        .expect("docs/cli.md");
    let block = doc
        .split_once("<!-- schema begin -->")
        .and_then(|(_, rest)| rest.split_once("<!-- schema end -->"))
        .map(|(block, _)| block)
        .expect("schema markers in docs/cli.md");
    let json = block
        .trim()
        .strip_prefix("```json")
        .and_then(|b| b.strip_suffix("```"))
        .expect("a ```json block");
    serde_json::from_str(json).expect("the schema is JSON")
}

/// Validates `v` against `s` (a schema node of `root`); the error names the path.
fn check(root: &Value, s: &Value, v: &Value, at: &str) -> Result<(), String> {
    let s = s
        .as_object()
        .ok_or(format!("{at}: schema node is not an object"))?;
    for (key, arg) in s {
        match key.as_str() {
            "$ref" => {
                let name = arg
                    .as_str()
                    .and_then(|r| r.strip_prefix("#/$defs/"))
                    .ok_or(format!("{at}: only local $refs"))?;
                let target = root["$defs"]
                    .get(name)
                    .ok_or(format!("{at}: no $defs/{name}"))?;
                check(root, target, v, at)?;
            }
            "type" if !has_type(arg, v) => {
                return Err(format!("{at}: {v} is not of type {arg}"));
            }
            "const" if arg != v => return Err(format!("{at}: {v} is not {arg}")),
            "enum" => {
                if !arg.as_array().is_some_and(|a| a.contains(v)) {
                    return Err(format!("{at}: {v} is not one of {arg}"));
                }
            }
            "pattern" => {
                let re = regex::Regex::new(arg.as_str().unwrap_or("")).expect("pattern");
                if !v.as_str().is_some_and(|t| re.is_match(t)) {
                    return Err(format!("{at}: {v} does not match {arg}"));
                }
            }
            "properties" => {
                for (name, sub) in arg.as_object().into_iter().flatten() {
                    if let Some(field) = v.get(name) {
                        check(root, sub, field, &format!("{at}.{name}"))?;
                    }
                }
            }
            "required" => {
                for name in arg
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter_map(Value::as_str)
                {
                    if v.get(name).is_none() {
                        return Err(format!("{at}: {name} is missing"));
                    }
                }
            }
            "additionalProperties" => no_other_properties(s, arg, v, at)?,
            "items" => {
                for (i, item) in v.as_array().into_iter().flatten().enumerate() {
                    check(root, arg, item, &format!("{at}[{i}]"))?;
                }
            }
            "oneOf" | "anyOf" => {
                let passing = arg
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter(|sub| check(root, sub, v, at).is_ok())
                    .count();
                if passing == 0 || (key == "oneOf" && passing > 1) {
                    return Err(format!("{at}: {passing} of {key} match {v}"));
                }
            }
            // Annotations, and type or const that hold.
            "$schema" | "title" | "$defs" | "type" | "const" => {}
            other => return Err(format!("{at}: keyword {other} is not supported here")),
        }
    }
    Ok(())
}

/// Whether `v` has one of the JSON types `arg` names.
fn has_type(arg: &Value, v: &Value) -> bool {
    let types: Vec<&str> = match arg {
        Value::String(t) => vec![t.as_str()],
        Value::Array(ts) => ts.iter().filter_map(Value::as_str).collect(),
        _ => Vec::new(),
    };
    types.iter().any(|t| match *t {
        "object" => v.is_object(),
        "array" => v.is_array(),
        "string" => v.is_string(),
        "integer" => v.is_i64() || v.is_u64(),
        "boolean" => v.is_boolean(),
        "null" => v.is_null(),
        _ => false,
    })
}

/// `additionalProperties: false`: every field of `v` is in the node's `properties`.
fn no_other_properties(
    node: &serde_json::Map<String, Value>,
    arg: &Value,
    v: &Value,
    at: &str,
) -> Result<(), String> {
    assert_eq!(arg, &Value::Bool(false), "only additionalProperties: false");
    let known = &node["properties"];
    match v
        .as_object()
        .into_iter()
        .flatten()
        .map(|(k, _)| k)
        .find(|k| known.get(k.as_str()).is_none())
    {
        Some(extra) => Err(format!("{at}: {extra} is not in the schema")),
        None => Ok(()),
    }
}

/// Runs `xen-kexec --json ARGS`, asserting exit `code`; returns the one JSON line.
fn json(args: &[&str], code: i32) -> Value {
    let out = Command::new(env!("CARGO_BIN_EXE_xen-kexec"))
        .arg("--json")
        .args(args)
        .output()
        .expect("run xen-kexec");
    assert_eq!(
        out.status.code(),
        Some(code),
        "{args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).expect("utf-8");
    assert_eq!(text.lines().count(), 1, "one line: {text}");
    serde_json::from_str(&text).expect("JSON")
}

/// A 64-bit ELF executable of one `PT_LOAD`: 0x100 file bytes at physical `paddr`.
fn elf64(paddr: u64) -> Vec<u8> {
    let mut e = vec![0u8; 0x200];
    let mut put = |at: usize, bytes: &[u8]| e[at..at + bytes.len()].copy_from_slice(bytes);
    put(0, b"\x7fELF\x02\x01\x01");
    put(16, &2u16.to_le_bytes()); // ET_EXEC
    put(18, &62u16.to_le_bytes()); // EM_X86_64
    put(20, &1u32.to_le_bytes());
    put(24, &paddr.to_le_bytes()); // e_entry
    put(32, &64u64.to_le_bytes()); // e_phoff
    put(52, &64u16.to_le_bytes());
    put(54, &56u16.to_le_bytes());
    put(56, &1u16.to_le_bytes()); // e_phnum
    put(64, &1u32.to_le_bytes()); // PT_LOAD
    put(68, &5u32.to_le_bytes());
    put(72, &0x100u64.to_le_bytes()); // p_offset
    put(80, &paddr.to_le_bytes());
    put(88, &paddr.to_le_bytes());
    put(96, &0x100u64.to_le_bytes()); // p_filesz
    put(104, &0x100u64.to_le_bytes()); // p_memsz
    put(112, &0x1000u64.to_le_bytes());
    e
}

/// Writes `bytes` to `dir/name` and gives `ADDR=FILE` for `--mem`.
fn mem(dir: &Path, name: &str, addr: u64, bytes: &[u8]) -> String {
    let path: PathBuf = dir.join(name);
    std::fs::write(&path, bytes).expect("write");
    format!("{addr:#x}={}", path.display())
}

/// The outputs of every command, each decode operation, and refusals.
fn outputs(dir: &Path) -> Vec<Value> {
    let state = dir.join("host.json");
    let st = state.display().to_string();
    let backend = format!("sim:{st}");
    let elf = dir.join("k.elf");
    std::fs::write(&elf, elf64(0x2000_0000)).expect("ELF");
    let elf = elf.display().to_string();
    let on = |args: &[&str], code| json(&[&["--backend", backend.as_str()], args].concat(), code);
    let load = ["load", "--type", "crash", "--elf", &elf, "--map-low-1m"];
    let kernel = dir.join("vmlinuz");
    std::fs::write(
        &kernel,
        xen_kexec_toolstack::linux::synthetic::BzImageSpec::default().build(),
    )
    .expect("bzImage");
    let kernel = kernel.display().to_string();
    let mut out = vec![
        json(
            &["sim", "init", &st, "--crash-region", "0x20000000:0x4000000"],
            0,
        ),
        on(&["status", "--type", "crash"], 0),
        on(&["get-range", "--range", "crash"], 0),
        on(&[&load[..], &["--dry-run"]].concat(), 0),
        // A Linux crash kernel: its report carries the ELF core header's program headers.
        on(
            &["load", "--type", "crash", "--kernel", &kernel, "--dry-run"],
            0,
        ),
        on(&load, 0),
        on(&["unload", "--type", "crash"], 0),
        on(&load, 0),
        on(&["exec", "--type", "crash"], 0),
        on(&["memory-map"], 0),
        // A 32-bit layout for a 64-bit simulated kernel: the hypervisor reads 16 bytes
        // from an 8-byte buffer (EFAULT), a memory-map refusal.
        on(&["--guest", "x86_32", "memory-map"], 1),
        // Refused by the hypervisor (EBUSY) and locally (ENOENT of sim dump).
        on(&["unload", "--type", "crash"], 1),
        json(
            &[
                "sim", "dump", &st, "--type", "default", "--maddr", "0", "--len", "1",
            ],
            1,
        ),
    ];
    // decode: each kind of operation, and a refusal.
    let arg = 0x10_0000u64;
    let status = mem(
        dir,
        "status.bin",
        arg,
        encode::status(KexecType::CRASH).as_bytes(),
    );
    let range = encode::get_range(GuestAbi::X86_32, KexecRangeKind::MA_CPU, 1);
    let range = mem(dir, "range.bin", arg, range.as_bytes());
    let mut req = LoadRequest::new(
        KexecType::DEFAULT,
        ElfMachine::EM_X86_64,
        0xffff_ffff_ffff_f001,
    );
    req.push_segment(Segment {
        buf: 0x0800_0000,
        buf_size: 0x10,
        dest_maddr: 0x10_0000,
        dest_size: 0x1000,
    })
    .expect("fits");
    let enc = req
        .validate(&HostDescription::x86(MachineRange::new(
            0x2000_0000,
            0x100_0000,
        )))
        .expect("valid")
        .encode(GuestAbi::X86_64, 0x20_0000)
        .expect("encodes");
    let load_arg = mem(dir, "load.bin", arg, enc.load_bytes());
    let segs = mem(dir, "segs.bin", 0x20_0000, enc.segment_bytes());
    let decode = |guest: &str, cmd: &str, mems: &[&str], code| {
        let mut args = vec![
            "decode", "--guest", guest, "--cmd", cmd, "--arg", "0x100000",
        ];
        for m in mems {
            args.extend(["--mem", m]);
        }
        json(&args, code)
    };
    out.push(decode("x86_64", "6", &[&status], 0));
    out.push(decode("x86_32", "3", &[&range], 0));
    out.push(decode("x86_64", "4", &[&load_arg, &segs], 0));
    out.push(decode("x86_64", "9", &[&status], 1));
    out
}

#[test]
fn every_commands_json_output_follows_the_schema_of_docs_cli_md() {
    let schema = schema();
    let dir = tempfile::tempdir().expect("temp dir");
    let mut commands = BTreeSet::new();
    let mut refusals = 0;
    for v in outputs(dir.path()) {
        if let Err(e) = check(&schema, &schema, &v, "$") {
            panic!("{e}\n{v}");
        }
        assert_eq!(v["schema"], 1);
        if v.get("error").is_some() {
            refusals += 1;
        } else {
            commands.insert(v["command"].as_str().expect("command").to_owned());
        }
    }
    // Every command that prints JSON was checked (sim dump prints raw bytes), and
    // refusals of the hypervisor, of the toolstack and of decode.
    let want: BTreeSet<String> = [
        "status",
        "get-range",
        "load",
        "unload",
        "exec",
        "memory-map",
        "decode",
        "sim init",
    ]
    .map(str::to_owned)
    .into();
    assert_eq!(commands, want);
    assert_eq!(refusals, 4);
    assert!(
        outputs(dir.path())
            .iter()
            .any(|v| v["core_header"].as_array().is_some_and(|h| h.len() > 2)),
        "a crash kernel's load shows its core header"
    );
}

/// The validator rejects what the schema forbids, so a pass means something.
#[test]
fn the_schema_check_refuses_numbers_for_addresses_and_unknown_fields() {
    let schema = schema();
    let good = serde_json::json!({
        "schema": 1, "command": "get-range", "guest": "x86_64", "range": "KEXEC_RANGE_MA_CRASH",
        "range_value": 0, "nr": 0, "start": "0x20000000", "size": "0x4000000"
    });
    assert_eq!(check(&schema, &schema, &good, "$"), Ok(()));
    let mut plain = good.clone();
    plain["start"] = 536_870_912.into();
    assert!(check(&schema, &schema, &plain, "$").is_err());
    let mut extra = good.clone();
    extra["bogus"] = 1.into();
    assert!(check(&schema, &schema, &extra, "$").is_err());
    let mut unversioned = good;
    unversioned["schema"] = 2.into();
    assert!(check(&schema, &schema, &unversioned, "$").is_err());
}
