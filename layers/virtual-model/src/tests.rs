//! Layer tests.
