//! Unit tests of `routes`.

use super::*;
