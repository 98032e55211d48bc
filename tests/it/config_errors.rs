//! Config errors as the CLI prints them: `load` from a real file, and the message shape.

use std::path::PathBuf;

use infermux::config::{self, ConfigError};

/// A config file in the temp dir, removed on drop.
struct TempConfig(PathBuf);

impl TempConfig {
    fn new(name: &str, text: &str) -> Self {
        let path = std::env::temp_dir().join(format!("infermux-{}-{name}.yml", std::process::id()));
        std::fs::write(&path, text).expect("write temp config");
        Self(path)
    }
}

impl Drop for TempConfig {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

fn load_err(file: &TempConfig) -> ConfigError {
    match config::load(&file.0) {
        Ok(c) => panic!("expected an error, got {c:?}"),
        Err(e) => e,
    }
}

#[test]
fn load_reads_and_expands_a_file() {
    let file = TempConfig::new(
        "ok",
        "providers:\n  - name: \"${INFERMUX_TEST_UNSET_NAME:-local}\"\n    type: mock\n",
    );
    let c = config::load(&file.0).expect("valid config");
    assert_eq!(c.providers[0].name, "local");
}

#[test]
fn errors_name_the_file_line_column_field_problem_and_fix() {
    let file = TempConfig::new(
        "typo",
        "listen: \":8080\"\nproviders:\n  - name: openai\n    type: openai\n    baseurl: https://api.openai.com/v1\n",
    );
    let e = load_err(&file);
    let expected_start = format!(
        "{}:5:5: providers[0].baseurl: unknown key \"baseurl\"; did you mean \"base_url\"?",
        file.0.display()
    );
    assert!(e.to_string().starts_with(&expected_start), "{e}");
}

#[test]
fn an_unset_variable_is_named_with_its_line() {
    let file = TempConfig::new(
        "unset",
        "providers:\n  - name: openai\n    type: openai\n    api_key: \"${INFERMUX_TEST_UNSET_KEY}\"\n",
    );
    let e = load_err(&file);
    assert_eq!((e.line(), e.column()), (Some(4), Some(14)), "{e}");
    assert!(
        e.to_string()
            .contains("environment variable INFERMUX_TEST_UNSET_KEY is not set"),
        "{e}"
    );
}

#[test]
fn a_missing_file_is_an_error_naming_it() {
    let path = std::env::temp_dir().join("infermux-no-such-config.yml");
    let e = config::load(&path).expect_err("no such file");
    let msg = e.to_string();
    assert!(msg.starts_with(&path.display().to_string()), "{msg}");
    assert!(msg.contains("cannot read the config file"), "{msg}");
    assert_eq!(e.line(), None);
}

#[test]
fn the_default_config_is_valid_and_documented() {
    let c = config::default_config().expect("the embedded default config is valid");
    assert_eq!(c.providers[0].name, "mock");
    let again =
        config::parse(config::DEFAULT_CONFIG_YAML, "default.yml", &|_| None).expect("valid");
    assert_eq!(again.providers[0].models, c.providers[0].models);
    assert!(c.summary().contains("mock (mock) mock://local, 8 models"));
}
