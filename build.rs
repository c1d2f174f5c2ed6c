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

/// The folder of the `uaparser` package Cargo resolved for this build: from `cargo metadata`
/// (offline: the build has downloaded it), or, when that fails (say, dev-dependencies not yet
/// downloaded), from the registry sources under `CARGO_HOME` for the version in Cargo.lock.
fn uaparser_dir() -> PathBuf {
    let manifest_dir = std::env::var("CARGO_MANIFEST_DIR").expect("set by cargo");
    match from_metadata(&manifest_dir) {
        Ok(dir) => dir,
        Err(metadata_error) => from_registry(&manifest_dir).unwrap_or_else(|| {
            panic!("build.rs: cannot find the uaparser package: {metadata_error}")
        }),
    }
}

fn from_metadata(manifest_dir: &str) -> Result<PathBuf, String> {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let mut command = Command::new(cargo);
    command.args(["metadata", "--format-version", "1", "--offline", "--locked"]);
    // Only this platform's packages: others may not have been downloaded.
    if let Ok(target) = std::env::var("TARGET") {
        command.args(["--filter-platform", &target]);
    }
    let output = command
        .current_dir(manifest_dir)
        .output()
        .map_err(|e| format!("cannot run `cargo metadata`: {e}"))?;
    if !output.status.success() {
        return Err(format!(
            "`cargo metadata` failed: {}",
            String::from_utf8_lossy(&output.stderr)
        ));
    }
    let json = String::from_utf8_lossy(&output.stdout);
    let manifest = manifest_path_of(&json, "uaparser")
        .ok_or("the uaparser package is not in `cargo metadata`'s output")?;
    PathBuf::from(manifest)
        .parent()
        .map(PathBuf::from)
        .ok_or_else(|| "a manifest path without a folder".to_string())
}

/// `$CARGO_HOME/registry/src/*/uaparser-VERSION`, VERSION from Cargo.lock.
fn from_registry(manifest_dir: &str) -> Option<PathBuf> {
    let lock = std::fs::read_to_string(PathBuf::from(manifest_dir).join("Cargo.lock")).ok()?;
    let entry = &lock[lock.find("name = \"uaparser\"\n")?..];
    let version = entry
        .lines()
        .nth(1)?
        .strip_prefix("version = \"")?
        .strip_suffix('"')?;
    let home = std::env::var_os("CARGO_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cargo")))?;
    std::fs::read_dir(home.join("registry/src"))
        .ok()?
        .flatten()
        .map(|index| index.path().join(format!("uaparser-{version}")))
        .find(|dir| dir.is_dir())
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
