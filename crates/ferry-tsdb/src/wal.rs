//! The write-ahead log: numbered segment files in `wal/`, each a sequence of frames
//! `[length u32][CRC-32C u32][record]`. A record names new series or carries samples.
//!
//! Durability: [`Wal::write`] writes one append's records and calls `fdatasync` before it
//! returns, so a sample is on disk once its append is acknowledged; a new segment's
//! directory entry is synced too. Replay stops at the first torn or damaged frame of the
//! last segment (what a crash mid-write leaves) and truncates it.

use crate::TsdbError;
use ferry_promql::Labels;
use std::fs::{self, File, OpenOptions};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};

const CRC: crc::Crc<u32> = crc::Crc::<u32>::new(&crc::CRC_32_ISCSI);
const SERIES: u8 = 1;
const SAMPLES: u8 = 2;
/// A frame longer than this is damage, not data.
const MAX_RECORD: u32 = 256 << 20;

/// A record of the log.
#[derive(Clone, Debug, PartialEq)]
pub enum Record {
    /// A series created with its id.
    Series { id: u64, labels: Labels },
    /// Samples `(series id, ms, value)`.
    Samples(Vec<(u64, i64, f64)>),
}

impl Record {
    fn encode(&self, out: &mut Vec<u8>) {
        match self {
            Record::Series { id, labels } => {
                out.push(SERIES);
                out.extend_from_slice(&id.to_le_bytes());
                out.extend_from_slice(&(labels.len() as u32).to_le_bytes());
                for (name, value) in labels.iter() {
                    put_str(out, name);
                    put_str(out, value);
                }
            }
            Record::Samples(samples) => {
                out.push(SAMPLES);
                out.extend_from_slice(&(samples.len() as u32).to_le_bytes());
                for (id, t, v) in samples {
                    out.extend_from_slice(&id.to_le_bytes());
                    out.extend_from_slice(&t.to_le_bytes());
                    out.extend_from_slice(&v.to_bits().to_le_bytes());
                }
            }
        }
    }

    fn decode(bytes: &[u8]) -> Option<Record> {
        let mut reader = Reader(bytes);
        match reader.u8()? {
            SERIES => {
                let id = reader.u64()?;
                let n = reader.u32()?;
                let mut pairs = Vec::new();
                for _ in 0..n {
                    pairs.push((reader.str()?, reader.str()?));
                }
                Some(Record::Series { id, labels: Labels::new(pairs) })
            }
            SAMPLES => {
                let n = reader.u32()?;
                let mut samples = Vec::with_capacity(n.min(1 << 20) as usize);
                for _ in 0..n {
                    samples.push((reader.u64()?, reader.u64()? as i64, f64::from_bits(reader.u64()?)));
                }
                Some(Record::Samples(samples))
            }
            _ => None,
        }
    }
}

pub(crate) fn put_str(out: &mut Vec<u8>, text: &str) {
    out.extend_from_slice(&(text.len() as u32).to_le_bytes());
    out.extend_from_slice(text.as_bytes());
}

/// Reads little-endian fields; `None` past the end.
pub(crate) struct Reader<'a>(pub &'a [u8]);

impl Reader<'_> {
    fn take(&mut self, n: usize) -> Option<&[u8]> {
        if self.0.len() < n {
            return None;
        }
        let (head, rest) = self.0.split_at(n);
        self.0 = rest;
        Some(head)
    }

    pub fn u8(&mut self) -> Option<u8> {
        Some(self.take(1)?[0])
    }

    pub fn u32(&mut self) -> Option<u32> {
        Some(u32::from_le_bytes(self.take(4)?.try_into().ok()?))
    }

    pub fn u64(&mut self) -> Option<u64> {
        Some(u64::from_le_bytes(self.take(8)?.try_into().ok()?))
    }

    pub fn bytes(&mut self, n: usize) -> Option<Vec<u8>> {
        Some(self.take(n)?.to_vec())
    }

    pub fn str(&mut self) -> Option<String> {
        let n = self.u32()? as usize;
        String::from_utf8(self.take(n)?.to_vec()).ok()
    }
}

/// The open log: the segment appends go to.
pub struct Wal {
    dir: PathBuf,
    segment: u64,
    file: File,
    size: u64,
}

fn segment_path(dir: &Path, segment: u64) -> PathBuf {
    dir.join(format!("{segment:08}"))
}

/// The segment numbers in `dir`, ascending.
fn segments(dir: &Path) -> Result<Vec<u64>, TsdbError> {
    let mut numbers = Vec::new();
    for entry in fs::read_dir(dir).map_err(TsdbError::io("listing", dir))? {
        let entry = entry.map_err(TsdbError::io("listing", dir))?;
        if let Some(number) = entry.file_name().to_str().and_then(|name| name.parse::<u64>().ok()) {
            numbers.push(number);
        }
    }
    numbers.sort_unstable();
    Ok(numbers)
}

pub(crate) fn sync_dir(dir: &Path) -> Result<(), TsdbError> {
    File::open(dir).and_then(|d| d.sync_all()).map_err(TsdbError::io("syncing", dir))
}

impl Wal {
    /// Opens the log in `dir`, replaying every record into `apply`, and continues the last
    /// segment after its last whole frame.
    pub fn open(dir: &Path, mut apply: impl FnMut(Record)) -> Result<Wal, TsdbError> {
        fs::create_dir_all(dir).map_err(TsdbError::io("creating", dir))?;
        let numbers = segments(dir)?;
        let last = numbers.last().copied();
        for number in &numbers {
            let path = segment_path(dir, *number);
            let mut bytes = Vec::new();
            File::open(&path)
                .and_then(|mut file| file.read_to_end(&mut bytes))
                .map_err(TsdbError::io("reading", &path))?;
            let mut offset = 0usize;
            while let Some((record, next)) = read_frame(&bytes, offset) {
                apply(record);
                offset = next;
            }
            if offset < bytes.len() {
                if Some(*number) != last {
                    return Err(TsdbError::Corrupt(format!(
                        "{} is damaged at byte {offset} and is not the last segment; move it away to start from what precedes it",
                        path.display()
                    )));
                }
                tracing::warn!(path = %path.display(), offset, "truncating a torn write at the end of the write-ahead log");
                let file = OpenOptions::new().write(true).open(&path).map_err(TsdbError::io("opening", &path))?;
                file.set_len(offset as u64).map_err(TsdbError::io("truncating", &path))?;
                file.sync_all().map_err(TsdbError::io("syncing", &path))?;
            }
        }
        let segment = last.unwrap_or(1);
        let path = segment_path(dir, segment);
        let file = OpenOptions::new().create(true).append(true).open(&path).map_err(TsdbError::io("opening", &path))?;
        let size = file.metadata().map_err(TsdbError::io("reading", &path))?.len();
        if last.is_none() {
            sync_dir(dir)?;
        }
        Ok(Wal { dir: dir.to_owned(), segment, file, size })
    }

    /// Writes records and syncs them to disk before returning.
    pub fn write(&mut self, records: &[Record]) -> Result<(), TsdbError> {
        let mut buffer = Vec::new();
        let mut payload = Vec::new();
        for record in records {
            payload.clear();
            record.encode(&mut payload);
            buffer.extend_from_slice(&(payload.len() as u32).to_le_bytes());
            buffer.extend_from_slice(&CRC.checksum(&payload).to_le_bytes());
            buffer.extend_from_slice(&payload);
        }
        let path = segment_path(&self.dir, self.segment);
        self.file.write_all(&buffer).map_err(TsdbError::io("writing", &path))?;
        self.file.sync_data().map_err(TsdbError::io("syncing", &path))?;
        self.size += buffer.len() as u64;
        Ok(())
    }

    /// Starts a new segment that begins with `records`, then removes the older segments
    /// (their samples are in a block by now).
    pub fn restart(&mut self, records: &[Record]) -> Result<(), TsdbError> {
        let old = segments(&self.dir)?;
        self.segment += 1;
        let path = segment_path(&self.dir, self.segment);
        self.file =
            OpenOptions::new().create(true).append(true).open(&path).map_err(TsdbError::io("creating", &path))?;
        self.size = 0;
        sync_dir(&self.dir)?;
        self.write(records)?;
        for number in old {
            let path = segment_path(&self.dir, number);
            fs::remove_file(&path).map_err(TsdbError::io("removing", &path))?;
        }
        sync_dir(&self.dir)
    }

    pub fn size(&self) -> u64 {
        self.size
    }
}

fn read_frame(bytes: &[u8], offset: usize) -> Option<(Record, usize)> {
    let mut reader = Reader(bytes.get(offset..)?);
    let len = reader.u32()?;
    if len > MAX_RECORD {
        return None;
    }
    let crc = reader.u32()?;
    let payload = reader.take(len as usize)?;
    if CRC.checksum(payload) != crc {
        return None;
    }
    Some((Record::decode(payload)?, offset + 8 + len as usize))
}
