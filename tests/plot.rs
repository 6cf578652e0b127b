//! `deriv plot`: the SVG is XML with one polyline per visible piece of each curve, the
//! points drawn (`--format csv`) are what `deriv eval` computes and each derivative's
//! label is what `deriv diff` prints, poles and jumps are gaps, kinks stay sharp, curves
//! that blow up are clipped; the CSV of the sigmoid and its first two derivatives is
//! snapshotted.

use deriv::plot::{self, Chart, Request};
use deriv::request::Input;

/// One row of `--format csv`.
#[derive(Debug)]
struct Row {
    curve: String,
    piece: usize,
    x: f64,
    y: f64,
}

fn rows(csv: &str) -> Vec<Row> {
    let mut lines = csv.lines();
    assert_eq!(lines.next(), Some("curve,piece,x,y"));
    lines
        .map(|l| {
            // The label is quoted (and may hold commas); the last three fields are not.
            let mut f = l.rsplitn(4, ',');
            let (y, x, piece, curve) = (f.next().unwrap(), f.next().unwrap(), f.next().unwrap(), f.next().unwrap());
            let curve = curve.strip_prefix('"').and_then(|c| c.strip_suffix('"')).unwrap().replace("\"\"", "\"");
            Row { curve, piece: piece.parse().unwrap(), x: x.parse().unwrap(), y: y.parse().unwrap() }
        })
        .collect()
}

fn plot(args: &[&str]) -> String {
    let mut all = vec!["plot"];
    all.extend_from_slice(args);
    let r = crate::support::run(&all);
    assert_eq!(r.code, 0, "{args:?}: {}", r.stderr);
    r.stdout
}

/// The chart of one expression, by the library.
fn chart(expr: &str, orders: &[u64], range: (f64, f64)) -> Chart {
    let input = Input::load(&[], expr).unwrap();
    plot::chart(&[(input, orders.to_vec())], &Request { range: Some(range), ..Request::default() }).unwrap()
}

/// The polylines of an SVG document, each as its stroke colour and its points.
fn polylines(svg: &str) -> Vec<(String, Vec<(f64, f64)>)> {
    let doc = roxmltree::Document::parse(svg).expect("the SVG is XML");
    assert_eq!(doc.root_element().tag_name().name(), "svg");
    doc.descendants()
        .filter(|n| n.has_tag_name("polyline"))
        .map(|n| {
            let points = n
                .attribute("points")
                .unwrap()
                .split_whitespace()
                .map(|p| {
                    let (x, y) = p.split_once(',').unwrap();
                    (x.parse().unwrap(), y.parse().unwrap())
                })
                .collect();
            (n.attribute("stroke").unwrap().to_owned(), points)
        })
        .collect()
}

#[test]
fn the_svg_is_xml_with_one_polyline_per_piece_of_each_curve_and_a_legend() {
    let args = ["sigmoid(z)", "tanh(z)", "--order", "0,1", "--range", "-6..6"];
    let svg = plot(&args);
    let lines = polylines(&svg);
    let csv = plot(&[&args[..], &["--format", "csv"]].concat());
    let rows = rows(&csv);
    let labels =
        ["sigmoid(z)", "d/dz sigmoid(z) = sigmoid(z)*(1 - sigmoid(z))", "tanh(z)", "d/dz tanh(z) = 1 - tanh(z)^2"];
    let doc = roxmltree::Document::parse(&svg).unwrap();
    let texts: Vec<&str> =
        doc.descendants().filter(|n| n.has_tag_name("text")).filter_map(|n| n.text()).map(str::trim).collect();
    for (i, label) in labels.iter().enumerate() {
        let pieces = rows.iter().filter(|r| r.curve == *label).map(|r| r.piece).max().map(|p| p + 1);
        assert_eq!(pieces, Some(1), "{label}: one piece");
        let drawn: Vec<_> = lines.iter().filter(|(c, _)| *c == plot::colour(i)).collect();
        assert_eq!(drawn.len(), 1, "{label}: one polyline in {}", plot::colour(i));
        assert!(drawn[0].1.len() > 50, "{label}: a curve, not a segment");
        assert!(texts.contains(label), "the legend names {label}: {texts:?}");
    }
    // The axis is labelled with the variable, and the ticks with numbers.
    assert!(texts.contains(&"z") && texts.contains(&"0.0"), "{texts:?}");
    // With -o the same chart goes to the file.
    let path = std::env::temp_dir().join(format!("deriv-plot-{}.svg", std::process::id()));
    let r = crate::support::run(&[&["plot"], &args[..], &["-o", path.to_str().unwrap()]].concat());
    assert_eq!((r.code, r.stdout.as_str()), (0, ""), "{}", r.stderr);
    assert_eq!(std::fs::read_to_string(&path).unwrap(), svg);
    let _ = std::fs::remove_file(&path);
    // The library draws what the command line draws.
    assert_eq!(deriv::plot("sigmoid(z)", "z", &[0, 1], (-6.0, 6.0)).unwrap(), plot(&["sigmoid(z)"]));
}

#[test]
fn the_points_drawn_are_what_eval_computes_and_the_labels_what_diff_prints() {
    let cases: &[(&[&str], &str)] = &[
        (&["sigmoid(z)", "--order", "0,1,2"], "z"),
        (&["tanh(x)", "softplus(x)", "--order", "0,1"], "x"),
        (&["relu(u)", "--order", "0,1", "--range", "-1.3..2"], "u"),
        (&["1/x", "ln(x)", "--order", "0,1", "--range", "-2..3"], "x"),
        (&["p", "--let", "p = e^z/(1+e^z)", "--order", "0,1,2"], "z"),
    ];
    for (args, x) in cases {
        let lets: Vec<&str> = args.windows(2).filter(|w| w[0] == "--let").map(|w| w[1]).collect();
        let rows = rows(&plot(&[args, &["--format", "csv"][..]].concat()));
        let mut labels: Vec<&str> = rows.iter().map(|r| r.curve.as_str()).collect();
        labels.dedup();
        for label in labels {
            // `d/dx f = formula`, `name = formula`, or the formula itself.
            let formula = match label.split_once(" = ") {
                Some((head, formula)) if head.starts_with('d') => {
                    let order = if head.starts_with("d²") { "2" } else { "1" };
                    let subject =
                        head.split_once(' ').map_or_else(|| lets[0].split('=').next().unwrap().trim(), |(_, s)| s);
                    let mut diff = vec!["diff", subject, "--wrt", x, "--order", order];
                    for l in &lets {
                        diff.extend(["--let", l]);
                    }
                    let r = crate::support::run(&diff);
                    assert_eq!(r.stdout.trim_end(), formula, "{label}: the label is what diff prints");
                    formula
                }
                Some((_, formula)) => formula,
                None => label,
            };
            let points: Vec<&Row> = rows.iter().filter(|r| r.curve == label).collect();
            assert!(points.len() > 100, "{label}: {} points", points.len());
            let table: String =
                std::iter::once(format!("{x}\n")).chain(points.iter().map(|r| format!("{:?}\n", r.x))).collect();
            // (In parentheses, so that a leading `-` is not read as an option.)
            let formula = format!("({formula})");
            let mut eval = vec!["eval", &formula, "--points", "-"];
            for l in &lets {
                eval.extend(["--let", l]);
            }
            let r = crate::support::run_with_stdin(&eval, table.as_bytes());
            assert_eq!(r.code, 0, "{label}: {}", r.stderr);
            for (row, v) in points.iter().zip(r.stdout.lines()) {
                let v: f64 = v.parse().unwrap();
                assert!(
                    (row.y - v).abs() <= 1e-12 * (1.0 + v.abs()),
                    "{label} at {x} = {}: plotted {}, eval {v}",
                    row.x,
                    row.y
                );
            }
            // In each piece, x increases.
            assert!(points.windows(2).all(|w| w[0].piece != w[1].piece || w[0].x < w[1].x), "{label}");
        }
    }
}

#[test]
fn poles_domain_edges_and_jumps_are_gaps() {
    // 1/x over a range where 0 is no grid point: two pieces, one each side, each
    // running off the window; the SVG draws each as its own polyline.
    let c = chart("1/x", &[0], (-1.3, 2.0));
    let pieces = &c.curves[0].pieces;
    assert_eq!(pieces.len(), 2, "{:?}", pieces.iter().map(Vec::len).collect::<Vec<_>>());
    let (left, right) = (pieces[0].last().unwrap(), pieces[1][0]);
    assert!(left.0 < 0.0 && 0.0 < right.0 && right.0 - left.0 < 1e-6, "{left:?} {right:?}");
    assert!(left.1 < c.y.0 && right.1 > c.y.1, "both sides leave the window {:?}", c.y);
    let svg = plot::svg(&c).unwrap();
    assert_eq!(polylines(&svg).iter().filter(|(s, _)| *s == plot::colour(0)).count(), 2);
    // tan(x) over -3..3: three pieces between its poles at ±pi/2.
    let c = chart("tan(x)", &[0], (-3.0, 3.0));
    let pieces = &c.curves[0].pieces;
    assert_eq!(pieces.len(), 3);
    for (i, pole) in [-std::f64::consts::FRAC_PI_2, std::f64::consts::FRAC_PI_2].iter().enumerate() {
        let (end, start) = (pieces[i].last().unwrap().0, pieces[i + 1][0].0);
        assert!(end < *pole && *pole < start && start - end < 1e-6, "{end} {pole} {start}");
    }
    // ln(x): nothing at x <= 0, one piece from just right of 0.
    let c = chart("ln(x)", &[0], (-2.0, 2.0));
    let pieces = &c.curves[0].pieces;
    assert_eq!(pieces.len(), 1);
    assert!(pieces[0][0].0 > 0.0 && pieces[0][0].0 < 1e-6, "{:?}", pieces[0][0]);
    // ReLU's derivative jumps at 0: two pieces, and no steep segment inside either.
    let c = chart("relu(x)", &[1], (-1.3, 2.0));
    let pieces = &c.curves[0].pieces;
    assert_eq!(pieces.len(), 2);
    for p in pieces {
        assert!(p.windows(2).all(|w| (w[1].1 - w[0].1).abs() < 1e-9), "a flat piece");
    }
    let (end, start) = (pieces[0].last().unwrap(), pieces[1][0]);
    assert!(end.1 == 0.0 && start.1 == 1.0 && start.0 - end.0 < 1e-6, "{end:?} {start:?}");
    // A steep but continuous curve is not cut: tanh(1000x) is one piece.
    assert_eq!(chart("tanh(1000*x)", &[0], (-1.0, 1.0)).curves[0].pieces.len(), 1);
}

#[test]
fn kinks_stay_sharp_and_curves_follow_within_the_tolerance() {
    // Between any two neighbouring samples the polyline is within a thousandth of the
    // window's height of the curve (checked at the midpoints, and so at a kink off the
    // grid: relu's at 0, abs's at 1/3).
    for (expr, f) in [
        ("relu(x)", (|x: f64| x.max(0.0)) as fn(f64) -> f64),
        ("abs(x - 1/3)", |x: f64| (x - 1.0 / 3.0).abs()),
        ("sin(5*x)", |x: f64| (5.0 * x).sin()),
    ] {
        let c = chart(expr, &[0], (-1.3, 2.0));
        let tol = (c.y.1 - c.y.0) * 1e-3;
        let pieces = &c.curves[0].pieces;
        assert_eq!(pieces.len(), 1, "{expr}");
        for w in pieces[0].windows(2) {
            let ((x0, y0), (x1, y1)) = (w[0], w[1]);
            let mid = (x0 + x1) / 2.0;
            assert!((f(mid) - (y0 + y1) / 2.0).abs() <= tol, "{expr}: off by more than {tol} at {mid}");
        }
    }
}

#[test]
fn curves_that_blow_up_are_clipped_not_the_others_flattened() {
    // The sigmoid and 1/x^2 on one chart: the window holds the bulk of the values, not
    // 1/x^2's 1600 at the grid's points next to 0 (nor its infinity at 0), so the
    // sigmoid keeps a visible share of the height.
    let inputs: Vec<(Input, Vec<u64>)> =
        ["sigmoid(x)", "1/x^2"].iter().map(|e| (Input::load(&[], e).unwrap(), vec![0])).collect();
    let c = plot::chart(&inputs, &Request { range: Some((-3.0, 3.0)), ..Request::default() }).unwrap();
    assert!(c.y.1 < 100.0 && c.y.0 <= 0.0, "{:?}", c.y);
    let largest = c.curves[1].pieces.iter().flatten().map(|p| p.1).fold(0.0, f64::max);
    assert!(largest > 1e4, "1/x^2 is sampled close to its pole: {largest}");
    let svg = plot::svg(&c).unwrap();
    // Every point drawn lies inside the plotting area (the drawing is 3x the size).
    let lines = polylines(&svg);
    assert!(!lines.is_empty());
    let ys: Vec<f64> = lines.iter().flat_map(|(_, p)| p.iter().map(|q| q.1)).collect();
    let (top, bottom) = (ys.iter().copied().fold(f64::MAX, f64::min), ys.iter().copied().fold(f64::MIN, f64::max));
    assert!(top >= 0.0 && bottom <= 400.0 * 3.0, "{top} {bottom}");
}

#[test]
fn bad_plot_requests_are_errors() {
    for (args, want) in [
        (&["plot", "sigmoid(z)", "--range", "6..-6"][..], "is not a range"),
        (&["plot", "sigmoid(z)", "--range", "a..b"][..], "is not a range"),
        (&["plot", "sigmoid(z)", "--range", "-1e308..1e308"][..], "is not a range"),
        (&["plot", "sigmoid(z)", "--range", "1e10..1e10 + 1e-6"][..], "is not a range"),
        (&["plot", "sigmoid(z)", "-o", "/tmp/x.png"][..], "cannot write a chart as"),
        (&["plot", "x", "y"][..], "different variables"),
        (&["plot", "sqrt(x)", "--range", "-3..-1"][..], "has no finite value"),
        (&["plot", "x*y"][..], "free variables"),
        (&["plot", "sigmoid(z"][..], "^"),
    ] {
        let r = crate::support::run(args);
        assert_eq!(r.code, 2, "{args:?}: {}", r.stdout);
        assert!(r.stdout.is_empty() && r.stderr.contains(want), "{args:?}: {}", r.stderr);
        assert!(r.stderr.contains("help") || matches!(want, "^" | "free variables"), "{args:?}: {}", r.stderr);
    }
}

#[test]
fn the_sigmoid_and_its_first_two_derivatives_as_points() {
    let csv = plot(&["sigmoid(z)", "--order", "0,1,2", "--format", "csv"]);
    insta::assert_snapshot!(csv);
}
