//! The one test binary: every test file is a module here (one link step, fast builds).

mod bad_inputs;
mod cli;
mod codegen;
mod cse;
mod depth;
mod derivation;
mod diagnostics;
mod diff;
mod expspell;
mod forms;
mod fuzz_crashes;
mod grammar;
mod index;
mod index_check;
mod katex;
mod logs;
mod note;
mod piecewise;
mod print;
mod props;
mod published;
mod readme;
mod scale;
mod simplify;
mod support;
mod tidy;
