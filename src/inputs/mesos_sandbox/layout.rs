//! Where a Mesos agent keeps its sandboxes, and what a sandbox file's path says about the task
//! ([`RunFields::of`]).
//!
//! ```text
//! <work_dir>/slaves/<agent id>/frameworks/<framework id>/executors/<executor id>/runs/<container id>/stdout
//! <work_dir>/slaves/<agent id>/frameworks/<framework id>/executors/<executor id>/runs/<container id>/tasks/<task id>/stderr
//! ```
//!
//! The first is an executor's sandbox; a command executor's id is its task's id, so it gives
//! `MESOS_TASK_ID`. The second is a task's own sandbox under an executor that runs several
//! (the default executor's task groups), whose folder names the task. `slaves/latest` and
//! `runs/latest` are symbolic links to the newest agent and run: the watcher knows files by
//! inode, so a file reached through them is still read once, and a path through them is
//! resolved to the real folder's name here.

use std::fs;
use std::path::Path;

use crate::event::{Map, Text, Value};

/// The globs of the sandbox files under `work_dir`.
pub fn globs(work_dir: &str) -> Vec<String> {
    let root = work_dir.trim_end_matches('/');
    let runs = format!("{root}/slaves/*/frameworks/*/executors/*/runs/*");
    vec![
        format!("{runs}/std{{out,err}}"),
        format!("{runs}/tasks/*/std{{out,err}}"),
    ]
}

/// The fields every event of one sandbox file gets.
#[derive(Debug, Clone, PartialEq)]
pub struct RunFields {
    /// `MESOS_TASK_ID`: the task folder's name, or the executor id.
    pub task_id: Option<Text>,
    /// `mesos`: `agent_id`, `framework_id`, `executor_id`, `container_id` (the run), and
    /// `task_id` for a task's own sandbox.
    pub mesos: Value,
    /// `stream`: `stdout` or `stderr` (the file's name).
    pub stream: Text,
}

const AGENT_ID: Text = Text::from_static("agent_id");
const FRAMEWORK_ID: Text = Text::from_static("framework_id");
const EXECUTOR_ID: Text = Text::from_static("executor_id");
const CONTAINER_ID: Text = Text::from_static("container_id");
const TASK_ID: Text = Text::from_static("task_id");

impl RunFields {
    /// The fields of the sandbox file at `path`; a path of another shape gives only `stream`.
    pub fn of(path: &Path) -> RunFields {
        let stream = path
            .file_name()
            .map(|n| Text::new(&n.to_string_lossy()))
            .unwrap_or_default();
        let dirs: Vec<&Path> = path.ancestors().skip(1).collect();
        let name = |i: usize| dirs.get(i).map(|d| resolved_name(d));
        let literal = |i: usize, word: &str| {
            dirs.get(i)
                .and_then(|d| d.file_name())
                .is_some_and(|n| n == word)
        };
        // A task's own sandbox is two folders deeper than its executor's.
        let task = literal(1, "tasks") && literal(3, "runs");
        let base = if task { 2 } else { 0 };
        let shape_ok = literal(base + 1, "runs")
            && literal(base + 3, "executors")
            && literal(base + 5, "frameworks")
            && literal(base + 7, "slaves");
        let mut mesos = Map::with_capacity(5);
        if !shape_ok {
            return RunFields {
                task_id: None,
                mesos: Value::Map(mesos),
                stream,
            };
        }
        let put = |map: &mut Map, key: Text, value: Option<String>| {
            if let Some(v) = value {
                map.push_new(key, Value::Str(Text::from_string(v)));
            }
        };
        put(&mut mesos, AGENT_ID, name(base + 6));
        put(&mut mesos, FRAMEWORK_ID, name(base + 4));
        let executor = name(base + 2);
        put(&mut mesos, EXECUTOR_ID, executor.clone());
        put(&mut mesos, CONTAINER_ID, name(base));
        let task_id = if task { name(0) } else { executor };
        if task {
            put(&mut mesos, TASK_ID, task_id.clone());
        }
        RunFields {
            task_id: task_id.map(Text::from_string),
            mesos: Value::Map(mesos),
            stream,
        }
    }
}

/// The folder's name; for a `latest` link, the name of the folder it points to.
fn resolved_name(dir: &Path) -> String {
    let name = dir
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    if name != "latest" {
        return name;
    }
    match fs::read_link(dir) {
        Ok(target) => target
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or(name),
        Err(_) => name,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn get<'a>(fields: &'a RunFields, key: &str) -> Option<&'a str> {
        fields.mesos.as_map()?.get(key)?.as_str()
    }

    #[test]
    fn executor_and_task_sandboxes() {
        let f = RunFields::of(Path::new(
            "/w/slaves/A-S0/frameworks/F-0001/executors/web.123/runs/c1/stderr",
        ));
        assert_eq!(f.task_id.as_deref(), Some("web.123"));
        assert_eq!(f.stream.as_str(), "stderr");
        assert_eq!(get(&f, "agent_id"), Some("A-S0"));
        assert_eq!(get(&f, "framework_id"), Some("F-0001"));
        assert_eq!(get(&f, "executor_id"), Some("web.123"));
        assert_eq!(get(&f, "container_id"), Some("c1"));
        assert_eq!(get(&f, "task_id"), None);

        let t = RunFields::of(Path::new(
            "/w/slaves/A-S0/frameworks/F-0001/executors/default/runs/c2/tasks/pod.t1/stdout",
        ));
        assert_eq!(t.task_id.as_deref(), Some("pod.t1"));
        assert_eq!(get(&t, "executor_id"), Some("default"));
        assert_eq!(get(&t, "container_id"), Some("c2"));
        assert_eq!(get(&t, "task_id"), Some("pod.t1"));
    }

    #[test]
    fn latest_links_are_resolved() {
        let dir = tempfile::tempdir().unwrap();
        let runs = dir.path().join("slaves/A/frameworks/F/executors/E/runs");
        fs::create_dir_all(runs.join("real-run")).unwrap();
        std::os::unix::fs::symlink(runs.join("real-run"), runs.join("latest")).unwrap();
        let f = RunFields::of(&runs.join("latest/stdout"));
        assert_eq!(get(&f, "container_id"), Some("real-run"));
    }

    #[test]
    fn other_paths_give_only_the_stream() {
        let f = RunFields::of(Path::new("/var/log/app/stdout"));
        assert_eq!(f.task_id, None);
        assert_eq!(f.mesos, Value::Map(Map::new()));
        assert_eq!(f.stream.as_str(), "stdout");
    }

    #[test]
    fn globs_cover_both_layouts() {
        assert_eq!(
            globs("/w/"),
            [
                "/w/slaves/*/frameworks/*/executors/*/runs/*/std{out,err}",
                "/w/slaves/*/frameworks/*/executors/*/runs/*/tasks/*/std{out,err}"
            ]
        );
    }
}
