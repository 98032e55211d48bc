//! Any text as a config file: `parse` answers a `Config` or a `ConfigError`, never panics.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    // A few variables are set, so that `${VAR}` and `${VAR:-default}` paths run both ways.
    let env = |name: &str| match name {
        "OPENAI_API_KEY" => Some("sk-fuzz".to_owned()),
        "EMPTY" => Some(String::new()),
        _ => None,
    };
    if let Err(error) = infermux::config::parse(text, "fuzz.yml", &env) {
        // Rendering the message walks the file positions too.
        let _ = error.to_string();
    }
});
