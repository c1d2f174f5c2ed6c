//! `sluice sandbox`: a local web page to debug a team's filters against sample lines, with the
//! same engine `sluice run` uses.
//!
//! - `workspace`: the filter files given with `-f` ([`workspace::Workspace`]), their test case
//!   files, and a version that changes when the files change on disk;
//! - `session`: one run of the page's config over the page's lines ([`session::run`]): the
//!   events as Elasticsearch would index them, each with its trace, or the config's errors at
//!   `path:line:col`;
//! - `tap`: following a live source (any input plugin, e.g. `file`, `syslog`, the mock Kafka)
//!   through the current filters into a ring of the last N events, like `vector tap`;
//! - `view`: events and values as JSON, as the Elasticsearch output writes them;
//! - `server`: the HTTP API below and the page's assets (built into the binary).
//!
//! The HTTP API (JSON in and out; a bad request answers 400 `{"error": "..."}`):
//!
//! - `GET /` the page; `GET /assets/app.js`, `GET /assets/app.css`.
//! - `GET /api/files` -> `{"version": 3, "root": "filters", "writable": true,
//!   "files": [{"path": "filters/a.conf", "text": "..."}],
//!   "tests": [{"path": "filters/tests/a.yml", "error": null, "codec": "line",
//!              "cases": [{"description": "...", "input": ["line", ...], "fields": {...}}]}]}`.
//!   `version` grows each time a file under `-f` changes on disk (polled every 500 ms).
//! - `POST /api/run` `{"files": [{"path", "text"}], "lines": ["..."], "codec": "line",
//!   "fields": {"type": "x"}}` (`codec` and `fields` optional) ->
//!   `{"ok": true, "diagnostics": [], "results": [...]}` where each input line has
//!   `{"input": "the line", "events": [{"event": {...}, "metadata": {...}, "trace": [Step]}],
//!     "dropped": [{"trace": [Step]}]}`. With errors: `"ok": false`, `"results": []` and
//!   `"diagnostics": [{"path", "line", "col", "end_line", "end_col", "message", "help",
//!   "rendered"}]` (`rendered` is exactly what `sluice check` prints for it).
//!   A Step is one of
//!   `{"kind": "condition", "keyword": "if" | "else if", "text": "[type] == \"x\"", "path", "line",
//!   "col", "result": true}`,
//!   `{"kind": "else", "path": null, "line": null, "col": null}` (no condition held and an
//!   `else` ran) and
//!   `{"kind": "filter", "name": "grok", "id": "grok-1", "path", "line", "col",
//!     "added": {"[client]": "1.2.3.4"}, "changed": {"[message]": {"from": .., "to": ..}},
//!     "removed": ["[x]"], "tags_added": ["_grokparsefailure"], "tags_removed": [],
//!     "dropped": false, "created": 0}` (field paths in Logstash's `[a][b]` form; `tags` is
//!   reported only through `tags_added`/`tags_removed`; `created` counts events the filter made,
//!   e.g. `split`, which carry the trace so far).
//! - `POST /api/grok` `{"files", "id": "grok-1", "line": "...", "codec", "fields"}` -> the grok
//!   debugger for the grok filter with that id, on the event as it reaches that filter (or the
//!   line's own event, `"reached": false`, when no event reaches it): `{"id", "path", "line",
//!   "col", "reached", "matched", "break_on_match", "fields": [{"field", "value", "matched",
//!   "winner", "patterns": [{"pattern", "matched", "captures": [{"name", "value", "start",
//!   "end", ..}], "prefix": {"parts", "matched_parts", "next_part", "before", "matched_text",
//!   "after", ..}}]}]}` (see [`crate::filters::grok::debug::Explanation`]). 404 when no grok
//!   filter has that id; 400 with `diagnostics` when the config has errors.
//! - `POST /api/save` `{"files": [{"path", "text"}]}` -> writes the files back (only paths that
//!   are in the workspace; 403 when started with `--read-only`) -> `{"version": 4}`.
//! - `GET /api/tap?where=<condition>&fields=a,b&limit=N` -> `{"source": "file { ... }" | null,
//!   "running": true, "error": null, "seen": 120, "events": [{"seq": 7, "event": {...}}]}`:
//!   the last events (newest last) of the live source given with `--follow`, filtered by a
//!   Logstash condition (`[program] == "cron"`) and cut down to `fields` when given. A bad
//!   condition answers 400 with the error.

pub mod server;
pub mod session;
pub mod tap;
pub mod view;
pub mod workspace;
