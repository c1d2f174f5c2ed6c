//! Reading one file: [`LineReader`] reads it a chunk at a time (plain, or gzip-compressed) and
//! [`LineCutter`] cuts the chunks into [`Line`]s at a delimiter, with the `line` codec's
//! [`Splitter`].
//!
//! A line inside one chunk is a slice of the chunk's shared buffer (no copy); only a line that
//! spans two reads is copied, into the splitter's partial buffer. Every line carries the file
//! offset just past its delimiter, which is where reading resumes once it is delivered, so
//! checkpoints always fall on line boundaries. A line longer than the cutter's maximum is cut
//! into pieces of that size (marked [`Line::split`]) instead of growing without bound.

use std::fs::{self, File};
use std::io::{self, BufReader, ErrorKind, Read, Seek, SeekFrom};
use std::path::Path;

use bytes::{Bytes, BytesMut};
use flate2::read::MultiGzDecoder;

use crate::codecs::line::Splitter;

/// The longest line kept whole (16 MiB); longer ones are cut into pieces of this size.
pub const MAX_LINE_BYTES: usize = 16 << 20;

/// Reads go into buffers of this size, shared by the lines cut from them.
const BUFFER_SIZE: usize = 1 << 20;

/// One line cut from a file, without its delimiter.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Line {
    pub bytes: Bytes,
    /// The offset just past the line's delimiter (for a piece of a split line: past the piece).
    pub end: u64,
    /// A piece of a line longer than the maximum.
    pub split: bool,
}

/// Cuts a stream of chunks into delimited lines, tracking file offsets: the `line` codec's
/// [`Splitter`] does the cutting, this adds offsets and the bound on line length.
pub struct LineCutter {
    splitter: Splitter,
    max_line: usize,
    /// The offset where the next line (the partial one) starts.
    position: u64,
}

impl LineCutter {
    /// A cutter for a stream starting at file offset `position`. `delimiter` must not be empty.
    pub fn new(delimiter: Bytes, max_line: usize, position: u64) -> LineCutter {
        LineCutter {
            splitter: Splitter::new(delimiter),
            max_line: max_line.max(1),
            position,
        }
    }

    /// The offset where the next line starts: everything before it has been cut into lines.
    pub fn position(&self) -> u64 {
        self.position
    }

    /// Bytes read past [`LineCutter::position`] that do not end in a delimiter yet.
    pub fn pending(&self) -> usize {
        self.splitter.pending()
    }

    /// Forgets the partial line and continues from `position`.
    pub fn reset(&mut self, position: u64) {
        self.splitter.clear();
        self.position = position;
    }

    /// Appends to `out` every line `chunk` completes, in order; keeps the unfinished rest.
    pub fn cut(&mut self, chunk: Bytes, out: &mut Vec<Line>) {
        let step = self.splitter.delimiter_len() as u64;
        let position = &mut self.position;
        self.splitter.split(chunk, |bytes| {
            *position += bytes.len() as u64 + step;
            out.push(Line {
                bytes,
                end: *position,
                split: false,
            });
        });
        self.cap(out);
    }

    /// Cuts pieces off a partial line that has grown past the maximum (a line of exactly the
    /// maximum stays whole).
    fn cap(&mut self, out: &mut Vec<Line>) {
        while let Some(bytes) = self.splitter.take_overlong(self.max_line) {
            self.position += bytes.len() as u64;
            out.push(Line {
                bytes,
                end: self.position,
                split: true,
            });
        }
    }

    /// At the end of the data: the last line, which has no delimiter, if any.
    pub fn finish(&mut self) -> Option<Line> {
        let bytes = self.splitter.finish()?;
        self.position += bytes.len() as u64;
        Some(Line {
            bytes,
            end: self.position,
            split: false,
        })
    }
}

enum Source {
    Plain(File),
    Gzip(Box<MultiGzDecoder<BufReader<File>>>),
}

impl Source {
    fn file(&self) -> &File {
        match self {
            Source::Plain(f) => f,
            Source::Gzip(d) => d.get_ref().get_ref(),
        }
    }
}

/// An open file being read into lines.
pub struct LineReader {
    source: Source,
    cutter: LineCutter,
    buf: BytesMut,
    chunk_size: usize,
}

/// How a [`LineReader`] reads.
#[derive(Clone, Debug)]
pub struct ReadOptions {
    pub delimiter: Bytes,
    /// Bytes asked for per read (`file_chunk_size`).
    pub chunk_size: usize,
    /// See [`MAX_LINE_BYTES`].
    pub max_line: usize,
}

impl LineReader {
    /// Opens `path` and positions it at `position` (a gzip file is always read from its start;
    /// its offsets count decompressed bytes). Also returns the file's metadata, taken from the
    /// open handle (so it describes the file actually opened).
    pub fn open(
        path: &Path,
        position: u64,
        gzip: bool,
        options: &ReadOptions,
    ) -> io::Result<(LineReader, fs::Metadata)> {
        let mut file = File::open(path)?;
        let meta = file.metadata()?;
        let (source, start) = if gzip {
            let reader = BufReader::with_capacity(options.chunk_size.max(8192), file);
            (Source::Gzip(Box::new(MultiGzDecoder::new(reader))), 0)
        } else {
            file.seek(SeekFrom::Start(position))?;
            (Source::Plain(file), position)
        };
        let reader = LineReader {
            source,
            cutter: LineCutter::new(options.delimiter.clone(), options.max_line, start),
            buf: BytesMut::new(),
            // A line inside one chunk is never cut, so chunks must not exceed the maximum.
            chunk_size: options.chunk_size.clamp(1, options.max_line.max(1)),
        };
        Ok((reader, meta))
    }

    /// The open file's metadata now (`fstat`: the file read, whatever its path holds now).
    pub fn metadata(&self) -> io::Result<fs::Metadata> {
        self.source.file().metadata()
    }

    pub fn is_gzip(&self) -> bool {
        matches!(self.source, Source::Gzip(_))
    }

    /// Where the next line starts (a line boundary).
    pub fn position(&self) -> u64 {
        self.cutter.position()
    }

    /// How far the file has been read (past [`LineReader::position`] by a partial line).
    pub fn offset(&self) -> u64 {
        self.cutter.position() + self.cutter.pending() as u64
    }

    /// Reads one chunk and appends the lines it completes to `out`. Returns the bytes read:
    /// 0 at the end of the data for now.
    pub fn read_lines(&mut self, out: &mut Vec<Line>) -> io::Result<usize> {
        if self.buf.capacity() < self.chunk_size {
            self.buf = BytesMut::with_capacity(BUFFER_SIZE.max(self.chunk_size));
        }
        self.buf.resize(self.chunk_size, 0);
        let read = loop {
            let result = match &mut self.source {
                Source::Plain(f) => f.read(&mut self.buf[..]),
                Source::Gzip(d) => d.read(&mut self.buf[..]),
            };
            match result {
                Err(e) if e.kind() == ErrorKind::Interrupted => continue,
                other => break other,
            }
        };
        let n = match read {
            Ok(n) => n,
            Err(e) => {
                self.buf.clear();
                return Err(e);
            }
        };
        self.buf.truncate(n);
        if n > 0 {
            let chunk = self.buf.split().freeze();
            self.cutter.cut(chunk, out);
        }
        Ok(n)
    }

    /// Starts again from the file's beginning (it was truncated); the partial line is dropped.
    pub fn rewind(&mut self) -> io::Result<()> {
        if let Source::Plain(f) = &mut self.source {
            f.seek(SeekFrom::Start(0))?;
        }
        self.cutter.reset(0);
        Ok(())
    }

    /// The last line, which has no delimiter (at the end of a file read in `read` mode).
    pub fn finish(&mut self) -> Option<Line> {
        self.cutter.finish()
    }
}

/// Whether `path` names a gzip file (`.gz`, as Logstash's read mode decides).
pub fn is_gzip_path(path: &Path) -> bool {
    path.extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("gz"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn cut_all(delimiter: &str, max: usize, chunks: &[&str]) -> (Vec<(String, u64, bool)>, u64) {
        let mut cutter = LineCutter::new(Bytes::copy_from_slice(delimiter.as_bytes()), max, 0);
        let mut out = Vec::new();
        for c in chunks {
            cutter.cut(Bytes::copy_from_slice(c.as_bytes()), &mut out);
        }
        let lines = out
            .into_iter()
            .map(|l| (String::from_utf8(l.bytes.to_vec()).unwrap(), l.end, l.split))
            .collect();
        (lines, cutter.position())
    }

    #[test]
    fn offsets_fall_after_each_delimiter_and_partials_wait() {
        let (lines, pos) = cut_all("\n", 100, &["ab", "c\nd", "e\n\nf"]);
        assert_eq!(
            lines,
            [
                ("abc".into(), 4, false),
                ("de".into(), 7, false),
                ("".into(), 8, false)
            ]
        );
        assert_eq!(pos, 8, "the partial `f` is not past the position");
    }

    #[test]
    fn multi_byte_delimiters_across_chunks() {
        let (lines, _) = cut_all("\r\n", 100, &["a\r", "\nb\r\nc"]);
        let text: Vec<_> = lines.iter().map(|l| (l.0.as_str(), l.1)).collect();
        assert_eq!(text, [("a", 3), ("b", 6)]);
        let (lines, pos) = cut_all("END", 100, &["aE", "N", "Db", "xEN"]);
        let text: Vec<_> = lines.iter().map(|l| (l.0.as_str(), l.1)).collect();
        assert_eq!(text, [("a", 4)]);
        assert_eq!(pos, 4, "`bxEN` waits for its delimiter");
    }

    #[test]
    fn overlong_lines_are_cut_into_marked_pieces() {
        // Lines inside one chunk are never longer than a chunk, which is at most the maximum.
        let (lines, pos) = cut_all("\n", 4, &["abc", "def", "ghi", "j\nx", "y\n", "abcd", "\n"]);
        assert_eq!(
            lines,
            [
                ("abcd".into(), 4, true),
                ("efgh".into(), 8, true),
                ("ij".into(), 11, false),
                ("xy".into(), 14, false),
                ("abcd".into(), 19, false)
            ]
        );
        assert_eq!(pos, 19);
    }

    #[test]
    fn lines_in_one_chunk_share_its_buffer() {
        let mut cutter = LineCutter::new(Bytes::from_static(b"\n"), 100, 0);
        let chunk = Bytes::from_static(b"first\nsecond\n");
        let mut out = Vec::new();
        cutter.cut(chunk.clone(), &mut out);
        assert_eq!(out[1].bytes.as_ptr() as usize, chunk.as_ptr() as usize + 6);
    }

    #[test]
    fn reads_plain_from_an_offset_and_gzip_from_the_start() {
        let dir = tempfile::tempdir().unwrap();
        let plain = dir.path().join("a.log");
        fs::write(&plain, "one\ntwo\nthree").unwrap();
        let options = ReadOptions {
            delimiter: Bytes::from_static(b"\n"),
            chunk_size: 3,
            max_line: 100,
        };
        let (mut r, _) = LineReader::open(&plain, 4, false, &options).unwrap();
        let mut out = Vec::new();
        while r.read_lines(&mut out).unwrap() > 0 {}
        out.extend(r.finish());
        let got: Vec<_> = out.iter().map(|l| (l.bytes.clone(), l.end)).collect();
        assert_eq!(got, [(Bytes::from("two"), 8), (Bytes::from("three"), 13)]);

        let gz = dir.path().join("b.log.gz");
        let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        enc.write_all(b"x\ny\n").unwrap();
        fs::write(&gz, enc.finish().unwrap()).unwrap();
        assert!(is_gzip_path(&gz));
        let (mut r, _) = LineReader::open(&gz, 999, true, &options).unwrap();
        let mut out = Vec::new();
        while r.read_lines(&mut out).unwrap() > 0 {}
        let got: Vec<_> = out.iter().map(|l| l.bytes.clone()).collect();
        assert_eq!(got, [Bytes::from("x"), Bytes::from("y")]);
    }
}
