//! Turns OpenAI's rank files (`src/tokens/assets/*.tiktoken`, base64 tokens, one per line in
//! rank order) into the form the token counter reads in place: every token's bytes end to end
//! (`<name>.tokens`) and where each starts, as little-endian `u32`s with one extra entry for
//! the end (`<name>.starts`). The binary then carries 1.9 MiB instead of 3.4 MiB of base64
//! for `o200k_base`, and counting borrows it instead of decoding a copy onto the heap.

use std::{env, fs, path::Path};

use base64::{Engine, engine::general_purpose::STANDARD};

/// The encodings counted by the compact counter.
const ENCODINGS: [&str; 2] = ["o200k_base", "cl100k_base"];

fn main() {
    let out = env::var("OUT_DIR").expect("cargo sets OUT_DIR");
    for name in ENCODINGS {
        let source = format!("src/tokens/assets/{name}.tiktoken");
        println!("cargo:rerun-if-changed={source}");
        let text = fs::read_to_string(&source).unwrap_or_else(|e| panic!("{source}: {e}"));
        let (tokens, starts) = decode(&source, &text);
        fs::write(Path::new(&out).join(format!("{name}.tokens")), tokens).expect("write tokens");
        fs::write(Path::new(&out).join(format!("{name}.starts")), starts).expect("write starts");
    }
}

/// The token bytes and their little-endian `u32` starts; panics, naming the line, on a line
/// that is not `<base64> <rank>` with ranks 0, 1, 2, ... in order.
fn decode(source: &str, text: &str) -> (Vec<u8>, Vec<u8>) {
    let mut tokens = Vec::with_capacity(text.len() / 2);
    let mut starts = Vec::with_capacity(text.len() / 3);
    for (number, line) in text.lines().enumerate() {
        let fail = |what: &str| -> ! { panic!("{source}, line {}: {what}", number + 1) };
        let Some((token, rank)) = line.split_once(' ') else {
            fail("not `<base64 token> <rank>`");
        };
        if rank.parse::<usize>().ok() != Some(number) {
            fail("ranks must run 0, 1, 2, ... in file order");
        }
        starts.extend_from_slice(&offset(tokens.len()).to_le_bytes());
        if STANDARD.decode_vec(token, &mut tokens).is_err() {
            fail("the token is not base64");
        }
    }
    starts.extend_from_slice(&offset(tokens.len()).to_le_bytes());
    (tokens, starts)
}

fn offset(n: usize) -> u32 {
    u32::try_from(n).expect("a rank file is far smaller than 4 GiB")
}
