//! Unit tests of `forward`.

use super::*;
