//! Prometheus' remote-write protocol, version 1.0: the body is a protobuf `WriteRequest`
//! compressed with snappy's block format. Ferry reads it (Prometheus servers and agents send
//! to `/prometheus/api/v1/write`) and writes it (to forward samples to another store).
//!
//! Only float samples are read; native histograms, exemplars and metadata are counted or
//! skipped, as a receiver that stores floats only must. Every error says what is wrong with
//! the body; nothing here panics on any input (fuzzed).

use prost::Message as _;

use crate::labels::{Labels, METRIC_NAME};

/// The most a request may decompress to (Prometheus' senders send a few megabytes).
pub const MAX_DECOMPRESSED: usize = 256 * 1024 * 1024;

/// `prometheus.WriteRequest` (fields 1 and 3; 3, metadata, is skipped).
#[derive(Clone, PartialEq, prost::Message)]
pub struct WriteRequest {
    #[prost(message, repeated, tag = "1")]
    pub timeseries: Vec<TimeSeries>,
}

/// `prometheus.TimeSeries`: labels sorted by name, samples in time order.
#[derive(Clone, PartialEq, prost::Message)]
pub struct TimeSeries {
    #[prost(message, repeated, tag = "1")]
    pub labels: Vec<Label>,
    #[prost(message, repeated, tag = "2")]
    pub samples: Vec<Sample>,
    /// Native histograms (field 4): only counted, by the bytes' presence.
    #[prost(bytes = "vec", repeated, tag = "4")]
    pub histograms: Vec<Vec<u8>>,
}

/// `prometheus.Label`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct Label {
    #[prost(string, tag = "1")]
    pub name: String,
    #[prost(string, tag = "2")]
    pub value: String,
}

/// `prometheus.Sample`: a value at milliseconds since the epoch.
#[derive(Clone, PartialEq, prost::Message)]
pub struct Sample {
    #[prost(double, tag = "1")]
    pub value: f64,
    #[prost(int64, tag = "2")]
    pub timestamp: i64,
}

/// A body that is not a remote-write request.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum RemoteWriteError {
    #[error("the body is not snappy-compressed (block format, as remote write sends it): {0}")]
    Snappy(String),
    #[error("the body is not a protobuf WriteRequest: {0}")]
    Protobuf(String),
    #[error("series {series} has {problem}; every series needs a __name__ and distinct, non-empty label names")]
    BadLabels { series: usize, problem: &'static str },
}

/// What a request carried: float samples as `(labels, milliseconds, value)`, and how many
/// native histogram samples were skipped.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Decoded {
    pub samples: Vec<(Labels, i64, f64)>,
    pub histograms_skipped: usize,
}

/// Reads a snappy-compressed `WriteRequest`.
///
/// # Errors
/// [`RemoteWriteError`] when the body is not snappy, not the protobuf, or a series' labels
/// are not valid (no name, an empty or a repeated label name); nothing is returned then.
pub fn decode(body: &[u8]) -> Result<Decoded, RemoteWriteError> {
    // The block's header says how large it decompresses; a small body can claim gigabytes.
    let claimed = snap::raw::decompress_len(body).map_err(|error| RemoteWriteError::Snappy(error.to_string()))?;
    if claimed > MAX_DECOMPRESSED {
        return Err(RemoteWriteError::Snappy(format!(
            "it decompresses to {claimed} bytes, over the {MAX_DECOMPRESSED} a request may hold; send smaller batches"
        )));
    }
    let raw =
        snap::raw::Decoder::new().decompress_vec(body).map_err(|error| RemoteWriteError::Snappy(error.to_string()))?;
    let request =
        WriteRequest::decode(raw.as_slice()).map_err(|error| RemoteWriteError::Protobuf(error.to_string()))?;
    let mut decoded = Decoded::default();
    for (index, series) in request.timeseries.into_iter().enumerate() {
        let bad = |problem| RemoteWriteError::BadLabels { series: index, problem };
        let mut names: Vec<&str> = series.labels.iter().map(|label| label.name.as_str()).collect();
        names.sort_unstable();
        if names.iter().any(|name| name.is_empty()) {
            return Err(bad("an empty label name"));
        }
        if names.windows(2).any(|pair| pair[0] == pair[1]) {
            return Err(bad("a label name twice"));
        }
        if !names.contains(&METRIC_NAME) {
            return Err(bad("no __name__ label"));
        }
        decoded.histograms_skipped += series.histograms.len();
        let labels = Labels::new(series.labels.into_iter().map(|label| (label.name, label.value)));
        decoded
            .samples
            .extend(series.samples.into_iter().map(|sample| (labels.clone(), sample.timestamp, sample.value)));
    }
    Ok(decoded)
}

/// Writes samples as a snappy-compressed `WriteRequest`, one series per distinct label set
/// in the order first seen.
#[must_use]
pub fn encode(samples: &[(Labels, i64, f64)]) -> Vec<u8> {
    let mut request = WriteRequest::default();
    let mut index: std::collections::BTreeMap<&Labels, usize> = std::collections::BTreeMap::new();
    for (labels, timestamp, value) in samples {
        let at = *index.entry(labels).or_insert_with(|| {
            request.timeseries.push(TimeSeries {
                labels: labels
                    .iter()
                    .map(|(name, value)| Label { name: name.to_owned(), value: value.to_owned() })
                    .collect(),
                ..TimeSeries::default()
            });
            request.timeseries.len() - 1
        });
        request.timeseries[at].samples.push(Sample { value: *value, timestamp: *timestamp });
    }
    let raw = request.encode_to_vec();
    // Compressing a buffer in memory fails only past snappy's maximum input (about 4 GiB).
    snap::raw::Encoder::new().compress_vec(&raw).unwrap_or_default()
}

/// Samples waiting to be sent by remote write, oldest first, bounded: beyond `capacity` the
/// oldest are dropped and counted, as Prometheus' queue drops what it cannot hold. The
/// senders (the agent's push, the server's forwarding) hold one behind a lock.
#[derive(Clone, Debug)]
pub struct Queue {
    samples: std::collections::VecDeque<(Labels, i64, f64)>,
    capacity: usize,
    dropped: u64,
}

impl Queue {
    /// An empty queue that holds at most `capacity` samples (at least one).
    #[must_use]
    pub fn new(capacity: usize) -> Queue {
        Queue { samples: std::collections::VecDeque::new(), capacity: capacity.max(1), dropped: 0 }
    }

    /// Adds samples at the end, dropping the oldest beyond the capacity.
    pub fn push(&mut self, samples: impl IntoIterator<Item = (Labels, i64, f64)>) {
        self.samples.extend(samples);
        let over = self.samples.len().saturating_sub(self.capacity);
        if over > 0 {
            self.samples.drain(..over);
            self.drop_counted(over);
        }
    }

    /// Takes up to `n` of the oldest samples.
    pub fn take(&mut self, n: usize) -> Vec<(Labels, i64, f64)> {
        let n = n.min(self.samples.len());
        self.samples.drain(..n).collect()
    }

    /// Puts a batch that could not be sent back in front, in its order, as far as there is
    /// room; the oldest of it beyond that are dropped and counted.
    pub fn put_back(&mut self, batch: Vec<(Labels, i64, f64)>) {
        let room = self.capacity.saturating_sub(self.samples.len());
        let n_dropped = batch.len().saturating_sub(room);
        self.drop_counted(n_dropped);
        for sample in batch.into_iter().skip(n_dropped).rev() {
            self.samples.push_front(sample);
        }
    }

    /// Counts `n` samples dropped elsewhere (a batch the receiver refused).
    pub fn drop_counted(&mut self, n: usize) {
        self.dropped = self.dropped.saturating_add(n as u64);
    }

    /// How many samples wait.
    #[must_use]
    pub fn len(&self) -> usize {
        self.samples.len()
    }

    /// Whether none waits.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.samples.is_empty()
    }

    /// How many samples were dropped since the queue was made.
    #[must_use]
    pub fn dropped(&self) -> u64 {
        self.dropped
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn labels(pairs: &[(&str, &str)]) -> Labels {
        Labels::new(pairs.iter().copied())
    }

    #[test]
    fn what_is_encoded_decodes_to_the_same_samples() {
        let up = labels(&[("__name__", "up"), ("job", "api")]);
        let load = labels(&[("__name__", "load"), ("host", "a")]);
        let samples = vec![(up.clone(), 1_000, 1.0), (load.clone(), 1_000, 0.25), (up.clone(), 2_000, 0.0)];
        let decoded = decode(&encode(&samples)).expect("decodes");
        // One series per label set: up's two samples come together.
        assert_eq!(decoded.samples, vec![(up.clone(), 1_000, 1.0), (up, 2_000, 0.0), (load, 1_000, 0.25)]);
        assert_eq!(decoded.histograms_skipped, 0);
    }

    #[test]
    fn bad_bodies_and_labels_are_refused_with_the_reason() {
        assert!(matches!(decode(b"not snappy at all"), Err(RemoteWriteError::Snappy(_))));
        let garbage = snap::raw::Encoder::new().compress_vec(&[0xff, 0xff, 0xff]).expect("compress");
        assert!(matches!(decode(&garbage), Err(RemoteWriteError::Protobuf(_))));
        let nameless = vec![(labels(&[("job", "api")]), 1, 1.0)];
        assert_eq!(
            decode(&encode(&nameless)),
            Err(RemoteWriteError::BadLabels { series: 0, problem: "no __name__ label" })
        );
        let twice = WriteRequest {
            timeseries: vec![TimeSeries {
                labels: vec![
                    Label { name: "__name__".into(), value: "up".into() },
                    Label { name: "a".into(), value: "1".into() },
                    Label { name: "a".into(), value: "2".into() },
                ],
                ..TimeSeries::default()
            }],
        };
        let body = snap::raw::Encoder::new().compress_vec(&twice.encode_to_vec()).expect("compress");
        assert_eq!(decode(&body), Err(RemoteWriteError::BadLabels { series: 0, problem: "a label name twice" }));
    }

    #[test]
    fn a_body_that_claims_to_decompress_past_the_limit_is_refused_before_allocating() {
        // A snappy block's header is the decompressed length as a varint: 1 GiB here.
        let body = [0x80, 0x80, 0x80, 0x80, 0x04, 0x00];
        match decode(&body) {
            Err(RemoteWriteError::Snappy(message)) => assert!(message.contains("send smaller batches"), "{message}"),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn the_queue_drops_the_oldest_beyond_its_capacity_and_counts_them() {
        let sample = |n: usize| (labels(&[("__name__", &format!("s{n}"))]), 0, 1.0);
        let mut queue = Queue::new(10);
        queue.push((0..15).map(sample));
        assert_eq!((queue.len(), queue.dropped()), (10, 5));
        let batch = queue.take(3);
        assert_eq!(batch[0], sample(5), "the oldest went first");
        queue.push((100..102).map(sample));
        // A batch put back goes in front as far as there is room: one sample fits.
        queue.put_back(batch);
        assert_eq!((queue.len(), queue.dropped()), (10, 7));
        assert_eq!(queue.take(2), vec![sample(7), sample(8)]);
    }

    #[test]
    fn native_histograms_are_counted_not_stored() {
        let request = WriteRequest {
            timeseries: vec![TimeSeries {
                labels: vec![Label { name: "__name__".into(), value: "latency".into() }],
                samples: vec![],
                histograms: vec![vec![8, 1], vec![8, 2]],
            }],
        };
        let body = snap::raw::Encoder::new().compress_vec(&request.encode_to_vec()).expect("compress");
        let decoded = decode(&body).expect("decodes");
        assert_eq!((decoded.samples.len(), decoded.histograms_skipped), (0, 2));
    }
}
