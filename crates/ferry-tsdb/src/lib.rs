//! An embedded time-series store in one directory, the storage under Ferry's PromQL:
//!
//! - `wal/`: the write-ahead log ([`wal`]); an [`Tsdb::append`] returns only after its samples
//!   are synced there, so a `kill -9` loses no acknowledged sample;
//! - the head: every series' recent samples in memory, in Gorilla chunks ([`chunk`]) of 120;
//! - `blocks/`: when the head spans 1.5 × the block span (2 h), it is written as one block
//!   ([`block`]) and the log restarts;
//! - retention ([`Tsdb::apply_retention`]) deletes whole blocks older than the retention time
//!   or, oldest first, while the store is over its size limit.
//!
//! Samples of a series must come in time order: an older one than the series' newest is
//! refused (counted in [`AppendReport::out_of_order`]), as Prometheus does. A directory is
//! locked by the process that opened it.

mod block;
mod chunk;
mod wal;

use block::Block;
use chunk::{Chunk, ChunkWriter};
use ferry_promql::{Labels, Matcher, Series, Storage, StorageError};
use std::collections::{BTreeMap, HashMap};
use std::fs::{self, File};
use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard};
use wal::{Record, Wal};

/// Why the store failed.
#[derive(Debug, thiserror::Error)]
pub enum TsdbError {
    #[error("{action} {}: {source}", path.display())]
    Io {
        action: &'static str,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// A file of the store is damaged; the message says which and what to do.
    #[error("{0}")]
    Corrupt(String),
    /// Another process has the directory open.
    #[error("{} is in use by another process (it holds {}/lock)", .0.display(), .0.display())]
    Locked(PathBuf),
    /// A sample the store cannot take.
    #[error("{0}")]
    Invalid(String),
}

impl TsdbError {
    fn io(action: &'static str, path: &Path) -> impl FnOnce(std::io::Error) -> TsdbError {
        let path = path.to_owned();
        move |source| TsdbError::Io { action, path, source }
    }
}

/// Settings of a store.
#[derive(Clone, Debug)]
pub struct Options {
    /// Blocks whose newest sample is older than this (before the `now` given to
    /// [`Tsdb::apply_retention`]) are deleted. Prometheus' default is 15 days.
    pub retention_ms: Option<i64>,
    /// The oldest blocks are deleted while the store takes more bytes than this.
    pub retention_bytes: Option<u64>,
    /// The time span of a block.
    pub block_span_ms: i64,
}

impl Default for Options {
    fn default() -> Self {
        Options { retention_ms: Some(15 * 24 * 3_600_000), retention_bytes: None, block_span_ms: 2 * 3_600_000 }
    }
}

/// What an append did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct AppendReport {
    /// Samples stored (and synced to the log).
    pub appended: usize,
    /// Samples refused as older than their series' newest.
    pub out_of_order: usize,
    /// Samples with the time and value of their series' newest (ignored).
    pub duplicates: usize,
}

/// Sizes of a store.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Stats {
    pub head_series: usize,
    pub head_samples: u64,
    pub blocks: usize,
    /// Bytes on disk: blocks and the log.
    pub bytes: u64,
}

/// Samples per head chunk, as Prometheus cuts them.
const CHUNK_SAMPLES: u32 = 120;

struct HeadSeries {
    labels: Labels,
    chunks: Vec<Chunk>,
    open: ChunkWriter,
    /// The newest sample, also after its chunk went into a block.
    last: Option<(i64, f64)>,
}

impl HeadSeries {
    fn push(&mut self, t: i64, v: f64) {
        self.open.push(t, v);
        if self.open.len() >= CHUNK_SAMPLES {
            self.chunks.push(self.open.finish());
            self.open = ChunkWriter::default();
        }
        self.last = Some((t, v));
    }

    fn all_chunks(&self) -> impl Iterator<Item = Chunk> + '_ {
        self.chunks.iter().cloned().chain((!self.open.is_empty()).then(|| self.open.finish()))
    }

    fn has_data(&self) -> bool {
        !self.chunks.is_empty() || !self.open.is_empty()
    }
}

struct Inner {
    wal: Wal,
    ids: HashMap<Labels, u64>,
    head: HashMap<u64, HeadSeries>,
    next_id: u64,
    head_span: Option<(i64, i64)>,
    head_samples: u64,
    blocks: Vec<Block>,
    next_block: u64,
}

/// An open store. Methods take `&self`; one lock serialises them.
pub struct Tsdb {
    dir: PathBuf,
    options: Options,
    inner: Mutex<Inner>,
    _lock: File,
}

impl Tsdb {
    /// Opens (or creates) the store in `dir`: reads its blocks and replays its log.
    ///
    /// # Errors
    /// When the directory cannot be read or written, is in use, or a file is damaged.
    pub fn open(dir: &Path, options: Options) -> Result<Tsdb, TsdbError> {
        fs::create_dir_all(dir).map_err(TsdbError::io("creating", dir))?;
        let lock_path = dir.join("lock");
        let lock = File::create(&lock_path).map_err(TsdbError::io("creating", &lock_path))?;
        if lock.try_lock().is_err() {
            return Err(TsdbError::Locked(dir.to_owned()));
        }
        let blocks = block::read_all(&dir.join("blocks"))?;
        let next_block = blocks.last().map_or(1, |b| b.number + 1);
        let mut head: HashMap<u64, HeadSeries> = HashMap::new();
        let mut head_samples = 0u64;
        let mut head_span: Option<(i64, i64)> = None;
        let wal = Wal::open(&dir.join("wal"), |record| match record {
            Record::Series { id, labels } => {
                head.entry(id).or_insert(HeadSeries {
                    labels,
                    chunks: Vec::new(),
                    open: ChunkWriter::default(),
                    last: None,
                });
            }
            Record::Samples(samples) => {
                for (id, t, v) in samples {
                    let Some(series) = head.get_mut(&id) else { continue };
                    if series.last.is_some_and(|(last_t, _)| t <= last_t) {
                        continue;
                    }
                    series.push(t, v);
                    head_samples += 1;
                    head_span = Some(head_span.map_or((t, t), |(lo, hi)| (lo.min(t), hi.max(t))));
                }
            }
        })?;
        let ids = head.iter().map(|(id, series)| (series.labels.clone(), *id)).collect();
        let next_id = head.keys().max().map_or(1, |id| id + 1);
        let inner = Inner { wal, ids, head, next_id, head_span, head_samples, blocks, next_block };
        Ok(Tsdb { dir: dir.to_owned(), options, inner: Mutex::new(inner), _lock: lock })
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        // A panic while holding the lock leaves the head as it was before the append that
        // panicked (the log is written first), so the state stays usable.
        self.inner.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Appends samples `(labels, ms, value)` and syncs them to the log before returning:
    /// once this returns `Ok`, the appended samples survive a crash.
    ///
    /// # Errors
    /// [`TsdbError::Invalid`] for a sample without labels (nothing is appended then), or the
    /// log's IO error (nothing is acknowledged then).
    pub fn append(&self, samples: &[(Labels, i64, f64)]) -> Result<AppendReport, TsdbError> {
        if let Some(idx) = samples.iter().position(|(labels, _, _)| labels.is_empty()) {
            return Err(TsdbError::Invalid(format!(
                "sample {} has no labels; a series needs at least a name",
                idx + 1
            )));
        }
        let mut inner = self.lock();
        let mut report = AppendReport::default();
        let mut new_series: Vec<(u64, Labels)> = Vec::new();
        let mut staged: HashMap<u64, (i64, f64)> = HashMap::new();
        let mut rows = Vec::with_capacity(samples.len());
        for (labels, t, v) in samples {
            let id = match inner.ids.get(labels) {
                Some(id) => *id,
                None => match new_series.iter().find(|(_, l)| l == labels) {
                    Some((id, _)) => *id,
                    None => {
                        let id = inner.next_id + new_series.len() as u64;
                        new_series.push((id, labels.clone()));
                        id
                    }
                },
            };
            let last = staged.get(&id).copied().or_else(|| inner.head.get(&id).and_then(|s| s.last));
            match last {
                Some((last_t, last_v)) if *t == last_t && v.to_bits() == last_v.to_bits() => {
                    report.duplicates += 1;
                    continue;
                }
                Some((last_t, _)) if *t <= last_t => {
                    report.out_of_order += 1;
                    continue;
                }
                _ => {}
            }
            staged.insert(id, (*t, *v));
            rows.push((id, *t, *v));
        }
        let mut records: Vec<Record> =
            new_series.iter().map(|(id, labels)| Record::Series { id: *id, labels: labels.clone() }).collect();
        if !rows.is_empty() {
            records.push(Record::Samples(rows.clone()));
        }
        if records.is_empty() {
            return Ok(report);
        }
        inner.wal.write(&records)?;
        inner.next_id += new_series.len() as u64;
        for (id, labels) in new_series {
            inner.ids.insert(labels.clone(), id);
            inner.head.insert(id, HeadSeries { labels, chunks: Vec::new(), open: ChunkWriter::default(), last: None });
        }
        for (id, t, v) in rows {
            if let Some(series) = inner.head.get_mut(&id) {
                series.push(t, v);
            }
            inner.head_span = Some(inner.head_span.map_or((t, t), |(lo, hi)| (lo.min(t), hi.max(t))));
            report.appended += 1;
        }
        inner.head_samples += report.appended as u64;
        if inner.head_span.is_some_and(|(lo, hi)| hi - lo >= self.options.block_span_ms * 3 / 2) {
            self.cut_block(&mut inner)?;
        }
        Ok(report)
    }

    /// Writes the head as a block now (also done by [`Tsdb::append`] when the head is long).
    ///
    /// # Errors
    /// When the block or the new log segment cannot be written.
    pub fn flush(&self) -> Result<(), TsdbError> {
        let mut inner = self.lock();
        self.cut_block(&mut inner)
    }

    fn cut_block(&self, inner: &mut Inner) -> Result<(), TsdbError> {
        let series: Vec<(Labels, Vec<Chunk>)> = inner
            .head
            .values()
            .filter(|series| series.has_data())
            .map(|series| (series.labels.clone(), series.all_chunks().collect()))
            .collect();
        if series.is_empty() {
            return Ok(());
        }
        let number = inner.next_block;
        let block = block::write(&self.dir.join("blocks"), number, series)?;
        inner.blocks.push(block);
        inner.next_block += 1;
        // Series without samples since the last block are forgotten, so the log does not
        // carry every series ever seen.
        inner.head.retain(|_, series| series.has_data());
        inner.ids.retain(|_, id| inner.head.contains_key(id));
        let mut records = Vec::with_capacity(inner.head.len());
        for (id, series) in &mut inner.head {
            series.chunks.clear();
            series.open = ChunkWriter::default();
            records.push(Record::Series { id: *id, labels: series.labels.clone() });
        }
        inner.head_span = None;
        inner.head_samples = 0;
        inner.wal.restart(&records)
    }

    /// Deletes blocks past the retention time (relative to `now_ms`) and, oldest first,
    /// while the store is over its size limit; returns how many were deleted.
    ///
    /// # Errors
    /// When a block file cannot be removed.
    pub fn apply_retention(&self, now_ms: i64) -> Result<usize, TsdbError> {
        let mut inner = self.lock();
        let mut removed = 0;
        loop {
            let total: u64 = inner.blocks.iter().map(|b| b.size).sum::<u64>() + inner.wal.size();
            let Some(oldest) = inner.blocks.iter().min_by_key(|b| b.max_t) else { break };
            let too_old = self.options.retention_ms.is_some_and(|ms| oldest.max_t < now_ms - ms);
            let too_big = self.options.retention_bytes.is_some_and(|bytes| total > bytes);
            if !too_old && !too_big {
                break;
            }
            let number = oldest.number;
            let path = oldest.path.clone();
            fs::remove_file(&path).map_err(TsdbError::io("removing", &path))?;
            inner.blocks.retain(|b| b.number != number);
            tracing::info!(path = %path.display(), "deleted block past retention");
            removed += 1;
        }
        Ok(removed)
    }

    /// Sizes of the store.
    pub fn stats(&self) -> Stats {
        let inner = self.lock();
        Stats {
            head_series: inner.head.len(),
            head_samples: inner.head_samples,
            blocks: inner.blocks.len(),
            bytes: inner.blocks.iter().map(|b| b.size).sum::<u64>() + inner.wal.size(),
        }
    }

    /// The label sets of the series that match and have samples in `[mint, maxt]`.
    ///
    /// # Errors
    /// When a chunk is damaged.
    pub fn series(&self, matchers: &[Matcher], mint: i64, maxt: i64) -> Result<Vec<Labels>, StorageError> {
        Ok(self.select(matchers, mint, maxt)?.into_iter().map(|series| series.labels).collect())
    }
}

/// Backfills OpenMetrics text (every sample with a timestamp, as `promtool tsdb
/// create-blocks-from openmetrics` takes it) in batches; what `ferry metrics import` sends.
///
/// # Errors
/// [`TsdbError::Invalid`] naming the line that does not parse or the first sample without a
/// timestamp (nothing is stored then), or the store's error.
pub fn import_openmetrics(db: &Tsdb, text: &str) -> Result<AppendReport, TsdbError> {
    let exposition = ferry_promql::exposition::parse(text, ferry_promql::exposition::Format::OpenMetrics)
        .map_err(|error| TsdbError::Invalid(format!("not OpenMetrics text: {error}")))?;
    let mut samples = Vec::with_capacity(exposition.samples.len());
    for sample in exposition.samples {
        let Some(t) = sample.timestamp_ms else {
            return Err(TsdbError::Invalid(format!(
                "{} has no timestamp; every sample of a backfill needs one (seconds since the epoch)",
                sample.labels
            )));
        };
        samples.push((sample.labels, t, sample.value));
    }
    let mut report = AppendReport::default();
    for batch in samples.chunks(10_000) {
        let part = db.append(batch)?;
        report.appended += part.appended;
        report.out_of_order += part.out_of_order;
        report.duplicates += part.duplicates;
    }
    Ok(report)
}

fn matches(labels: &Labels, matchers: &[Matcher]) -> bool {
    matchers.iter().all(|matcher| matcher.is_match(labels.get(&matcher.name).unwrap_or("")))
}

impl Storage for Tsdb {
    fn select(&self, matchers: &[Matcher], mint: i64, maxt: i64) -> Result<Vec<Series>, StorageError> {
        let inner = self.lock();
        let mut found: BTreeMap<Labels, Vec<(i64, f64)>> = BTreeMap::new();
        let mut add = |labels: &Labels, chunk: &Chunk| -> Result<(), StorageError> {
            if chunk.max_t < mint || chunk.min_t > maxt {
                return Ok(());
            }
            let samples = chunk::decode(&chunk.bytes, chunk.n)
                .ok_or_else(|| StorageError(format!("a chunk of {labels} is damaged")))?;
            let into = found.entry(labels.clone()).or_default();
            into.extend(samples.into_iter().filter(|(t, _)| (mint..=maxt).contains(t)));
            Ok(())
        };
        for block in &inner.blocks {
            if block.max_t < mint || block.min_t > maxt {
                continue;
            }
            for (labels, chunks) in &block.series {
                if matches(labels, matchers) {
                    for chunk in chunks {
                        add(labels, chunk)?;
                    }
                }
            }
        }
        for series in inner.head.values() {
            if series.has_data() && matches(&series.labels, matchers) {
                for chunk in series.all_chunks() {
                    add(&series.labels, &chunk)?;
                }
            }
        }
        Ok(found
            .into_iter()
            .filter(|(_, samples)| !samples.is_empty())
            .map(|(labels, mut samples)| {
                // Blocks may overlap (a crash between a block and the log's restart): one
                // sample per timestamp.
                samples.sort_by_key(|(t, _)| *t);
                samples.dedup_by_key(|(t, _)| *t);
                Series { labels, samples }
            })
            .collect())
    }
}
