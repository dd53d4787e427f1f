//! Gorilla compression of one series' samples (Facebook's Gorilla paper, as Prometheus
//! encodes its XOR chunks): timestamps as deltas of deltas, values as the XOR with the
//! previous value with its leading and trailing zeros elided. A regular scrape of a counter costs
//! under 2 bytes a sample (`chunk/tests.rs`).

/// An append-only bit stream.
#[derive(Clone, Debug, Default)]
struct BitWriter {
    bytes: Vec<u8>,
    /// Bits used in the last byte (0 means the last byte is full or there is none).
    used: u8,
}

impl BitWriter {
    fn write_bit(&mut self, bit: bool) {
        if self.used == 0 {
            self.bytes.push(0);
        }
        if bit {
            let last = self.bytes.len() - 1;
            self.bytes[last] |= 0x80 >> self.used;
        }
        self.used = (self.used + 1) % 8;
    }

    fn write_bits(&mut self, value: u64, n: u32) {
        for idx in (0..n).rev() {
            self.write_bit((value >> idx) & 1 == 1);
        }
    }
}

struct BitReader<'a> {
    bytes: &'a [u8],
    position: usize,
}

impl BitReader<'_> {
    fn read_bit(&mut self) -> Option<bool> {
        let byte = self.bytes.get(self.position / 8)?;
        let bit = byte & (0x80 >> (self.position % 8)) != 0;
        self.position += 1;
        Some(bit)
    }

    fn read_bits(&mut self, n: u32) -> Option<u64> {
        let mut value = 0u64;
        for _ in 0..n {
            value = (value << 1) | u64::from(self.read_bit()?);
        }
        Some(value)
    }
}

/// The bucket sizes of a delta of deltas, after their prefixes `10`, `110`, `1110`.
const DOD_BITS: [u32; 3] = [14, 17, 20];

fn fits(value: i64, bits: u32) -> bool {
    let half = 1i64 << (bits - 1);
    (-half..half).contains(&value)
}

fn sign_extend(value: u64, bits: u32) -> i64 {
    let shift = 64 - bits;
    ((value << shift) as i64) >> shift
}

/// A chunk being written.
#[derive(Clone, Debug, Default)]
pub struct ChunkWriter {
    bits: BitWriter,
    n: u32,
    min_t: i64,
    last_t: i64,
    last_delta: i64,
    last_value: u64,
    leading: u32,
    trailing: u32,
}

impl ChunkWriter {
    /// Appends a sample; its time must be after the last one's (the caller checks).
    pub fn push(&mut self, t: i64, v: f64) {
        let value = v.to_bits();
        if self.n == 0 {
            self.bits.write_bits(t as u64, 64);
            self.bits.write_bits(value, 64);
            self.min_t = t;
        } else {
            let delta = t.wrapping_sub(self.last_t);
            let dod = delta.wrapping_sub(self.last_delta);
            if dod == 0 {
                self.bits.write_bit(false);
            } else if let Some(idx) = DOD_BITS.iter().position(|bits| fits(dod, *bits)) {
                // Prefix: idx + 1 ones and a zero.
                self.bits.write_bits((1u64 << (idx + 2)) - 2, idx as u32 + 2);
                self.bits.write_bits(dod as u64, DOD_BITS[idx]);
            } else {
                self.bits.write_bits(0b1111, 4);
                self.bits.write_bits(dod as u64, 64);
            }
            self.last_delta = delta;
            self.write_value(value);
        }
        self.last_t = t;
        self.last_value = value;
        self.n += 1;
    }

    fn write_value(&mut self, value: u64) {
        let xor = value ^ self.last_value;
        if xor == 0 {
            self.bits.write_bit(false);
            return;
        }
        self.bits.write_bit(true);
        let leading = xor.leading_zeros().min(31);
        let trailing = xor.trailing_zeros();
        if self.n > 1 && leading >= self.leading && trailing >= self.trailing && self.leading + self.trailing > 0 {
            self.bits.write_bit(false);
            self.bits.write_bits(xor >> self.trailing, 64 - self.leading - self.trailing);
        } else {
            self.bits.write_bit(true);
            let significant = 64 - leading - trailing;
            self.bits.write_bits(u64::from(leading), 5);
            // 64 significant bits are written as 0: six bits hold 0..=63.
            self.bits.write_bits(u64::from(significant % 64), 6);
            self.bits.write_bits(xor >> trailing, significant);
            self.leading = leading;
            self.trailing = trailing;
        }
    }

    pub fn len(&self) -> u32 {
        self.n
    }

    pub fn is_empty(&self) -> bool {
        self.n == 0
    }

    /// The finished chunk.
    pub fn finish(&self) -> Chunk {
        Chunk { min_t: self.min_t, max_t: self.last_t, n: self.n, bytes: self.bits.bytes.clone() }
    }
}

/// A closed chunk: its encoded bytes and what a reader needs to skip it.
#[derive(Clone, Debug, PartialEq)]
pub struct Chunk {
    pub min_t: i64,
    pub max_t: i64,
    pub n: u32,
    pub bytes: Vec<u8>,
}

/// Decodes `n` samples from chunk bytes; `None` when the bytes end early (a damaged chunk).
pub fn decode(bytes: &[u8], n: u32) -> Option<Vec<(i64, f64)>> {
    let mut reader = BitReader { bytes, position: 0 };
    let mut samples = Vec::with_capacity(n as usize);
    if n == 0 {
        return Some(samples);
    }
    let mut t = reader.read_bits(64)? as i64;
    let mut value = reader.read_bits(64)?;
    samples.push((t, f64::from_bits(value)));
    let (mut delta, mut leading, mut trailing) = (0i64, 0u32, 0u32);
    for _ in 1..n {
        let mut ones = 0;
        while ones < 4 && reader.read_bit()? {
            ones += 1;
        }
        let dod = match ones {
            0 => 0,
            4 => reader.read_bits(64)? as i64,
            _ => {
                let bits = DOD_BITS[ones - 1];
                sign_extend(reader.read_bits(bits)?, bits)
            }
        };
        delta = delta.wrapping_add(dod);
        t = t.wrapping_add(delta);
        if reader.read_bit()? {
            if reader.read_bit()? {
                leading = reader.read_bits(5)? as u32;
                let mut significant = reader.read_bits(6)? as u32;
                if significant == 0 {
                    significant = 64;
                }
                trailing = 64 - leading - significant;
            }
            let significant = 64 - leading - trailing;
            value ^= reader.read_bits(significant)? << trailing;
        }
        samples.push((t, f64::from_bits(value)));
    }
    Some(samples)
}

#[cfg(test)]
mod tests;
