//! The one test binary: every test file is a module here (one link step, fast builds).

mod cli;
mod codegen;
mod cse;
mod derivation;
mod diff;
mod grammar;
mod index;
mod katex;
mod note;
mod print;
mod props;
mod readme;
mod scale;
mod simplify;
mod support;
mod tidy;
