//! test util
