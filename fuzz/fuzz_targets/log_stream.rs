//! Fuzzes the framed log stream's reader: any bytes, cut into pieces anywhere (the first byte
//! says where), give frames or a message saying what is wrong, never a panic; the same bytes
//! whole give the same frames and the same verdict; a chunk's text is whole lines, which
//! `LogChunkText::lines` finds as `str::lines` does; and the frames written again read back
//! the same.
#![no_main]

use ferry_proto::log_stream::{LogFrame, LogFrameHead, LogStreamDecoder};
use libfuzzer_sys::fuzz_target;

fn read(pieces: impl Iterator<Item = impl AsRef<[u8]>>) -> (Vec<LogFrame>, Option<String>) {
    let mut decoder = LogStreamDecoder::new();
    let mut frames = Vec::new();
    for piece in pieces {
        decoder.push(piece.as_ref());
        loop {
            match decoder.next_frame() {
                Ok(Some(frame)) => frames.push(frame),
                Ok(None) => break,
                Err(error) => return (frames, Some(error.to_string())),
            }
        }
    }
    (frames, None)
}

fuzz_target!(|data: &[u8]| {
    let Some((&cut, stream)) = data.split_first() else { return };
    let piece = usize::from(cut).max(1);
    let (frames, verdict) = read(stream.chunks(piece));
    assert_eq!(read(std::iter::once(stream)), (frames.clone(), verdict.clone()));
    let mut written = Vec::new();
    for frame in &frames {
        match frame {
            LogFrame::Chunk(chunk) => {
                assert!(chunk.text.is_empty() || chunk.text.ends_with('\n'), "{chunk:?}");
                assert!(chunk.lines().eq(chunk.text.lines()), "{chunk:?}");
                written.extend(
                    LogFrameHead::chunk(chunk.job_id, chunk.step_idx, chunk.seq, chunk.text.as_bytes()).encode(),
                );
                written.extend_from_slice(chunk.text.as_bytes());
            }
            LogFrame::End => written.extend(LogFrameHead::End.encode()),
            LogFrame::Error(message) => {
                written.extend(LogFrameHead::Error { message: message.clone() }.encode());
            }
        }
    }
    assert_eq!(read(std::iter::once(&written)), (frames, None));
});
