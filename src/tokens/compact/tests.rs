//! The compact counter against tiktoken-rs's `CoreBPE`: the same count for every text.

use std::sync::OnceLock;

use proptest::prelude::*;
use tiktoken_rs::CoreBPE;

use super::{CL100K_BASE_PATTERN, CompactBpe, O200K_BASE_PATTERN, pieces};

fn o200k() -> &'static CompactBpe {
    static TABLE: OnceLock<CompactBpe> = OnceLock::new();
    TABLE.get_or_init(CompactBpe::o200k_base)
}

fn cl100k() -> &'static CompactBpe {
    static TABLE: OnceLock<CompactBpe> = OnceLock::new();
    TABLE.get_or_init(CompactBpe::cl100k_base)
}

/// Both encodings: ours and tiktoken-rs's.
fn pairs() -> [(&'static str, &'static CompactBpe, &'static CoreBPE); 2] {
    [
        ("o200k_base", o200k(), tiktoken_rs::o200k_base_singleton()),
        (
            "cl100k_base",
            cl100k(),
            tiktoken_rs::cl100k_base_singleton(),
        ),
    ]
}

/// Asserts that both encodings count `text` as tiktoken-rs does.
fn assert_same(text: &str) {
    for (name, ours, theirs) in pairs() {
        let expected = theirs.encode_ordinary(text).len();
        assert_eq!(
            ours.count_ordinary(text),
            expected,
            "{name}: {:?}",
            text.chars().take(80).collect::<String>()
        );
    }
}

/// Texts of every kind a prompt has, and the pre-tokenizer's edge cases.
const CORPUS: &[&str] = &[
    "",
    "hi",
    "Hello, world!",
    "The quick brown fox jumps over the lazy dog. It's 5 o'clock; we'll see, they've gone, I'd go, you're right, she's here.",
    "xA0 aB camelCaseWord HTTPServer iPhone McDonald's O'Neil",
    "???.!A",
    "\u{0301},a\r",
    "...\n/path//\n// comment\r\n",
    "IT'S SHOUTING AND IT'LL KEEP ON, DON'T YOU THINK? CamelCaseWords, snake_case_words, kebab-case-words.",
    "fn main() {\n    let xs: Vec<u32> = (0..10).map(|x| x * 2).collect();\n    println!(\"{xs:?}\");\n}\n",
    "def f(a, b=3, *args, **kw):\n\treturn [x ** 2 for x in range(a) if x % b == 0]\n\n\n# done\n",
    "{\"model\":\"gpt-4o-mini\",\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}],\"temperature\":0.7,\"tools\":null}",
    "  {\n    \"a\": [1, 2.5, -3e10, true, false, null],\n    \"b\": {\"c\": \"d\\n\\u00e9\"}\n  }\n",
    "1 12 123 1234 12345 123456 1234567 3.14159265358979 -42 +7 1,000,000 0x1F 1e-9 2026-12-05T01:05:00Z",
    "١٢٣٤٥ ١٢٣ 一二三 ⅠⅡⅢ ①②③ 𝟙𝟚𝟛",
    "                                                                                ",
    "a                    b",
    "trailing spaces   ",
    "   leading spaces",
    "\n",
    "\n\n\n\n",
    "\r\n\r\n",
    "line one\nline two\r\nline three\n\n\nline four   \n   \n\t\n",
    " \n \n  \n   x",
    "word   \nnext",
    "x \t \t y",
    "\t\t\tindented\n\t\t\t\tmore",
    "    \n    \n    ",
    "a\u{00A0}b\u{2003}c\u{3000}d",
    "end with space ",
    "end with newline\n",
    "!!! ??? ... --- /// \\\\ ||| ::: ;;; @@@ ### $$$ %%% ^^^ &&& *** ((( ))) [[[ ]]] {{{ }}}",
    "path/to/some/file.rs:12:34 https://example.com/a/b?c=d&e=f#g ../../up //comment\n/*x*/",
    "日本語のテキストです。これはテストです。東京都、大阪府。",
    "中文文本测试，包含标点符号！还有数字123和English混合。",
    "한국어 텍스트입니다. 안녕하세요!",
    "Русский текст: Привет, мир! Ёжик в тумане.",
    "Ελληνικά: Γειά σου Κόσμε. العربية: مرحبا بالعالم. עברית: שלום עולם. हिन्दी: नमस्ते दुनिया। ไทย: สวัสดีชาวโลก",
    "emoji 😀😃😄 👨‍👩‍👧‍👦 🏳️‍🌈 👍🏽 ❤️ 🇫🇷🇯🇵 ✨🚀",
    "combining: e\u{0301} a\u{0308}\u{0304} Z\u{0351}\u{0358}\u{0334}a\u{0336}\u{0352}l\u{0334}g\u{0360}o\u{0345} n\u{0303}",
    "mixed: naïve café résumé Straße ǅungla ﬁne ＡＢＣ ａｂｃ Ⅻ 𝔘𝔫𝔦𝔠𝔬𝔡𝔢",
    "<|endoftext|> <|fim_prefix|> <|endofprompt|> are ordinary text here",
    "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
    "QmFzZTY0IGVuY29kZWQgZGF0YSBsb29rcyBsaWtlIHRoaXMsIGEgbG9uZyB3b3JkIHdpdGhvdXQgc3BhY2VzIHRoYXQgbXVzdCBiZSBtZXJnZWQgYnl0ZSBieSBieXRlIGFuZCBwYWlyIGJ5IHBhaXI=",
    "\u{FEFF}bom \u{200B}zero\u{200D}width \u{FFFD} replacement \u{10FFFF}",
];

#[test]
fn a_thread_with_patterns_of_its_own_counts_the_same() {
    let text = CORPUS.join("\n");
    let shared = (
        o200k().count_ordinary(&text),
        cl100k().count_ordinary(&text),
    );
    let own = std::thread::spawn(move || {
        super::compile_patterns_here();
        (
            o200k().count_ordinary(&text),
            cl100k().count_ordinary(&text),
        )
    })
    .join()
    .expect("counted");
    assert_eq!(own, shared);
}

#[test]
fn single_words_count_as_tiktoken_counts_them() {
    for word in [
        "user",
        "assistant",
        "system",
        "developer",
        "tool",
        "hi",
        "Hello",
        "H",
        "a",
        "I",
        "HeLLo",
        "HELLO",
        "antidisestablishmentarianism",
        "Pneumonoultramicroscopic",
        "ok.",
        "don't",
        "naïve",
    ] {
        assert_same(word);
    }
}

#[test]
fn the_corpus_counts_as_tiktoken_counts_it() {
    for text in CORPUS {
        assert_same(text);
    }
    // Everything at once, and each text glued to the next.
    assert_same(&CORPUS.join("\n"));
    assert_same(&CORPUS.concat());
}

#[test]
fn long_runs_count_as_tiktoken_counts_them() {
    // Long pieces take the heap merge (above 128 bytes); whitespace runs exercise
    // `\s+(?!\S)` and `\s*[\r\n]+`.
    for n in [
        1, 2, 3, 7, 8, 9, 15, 16, 17, 31, 32, 33, 79, 80, 81, 127, 128, 129, 130, 500, 3000,
    ] {
        for unit in [
            " ", "\t", "\n", " \n", "a", "ab", "7", "é", "日", "😀", "-", "=", ". ",
        ] {
            let run = unit.repeat(n);
            assert_same(&run);
            assert_same(&format!("x{run}y"));
            assert_same(&format!("{run} word"));
        }
    }
}

#[test]
fn a_100_kb_text_counts_as_tiktoken_counts_it() {
    let mut text = String::with_capacity(110_000);
    let mut i = 0usize;
    while text.len() < 100_000 {
        text.push_str(CORPUS[(i * 7 + i / 5) % CORPUS.len()]);
        text.push_str(if i.is_multiple_of(3) { "\n" } else { " " });
        i += 1;
    }
    assert_same(&text);
}

#[test]
fn the_tables_are_small() {
    // Only the index is on the heap (the token bytes and offsets are the binary's);
    // tiktoken-rs's `CoreBPE` holds about 45 MiB for o200k_base.
    assert!(o200k().table_bytes() < 2 << 20, "{}", o200k().table_bytes());
    assert!(
        cl100k().table_bytes() < 1 << 20,
        "{}",
        cl100k().table_bytes()
    );
    assert_eq!(o200k().vocab.len(), 199_998);
    assert_eq!(cl100k().vocab.len(), 100_256);
}

/// `cl100k_base`'s pre-tokenizer as OpenAI's tiktoken defines it (tiktoken-rs passes it
/// inline rather than exporting it), with its look-ahead and possessive quantifiers.
const TIKTOKEN_CL100K_BASE_PATTERN: &str = r"'(?i:[sdmt]|ll|ve|re)|[^\r\n\p{L}\p{N}]?+\p{L}++|\p{N}{1,3}+| ?[^\s\p{L}\p{N}]++[\r\n]*+|\s++$|\s*[\r\n]|\s+(?!\S)|\s";

#[test]
fn the_patterns_are_tiktokens_less_look_ahead_and_possessives() {
    assert_eq!(
        tiktoken_rs::O200K_BASE_PAT_STR.replace(r"|\s+(?!\S)", ""),
        O200K_BASE_PATTERN
    );
    let greedy = TIKTOKEN_CL100K_BASE_PATTERN
        .replace("{1,3}+", "{1,3}")
        .replace("?+", "?")
        .replace("++", "+")
        .replace("*+", "*")
        .replace(r"|\s+(?!\S)|\s", r"|\s+");
    assert_eq!(greedy, CL100K_BASE_PATTERN);
}

/// `text` split by tiktoken's `pattern` on `fancy-regex`, look-ahead and all.
fn fancy_pieces<'t>(pattern: &fancy_regex::Regex, text: &'t str) -> Vec<&'t str> {
    pattern
        .find_iter(text)
        .map(|piece| piece.expect("split").as_str())
        .collect()
}

/// Both encodings' patterns: tiktoken's on `fancy-regex`, ours on `regex`.
fn pattern_pairs() -> &'static [(&'static str, fancy_regex::Regex, regex::Regex); 2] {
    static PAIRS: OnceLock<[(&str, fancy_regex::Regex, regex::Regex); 2]> = OnceLock::new();
    PAIRS.get_or_init(|| {
        let pair = |name, theirs: &str, ours: &str| {
            (
                name,
                fancy_regex::Regex::new(theirs).expect("tiktoken's pattern"),
                regex::Regex::new(ours).expect("our pattern"),
            )
        };
        [
            pair(
                "o200k_base",
                tiktoken_rs::O200K_BASE_PAT_STR,
                O200K_BASE_PATTERN,
            ),
            pair(
                "cl100k_base",
                TIKTOKEN_CL100K_BASE_PATTERN,
                CL100K_BASE_PATTERN,
            ),
        ]
    })
}

/// Asserts that both encodings split `text` into tiktoken's pieces.
fn assert_same_pieces(text: &str) {
    for (name, theirs, ours) in pattern_pairs() {
        assert_eq!(
            pieces(ours, text).collect::<Vec<_>>(),
            fancy_pieces(theirs, text),
            "{name}: {text:?}"
        );
    }
}

#[test]
fn whitespace_runs_split_as_the_look_ahead_splits_them() {
    for text in [
        "a  b",
        "a \u{3000}b",
        "  lead",
        "trail  ",
        "x \n y",
        "x\t\t\ty",
        " \u{a0}\u{85}\u{2028}z",
        "a \x0b\x0c b",
        "one\r\n\r\n  two",
        "é \u{0301}",
        "a \n\n  b",
        "!!abc ??  12345 'S 'll",
    ] {
        assert_same_pieces(text);
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn both_encodings_split_as_tiktokens_patterns_split(
        text in "[ \t\r\n\x0b\x0c\u{a0}\u{85}\u{2028}\u{3000}aZé日0-9'.,!?/_\u{0301}sStTdDlLvVrReEmM-]{0,60}"
    ) {
        for (name, theirs, ours) in pattern_pairs() {
            prop_assert_eq!(pieces(ours, &text).collect::<Vec<_>>(), fancy_pieces(theirs, &text), "{}", name);
        }
    }

    #[test]
    fn random_unicode_counts_as_tiktoken_counts_it(text in any::<String>()) {
        for (name, ours, theirs) in pairs() {
            prop_assert_eq!(ours.count_ordinary(&text), theirs.encode_ordinary(&text).len(), "{}", name);
        }
    }

    #[test]
    fn random_words_count_as_tiktoken_counts_them(text in "[a-zA-Z][a-zA-Z]{0,30}") {
        for (name, ours, theirs) in pairs() {
            prop_assert_eq!(ours.count_ordinary(&text), theirs.encode_ordinary(&text).len(), "{}", name);
        }
    }

    #[test]
    fn random_text_of_common_classes_counts_as_tiktoken_counts_it(
        text in "[a-zA-Z0-9 \t\r\n'.,;:!?éüß日本語😀\u{0301}_/-]{0,200}"
    ) {
        for (name, ours, theirs) in pairs() {
            prop_assert_eq!(ours.count_ordinary(&text), theirs.encode_ordinary(&text).len(), "{}", name);
        }
    }
}
