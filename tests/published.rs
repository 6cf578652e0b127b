//! The published-forms corpus (`tests/data/published.json`): derivatives as activation
//! tables, autodiff frameworks (PyTorch's `derivatives.yaml` and kernels, JAX's jvp
//! rules) and calculus tables write them. For each case the published form is checked
//! to be the derivative (so a wrong entry fails), deriv's own form is checked, and
//! deriv's form must have at most the published form's operations, counted as
//! `shared/reference/check.py` counts them. A case where deriv is longer carries a
//! `longer_reason`; one that carries a reason but is no longer longer fails too, so the
//! list stays honest.

use deriv::defs::Problem;
use deriv::{Expr, Sym};

/// One case of the corpus.
struct Case {
    id: String,
    function: String,
    wrt: String,
    definitions: Vec<String>,
    published: String,
    longer_reason: Option<String>,
}

fn cases() -> Vec<Case> {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/published.json");
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let corpus: serde_json::Value = serde_json::from_str(&text).unwrap();
    let field = |c: &serde_json::Value, k: &str| c[k].as_str().unwrap_or_else(|| panic!("{c}: no `{k}`")).to_owned();
    corpus["cases"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            assert!(c["source"].as_str().is_some_and(|s| !s.is_empty()), "{c}: no source");
            Case {
                id: field(c, "id"),
                function: field(c, "function"),
                wrt: field(c, "wrt"),
                definitions: c["definitions"]
                    .as_array()
                    .map(|d| d.iter().map(|s| s.as_str().unwrap().to_owned()).collect())
                    .unwrap_or_default(),
                published: field(c, "published"),
                longer_reason: c["longer_reason"].as_str().map(str::to_owned),
            }
        })
        .collect()
}

impl Case {
    /// The program `definitions; body`, as deriv reads it.
    fn program(&self, body: &str) -> String {
        self.definitions.iter().map(String::as_str).chain([body]).collect::<Vec<_>>().join("; ")
    }

    /// `body` with the definitions inlined.
    fn inlined(&self, body: &str) -> Expr {
        let program = self.program(body);
        Problem::load(&[], &program).unwrap_or_else(|e| panic!("{}: {program}: {e}", self.id)).inlined_target()
    }

    /// Panics unless `form` (in terms of the definitions) is the derivative.
    fn assert_derivative(&self, what: &str, form: &str) {
        let x = Sym::new(&self.wrt);
        let report = deriv::check(&self.inlined(&self.function), &self.inlined(form), &x)
            .unwrap_or_else(|e| panic!("{}: {what} `{form}`: {e}", self.id));
        assert!(
            report.max_error < 1e-9,
            "{}: {what} `{form}` is not the derivative (error {})",
            self.id,
            report.max_error
        );
    }
}

/// Operations as `check.py`'s `count_ops` counts them on the printed text: each binary
/// `+ - * / ^`, each unary minus and each function application (primes included) is
/// one; numbers, names, `e` and `pi` are none; parentheses are free.
fn count_ops(text: &str) -> u32 {
    let tokens = tokens(text);
    let mut p = OpCounter { tokens: &tokens, at: 0, ops: 0 };
    p.expr();
    assert_eq!(p.at, tokens.len(), "`{text}`: trailing input");
    p.ops
}

/// The lexemes of check.py's tokenizer: numbers and names as one token each, operators
/// as themselves.
fn tokens(text: &str) -> Vec<String> {
    let cs: Vec<char> = text.chars().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < cs.len() {
        let start = i;
        let c = cs[i];
        if c.is_whitespace() {
            i += 1;
            continue;
        }
        if c.is_ascii_digit() || c == '.' {
            while i < cs.len() && (cs[i].is_ascii_digit() || cs[i] == '.') {
                i += 1;
            }
            if i < cs.len() && (cs[i] == 'e' || cs[i] == 'E') {
                let mut j = i + 1;
                if j < cs.len() && (cs[j] == '+' || cs[j] == '-') {
                    j += 1;
                }
                if j < cs.len() && cs[j].is_ascii_digit() {
                    i = j;
                    while i < cs.len() && cs[i].is_ascii_digit() {
                        i += 1;
                    }
                }
            }
            out.push("0".to_owned());
        } else if c.is_ascii_alphabetic() || c == '_' {
            while i < cs.len() && (cs[i].is_ascii_alphanumeric() || cs[i] == '_') {
                i += 1;
            }
            out.push(cs[start..i].iter().collect());
        } else {
            assert!("+-*/^(),'".contains(c), "`{text}`: unexpected {c:?}");
            i += 1;
            out.push(c.to_string());
        }
    }
    out
}

/// check.py's recursive descent, counting instead of building.
struct OpCounter<'a> {
    tokens: &'a [String],
    at: usize,
    ops: u32,
}

impl OpCounter<'_> {
    fn peek(&self) -> &str {
        self.tokens.get(self.at).map_or("", String::as_str)
    }

    fn take(&mut self) -> String {
        self.at += 1;
        self.tokens[self.at - 1].clone()
    }

    fn expr(&mut self) {
        self.term();
        while matches!(self.peek(), "+" | "-") {
            self.take();
            self.ops += 1;
            self.term();
        }
    }

    fn term(&mut self) {
        self.unary();
        while matches!(self.peek(), "*" | "/") {
            self.take();
            self.ops += 1;
            self.unary();
        }
    }

    fn unary(&mut self) {
        match self.peek() {
            "-" => {
                self.take();
                self.ops += 1;
                self.unary();
            }
            "+" => {
                self.take();
                self.unary();
            }
            _ => self.power(),
        }
    }

    fn power(&mut self) {
        self.primary();
        if self.peek() == "^" {
            self.take();
            self.ops += 1;
            self.unary();
        }
    }

    fn primary(&mut self) {
        let t = self.take();
        if t == "(" {
            self.expr();
            assert_eq!(self.take(), ")");
        } else if t.starts_with(|c: char| c.is_ascii_alphabetic() || c == '_') {
            while self.peek() == "'" {
                self.take();
            }
            if self.peek() == "(" {
                self.take();
                self.ops += 1;
                self.expr();
                while self.peek() == "," {
                    self.take();
                    self.expr();
                }
                assert_eq!(self.take(), ")");
            }
        } else {
            assert_eq!(t, "0", "unexpected {t:?}");
        }
    }
}

#[test]
fn op_count_is_check_py_s() {
    // The examples of shared/reference/README.md, and one with a decimal and a fraction.
    for (text, ops) in [
        ("p*(1 - p)", 2),
        ("p - p^2", 2),
        ("-p1*p2", 2),
        ("1 - tanh(x)^2", 3),
        ("e^z/(1 + e^z)^2", 5),
        ("(g(z) - t)*g'(z)*x1", 5),
        ("exp(z)/(exp(2*z) + 2*exp(z) + 1)", 8),
        ("x^(3/2) + 1.5e-3*x", 4),
    ] {
        assert_eq!(count_ops(text), ops, "{text}");
    }
}

#[test]
fn published_forms_are_right_and_deriv_is_no_longer() {
    let cases = cases();
    let mut ids = std::collections::HashSet::new();
    let (mut shorter, mut longer, mut failures) = (0, Vec::new(), Vec::new());
    for case in &cases {
        assert!(ids.insert(case.id.clone()), "{}: id used twice", case.id);
        case.assert_derivative("the published form", &case.published);
        let ours = deriv::derivative(&case.program(&case.function), &case.wrt)
            .unwrap_or_else(|e| panic!("{}: {e}", case.id))
            .to_string();
        case.assert_derivative("deriv's form", &ours);
        let (mine, theirs) = (count_ops(&ours), count_ops(&case.published));
        match (mine > theirs, &case.longer_reason) {
            (true, Some(why)) => longer.push(format!(
                "  {}: {mine} > {theirs} ops: {ours}   [published: {}] ({why})",
                case.id, case.published
            )),
            (false, None) => shorter += 1,
            (true, None) => failures.push(format!(
                "{}: `{ours}` has {mine} ops, the published `{}` {theirs}, and no longer_reason",
                case.id, case.published
            )),
            (false, Some(_)) => failures.push(format!(
                "{}: `{ours}` ({mine} ops) is no longer than `{}` ({theirs}): remove its longer_reason",
                case.id, case.published
            )),
        }
    }
    eprintln!(
        "published forms: {} cases, {shorter} at most as long, {} longer:\n{}",
        cases.len(),
        longer.len(),
        longer.join("\n")
    );
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
