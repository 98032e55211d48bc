//! The scorer against the labelled prompts in `data/labelled_prompts.tsv`.
//!
//! `labelled_set_accuracy` scores every prompt with the shipped weights, prints the accuracy
//! and the confusion matrix, and fails below the floor recorded in docs/routing.md.
//! `fit_weights` (ignored; run with `-- --ignored --nocapture`) fits the weights again by
//! logistic regression, prints them in the form of `Weights::CALIBRATED`, and prints their
//! 5-fold cross-validated accuracy, the figure to expect on prompts the fit never saw.

#![allow(clippy::unwrap_used, clippy::print_stdout, missing_docs)]

use infermux_core::chat::{ChatMessage, ChatRequest, MessageContent};
use infermux_virtual_model::{Scorer, Signals, Weights, fit};

const DATA: &str = include_str!("../data/labelled_prompts.tsv");
/// The accuracy the shipped weights must keep on the labelled set.
const FLOOR: f64 = 0.90;

struct Sample {
    complex: bool,
    request: ChatRequest,
    tokens: u64,
}

fn samples() -> Vec<Sample> {
    DATA.lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        .map(|line| {
            let (label, prompt) = line.split_once('\t').expect("LABEL<TAB>PROMPT");
            let complex = match label {
                "light" => false,
                "complex" => true,
                other => panic!("unknown label {other}"),
            };
            let text = prompt.replace("\\n", "\n");
            // The ingress estimate for a model without a public tokenizer: 4 bytes a token
            // plus the chat framing.
            let tokens = (text.len() as u64).div_ceil(4) + 7;
            let request = ChatRequest {
                model: "auto".into(),
                messages: vec![ChatMessage {
                    role: "user".into(),
                    content: Some(MessageContent::Text(text)),
                    ..ChatMessage::default()
                }],
                ..ChatRequest::default()
            };
            Sample {
                complex,
                request,
                tokens,
            }
        })
        .collect()
}

fn accuracy(scorer: &Scorer, samples: &[&Sample]) -> (f64, [usize; 4]) {
    // [light->light, light->complex, complex->light, complex->complex]
    let mut confusion = [0usize; 4];
    for s in samples {
        let predicted = scorer.score(&s.request, s.tokens).score >= 0.5;
        confusion[usize::from(s.complex) * 2 + usize::from(predicted)] += 1;
    }
    let right = confusion[0] + confusion[3];
    (right as f64 / samples.len() as f64, confusion)
}

#[test]
fn labelled_set_accuracy() {
    let samples = samples();
    assert!(samples.len() >= 300, "several hundred labelled prompts");
    let all: Vec<&Sample> = samples.iter().collect();
    let (accuracy, c) = accuracy(&Scorer::default(), &all);
    println!(
        "labelled set: {} prompts ({} light, {} complex); accuracy {:.1}% \
         (light->light {}, light->strong {}, complex->light {}, complex->strong {})",
        samples.len(),
        c[0] + c[1],
        c[2] + c[3],
        accuracy * 100.0,
        c[0],
        c[1],
        c[2],
        c[3]
    );
    assert!(
        accuracy >= FLOOR,
        "accuracy {accuracy:.3} fell below {FLOOR}"
    );
}

#[test]
#[ignore = "refits the weights; run by hand when markers or data change"]
fn fit_weights() {
    let samples = samples();
    let scorer = Scorer::default();
    let signals: Vec<(Signals, bool)> = samples
        .iter()
        .map(|s| (scorer.signals(&s.request, s.tokens), s.complex))
        .collect();
    let weights = fit(&signals, 4000);
    println!("{weights:#?}");
    let all: Vec<&Sample> = samples.iter().collect();
    println!(
        "fitted on all: accuracy {:.1}%",
        accuracy(&Scorer::new(weights), &all).0 * 100.0
    );
    // 5-fold cross-validation: fit on four fifths, measure on the fifth.
    let folds = 5;
    let mut right = 0.0;
    for fold in 0..folds {
        let train: Vec<(Signals, bool)> = signals
            .iter()
            .enumerate()
            .filter(|(i, _)| i % folds != fold)
            .map(|(_, s)| *s)
            .collect();
        let test: Vec<&Sample> = samples
            .iter()
            .enumerate()
            .filter(|(i, _)| i % folds == fold)
            .map(|(_, s)| s)
            .collect();
        let w = fit(&train, 4000);
        right += accuracy(&Scorer::new(w), &test).0 * test.len() as f64;
    }
    println!(
        "5-fold cross-validated accuracy {:.1}%",
        right / samples.len() as f64 * 100.0
    );
    let _ = Weights::CALIBRATED;
}
