//! Finds data files that dependencies ship in their packages and hands their paths to the crate,
//! so the filters embed maintained data without a copy in this repository:
//! - `SLUICE_UAP_REGEXES`: uap-core's `regexes.yaml` from `uaparser` (`src/core/regexes.yaml`),
//!   for the `useragent` filter;
//! - `SLUICE_GROK_ECS_V1_PATTERNS`: the folder of logstash-patterns-core's ecs-v1 pattern files
//!   as Elasticsearch's grok ships them, from `grok-rs` (`src/patterns`), for the `grok` filter.
//!
//! Paths come from `cargo metadata`: a package's `manifest_path` is where Cargo unpacked it,
//! whatever the registry or vendoring setup.

use std::path::{Path, PathBuf};
use std::process::Command;

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    println!("cargo:rerun-if-changed=Cargo.lock");
    let regexes = package_dir("uaparser").join("src/core/regexes.yaml");
    export("SLUICE_UAP_REGEXES", &regexes, regexes.is_file());
    let ecs_v1 = package_dir("grok-rs").join("src/patterns");
    export(
        "SLUICE_GROK_ECS_V1_PATTERNS",
        &ecs_v1,
        ecs_v1.join("grok-patterns").is_file(),
    );
}

/// Hands `path` to the crate as environment variable `name`, or stops the build when the
/// dependency no longer ships it (`found` false).
fn export(name: &str, path: &Path, found: bool) {
    if !found {
        panic!(
            "build.rs: {} not found; the package no longer ships it",
            path.display()
        );
    }
    println!("cargo:rerun-if-changed={}", path.display());
    println!("cargo:rustc-env={name}={}", path.display());
}

/// The folder of package `name` as Cargo resolved it for this build: from `cargo metadata`
/// (offline: the build has downloaded it), or, when that fails (say, dev-dependencies not yet
/// downloaded), from the registry sources under `CARGO_HOME` for the version in Cargo.lock.
fn package_dir(name: &str) -> PathBuf {
    let manifest_dir = std::env::var("CARGO_MANIFEST_DIR").expect("set by cargo");
    match from_metadata(&manifest_dir, name) {
        Ok(dir) => dir,
        Err(metadata_error) => from_registry(&manifest_dir, name).unwrap_or_else(|| {
            panic!("build.rs: cannot find the {name} package: {metadata_error}")
        }),
    }
}

fn from_metadata(manifest_dir: &str, name: &str) -> Result<PathBuf, String> {
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
    let manifest = manifest_path_of(&json, name)
        .ok_or_else(|| format!("the {name} package is not in `cargo metadata`'s output"))?;
    PathBuf::from(manifest)
        .parent()
        .map(PathBuf::from)
        .ok_or_else(|| "a manifest path without a folder".to_string())
}

/// `$CARGO_HOME/registry/src/*/NAME-VERSION`, VERSION from Cargo.lock.
fn from_registry(manifest_dir: &str, name: &str) -> Option<PathBuf> {
    let lock = std::fs::read_to_string(PathBuf::from(manifest_dir).join("Cargo.lock")).ok()?;
    let entry = &lock[lock.find(&format!("name = \"{name}\"\n"))?..];
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
        .map(|index| index.path().join(format!("{name}-{version}")))
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
