//! The names the simplifier may use for a problem: its definitions with their bodies
//! inlined ([`Problem::inlined_defs`]) and the `--assume` facts under their placeholders.
//!
//! This is where the front end ([`crate::defs`], [`crate::assume`]) meets the
//! simplifier's [`Names`]: the front end sits below the simplifier and knows nothing of
//! it, so the methods that build its input live here, one layer above it (see "Layers"
//! in ARCHITECTURE.md).

use crate::assume::{placeholder, Assumptions};
use crate::defs::Problem;
use crate::expr::Sym;
use crate::simplify::Names;

impl Problem {
    /// The definitions as names the simplifier may use (bodies inlined), the target's own
    /// name first: it is the output the result is most naturally written in.
    pub fn names(&self, wrt: Option<&Sym>) -> Names {
        Names { defs: self.inlined_defs(), wrt: wrt.cloned() }
    }
}

impl Assumptions {
    /// `names` with one more name per fact: the placeholder, defined as the fact's LHS
    /// with `problem`'s definitions inlined. They come after the definitions.
    pub fn extend_names(&self, problem: &Problem, names: &mut Names) {
        for (i, a) in self.0.iter().enumerate() {
            names.defs.push((placeholder(i), problem.inline(&a.lhs)));
        }
    }
}
