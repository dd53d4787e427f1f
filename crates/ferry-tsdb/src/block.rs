//! A block: the samples of a time span, persisted once and then only read or deleted.
//! One file `blocks/NNNNNNNN.block`: a magic, each series' labels and Gorilla chunks, and a
//! CRC-32C of all of it. It is written to a temporary name, synced and renamed into place,
//! so a block either exists whole or not at all.

use crate::TsdbError;
use crate::chunk::Chunk;
use crate::wal::{Reader, put_str, sync_dir};
use ferry_promql::Labels;
use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

const MAGIC: &[u8; 8] = b"FERRYTB1";
const CRC: crc::Crc<u32> = crc::Crc::<u32>::new(&crc::CRC_32_ISCSI);

/// A block held in memory (its chunks stay compressed).
#[derive(Debug)]
pub struct Block {
    pub path: PathBuf,
    pub number: u64,
    pub min_t: i64,
    pub max_t: i64,
    pub size: u64,
    pub series: Vec<(Labels, Vec<Chunk>)>,
}

/// Writes a block of `series` as number `number` in `dir`.
pub fn write(dir: &Path, number: u64, series: Vec<(Labels, Vec<Chunk>)>) -> Result<Block, TsdbError> {
    let mut bytes = MAGIC.to_vec();
    bytes.extend_from_slice(&(series.len() as u32).to_le_bytes());
    let (mut min_t, mut max_t) = (i64::MAX, i64::MIN);
    for (labels, chunks) in &series {
        bytes.extend_from_slice(&(labels.len() as u32).to_le_bytes());
        for (name, value) in labels.iter() {
            put_str(&mut bytes, name);
            put_str(&mut bytes, value);
        }
        bytes.extend_from_slice(&(chunks.len() as u32).to_le_bytes());
        for chunk in chunks {
            min_t = min_t.min(chunk.min_t);
            max_t = max_t.max(chunk.max_t);
            bytes.extend_from_slice(&chunk.min_t.to_le_bytes());
            bytes.extend_from_slice(&chunk.max_t.to_le_bytes());
            bytes.extend_from_slice(&chunk.n.to_le_bytes());
            bytes.extend_from_slice(&(chunk.bytes.len() as u32).to_le_bytes());
            bytes.extend_from_slice(&chunk.bytes);
        }
    }
    let crc = CRC.checksum(&bytes);
    bytes.extend_from_slice(&crc.to_le_bytes());
    let path = dir.join(format!("{number:08}.block"));
    let temp = dir.join(format!("{number:08}.block.tmp"));
    let mut file = fs::File::create(&temp).map_err(TsdbError::io("creating", &temp))?;
    file.write_all(&bytes).map_err(TsdbError::io("writing", &temp))?;
    file.sync_all().map_err(TsdbError::io("syncing", &temp))?;
    fs::rename(&temp, &path).map_err(TsdbError::io("renaming", &temp))?;
    sync_dir(dir)?;
    Ok(Block { path, number, min_t, max_t, size: bytes.len() as u64, series })
}

/// Reads every block in `dir`, oldest first; removes temporary files a crash left.
pub fn read_all(dir: &Path) -> Result<Vec<Block>, TsdbError> {
    fs::create_dir_all(dir).map_err(TsdbError::io("creating", dir))?;
    let mut blocks = Vec::new();
    for entry in fs::read_dir(dir).map_err(TsdbError::io("listing", dir))? {
        let path = entry.map_err(TsdbError::io("listing", dir))?.path();
        let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("").to_owned();
        if name.ends_with(".block.tmp") {
            fs::remove_file(&path).map_err(TsdbError::io("removing", &path))?;
            continue;
        }
        let Some(number) = name.strip_suffix(".block").and_then(|n| n.parse::<u64>().ok()) else { continue };
        let bytes = fs::read(&path).map_err(TsdbError::io("reading", &path))?;
        let block = parse(&bytes, path.clone(), number).ok_or_else(|| {
            TsdbError::Corrupt(format!("{} is damaged; move it away to open the store without it", path.display()))
        })?;
        blocks.push(block);
    }
    blocks.sort_by_key(|block| block.number);
    Ok(blocks)
}

fn parse(bytes: &[u8], path: PathBuf, number: u64) -> Option<Block> {
    let (body, crc) = bytes.split_at(bytes.len().checked_sub(4)?);
    if CRC.checksum(body).to_le_bytes() != crc || !body.starts_with(MAGIC) {
        return None;
    }
    let mut reader = Reader(&body[MAGIC.len()..]);
    let n_series = reader.u32()?;
    let mut series = Vec::new();
    let (mut min_t, mut max_t) = (i64::MAX, i64::MIN);
    for _ in 0..n_series {
        let n_labels = reader.u32()?;
        let mut pairs = Vec::new();
        for _ in 0..n_labels {
            pairs.push((reader.str()?, reader.str()?));
        }
        let n_chunks = reader.u32()?;
        let mut chunks = Vec::new();
        for _ in 0..n_chunks {
            let chunk_min = reader.u64()? as i64;
            let chunk_max = reader.u64()? as i64;
            let n = reader.u32()?;
            let len = reader.u32()? as usize;
            min_t = min_t.min(chunk_min);
            max_t = max_t.max(chunk_max);
            chunks.push(Chunk { min_t: chunk_min, max_t: chunk_max, n, bytes: reader.bytes(len)? });
        }
        series.push((Labels::new(pairs), chunks));
    }
    Some(Block { path, number, min_t, max_t, size: bytes.len() as u64, series })
}
