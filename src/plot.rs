//! Plots: a function and its derivatives on one chart, sampled so that the picture
//! tells the truth.
//!
//! [`chart`] takes the inputs (each read like `deriv diff`'s) and asks
//! [`request::plotted`] for each curve as `diff` shows it (its label) and as `eval`
//! computes it (in the stable forms). Each curve is sampled on a uniform grid, then
//! bisected where it bends (the midpoint strays from the chord by more than a thousandth
//! of the window's height), where it stops being finite, and where it jumps, down to an
//! interval far below a pixel: a kink (ReLU) keeps its corner; a pole (`1/x`), a domain's
//! edge (`ln(x)` at 0) or a jump (the step of ReLU's derivative) ends a piece, and the
//! next piece starts after it, so no vertical line is ever drawn. The window's height
//! comes from the grid's values, robustly (the extreme 2% on each side may fall outside
//! it), so a curve that blows up is clipped rather than flattening the others.
//!
//! A [`Chart`] is written as SVG by plotters ([`svg`], feature `plot`), as its sampled
//! points ([`csv`], every row a value `eval` computes) or as pgfplots code ([`pgfplots`],
//! for LaTeX notes).

use crate::error::{Error, ErrorKind, Result};
use crate::eval::{self, Env};
use crate::expr::{Expr, Sym};
use crate::print::latex::{name as latex_name, to_latex};
use crate::request::{self, Input, Settings};

/// The range of the variable when none is given.
pub const DEFAULT_RANGE: (f64, f64) = (-6.0, 6.0);

/// What `deriv plot` writes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "cli", derive(clap::ValueEnum))]
pub enum PlotFormat {
    /// The chart, as SVG.
    Svg,
    /// The sampled points, as CSV ([`csv`]).
    Csv,
}

/// How to draw: by which variable, over which range.
#[derive(Clone, Debug, Default)]
pub struct Request {
    /// The variable (`None`: each input's only variable).
    pub wrt: Option<String>,
    /// The variable's range (`None`: [`DEFAULT_RANGE`]).
    pub range: Option<(f64, f64)>,
    /// How the derivatives are simplified (their labels) and which facts they use.
    pub settings: Settings,
}

/// One curve: its label and its samples, in pieces between gaps.
#[derive(Clone, Debug, PartialEq)]
pub struct Curve {
    /// The label, in deriv's syntax: `sigmoid(z)`, `d/dz sigmoid(z) = ...`.
    pub label: String,
    /// The label in LaTeX.
    pub latex: String,
    /// The samples `(x, y)`, each a value `eval` computes, in increasing `x`, split
    /// where the function is not finite or jumps. Values outside the chart's window are
    /// kept here and clipped when drawn.
    pub pieces: Vec<Vec<(f64, f64)>>,
}

/// Curves over one range, and the window they are drawn in.
#[derive(Clone, Debug, PartialEq)]
pub struct Chart {
    /// The variable, as written.
    pub variable: String,
    /// The variable's range.
    pub x: (f64, f64),
    /// The values shown.
    pub y: (f64, f64),
    /// The curves, in order.
    pub curves: Vec<Curve>,
}

/// The chart of `inputs` (each a program, read with [`Input::load`], with the orders
/// of its derivatives to draw, 0 for the function itself) as `req` asks. One variable
/// for all: `req.wrt`, or the only variable of every input.
pub fn chart(inputs: &[(Input, Vec<u64>)], req: &Request) -> Result<Chart> {
    let (a, b) = req.range.unwrap_or(DEFAULT_RANGE);
    if !spans(a, b) {
        return Err(Error::new(ErrorKind::BadRange { range: format!("{a}..{b}") }));
    }
    let mut functions = Vec::new();
    let mut variable: Option<Sym> = None;
    for (input, orders) in inputs {
        let (x, plotted) = request::plotted(input, req.wrt.as_deref(), orders, &req.settings)?;
        if let Some(v) = &variable {
            if *v != x {
                return Err(Error::new(ErrorKind::PlotVariables { first: v.to_string(), other: x.to_string() }));
            }
        }
        variable = Some(x.clone());
        for p in plotted {
            let (label, latex) = labels(input, &x, &p);
            functions.push((label, latex, p.computed));
        }
    }
    let x = variable.ok_or(Error::new(ErrorKind::NoExpression))?;
    let grid: Vec<f64> = (0..=GRID).map(|i| a + (b - a) * i as f64 / GRID as f64).collect();
    let mut sampled = Vec::new();
    for (label, _, e) in &functions {
        let ys = values(e, &x, &grid)?;
        if !ys.iter().any(|y| y.is_finite()) {
            return Err(Error::new(ErrorKind::NothingToPlot { curve: label.clone(), from: a, to: b }));
        }
        sampled.push(grid.iter().copied().zip(ys).collect::<Vec<_>>());
    }
    let y = window(sampled.iter().flatten().map(|p| p.1));
    let mut curves = Vec::new();
    for ((label, latex, e), grid) in functions.into_iter().zip(sampled) {
        let pieces = refine(&e, &x, grid, y, (b - a) / GRID as f64)?;
        curves.push(Curve { label, latex, pieces });
    }
    Ok(Chart { variable: x.to_string(), x: (a, b), y, curves })
}

/// A range `A..B` (each side an expression with no variables, as `-pi..pi`), `A < B`.
pub fn parse_range(text: &str) -> Result<(f64, f64)> {
    let bad = || Error::new(ErrorKind::BadRange { range: text.to_owned() });
    let (lo, hi) = text.split_once("..").ok_or_else(bad)?;
    let side = |s: &str| {
        crate::parse::parse_expr(s).ok().and_then(|e| eval::eval(&e, &Env::new()).ok()).filter(|v| v.is_finite())
    };
    match (side(lo), side(hi)) {
        (Some(a), Some(b)) if spans(a, b) => Ok((a, b)),
        _ => Err(bad()),
    }
}

/// Whether `a..b` is a range to sample: `a < b`, its width a finite number, and wide
/// enough beside the numbers' size for the grid's points to be distinct.
fn spans(a: f64, b: f64) -> bool {
    let width = b - a;
    width.is_finite() && width > 1e-9 * (a.abs() + b.abs()) && width > f64::MIN_POSITIVE * 1e6
}

/// The chart's samples as CSV: `curve,piece,x,y`, one row per sample, the curve by its
/// label, pieces numbered from 0 in each curve. Numbers are written in full (as Rust
/// reads them back exactly), so each row can be compared with `deriv eval`.
pub fn csv(chart: &Chart) -> String {
    let mut out = String::from("curve,piece,x,y\n");
    for c in &chart.curves {
        let label = format!("\"{}\"", c.label.replace('"', "\"\""));
        for (i, piece) in c.pieces.iter().enumerate() {
            for (x, y) in piece {
                out.push_str(&format!("{label},{i},{x:?},{y:?}\n"));
            }
        }
    }
    out
}

/// The colours of the curves, in order (Okabe and Ito's, told apart with any colour
/// vision), as `#rrggbb`.
pub const PALETTE: [(u8, u8, u8); 6] =
    [(0, 114, 178), (213, 94, 0), (0, 158, 115), (204, 121, 167), (230, 159, 0), (86, 180, 233)];

/// The colour of the `i`-th curve, as `#rrggbb`.
pub fn colour(i: usize) -> String {
    let (r, g, b) = PALETTE[i % PALETTE.len()];
    format!("#{r:02X}{g:02X}{b:02X}")
}

/// The chart as an SVG document (plotters' SVG backend; text as `<text>` in the
/// reader's sans-serif font, none embedded). Each visible stretch of a curve is one
/// `<polyline>` in the curve's [`colour`]; the legend below the axes (its swatches are
/// rectangles) names each curve by its label.
#[cfg(feature = "plot")]
pub fn svg(chart: &Chart) -> Result<String> {
    use plotters::prelude::*;
    use plotters::style::text_anchor::{HPos, Pos, VPos};

    // plotters places everything at whole pixels: drawn at three times the size and
    // shown at the chart's, a curve is placed to a third of a pixel and stays smooth.
    const S: u32 = 3;
    let px = |n: u32| (n * S) as i32;
    let fail = |_| Error::new(ErrorKind::Internal);
    let (width, plot_height, row) = (720u32, 400u32, 24u32);
    let height = plot_height + 12 + row * chart.curves.len() as u32;
    let (lo, hi) = chart.y;
    let (a, b) = chart.x;
    let mut out = String::new();
    {
        let root = SVGBackend::with_string(&mut out, (width * S, height * S)).into_drawing_area();
        root.fill(&WHITE).map_err(fail)?;
        let (top, legend) = root.split_vertically(plot_height * S);
        let mut c = ChartBuilder::on(&top)
            .margin(px(16))
            .margin_right(px(28))
            .x_label_area_size(px(44))
            .y_label_area_size(px(60))
            .build_cartesian_2d(a..b, lo..hi)
            .map_err(fail)?;
        let grey = RGBColor(90, 90, 90);
        c.configure_mesh()
            .bold_line_style(RGBColor(221, 221, 221).stroke_width(S))
            .light_line_style(RGBColor(245, 245, 245).stroke_width(S))
            .axis_style(grey.stroke_width(S))
            .set_all_tick_mark_size(px(5))
            .x_labels(9)
            .y_labels(8)
            .label_style(("sans-serif", px(17)).into_font().color(&RGBColor(40, 40, 40)))
            .axis_desc_style(("sans-serif", px(19)).into_font().style(FontStyle::Italic))
            .x_desc(chart.variable.as_str())
            .draw()
            .map_err(fail)?;
        if lo < 0.0 && 0.0 < hi {
            c.draw_series(std::iter::once(PathElement::new(vec![(a, 0.0), (b, 0.0)], grey.stroke_width(S))))
                .map_err(fail)?;
        }
        for (i, curve) in chart.curves.iter().enumerate() {
            let (r, g, bl) = PALETTE[i % PALETTE.len()];
            let style = RGBColor(r, g, bl).stroke_width(2 * S);
            for piece in clipped(&curve.pieces, chart.y) {
                c.draw_series(std::iter::once(PathElement::new(piece, style))).map_err(fail)?;
            }
        }
        for (i, curve) in chart.curves.iter().enumerate() {
            let (r, g, bl) = PALETTE[i % PALETTE.len()];
            let y = px(6 + row * i as u32 + row / 2);
            let swatch = [(px(80), y - px(2)), (px(112), y + px(2))];
            legend.draw(&Rectangle::new(swatch, RGBColor(r, g, bl).filled())).map_err(fail)?;
            let font = ("sans-serif", px(18)).into_font().color(&BLACK).pos(Pos::new(HPos::Left, VPos::Center));
            legend.draw(&Text::new(shortened(&curve.label), (px(122), y), font)).map_err(fail)?;
        }
        root.present().map_err(fail)?;
    }
    // Shown at the chart's size: the drawing's coordinates stay in the `viewBox`.
    let drawn = format!("width=\"{}\" height=\"{}\"", width * S, height * S);
    Ok(out.replacen(&drawn, &format!("width=\"{width}\" height=\"{height}\""), 1))
}

/// Without the `plot` feature there is no SVG: an error.
#[cfg(not(feature = "plot"))]
pub fn svg(_chart: &Chart) -> Result<String> {
    Err(Error::new(ErrorKind::PlotUnavailable))
}

/// The chart as a pgfplots `axis` in a `tikzpicture` (for a LaTeX document that loads
/// `pgfplots`): one `\addplot` per curve, its pieces separated by `nan` (drawn as a
/// jump), clipped to the window and thinned to what a printed page shows; the legend,
/// in LaTeX, below the axes.
pub fn pgfplots(chart: &Chart) -> String {
    let (a, b) = chart.x;
    let (lo, hi) = chart.y;
    let mut out = format!(
        "\\begin{{tikzpicture}}\n\\begin{{axis}}[width=0.85\\linewidth, height=0.5\\linewidth, \
         xmin={}, xmax={}, ymin={}, ymax={}, xlabel={{${}$}}, grid=major, \
         grid style={{gray!20}}, unbounded coords=jump, tick label style={{font=\\small}}, \
         legend cell align=left, legend style={{font=\\small, draw=none, at={{(0.5,-0.2)}}, anchor=north}}]\n",
        short(a),
        short(b),
        short(lo),
        short(hi),
        latex_name(&chart.variable)
    );
    if lo < 0.0 && 0.0 < hi {
        out.push_str(&format!("\\addplot[gray, forget plot] coordinates {{({}, 0) ({}, 0)}};\n", short(a), short(b)));
    }
    let step = ((b - a) / 400.0, (hi - lo) / 400.0);
    for (i, c) in chart.curves.iter().enumerate() {
        let (r, g, bl) = PALETTE[i % PALETTE.len()];
        out.push_str(&format!("\\addplot[color={{rgb,255:red,{r};green,{g};blue,{bl}}}, thick] coordinates {{"));
        for (k, piece) in clipped(&c.pieces, chart.y).iter().enumerate() {
            if k > 0 {
                out.push_str(" (nan, nan)");
            }
            let mut last: Option<(f64, f64)> = None;
            for (j, &(x, y)) in piece.iter().enumerate() {
                let keep = j + 1 == piece.len()
                    || last.is_none_or(|(lx, ly)| (x - lx).abs() >= step.0 || (y - ly).abs() >= step.1);
                if keep {
                    out.push_str(&format!(" ({}, {})", short(x), short(y)));
                    last = Some((x, y));
                }
            }
        }
        out.push_str(" };\n");
        out.push_str(&format!("\\addlegendentry{{${}$}}\n", c.latex));
    }
    out.push_str("\\end{axis}\n\\end{tikzpicture}\n");
    out
}

/// Samples on the first grid, per curve.
const GRID: usize = 240;
/// How many times an interval of the grid may be halved.
const LEVELS: u32 = 34;
/// The most samples a curve gets.
const MAX_SAMPLES: usize = 20_000;
/// The largest gap between a curve and its polyline, as a fraction of the window's
/// height (under half a pixel on a chart 500 pixels high).
const TOLERANCE: f64 = 1e-3;

/// `e` at each of `xs`, computed as `eval` computes it; not finite where it is
/// undefined. An error only when nothing can be computed (a variable with no value, an
/// abstract function).
fn values(e: &Expr, x: &Sym, xs: &[f64]) -> Result<Vec<f64>> {
    let points: Vec<Env> = xs.iter().map(|&v| Env::from([(x.clone(), v)])).collect();
    let res = eval::eval_many(e, &points)?;
    if let Some(Err(first)) = res.first() {
        if res.iter().all(Result::is_err) {
            return Err(first.clone());
        }
    }
    Ok(res.into_iter().map(|r| r.unwrap_or(f64::NAN)).collect())
}

/// The window of values to show, from the grid's finite values: their whole range
/// unless a few outliers (the extreme 2% on either side) stretch it past half the
/// spread of the rest again; zero brought in when it is near; a margin of 5%.
fn window(values: impl Iterator<Item = f64>) -> (f64, f64) {
    let mut v: Vec<f64> = values.filter(|y| y.is_finite()).collect();
    v.sort_by(f64::total_cmp);
    let q = |p: f64| v[((v.len() - 1) as f64 * p).round() as usize];
    let (q0, q1) = (q(0.02), q(0.98));
    let spread = q1 - q0;
    let (mut lo, mut hi) = (v[0].max(q0 - spread / 2.0), v[v.len() - 1].min(q1 + spread / 2.0));
    if hi - lo <= 1e-9 * (1.0 + lo.abs().max(hi.abs())) {
        let pad = 0.5 * (1.0 + lo.abs());
        (lo, hi) = (lo - pad, hi + pad);
    }
    if lo > 0.0 && lo <= (hi - lo) / 2.0 {
        lo = 0.0;
    }
    if hi < 0.0 && -hi <= (hi - lo) / 2.0 {
        hi = 0.0;
    }
    let margin = (hi - lo) * 0.05;
    (lo - margin, hi + margin)
}

/// The samples of a curve, its `grid` bisected where it bends, stops being finite or
/// jumps, then split into pieces at what is not finite and at jumps (an interval halved
/// to the last level across which the value still moves by more than the tolerance).
fn refine(e: &Expr, x: &Sym, grid: Vec<(f64, f64)>, (lo, hi): (f64, f64), cell: f64) -> Result<Vec<Vec<(f64, f64)>>> {
    let span = hi - lo;
    let tol = span * TOLERANCE;
    // Values far outside the window count as at its edge (plus a window's height):
    // nothing there is drawn, so nothing there needs resolving.
    let seen = |y: f64| y.clamp(lo - span, hi + span);
    let mut pts = grid;
    let mut active = vec![true; pts.len().saturating_sub(1)];
    for _ in 0..LEVELS {
        let mids: Vec<f64> = (0..active.len())
            .filter(|&i| active[i] && (pts[i].1.is_finite() || pts[i + 1].1.is_finite()))
            .map(|i| (pts[i].0 + pts[i + 1].0) / 2.0)
            .collect();
        if mids.is_empty() || pts.len() + mids.len() > MAX_SAMPLES {
            break;
        }
        let mut ys = values(e, x, &mids)?.into_iter();
        let mut next = Vec::with_capacity(pts.len() + mids.len());
        let mut next_active = Vec::with_capacity(active.len() + mids.len());
        for i in 0..active.len() {
            let ((x0, y0), (x1, y1)) = (pts[i], pts[i + 1]);
            next.push(pts[i]);
            if !(active[i] && (y0.is_finite() || y1.is_finite())) {
                next_active.push(false);
                continue;
            }
            let ym = ys.next().unwrap_or(f64::NAN);
            let split = match (y0.is_finite(), ym.is_finite(), y1.is_finite()) {
                (true, true, true) => (seen(ym) - (seen(y0) + seen(y1)) / 2.0).abs() > tol,
                (false, false, false) => false,
                _ => true,
            };
            if split {
                next.push(((x0 + x1) / 2.0, ym));
                next_active.extend([true, true]);
            } else {
                next_active.push(false);
            }
        }
        next.extend(pts.last().copied());
        pts = next;
        active = next_active;
    }
    // A jump: an interval halved at every level (the width, with room for rounding)
    // across which the value still moves by more than the tolerance, and whose change
    // sits in one half of it. (Near a logarithm's edge the intervals get as narrow and
    // the change as large, but it is spread over both halves: steep, not a jump.)
    let finest = cell / f64::powi(2.0, LEVELS as i32) * 4.0;
    let steep: Vec<usize> = (1..pts.len())
        .filter(|&i| {
            let ((x0, y0), (x1, y1)) = (pts[i - 1], pts[i]);
            y0.is_finite() && y1.is_finite() && x1 - x0 <= finest && (seen(y1) - seen(y0)).abs() > tol
        })
        .collect();
    let mids: Vec<f64> = steep.iter().map(|&i| (pts[i - 1].0 + pts[i].0) / 2.0).collect();
    let mut jumps = Vec::new();
    for (&i, ym) in steep.iter().zip(values(e, x, &mids)?) {
        let (y0, y1) = (seen(pts[i - 1].1), seen(pts[i].1));
        if !ym.is_finite() || (seen(ym) - y0).abs().min((y1 - seen(ym)).abs()) < tol / 4.0 {
            jumps.push(i);
        }
    }
    let mut pieces: Vec<Vec<(f64, f64)>> = Vec::new();
    let mut current: Vec<(f64, f64)> = Vec::new();
    for (i, &(px, py)) in pts.iter().enumerate() {
        if (!py.is_finite() || jumps.contains(&i)) && !current.is_empty() {
            pieces.push(std::mem::take(&mut current));
        }
        if py.is_finite() {
            current.push((px, py));
        }
    }
    if !current.is_empty() {
        pieces.push(current);
    }
    Ok(pieces)
}

/// The parts of `pieces` inside the window `lo..=hi`: each segment cut where it
/// crosses the window's edge (by linear interpolation), a piece split where it leaves.
fn clipped(pieces: &[Vec<(f64, f64)>], (lo, hi): (f64, f64)) -> Vec<Vec<(f64, f64)>> {
    let inside = |y: f64| (lo..=hi).contains(&y);
    let mut out = Vec::new();
    for piece in pieces {
        let mut current: Vec<(f64, f64)> = Vec::new();
        if let Some(&(x, y)) = piece.first() {
            if inside(y) {
                current.push((x, y));
            }
        }
        for w in piece.windows(2) {
            let ((x0, y0), (x1, y1)) = (w[0], w[1]);
            // The part of the segment inside, as fractions t of the way from 0 to 1.
            let (mut t0, mut t1) = (0.0f64, 1.0f64);
            for edge in [lo, hi] {
                if y1 != y0 {
                    let t = (edge - y0) / (y1 - y0);
                    let entering = if edge == lo { y1 > y0 } else { y1 < y0 };
                    if entering {
                        t0 = t0.max(t);
                    } else {
                        t1 = t1.min(t);
                    }
                } else if !inside(y0) {
                    t1 = -1.0;
                }
            }
            if t0 > t1 {
                if !current.is_empty() {
                    out.push(std::mem::take(&mut current));
                }
                continue;
            }
            let at = |t: f64| (x0 + (x1 - x0) * t, (y0 + (y1 - y0) * t).clamp(lo, hi));
            if t0 > 0.0 || current.is_empty() {
                if !current.is_empty() {
                    out.push(std::mem::take(&mut current));
                }
                current.push(at(t0));
            }
            current.push(at(t1));
            if t1 < 1.0 {
                out.push(std::mem::take(&mut current));
            }
        }
        if current.len() > 1 {
            out.push(current);
        }
    }
    out.retain(|p| p.len() > 1);
    out
}

/// A curve's labels (deriv syntax and LaTeX): the function as written (`sigmoid(z)`,
/// or its name, `p = e^z/(1 + e^z)`), a derivative as `d/dz sigmoid(z) = ...` (`dp/dz = p*(1 - p)`).
fn labels(input: &Input, x: &Sym, p: &request::Plotted) -> (String, String) {
    let problem = input.problem();
    let (text, latex) = (p.shown.to_string(), to_latex(&p.shown));
    let n = p.order;
    let (sup, sup_latex) = match n {
        1 => (String::new(), String::new()),
        _ => (superscript(n), format!("^{{{n}}}")),
    };
    let (xl, dl) = (latex_name(x.as_str()), if n == 0 { "" } else { "d" });
    // A defined name alone is shown with its definition.
    let defined = match p.shown.node() {
        crate::expr::Node::Var(v) if n == 0 => problem.get(v).map(|d| (v.clone(), d.body.clone())),
        _ => None,
    };
    if let Some((name, body)) = defined {
        return (format!("{name} = {body}"), format!("{} = {}", latex_name(name.as_str()), to_latex(&body)));
    }
    match (&problem.target_name, n) {
        (Some(name), 0) => (format!("{name} = {text}"), format!("{} = {latex}", latex_name(name.as_str()))),
        (None, 0) => (text, latex),
        (Some(name), _) => (
            format!("d{sup}{name}/d{x}{sup} = {text}"),
            format!("\\frac{{{dl}{sup_latex} {}}}{{{dl} {xl}{sup_latex}}} = {latex}", latex_name(name.as_str())),
        ),
        (None, _) => (
            format!("d{sup}/d{x}{sup} {} = {text}", problem.target),
            format!("\\frac{{{dl}{sup_latex}}}{{{dl} {xl}{sup_latex}}} {} = {latex}", to_latex(&problem.target)),
        ),
    }
}

/// `n` in superscript digits (`²`).
fn superscript(n: u64) -> String {
    const DIGITS: [char; 10] = ['⁰', '¹', '²', '³', '⁴', '⁵', '⁶', '⁷', '⁸', '⁹'];
    n.to_string().chars().map(|c| DIGITS[c.to_digit(10).unwrap_or(0) as usize]).collect()
}

/// A label that fits the legend's row: past 64 characters, cut with `…`.
#[cfg(feature = "plot")]
fn shortened(label: &str) -> String {
    const MAX: usize = 64;
    if label.chars().count() <= MAX {
        return label.to_owned();
    }
    let mut s: String = label.chars().take(MAX - 1).collect();
    s.push('…');
    s
}

/// A number for pgfplots: four significant digits.
fn short(v: f64) -> String {
    if v == 0.0 {
        return "0".to_owned();
    }
    let s = format!("{:.3e}", v);
    let (m, e) = s.split_once('e').unwrap_or((&s, "0"));
    let m = m.trim_end_matches('0').trim_end_matches('.');
    if e == "0" {
        m.to_owned()
    } else {
        format!("{m}e{e}")
    }
}
