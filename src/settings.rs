//! Settings: `--settings FILE` (TOML with Logstash's dotted names) and the flags that override it.
