//! Finds the uap-core `regexes.yaml` that the `uaparser` dependency ships in its package
//! (`src/core/regexes.yaml`) and hands its path to the crate as `SLUICE_UAP_REGEXES`, so the
//! `useragent` filter embeds the maintained regexes without a copy in this repository.
//!
//! The path comes from `cargo metadata`: the package's `manifest_path` is where Cargo unpacked
//! it, whatever the registry or vendoring setup.

use std::path::PathBuf;
use std::process::Command;

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    println!("cargo:rerun-if-changed=Cargo.lock");
    let regexes = uaparser_dir().join("src/core/regexes.yaml");
    if !regexes.is_file() {
        panic!(
            "build.rs: {} not found; the uaparser package no longer ships uap-core's regexes.yaml",
            regexes.display()
        );
    }
    println!("cargo:rerun-if-changed={}", regexes.display());
    println!("cargo:rustc-env=SLUICE_UAP_REGEXES={}", regexes.display());
}

/// The folder of the `uaparser` package Cargo resolved for this build.
fn uaparser_dir() -> PathBuf {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let manifest_dir = std::env::var("CARGO_MANIFEST_DIR").expect("set by cargo");
    let mut command = Command::new(cargo);
    command.args(["metadata", "--format-version", "1", "--offline", "--locked"]);
    // Only this platform's packages: others may not have been downloaded.
    if let Ok(target) = std::env::var("TARGET") {
        command.args(["--filter-platform", &target]);
    }
    let output = command
        .current_dir(&manifest_dir)
        .output()
        .expect("build.rs: cannot run `cargo metadata`");
    if !output.status.success() {
        panic!(
            "build.rs: `cargo metadata` failed:\n{}",
            String::from_utf8_lossy(&output.stderr)
        );
    }
    let json = String::from_utf8(output.stdout).expect("cargo metadata prints UTF-8");
    let manifest = manifest_path_of(&json, "uaparser")
        .expect("build.rs: the uaparser package is not in `cargo metadata`'s output");
    PathBuf::from(manifest)
        .parent()
        .expect("a manifest path has a folder")
        .to_path_buf()
}

/// The `manifest_path` of package `name` in `cargo metadata`'s JSON: the first
/// `"manifest_path"` after the package's `"name"` (dependency and target entries in between
/// carry no such key). Paths here hold no characters JSON escapes but `\\`.
fn manifest_path_of(json: &str, name: &str) -> Option<String> {
    let start = json.find(&format!("{{\"name\":\"{name}\",\"version\""))?;
    let key = "\"manifest_path\":\"";
    let from = start + json[start..].find(key)? + key.len();
    let end = from + json[from..].find('"')?;
    Some(json[from..end].replace("\\\\", "\\"))
}
