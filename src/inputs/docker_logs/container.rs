//! What a container's `config.v2.json` says about it: [`ContainerInfo`], the fields every event
//! of the container gets, built once per read of the file, and [`Signature`], which tells when
//! the file changed and must be read again.
//!
//! The fields: `[container][id]`, `[container][name]` (Docker's `Name` without its leading
//! `/`, or the value of `name_from_env_var`), `[container][image]` (`Config.Image`), and, as
//! top-level fields named after them, the environment variables listed in `fields_from_env`
//! (`Config.Env`, `K=V` strings) and the labels listed in `fields_from_labels`
//! (`Config.Labels`). A wanted variable or label the container lacks is simply absent.

use std::collections::HashMap;
use std::fs;
use std::os::unix::fs::MetadataExt;
use std::path::Path;
use std::time::SystemTime;

use crate::event::{Map, Text, Value};

/// The name of Docker's per-container configuration file.
pub const CONFIG_FILE: &str = "config.v2.json";

const ID: Text = Text::from_static("id");
const NAME: Text = Text::from_static("name");
const IMAGE: Text = Text::from_static("image");

/// Why a container's configuration could not be read (it may not be written yet).
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read {CONFIG_FILE}: {0}")]
    Io(#[from] std::io::Error),
    #[error("{CONFIG_FILE} is not valid JSON (half written?): {0}")]
    Json(#[from] serde_json::Error),
}

/// Which container settings become event fields (the input's options).
#[derive(Clone, Debug, Default)]
pub struct FieldSpec {
    /// `fields_from_env`.
    pub env: Vec<Text>,
    /// `fields_from_labels`.
    pub labels: Vec<Text>,
    /// `name_from_env_var`: a variable whose value replaces the container name, when set.
    pub name_from_env: Option<String>,
}

impl FieldSpec {
    /// Whether any top-level field is wanted (`attrs` are worth reading only then).
    pub fn wants_fields(&self) -> bool {
        !self.env.is_empty() || !self.labels.is_empty()
    }
}

/// The fields of one container's events.
#[derive(Debug, Clone, PartialEq)]
pub struct ContainerInfo {
    /// `{id, name, image}`, cloned into each event's `container`.
    pub container: Value,
    /// Top-level fields from the environment and labels, in option order.
    pub extra: Vec<(Text, Value)>,
    /// Wanted names the configuration lacks (looked up in a line's `attrs` instead).
    pub missing: Vec<Text>,
    /// The names in `extra` are distinct and none is a field the input sets otherwise
    /// (`stream`, `container`, `host`) or a plain event has: fresh events take them without
    /// lookups.
    pub distinct: bool,
}

/// Fields a plain event has or this input sets besides the environment and labels.
const RESERVED: &[&str] = &[
    "@timestamp",
    "@version",
    "message",
    "tags",
    "stream",
    "container",
    "host",
];

impl ContainerInfo {
    /// What is known of a container whose configuration cannot be read: its id (the name of
    /// its folder).
    pub fn id_only(id: &str) -> ContainerInfo {
        let mut map = Map::with_capacity(1);
        map.push_new(ID, Value::Str(Text::new(id)));
        ContainerInfo {
            container: Value::Map(map),
            extra: Vec::new(),
            missing: Vec::new(),
            distinct: true,
        }
    }
}

/// When `config.v2.json` last changed: inode, size and modification time (Docker replaces it
/// by renaming a new file over it, which changes the inode).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Signature {
    inode: u64,
    len: u64,
    modified: Option<SystemTime>,
}

impl Signature {
    /// The signature of `dir`'s configuration file now.
    pub fn of(dir: &Path) -> std::io::Result<Signature> {
        let meta = fs::metadata(dir.join(CONFIG_FILE))?;
        Ok(Signature {
            inode: meta.ino(),
            len: meta.len(),
            modified: meta.modified().ok(),
        })
    }
}

#[derive(serde::Deserialize)]
struct RawConfig {
    #[serde(rename = "ID", default)]
    id: Option<String>,
    #[serde(rename = "Name", default)]
    name: Option<String>,
    #[serde(rename = "Config", default)]
    config: Option<RawInner>,
}

#[derive(serde::Deserialize, Default)]
struct RawInner {
    #[serde(rename = "Image", default)]
    image: Option<String>,
    #[serde(rename = "Env", default)]
    env: Option<Vec<String>>,
    #[serde(rename = "Labels", default)]
    labels: Option<HashMap<String, String>>,
}

/// Reads `dir`'s configuration. `dir_id` (the folder's name) stands in for a missing `ID`.
pub fn load(
    dir: &Path,
    dir_id: &str,
    spec: &FieldSpec,
) -> Result<(ContainerInfo, Signature), ConfigError> {
    // The signature is taken first: a change made while reading is then seen next time.
    let signature = Signature::of(dir)?;
    let text = fs::read(dir.join(CONFIG_FILE))?;
    let raw: RawConfig = serde_json::from_slice(&text)?;
    Ok((info_of(raw, dir_id, spec), signature))
}

fn info_of(raw: RawConfig, dir_id: &str, spec: &FieldSpec) -> ContainerInfo {
    let inner = raw.config.unwrap_or_default();
    let env = inner.env.unwrap_or_default();
    let env_value = |name: &str| {
        env.iter().find_map(|kv| {
            kv.strip_prefix(name)
                .and_then(|rest| rest.strip_prefix('='))
        })
    };
    let name = spec
        .name_from_env
        .as_deref()
        .and_then(env_value)
        .or_else(|| {
            raw.name
                .as_deref()
                .map(|n| n.strip_prefix('/').unwrap_or(n))
        });
    let mut container = Map::with_capacity(3);
    let id = raw
        .id
        .as_deref()
        .filter(|id| !id.is_empty())
        .unwrap_or(dir_id);
    container.push_new(ID, Value::Str(Text::new(id)));
    if let Some(name) = name {
        container.push_new(NAME, Value::Str(Text::new(name)));
    }
    if let Some(image) = &inner.image {
        container.push_new(IMAGE, Value::Str(Text::new(image)));
    }
    let mut extra = Vec::new();
    let mut missing = Vec::new();
    for wanted in &spec.env {
        match env_value(wanted) {
            Some(v) => extra.push((wanted.clone(), Value::Str(Text::new(v)))),
            None => missing.push(wanted.clone()),
        }
    }
    let labels = inner.labels.unwrap_or_default();
    for wanted in &spec.labels {
        match labels.get(wanted.as_str()) {
            Some(v) => extra.push((wanted.clone(), Value::Str(Text::new(v)))),
            None => missing.push(wanted.clone()),
        }
    }
    let distinct = extra.iter().enumerate().all(|(i, (name, _))| {
        !RESERVED.contains(&name.as_str()) && !extra[..i].iter().any(|(n, _)| n == name)
    });
    ContainerInfo {
        container: Value::Map(container),
        extra,
        missing,
        distinct,
    }
}

/// The string values of `names` in a line's `attrs` JSON object (Docker's `--log-opt env=...`
/// / `labels=...` put them there).
pub fn attrs_values(attrs: &[u8], names: &[Text]) -> Vec<(Text, Value)> {
    let Ok(map) = serde_json::from_slice::<HashMap<String, serde_json::Value>>(attrs) else {
        return Vec::new();
    };
    names
        .iter()
        .filter_map(|name| match map.get(name.as_str()) {
            Some(serde_json::Value::String(s)) => Some((name.clone(), Value::Str(Text::new(s)))),
            _ => None,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec() -> FieldSpec {
        FieldSpec {
            env: vec![Text::new("MESOS_TASK_ID"), Text::new("ABSENT")],
            labels: vec![Text::new("com.example.team")],
            name_from_env: None,
        }
    }

    const CONFIG: &str = r#"{"ID":"abc123","Name":"/web-1","Config":{"Image":"nginx:1.25",
        "Env":["PATH=/bin","MESOS_TASK_ID=web.42=x","MESOS_TASK_ID_2=no"],
        "Labels":{"com.example.team":"core","other":"x"}},"Image":"sha256:ffff"}"#;

    #[test]
    fn fields_from_config() {
        let dir = tempfile::tempdir().unwrap();
        fs::write(dir.path().join(CONFIG_FILE), CONFIG).unwrap();
        let (info, _) = load(dir.path(), "dirname", &spec()).unwrap();
        let c = info.container.as_map().unwrap();
        assert_eq!(c.get("id").and_then(Value::as_str), Some("abc123"));
        assert_eq!(c.get("name").and_then(Value::as_str), Some("web-1"));
        assert_eq!(c.get("image").and_then(Value::as_str), Some("nginx:1.25"));
        let extra: Vec<_> = info
            .extra
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str().unwrap()))
            .collect();
        assert_eq!(
            extra,
            [("MESOS_TASK_ID", "web.42=x"), ("com.example.team", "core")]
        );
        assert_eq!(info.missing, [Text::new("ABSENT")]);
        assert!(info.distinct);
    }

    #[test]
    fn names_that_clash_turn_off_the_lookup_free_path() {
        let raw = || serde_json::from_str::<RawConfig>(CONFIG).unwrap();
        let clash = |env: &[&str], labels: &[&str]| FieldSpec {
            env: env.iter().map(|n| Text::new(n)).collect(),
            labels: labels.iter().map(|n| Text::new(n)).collect(),
            name_from_env: None,
        };
        assert!(info_of(raw(), "d", &clash(&["PATH"], &["other"])).distinct);
        assert!(!info_of(raw(), "d", &clash(&["PATH", "PATH"], &[])).distinct);
        let labelled_host: RawConfig =
            serde_json::from_str(r#"{"Config":{"Labels":{"host":"h"}}}"#).unwrap();
        assert!(!info_of(labelled_host, "d", &clash(&[], &["host"])).distinct);
    }

    #[test]
    fn name_from_env_and_sparse_configs() {
        let spec = FieldSpec {
            name_from_env: Some("MESOS_TASK_ID".into()),
            ..FieldSpec::default()
        };
        let raw: RawConfig = serde_json::from_str(CONFIG).unwrap();
        let info = info_of(raw, "d", &spec);
        let name = info.container.as_map().unwrap().get("name").cloned();
        assert_eq!(name, Some(Value::Str(Text::new("web.42=x"))));
        let raw: RawConfig =
            serde_json::from_str(r#"{"Config":{"Env":null,"Labels":null}}"#).unwrap();
        let info = info_of(raw, "dirname", &spec);
        assert_eq!(info, {
            let mut i = ContainerInfo::id_only("dirname");
            i.missing.clear();
            i
        });
    }

    #[test]
    fn missing_and_half_written_files_are_errors() {
        let dir = tempfile::tempdir().unwrap();
        assert!(matches!(
            load(dir.path(), "d", &spec()),
            Err(ConfigError::Io(_))
        ));
        fs::write(dir.path().join(CONFIG_FILE), &CONFIG[..40]).unwrap();
        assert!(matches!(
            load(dir.path(), "d", &spec()),
            Err(ConfigError::Json(_))
        ));
    }

    #[test]
    fn attrs_lookup() {
        let got = attrs_values(
            br#"{"MESOS_TASK_ID":"t1","n":5}"#,
            &[Text::new("MESOS_TASK_ID"), Text::new("n"), Text::new("z")],
        );
        assert_eq!(
            got,
            [(Text::new("MESOS_TASK_ID"), Value::Str(Text::new("t1")))]
        );
    }
}
