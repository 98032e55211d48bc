//! The configuration file: format, `${ENV}` expansion and validation.
