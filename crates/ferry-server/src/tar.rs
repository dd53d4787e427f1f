//! The headers of a POSIX tar archive (ustar, with a pax `path`/`size` record for what ustar
//! cannot hold), for streaming an artifact's files as one download.
//!
//! Every entry is owned by `nobody` (65534) and keeps only its permission bits (`mode &
//! 0o777`): an archive a person downloads and unpacks as root must not recreate setuid,
//! setgid or sticky files, nor files owned by root.
//!
//! Written here rather than with the `tar` crate: an archive of regular files needs only
//! these headers, and the `tar` crate's `Builder` writes to a blocking `Write`, where the
//! download streams blob by blob from async code.

/// The two zero blocks that end an archive.
pub(crate) const END: [u8; 1024] = [0; 1024];

const BLOCK: usize = 512;
/// The largest size ustar's 11 octal digits hold.
const USTAR_MAX_SIZE: u64 = 0o77_777_777_777;
/// The user and group every entry belongs to: `nobody`, so extracting as root gives no file
/// to root.
const NOBODY_ID: u64 = 65_534;
const NOBODY: &[u8] = b"nobody";

/// The header(s) of a regular file at `path` (relative, `/`-separated) of `size` bytes; only
/// the permission bits of `mode` are kept.
pub(crate) fn file_header(path: &str, size: u64, mode: u32, mtime_s: u64) -> Vec<u8> {
    let mut out = Vec::with_capacity(BLOCK);
    let split = split_path(path);
    let mut records = String::new();
    if split.is_none() {
        records.push_str(&pax_record("path", path));
    }
    if size > USTAR_MAX_SIZE {
        records.push_str(&pax_record("size", &size.to_string()));
    }
    if !records.is_empty() {
        out.extend(ustar_header("pax_header", "", records.len() as u64, 0o644, mtime_s, b'x'));
        out.extend(records.as_bytes());
        out.resize(out.len() + padding(records.len() as u64), 0);
    }
    let (prefix, name) = split.unwrap_or(("", &path[path.len().saturating_sub(100)..]));
    out.extend(ustar_header(name, prefix, size.min(USTAR_MAX_SIZE), mode, mtime_s, b'0'));
    out
}

/// The zeros that fill a file's last block.
pub(crate) fn padding(size: u64) -> usize {
    let rest = (size % BLOCK as u64) as usize;
    if rest == 0 { 0 } else { BLOCK - rest }
}

/// `path` as ustar's prefix (up to 155 bytes) and name (up to 100), if it fits.
fn split_path(path: &str) -> Option<(&str, &str)> {
    if path.len() <= 100 {
        return Some(("", path));
    }
    path.match_indices('/')
        .map(|(idx, _)| (&path[..idx], &path[idx + 1..]))
        .find(|(prefix, name)| prefix.len() <= 155 && name.len() <= 100 && !name.is_empty())
}

/// `<length> key=value\n`, the length counting itself.
fn pax_record(key: &str, value: &str) -> String {
    let rest = key.len() + value.len() + 3;
    let mut len = rest + 1;
    while len != rest + len.to_string().len() {
        len = rest + len.to_string().len();
    }
    format!("{len} {key}={value}\n")
}

fn ustar_header(name: &str, prefix: &str, size: u64, mode: u32, mtime_s: u64, kind: u8) -> [u8; BLOCK] {
    let mut block = [0u8; BLOCK];
    let put = |block: &mut [u8; BLOCK], at: usize, bytes: &[u8]| block[at..at + bytes.len()].copy_from_slice(bytes);
    let octal = |width: usize, value: u64| format!("{value:0width$o}", width = width - 1);
    put(&mut block, 0, name.as_bytes());
    put(&mut block, 100, octal(8, u64::from(mode & 0o777)).as_bytes());
    put(&mut block, 108, octal(8, NOBODY_ID).as_bytes());
    put(&mut block, 116, octal(8, NOBODY_ID).as_bytes());
    put(&mut block, 124, octal(12, size).as_bytes());
    put(&mut block, 136, octal(12, mtime_s.min(0o77_777_777_777)).as_bytes());
    put(&mut block, 148, b"        ");
    block[156] = kind;
    put(&mut block, 257, b"ustar\0");
    put(&mut block, 263, b"00");
    put(&mut block, 265, NOBODY);
    put(&mut block, 297, NOBODY);
    put(&mut block, 345, prefix.as_bytes());
    let checksum: u32 = block.iter().map(|&byte| u32::from(byte)).sum();
    put(&mut block, 148, format!("{checksum:06o}\0 ").as_bytes());
    block
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pax_records_count_their_own_length() {
        assert_eq!(pax_record("path", "a"), "9 path=a\n");
        let long = "x".repeat(95);
        let record = pax_record("path", &long);
        assert_eq!(record.len().to_string(), record.split(' ').next().expect("a length"));
    }

    #[test]
    fn long_paths_split_at_a_slash_or_go_to_a_pax_record() {
        let path = format!("{}/{}", "d".repeat(120), "f".repeat(90));
        assert_eq!(split_path(&path).map(|(prefix, name)| (prefix.len(), name.len())), Some((120, 90)));
        let header = file_header(&"f".repeat(300), 3, 0o644, 0);
        assert_eq!((header.len(), header[156]), (3 * BLOCK, b'x'));
    }

    #[test]
    fn issue_13_setuid_bits_and_root_ownership_are_not_kept() {
        let header = file_header("bin/tool", 1, 0o104_755, 0);
        let field =
            |at: usize, len: usize| String::from_utf8_lossy(&header[at..at + len]).trim_end_matches('\0').to_owned();
        assert_eq!(
            [field(100, 8), field(108, 8), field(116, 8), field(265, 32), field(297, 32)],
            ["0000755", "0177776", "0177776", "nobody", "nobody"]
        );
        let checksum: u32 = header
            .iter()
            .enumerate()
            .map(|(idx, &byte)| if (148..156).contains(&idx) { 32 } else { u32::from(byte) })
            .sum();
        assert_eq!(field(148, 6), format!("{checksum:06o}"));
    }

    #[test]
    fn files_are_padded_to_whole_blocks() {
        assert_eq!([padding(0), padding(1), padding(512), padding(513)], [0, 511, 0, 511]);
    }
}
