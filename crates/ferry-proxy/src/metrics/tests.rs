//! Unit tests of `metrics`.

use super::*;
