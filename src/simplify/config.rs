//! The simplifier's knobs, in one place: every bound on its search, every size gate and
//! every constant of its numeric comparison, each with what it bounds and why it has
//! the value it has.
//!
//! None of them decides what is true: a form is accepted only when it is proved equal
//! to its input, whatever these say. They decide how hard the simplifier looks (and so
//! what it finds) and how long it may take, and they are fixed: the same input always
//! gives the same output.

/// The simplifier's knobs. The one configuration is [`Config::DEFAULT`].
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Config {
    // ---- what is searched, and with how much work ----------------------------------------
    /// The most definitions results are written in terms of: each costs a pass over its
    /// body, so with more (a file of thousands of definitions) results are written in the
    /// inputs only. A softmax of 40 classes has 40.
    pub max_names: usize,
    /// The work (in [`crate::limits::within`] units: nodes built, rows of polynomial
    /// arithmetic) one search for the cheapest form of one part may spend. A search that
    /// needs more is abandoned, and the part is taken apart (its terms and factors are
    /// searched one by one) or, at the leaves, kept as the differentiator wrote it.
    pub part_work: u64,
    /// The work all the searches of one simplification may spend together; past it the
    /// remaining parts keep their canonical forms. This bounds the simplifier's time on
    /// any input, whatever its size: ten searches that run out.
    pub total_work: u64,
    /// A part with more distinct atoms than this (variables, calls, exponentials, in the
    /// opaque view) is not searched whole but taken apart: a rational function's size
    /// grows exponentially with its atoms, and the forms people write come from the parts.
    pub part_atoms: usize,
    /// The largest part (in nodes written out) searched whole: costing and printing its
    /// candidates takes time in proportion to that size. Larger parts are taken apart.
    pub part_nodes: u64,
    /// The most atoms a part (or a difference to prove zero) may have for the full kernel
    /// view, where every sum is looked into, to be tried beside the opaque one: the full
    /// view costs exponentially in its atoms.
    pub full_atoms: usize,
    /// The largest number (in bits) the rational-function algebra takes in: gcds of
    /// larger ones cost too much. A part holding one keeps its canonical form.
    pub max_number_bits: u64,

    // ---- the kernel view and factoring ---------------------------------------------------
    /// The fewest terms a sum below the top has for the opaque view to keep it whole as
    /// an atom (a softmax's denominator `e^z1 + ... + e^zK`, a layer's pre-activation):
    /// two-term sums (`1 + e^-x`, `1 - p`) are where the cancellations people expect are,
    /// so they are always looked into.
    pub opaque_terms: usize,
    /// The most terms (numerator's times denominator's, estimated) a big sum below the top
    /// may expand to, over a common denominator, for the opaque view to look into it:
    /// past it the sum is an atom (a network's output layer, whose sigmoids' denominators
    /// would multiply out), so that a part's rational function stays small.
    pub opaque_expansion: u64,
    /// The largest whole exponent (in magnitude) the kernel view expands a power by:
    /// `(1 + x)^64` is a polynomial of 65 terms, `(1 + x)^1000` stays an atom.
    pub max_power: i64,
    /// The largest constant or leading coefficient whose divisors are tried as rational
    /// roots when factoring: trial of every divisor pair costs their count squared.
    pub max_root_search: u64,

    // ---- how large a candidate may be ----------------------------------------------------
    /// A candidate may be at most `form_scale` times its part's size, plus
    /// [`Config::form_slack`] (sizes in nodes written out): larger forms (an expansion that
    /// repeats a deep argument) are never the cheapest, so they are not built, nor
    /// costed. Twice leaves room for a factored form of a product of sums.
    pub form_scale: u64,
    /// What [`Config::form_scale`] adds, so that a small part may still expand: a few
    /// dozen nodes is less than one term of a real derivative.
    pub form_slack: u64,
    /// A part's names are inlined for its input forms only when that makes it at most
    /// `inline_scale` times larger, plus [`Config::inline_slack`]: inlining a network's
    /// activations into a product of its weights gives forms far larger than any answer,
    /// and the elimination works from the named form anyway.
    pub inline_scale: u64,
    /// What [`Config::inline_scale`] adds.
    pub inline_slack: u64,
    /// The first this many names relevant to a part each take a turn at being solved
    /// first (the first name solved takes its kernel, so that the ELU's `y` is not
    /// pre-empted by an earlier softplus of the same input). Each turn is one more
    /// elimination, and beyond four names the order has not mattered in any case seen.
    pub first_names: usize,
    /// The most built-in outputs (`tanh(u)`, `sigmoid(u)`, `tan(u)` of the part's own
    /// arguments) offered as names: each is one more elimination.
    pub implicit_names: usize,

    // ---- the numeric comparison (`agrees`) -----------------------------------------------
    /// The seed of the points a candidate and its input are compared at: fixed, so the
    /// same input always gives the same output.
    pub sample_seed: u64,
    /// The seed of the [`crate::eval::Model`] that stands in for abstract functions.
    pub model_seed: u64,
    /// How many points are drawn at most: points where either side is undefined or too
    /// large are skipped, and a domain can be small (`asin(x)` near a shift).
    pub sample_tries: usize,
    /// How many points are compared: enough that a wrong form (they differ almost
    /// everywhere) fails, and few enough to be cheap next to the proof.
    pub sample_points: usize,
    /// Fewer points compared than this, for an input with variables, is a failure: the
    /// comparison said nothing.
    pub min_points: usize,
    /// Points where the input's value is larger than this are skipped: far out, f64
    /// resolves too little of it to compare.
    pub max_value: f64,
    /// The largest error accepted at a point, measured against the magnitude of the
    /// arithmetic ([`crate::check::rounding_aware_error`]): far above f64's rounding,
    /// far below any real difference.
    pub tolerance: f64,
    /// Where "far out" is for the tie-break between equally cheap forms: every variable
    /// at plus and minus this. `e^800` overflows f64, so a form that stays finite there
    /// (`p*(1 - p)` against `e^z/(1 + e^z)^2`) is the one that computes well.
    pub far_out: f64,

    // ---- memo capacities -------------------------------------------------------------------
    // They bound memory. A result depends on them only through the work a memo hit
    // saves a search (a miss builds nodes, which the search's budget pays for).
    /// Entries of the memos of the named and the inlined forms.
    pub named_memo: usize,
    /// Points whose node values are remembered by the numeric comparison.
    pub point_memo: usize,
    /// Names' bodies whose variables are remembered.
    pub body_vars_memo: usize,
    /// Normal forms remembered per node, view and size bound.
    pub normalized_memo: usize,
    /// Nodes whose kernel expansion (hyperbolics and the sigmoid into exponentials) is
    /// remembered.
    pub expand_memo: usize,
}

impl Config {
    /// The configuration the simplifier runs with.
    pub const DEFAULT: Config = Config {
        max_names: 256,
        part_work: 200_000,
        total_work: 2_000_000,
        part_atoms: 10,
        part_nodes: 2_000,
        full_atoms: 5,
        max_number_bits: 4096,
        opaque_terms: 3,
        opaque_expansion: 64,
        max_power: 64,
        max_root_search: 1 << 20,
        form_scale: 2,
        form_slack: 64,
        inline_scale: 4,
        inline_slack: 64,
        first_names: 4,
        implicit_names: 8,
        sample_seed: 0xC0FFEE,
        model_seed: 11,
        sample_tries: 200,
        sample_points: 16,
        min_points: 3,
        max_value: 1e8,
        tolerance: 1e-7,
        far_out: 800.0,
        named_memo: 1 << 16,
        point_memo: 256,
        body_vars_memo: 4096,
        normalized_memo: 4096,
        expand_memo: 1 << 16,
    };

    /// The largest candidate built or costed for a part of `size` nodes (written out).
    pub fn largest_form(&self, size: u64) -> u64 {
        self.form_scale.saturating_mul(size).saturating_add(self.form_slack)
    }

    /// The largest a part of `size` nodes may become with its names inlined, for its
    /// inlined forms to be tried.
    pub fn largest_inlined(&self, size: u64) -> u64 {
        self.inline_scale.saturating_mul(size).saturating_add(self.inline_slack)
    }
}
