//! A series' label set: sorted by name, no empty values, as Prometheus keeps them.

use std::fmt;

/// The name label, `__name__`.
pub const METRIC_NAME: &str = "__name__";

/// Labels sorted by name; a label with an empty value is the same as no label.
#[derive(Clone, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Labels(Vec<(String, String)>);

impl Labels {
    /// Builds a label set from pairs in any order; empty values are dropped, and of two pairs
    /// with one name the last wins.
    pub fn new<K: Into<String>, V: Into<String>>(pairs: impl IntoIterator<Item = (K, V)>) -> Labels {
        let mut labels = Labels::default();
        for (name, value) in pairs {
            labels.set(&name.into(), value.into());
        }
        labels
    }

    pub fn get(&self, name: &str) -> Option<&str> {
        self.0.binary_search_by(|(n, _)| n.as_str().cmp(name)).ok().map(|idx| self.0[idx].1.as_str())
    }

    /// Sets a label; an empty value removes it.
    pub fn set(&mut self, name: &str, value: String) {
        match self.0.binary_search_by(|(n, _)| n.as_str().cmp(name)) {
            Ok(idx) if value.is_empty() => {
                self.0.remove(idx);
            }
            Ok(idx) => self.0[idx].1 = value,
            Err(_) if value.is_empty() => {}
            Err(idx) => self.0.insert(idx, (name.to_owned(), value)),
        }
    }

    pub fn remove(&mut self, name: &str) {
        if let Ok(idx) = self.0.binary_search_by(|(n, _)| n.as_str().cmp(name)) {
            self.0.remove(idx);
        }
    }

    /// The same labels without `__name__`.
    pub fn without_name(&self) -> Labels {
        let mut labels = self.clone();
        labels.remove(METRIC_NAME);
        labels
    }

    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.0.iter().map(|(n, v)| (n.as_str(), v.as_str()))
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Keeps only the labels `keep` says yes to.
    pub fn retain(&mut self, mut keep: impl FnMut(&str) -> bool) {
        self.0.retain(|(n, _)| keep(n));
    }
}

impl fmt::Display for Labels {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let name = self.get(METRIC_NAME).unwrap_or("");
        write!(f, "{name}{{")?;
        let mut first = true;
        for (n, v) in self.iter().filter(|(n, _)| *n != METRIC_NAME) {
            if !first {
                write!(f, ", ")?;
            }
            first = false;
            write!(f, "{n}={v:?}")?;
        }
        write!(f, "}}")
    }
}
