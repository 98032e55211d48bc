//! The scorer's weights: data, calibrated on the labelled prompts in `data/`.

use crate::score::Features;

/// How much each signal moves the score.
///
/// The score is `1 / (1 + e^-(bias + Σ weight × feature))`, each feature in [0, 1]:
/// `length` is log2 of the prompt tokens mapped from 32 (0) to 8192 (1); marker counts
/// saturate (`code` at 4, `maths` at 3, `reasoning` at 3, `steps` at 4, `light` at 2,
/// `questions` at 3); `tools` saturates at 8, `images` at 2, `turns` (after the first) at 12;
/// `structured` is 0 or 1; `effort` is 0 / 0.25 / 0.6 / 1 for none / low / medium / high.
///
/// The defaults were fitted by logistic regression on `data/labelled_prompts.tsv`
/// (`cargo test -p infermux-virtual-model --test calibration -- --ignored --nocapture` fits
/// them again and prints them); `docs/routing.md` records the accuracy they reach.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Weights {
    /// The score of a request with no signal at all (before the logistic).
    pub bias: f32,
    /// Prompt length.
    pub length: f32,
    /// Code markers.
    pub code: f32,
    /// Maths markers.
    pub maths: f32,
    /// Reasoning markers.
    pub reasoning: f32,
    /// Multi-step markers.
    pub steps: f32,
    /// Routine-task markers (negative: they pull towards the light tier).
    pub light: f32,
    /// Question marks.
    pub questions: f32,
    /// Tools offered.
    pub tools: f32,
    /// Images.
    pub images: f32,
    /// A JSON schema asked for.
    pub structured: f32,
    /// Conversation depth.
    pub turns: f32,
    /// Requested reasoning effort.
    pub effort: f32,
}

impl Default for Weights {
    fn default() -> Self {
        Self::CALIBRATED
    }
}

impl Weights {
    /// The shipped weights (see the type's documentation for how they were fitted).
    pub const CALIBRATED: Self = Self {
        // Fitted on the labelled prompts (single-turn text):
        bias: -1.67,
        length: 2.47,
        code: 3.85,
        maths: 4.18,
        reasoning: 6.68,
        steps: 1.92,
        light: -2.99,
        questions: -3.08,
        // Priors, not fitted (the labelled prompts carry no tools, images, schemas, history
        // or effort): a request with all 8+ tools, or high effort, on its own reaches the
        // strong tier; images and a schema only tip a borderline request.
        tools: 2.5,
        images: 0.5,
        structured: 0.5,
        turns: 1.5,
        effort: 3.0,
    };

    /// The weights in the order of [`Features`].
    pub(crate) fn as_array(&self) -> [f32; 12] {
        [
            self.length,
            self.code,
            self.maths,
            self.reasoning,
            self.steps,
            self.light,
            self.questions,
            self.tools,
            self.images,
            self.structured,
            self.turns,
            self.effort,
        ]
    }

    /// Weights from a bias and an array in the order of [`Features`].
    pub(crate) fn from_array(bias: f32, w: [f32; 12]) -> Self {
        Self {
            bias,
            length: w[0],
            code: w[1],
            maths: w[2],
            reasoning: w[3],
            steps: w[4],
            light: w[5],
            questions: w[6],
            tools: w[7],
            images: w[8],
            structured: w[9],
            turns: w[10],
            effort: w[11],
        }
    }

    /// The score of `features`.
    pub(crate) fn score(&self, features: &Features) -> f32 {
        let z = self.bias
            + self
                .as_array()
                .iter()
                .zip(features)
                .map(|(w, f)| w * f)
                .sum::<f32>();
        1.0 / (1.0 + (-z).exp())
    }
}

/// Fits weights to labelled feature vectors by logistic regression (batch gradient descent
/// with a little L2), for the calibration test.
#[doc(hidden)]
pub fn fit(samples: &[(crate::Signals, bool)], rounds: usize) -> Weights {
    let data: Vec<(Features, f32)> = samples
        .iter()
        .map(|(s, complex)| (s.features(), if *complex { 1.0 } else { 0.0 }))
        .collect();
    let n = data.len().max(1) as f32;
    let (mut bias, mut w) = (0.0f32, [0.0f32; 12]);
    let rate = 2.0;
    let l2 = 0.001;
    for _ in 0..rounds {
        let current = Weights::from_array(bias, w);
        let (mut gb, mut gw) = (0.0f32, [0.0f32; 12]);
        for (f, y) in &data {
            let error = current.score(f) - y;
            gb += error;
            for (g, x) in gw.iter_mut().zip(f) {
                *g += error * x;
            }
        }
        bias -= rate * gb / n;
        for (wi, g) in w.iter_mut().zip(gw) {
            *wi -= rate * (g / n + l2 * *wi);
        }
    }
    Weights::from_array(bias, w)
}
