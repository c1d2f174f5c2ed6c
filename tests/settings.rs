//! The settings file as the library exposes it: loading from disk, path resolution, every key
//! in both TOML spellings, and errors.

use std::num::NonZeroUsize;
use std::path::Path;
use std::time::Duration;

use sluice::settings::{known_keys, ConfigSource, LogLevel, Settings, SettingsError};

#[test]
fn relative_config_paths_are_relative_to_the_settings_file() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("sluice.toml");
    std::fs::write(&file, "path.config = [\"conf.d\", \"/abs/x.conf\"]\n").unwrap();
    let settings = Settings::load(&file).unwrap();
    assert_eq!(
        settings.config_source().unwrap(),
        ConfigSource::Paths(vec![dir.path().join("conf.d"), "/abs/x.conf".into()])
    );
}

#[test]
fn a_single_config_path_is_accepted() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("sluice.toml");
    std::fs::write(&file, "[path]\nconfig = \"main.conf\"\n").unwrap();
    let settings = Settings::load(&file).unwrap();
    assert_eq!(
        settings.config_source().unwrap(),
        ConfigSource::Paths(vec![dir.path().join("main.conf")])
    );
}

#[test]
fn every_key_reads_in_dotted_and_table_form() {
    let dotted = "pipeline.workers = 6\npipeline.batch.size = 300\npipeline.batch.delay = 20\n\
                  config.string = \"input {}\"\nconfig.test_and_exit = true\n\
                  config.support_escapes = true\nlog.level = \"trace\"\n";
    let tables = "[pipeline]\nworkers = 6\n[pipeline.batch]\nsize = 300\ndelay = 20\n\
                  [config]\nstring = \"input {}\"\ntest_and_exit = true\nsupport_escapes = true\n\
                  [log]\nlevel = \"trace\"\n";
    let a = Settings::from_toml("a.toml", dotted).unwrap();
    let b = Settings::from_toml("b.toml", tables).unwrap();
    assert_eq!(a, b);
    let p = a.pipeline_settings();
    assert_eq!(
        (p.workers, p.batch_size, p.batch_delay),
        (6, 300, Duration::from_millis(20))
    );
    assert_eq!(
        a.config_source().unwrap(),
        ConfigSource::Text("input {}".into())
    );
    assert!(a.test_and_exit());
    assert!(a.parse_options().support_escapes);
    assert_eq!(a.log_level(), LogLevel::Trace);
}

#[test]
fn known_keys_cover_what_the_file_accepts() {
    // Each key, set to a value of its type, must load; and the list must not be empty.
    let sample = |key: &str| match key {
        "config.string" => "\"x\"",
        "path.config" | "path.data" | "path.dead_letter_queue" => "\"x\"",
        "dead_letter_queue.enable" => "true",
        "log.level" => "\"info\"",
        "pipeline.ecs_compatibility" => "\"v1\"",
        "config.test_and_exit" | "config.support_escapes" => "true",
        "config.reload.automatic" | "metrics.statsd.tags" => "true",
        "pipeline.ordered" => "\"auto\"",
        "metrics.statsd.host" | "metrics.statsd.prefix" | "http.host" => "\"x\"",
        "filters.repo" | "filters.ref" | "filters.path" | "filters.canary_ref" => "\"x\"",
        key if key.ends_with("interval") || key.ends_with("duration") => "\"2s\"",
        "shutdown.timeout" => "\"20s\"",
        "filters.canary_percent" | "filters.canary_budget" => "1.5",
        _ => "1",
    };
    let keys = known_keys();
    assert!(keys.len() >= 8, "{keys:?}");
    for key in keys {
        let text = format!("{key} = {}\n", sample(&key));
        assert!(Settings::from_toml("k.toml", &text).is_ok(), "{text}");
    }
}

#[test]
fn an_unreadable_file_names_the_path() {
    let err = Settings::load(Path::new("/nonexistent/sluice.toml")).unwrap_err();
    assert!(matches!(err, SettingsError::Read { .. }));
    assert!(
        err.to_string().contains("/nonexistent/sluice.toml"),
        "{err}"
    );
}

#[test]
fn an_unknown_key_in_a_table_names_table_and_line() {
    let err = Settings::from_toml("s.toml", "[log]\nlevl = \"info\"\n").unwrap_err();
    let text = err.to_string();
    assert!(
        text.starts_with("s.toml:2:1: unknown setting \"log.levl\"\n"),
        "{text}"
    );
    assert!(text.contains("did you mean \"log.level\"?"), "{text}");
}

#[test]
fn an_unknown_table_header_is_reported() {
    let err = Settings::from_toml("s.toml", "[pipelin]\nworkers = 2\n").unwrap_err();
    let text = err.to_string();
    assert!(
        text.starts_with("s.toml:1:2: unknown setting \"pipelin\""),
        "{text}"
    );
}

#[test]
fn flags_laid_over_a_file_win_key_by_key() {
    let file = Settings::from_toml(
        "s.toml",
        "pipeline.workers = 8\npipeline.batch.delay = 5\nconfig.support_escapes = true\n",
    )
    .unwrap();
    let mut flags = Settings::default();
    flags.pipeline.workers = NonZeroUsize::new(1);
    flags.config.support_escapes = Some(false);
    let merged = file.overlay(flags);
    let p = merged.pipeline_settings();
    assert_eq!((p.workers, p.batch_delay), (1, Duration::from_millis(5)));
    assert!(!merged.parse_options().support_escapes);
}
