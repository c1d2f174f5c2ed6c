//! The sincedb: where reading stopped in each file, kept on disk across restarts.
//!
//! Files are known by [`FileId`] (inode and device), not by path, so a file renamed by log
//! rotation keeps its position. The file format is Logstash's (filewatch v2), one file a line:
//!
//! ```text
//! inode major minor position [last_active [path]]
//! 1318563 0 2049 10543 1700000000.123 /var/log/app.log
//! ```
//!
//! `last_active` is Unix seconds; entries idle longer than `sincedb_clean_after` are dropped.
//! Older four-field lines are read too. [`Sincedb::write`] replaces the file atomically: the
//! new content goes to a temporary file in the same folder, which is fsynced and renamed over
//! the old one, so a crash leaves either the old or the new file, never a torn one.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::fs::{self, File};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

/// A file's identity: its inode on a device (device split as glibc's `major()`/`minor()`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct FileId {
    pub inode: u64,
    pub major: u64,
    pub minor: u64,
}

impl FileId {
    /// The identity of the file `meta` describes.
    pub fn of(meta: &fs::Metadata) -> FileId {
        use std::os::unix::fs::MetadataExt;
        let dev = meta.dev();
        FileId {
            inode: meta.ino(),
            major: ((dev >> 32) & 0xffff_f000) | ((dev >> 8) & 0xfff),
            minor: ((dev >> 12) & 0xffff_ff00) | (dev & 0xff),
        }
    }
}

/// What the sincedb knows of one file.
#[derive(Clone, Debug, PartialEq)]
pub struct Entry {
    /// Bytes of the file already delivered; reading resumes here (always a line boundary).
    pub position: u64,
    /// When the position last changed (Unix seconds).
    pub last_active: f64,
    /// The path the file was last seen at (informational).
    pub path: Option<String>,
}

/// Why the sincedb could not be opened.
#[derive(Debug, thiserror::Error)]
pub enum SincedbError {
    #[error("sincedb_path must point to a file, \"{0}\" is a directory")]
    IsDirectory(PathBuf),
    #[error("cannot read the sincedb \"{path}\": {source}")]
    Read { path: PathBuf, source: io::Error },
}

/// The positions of every known file, and where they are saved (`None`: nowhere).
#[derive(Debug, Default)]
pub struct Sincedb {
    path: Option<PathBuf>,
    entries: HashMap<FileId, Entry>,
}

/// The current time as Unix seconds.
pub fn unix_now() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64())
}

impl Sincedb {
    /// A sincedb that is never saved (`sincedb_path => "/dev/null"`).
    pub fn in_memory() -> Sincedb {
        Sincedb::default()
    }

    /// Loads `path` (a missing file is an empty sincedb); `/dev/null` gives [`Sincedb::in_memory`].
    /// Lines that cannot be read are skipped with a warning.
    pub fn open(path: &Path) -> Result<Sincedb, SincedbError> {
        if path == Path::new("/dev/null") {
            return Ok(Sincedb::in_memory());
        }
        if path.is_dir() {
            return Err(SincedbError::IsDirectory(path.to_path_buf()));
        }
        let text = match fs::read(path) {
            Ok(bytes) => String::from_utf8_lossy(&bytes).into_owned(),
            Err(e) if e.kind() == io::ErrorKind::NotFound => String::new(),
            Err(source) => {
                return Err(SincedbError::Read {
                    path: path.to_path_buf(),
                    source,
                })
            }
        };
        let (entries, skipped) = parse(&text);
        if skipped > 0 {
            tracing::warn!(sincedb = %path.display(), skipped, "file: unreadable sincedb lines skipped");
        }
        Ok(Sincedb {
            path: Some(path.to_path_buf()),
            entries,
        })
    }

    /// Where the sincedb is saved.
    pub fn path(&self) -> Option<&Path> {
        self.path.as_deref()
    }

    pub fn get(&self, id: &FileId) -> Option<&Entry> {
        self.entries.get(id)
    }

    pub fn set(&mut self, id: FileId, entry: Entry) {
        self.entries.insert(id, entry);
    }

    pub fn get_mut(&mut self, id: &FileId) -> Option<&mut Entry> {
        self.entries.get_mut(id)
    }

    pub fn remove(&mut self, id: &FileId) -> Option<Entry> {
        self.entries.remove(id)
    }

    /// Every entry, in no particular order.
    pub fn entries(&self) -> impl Iterator<Item = (&FileId, &Entry)> {
        self.entries.iter()
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Drops entries whose `last_active` is before `oldest` (Unix seconds).
    pub fn expire(&mut self, oldest: f64) {
        self.entries.retain(|_, e| e.last_active >= oldest);
    }

    /// The file's text, entries sorted by identity.
    pub fn serialize(&self) -> String {
        let mut ids: Vec<&FileId> = self.entries.keys().collect();
        ids.sort();
        let mut out = String::with_capacity(ids.len() * 64);
        for id in ids {
            let e = &self.entries[id];
            // Writing to a String cannot fail.
            let _ = write!(
                out,
                "{} {} {} {} {:.3}",
                id.inode, id.major, id.minor, e.position, e.last_active
            );
            if let Some(path) = &e.path {
                out.push(' ');
                out.push_str(path);
            }
            out.push('\n');
        }
        out
    }

    /// Saves the sincedb atomically (nothing to do when it is kept in memory only).
    pub fn write(&self) -> io::Result<()> {
        match &self.path {
            Some(path) => write_atomic(path, self.serialize().as_bytes()),
            None => Ok(()),
        }
    }
}

/// Reads sincedb text: the entries, and how many lines were not understood.
pub fn parse(text: &str) -> (HashMap<FileId, Entry>, usize) {
    let mut entries = HashMap::new();
    let mut skipped = 0;
    for line in text.lines().filter(|l| !l.trim().is_empty()) {
        match parse_line(line) {
            Some((id, entry)) => {
                entries.insert(id, entry);
            }
            None => skipped += 1,
        }
    }
    (entries, skipped)
}

fn parse_line(line: &str) -> Option<(FileId, Entry)> {
    let mut fields = line.splitn(6, ' ');
    let mut number = || fields.next()?.parse::<u64>().ok();
    let id = FileId {
        inode: number()?,
        major: number()?,
        minor: number()?,
    };
    let position = number()?;
    // Four-field lines (older Logstash) have no time: they count as active now.
    let last_active = match fields.next() {
        Some(t) => t.parse::<f64>().ok().filter(|t| t.is_finite())?,
        None => unix_now(),
    };
    let path = fields.next().filter(|p| !p.is_empty()).map(str::to_string);
    Some((
        id,
        Entry {
            position,
            last_active,
            path,
        },
    ))
}

/// Replaces `path` with `contents` so that readers see the old or the new file, never a mix:
/// write a temporary file beside it, fsync it, rename it over `path`, fsync the folder.
pub fn write_atomic(path: &Path, contents: &[u8]) -> io::Result<()> {
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    fs::create_dir_all(dir)?;
    let name = path
        .file_name()
        .map_or_else(|| "sincedb".into(), |n| n.to_string_lossy().into_owned());
    let tmp = dir.join(format!(".{name}.{}.tmp", std::process::id()));
    let result = (|| {
        let mut file = File::create(&tmp)?;
        file.write_all(contents)?;
        file.sync_all()?;
        fs::rename(&tmp, path)
    })();
    if result.is_err() {
        let _ = fs::remove_file(&tmp);
        return result;
    }
    // The rename is durable once the folder is; failing to sync it only weakens that.
    if let Ok(d) = File::open(dir) {
        let _ = d.sync_all();
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_logstash_lines_old_and_new() {
        let text = "1 0 2049 100 1700000000.5 /var/log/a b.log\n2 0 2049 7\ngarbage\n3 1 2 x 1.0\n";
        let (entries, skipped) = parse(text);
        assert_eq!(skipped, 2);
        let a = &entries[&FileId {
            inode: 1,
            major: 0,
            minor: 2049,
        }];
        assert_eq!(a.position, 100);
        assert_eq!(a.last_active, 1_700_000_000.5);
        assert_eq!(a.path.as_deref(), Some("/var/log/a b.log"));
        let b = &entries[&FileId {
            inode: 2,
            major: 0,
            minor: 2049,
        }];
        assert_eq!((b.position, b.path.as_deref()), (7, None));
    }

    #[test]
    fn write_then_open_round_trips_and_leaves_no_temporary_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sub").join(".sincedb");
        let mut db = Sincedb::open(&path).unwrap();
        assert!(db.is_empty());
        let id = FileId {
            inode: 42,
            major: 8,
            minor: 1,
        };
        db.set(
            id,
            Entry {
                position: 12,
                last_active: 1_700_000_000.0,
                path: Some("/x.log".into()),
            },
        );
        db.write().unwrap();
        let names: Vec<_> = fs::read_dir(path.parent().unwrap())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names, [".sincedb"]);
        let again = Sincedb::open(&path).unwrap();
        assert_eq!(again.get(&id), db.get(&id));
    }

    #[test]
    fn dev_null_is_never_written_and_a_directory_is_refused() {
        let db = Sincedb::open(Path::new("/dev/null")).unwrap();
        assert!(db.path().is_none());
        db.write().unwrap();
        let dir = tempfile::tempdir().unwrap();
        assert!(matches!(
            Sincedb::open(dir.path()),
            Err(SincedbError::IsDirectory(_))
        ));
    }

    #[test]
    fn expire_drops_idle_entries() {
        let (entries, _) = parse("1 0 1 5 100.0\n2 0 1 5 900.0\n");
        let mut db = Sincedb {
            path: None,
            entries,
        };
        db.expire(500.0);
        assert_eq!(db.len(), 1);
    }
}
