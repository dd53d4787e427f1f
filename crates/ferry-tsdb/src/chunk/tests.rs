//! Round trips of the Gorilla encoding over the cases its buckets and bit widths distinguish.

use super::*;

fn round_trip(samples: &[(i64, f64)]) -> Chunk {
    let mut writer = ChunkWriter::default();
    for (t, v) in samples {
        writer.push(*t, *v);
    }
    let chunk = writer.finish();
    let decoded = decode(&chunk.bytes, chunk.n).expect("a whole chunk decodes");
    assert_eq!(decoded.len(), samples.len());
    for (got, want) in decoded.iter().zip(samples) {
        assert_eq!(got.0, want.0);
        assert_eq!(got.1.to_bits(), want.1.to_bits(), "value at {}", want.0);
    }
    chunk
}

#[test]
fn regular_scrapes_compress_to_under_two_bytes_a_sample() {
    let samples: Vec<(i64, f64)> = (0..120).map(|i| (1_700_000_000_000 + i * 15_000, (i * 3) as f64)).collect();
    let chunk = round_trip(&samples);
    assert!(chunk.bytes.len() < 2 * samples.len(), "{} bytes", chunk.bytes.len());
}

#[test]
fn every_delta_bucket_and_odd_values_round_trip() {
    let mut t = -5_000i64;
    let mut samples = Vec::new();
    let steps = [1, 1, 8_000, 8_192, 70_000, 600_000, 1 << 40, 3, 15_000, 15_000];
    let values =
        [0.0, -0.0, f64::NAN, f64::INFINITY, f64::NEG_INFINITY, 1e-300, f64::MAX, 0.1, 0.2, ferry_promql::stale_nan()];
    for (step, value) in steps.iter().zip(values) {
        t += step;
        samples.push((t, value));
    }
    round_trip(&samples);
    round_trip(&[(0, 1.0)]);
    round_trip(&[(0, 1.0), (1, f64::from_bits(1)), (2, f64::from_bits(u64::MAX))]);
}

#[test]
fn a_cut_chunk_does_not_decode() {
    let samples: Vec<(i64, f64)> = (0..10).map(|i| (i * 1000, i as f64 * 1.5)).collect();
    let mut writer = ChunkWriter::default();
    for (t, v) in &samples {
        writer.push(*t, *v);
    }
    let chunk = writer.finish();
    assert_eq!(decode(&chunk.bytes[..chunk.bytes.len() / 2], chunk.n), None);
}
