//! The marker phrases the scorer counts, by kind.
//!
//! A marker that starts with a letter matches only at the start of a word (`analy` matches
//! "analyse" and "analysis", not "canalyze"); any other marker (code fences, operators,
//! numbered-list starts) matches anywhere. Matching ignores ASCII case.

/// What a marker is evidence of.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Marker {
    /// Source code or programming work.
    Code,
    /// Mathematics.
    Maths,
    /// Analysis, explanation, design, judgement.
    Reasoning,
    /// Several steps or parts.
    Steps,
    /// A routine task: classify, extract, translate, a short answer.
    Light,
}

/// Code: fences, syntax, and the words of programming work.
const CODE: &[&str] = &[
    "```", "fn ", "def ", "class ", "import ", "#include", "public static", "console.log",
    "println", "printf", "=>", "->", "();", "};", "!=", "==", "&&", "||", "function", "implement",
    "refactor", "debug", "compile", "stack trace", "traceback", "exception", "segfault", "regex",
    "sql", "query", "endpoint", "algorithm", "data structure", "unit test", "recursion", "async",
    "thread", "concurren", "mutex", "rust", "python", "javascript", "typescript", "golang", "java",
    "c++", "kubernetes", "docker", "terraform", "script", "code", "program", "optimi", "big-o",
    "o(n", "memory leak", "race condition", "deadlock", "git ", "bash", "api", "schema",
    "database", "index", "cache", "latency", "microservice", "backend", "frontend", "compiler",
    "parser", "binary search", "linked list", "hash map", "hashmap", "sorting", "dynamic programming",
];

/// Mathematics: words and notation.
const MATHS: &[&str] = &[
    "prove", "proof", "theorem", "lemma", "integral", "integrate", "derivative", "differentiat",
    "equation", "solve for", "probability", "expected value", "variance", "matrix", "matrices",
    "eigen", "vector space", "converge", "polynomial", "\\frac", "\\sum", "\\int", "\u{222b}",
    "\u{2211}", "\u{221a}", "modulo", "prime", "combinatori", "induction", "linear program",
    "calculus", "geometr", "statistic", "regression", "bayes", "asymptot", "inequality",
    "optimal", "closed form", "recurrence", "permutation", "logarithm", "theta", "sigma", "x^2",
    "^2", "dx",
];

/// Analysis and judgement.
const REASONING: &[&str] = &[
    "why", "explain", "analy", "compare", "contrast", "trade-off", "tradeoff", "evaluate",
    "assess", "critique", "design", "architect", "strateg", "pros and cons", "implication",
    "reasoning", "justify", "argue", "in depth", "in-depth", "detailed", "comprehensive",
    "thorough", "nuanc", "root cause", "diagnos", "investigat", "propose", "recommend",
    "what would happen", "hypothes", "counterargument", "edge case", "scalab", "security",
    "threat model", "legal", "complian", "financial", "report", "research", "essay", "derive",
    "consequence", "ethic", "risk", "migrat", "plan for", "roadmap", "review", "rigorous",
    "critical", "deep dive", "long-term", "impact", "whitepaper", "literature",
];

/// Several steps or parts.
const STEPS: &[&str] = &[
    "step by step", "step-by-step", "first,", "then ", "finally", "after that", "next,",
    "\n1.", "\n2.", "\n3.", "\n- ", "\n* ", "multi-step", "phase", "stages", "for each", "and also",
    "as well as", "additionally", "in addition", "including", "also ", "then,", "followed by",
    "walk me through", "end-to-end", "end to end", "each of",
];

/// Routine tasks.
const LIGHT: &[&str] = &[
    "classify", "classification", "sentiment", "positive or negative", "spam", "translate",
    "one word", "one sentence", "yes or no", "true or false", "extract", "list the",
    "what is the capital", "spell", "synonym", "antonym", "rephrase", "rewrite", "grammar",
    "typo", "tl;dr", "tldr", "define ", "definition", "convert", "capitalize", "lowercase",
    "uppercase", "count the", "title for", "hashtag", "emoji", "categorize", "short", "brief",
    "quick", "simple", "summarize", "summarise", "reply with", "label", "tag ", "format this",
    "what time", "how many", "who is", "who was", "what is", "when did", "where is", "greeting",
    "thank", "hello", "hi ", "name of", "abbreviation", "acronym", "plural", "opposite",
];

/// Every marker with its kind, in one list for the automaton.
pub(crate) fn all() -> impl Iterator<Item = (&'static str, Marker)> {
    let tag = |list: &'static [&'static str], kind| list.iter().map(move |m| (*m, kind));
    tag(CODE, Marker::Code)
        .chain(tag(MATHS, Marker::Maths))
        .chain(tag(REASONING, Marker::Reasoning))
        .chain(tag(STEPS, Marker::Steps))
        .chain(tag(LIGHT, Marker::Light))
}
