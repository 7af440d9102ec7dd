//! Zero-tolerance validation of a packing.
//!
//! Every inequality is decided exactly on the `f64` values as given (see
//! [`crate::exact`]); there is no epsilon anywhere. Amounts in offences are
//! the exact quantities rounded to `f64`, for display only.

use std::fmt;

use crate::Packing;
use crate::exact::Dyadic;
use crate::sum::correctly_rounded_sum;

/// How many offences [`Verdict::describe_offences`] lists before summarising
/// the rest as a count, to keep the feedback readable.
pub const MAX_LISTED_OFFENCES: usize = 10;

/// A side of the unit square.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Edge {
    Left,
    Bottom,
    Right,
    Top,
}

impl Edge {
    const ALL: [Edge; 4] = [Edge::Left, Edge::Bottom, Edge::Right, Edge::Top];

    /// The coordinate this edge bounds.
    fn axis(self) -> &'static str {
        match self {
            Edge::Left | Edge::Right => "x",
            Edge::Bottom | Edge::Top => "y",
        }
    }
}

impl fmt::Display for Edge {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Edge::Left => "left",
            Edge::Bottom => "bottom",
            Edge::Right => "right",
            Edge::Top => "top",
        })
    }
}

/// One input number, named as in `packing.json`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Field {
    X(usize),
    Y(usize),
    Radius(usize),
    ReportedSum,
}

impl fmt::Display for Field {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Field::X(i) => write!(f, "centers[{i}][0]"),
            Field::Y(i) => write!(f, "centers[{i}][1]"),
            Field::Radius(i) => write!(f, "radii[{i}]"),
            Field::ReportedSum => f.write_str("reported_sum"),
        }
    }
}

/// A reason a packing is rejected. Circles are numbered from 0, as in the
/// input arrays; `Display` gives the sentence shown to the candidate.
#[derive(Debug, Clone, PartialEq)]
pub enum Offence {
    /// `centers` or `radii` does not hold exactly `n` entries.
    WrongCount {
        field: &'static str,
        found: usize,
        expected: usize,
    },
    /// A NaN or infinite number.
    NonFinite {
        field: Field,
        value: f64,
    },
    NegativeRadius {
        circle: usize,
        radius: f64,
    },
    /// The circle crosses `edge` by `amount`; `coordinate` is its centre's x
    /// (left/right) or y (bottom/top).
    OutsideSquare {
        circle: usize,
        edge: Edge,
        amount: f64,
        coordinate: f64,
        radius: f64,
    },
    /// Circles `i < j` overlap: `ri + rj - dist(ci, cj) = amount > 0`.
    Overlap {
        i: usize,
        j: usize,
        amount: f64,
    },
    /// `reported` is further from the exact sum of the radii than any
    /// floating-point summation order could explain (`tolerance`).
    ReportedSumMismatch {
        reported: f64,
        actual: f64,
        difference: f64,
        tolerance: f64,
    },
}

impl fmt::Display for Offence {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Offence::WrongCount { field, found, expected } => {
                write!(f, "{field} has {found} entries, expected {expected}")
            }
            Offence::NonFinite { field, value } => {
                write!(f, "{field} is {}", non_finite_name(*value))
            }
            Offence::NegativeRadius { circle, radius } => {
                write!(f, "radii[{circle}] is negative ({radius:e})")
            }
            Offence::OutsideSquare { circle, edge, amount, coordinate, radius } => write!(
                f,
                "circle {circle} extends {amount:.1e} past the {edge} edge ({} = {coordinate}, r = {radius})",
                edge.axis()
            ),
            Offence::Overlap { i, j, amount } => {
                write!(f, "circles {i} and {j} overlap by {amount:.1e}")
            }
            Offence::ReportedSumMismatch { reported, actual, difference, tolerance } => write!(
                f,
                "reported sum {reported} differs from the sum of the radii {actual} by {difference:.1e} \
                 (floating-point rounding explains at most {tolerance:.1e})"
            ),
        }
    }
}

fn non_finite_name(value: f64) -> &'static str {
    if value.is_nan() {
        "NaN"
    } else if value > 0.0 {
        "+inf"
    } else {
        "-inf"
    }
}

/// The outcome of [`validate`].
#[derive(Debug, Clone, PartialEq)]
pub struct Verdict {
    /// True iff `offences` is empty.
    pub valid: bool,
    /// Every offence found, in input order: counts, non-finite numbers,
    /// negative radii, border crossings, overlaps, reported sum.
    pub offences: Vec<Offence>,
    /// The sum of the finite radii, correctly rounded (0 if there are none).
    /// This is the score when the packing is valid.
    pub sum_radii: f64,
    /// Smallest `dist(ci, cj) - ri - rj` over the checked pairs (negative
    /// when some overlap); `None` when fewer than two circles were checked.
    pub min_pair_gap: Option<f64>,
    /// Smallest distance from a circle to an edge (`x - r`, `1 - x - r`,
    /// ...; negative when one crosses); `None` when no circle was checked.
    pub min_border_gap: Option<f64>,
}

impl Verdict {
    /// The offences as one line, `; `-separated, listing at most
    /// [`MAX_LISTED_OFFENCES`] and counting the rest.
    pub fn describe_offences(&self) -> String {
        let mut text =
            self.offences.iter().take(MAX_LISTED_OFFENCES).map(Offence::to_string).collect::<Vec<_>>().join("; ");
        let rest = self.offences.len().saturating_sub(MAX_LISTED_OFFENCES);
        if rest > 0 {
            text.push_str(&format!("; and {rest} more"));
        }
        text
    }
}

/// A circle whose three numbers are finite and whose radius is not negative:
/// the only kind the geometric checks make sense for.
struct Circle {
    index: usize,
    x: f64,
    y: f64,
    r: f64,
    exact: [Dyadic; 3],
}

/// Decides whether `p` is a packing of exactly `n` circles in the unit
/// square, with zero tolerance:
///
/// * `centers` and `radii` hold exactly `n` entries each;
/// * every number is finite and no radius is negative (zero is allowed);
/// * `r <= x <= 1 - r` and `r <= y <= 1 - r` for every circle;
/// * `(xi-xj)^2 + (yi-yj)^2 >= (ri+rj)^2` for every pair (touching is fine);
/// * a reported sum, if any, is finite and within floating-point reach of
///   the radii (see [`reported_sum_tolerance`]).
///
/// Only the first `n` circles are examined geometrically, which bounds the
/// work whatever the candidate returned.
pub fn validate(p: &Packing, n: usize) -> Verdict {
    let mut offences = count_offences(p, n);
    let examined = n.min(p.centers.len()).min(p.radii.len());
    let mut circles = Vec::with_capacity(examined);
    for i in 0..examined {
        let ([x, y], r) = (p.centers[i], p.radii[i]);
        let fields = [(Field::X(i), x), (Field::Y(i), y), (Field::Radius(i), r)];
        let non_finite = fields.iter().filter(|(_, v)| !v.is_finite());
        let before = offences.len();
        offences.extend(non_finite.map(|&(field, value)| Offence::NonFinite { field, value }));
        if offences.len() > before {
            continue;
        }
        if r < 0.0 {
            offences.push(Offence::NegativeRadius { circle: i, radius: r });
            continue;
        }
        let exact = [Dyadic::from_f64(x), Dyadic::from_f64(y), Dyadic::from_f64(r)];
        circles.push(Circle { index: i, x, y, r, exact });
    }
    let min_border_gap = check_borders(&circles, &mut offences);
    let min_pair_gap = check_pairs(&circles, &mut offences);
    offences.extend(check_reported_sum(p));

    let finite_radii: Vec<f64> = p.radii.iter().copied().filter(|r| r.is_finite()).collect();
    Verdict {
        valid: offences.is_empty(),
        offences,
        sum_radii: correctly_rounded_sum(&finite_radii),
        min_pair_gap,
        min_border_gap,
    }
}

fn count_offences(p: &Packing, n: usize) -> Vec<Offence> {
    [("centers", p.centers.len()), ("radii", p.radii.len())]
        .into_iter()
        .filter(|&(_, found)| found != n)
        .map(|(field, found)| Offence::WrongCount { field, found, expected: n })
        .collect()
}

/// Checks containment; returns the smallest border gap.
fn check_borders(circles: &[Circle], offences: &mut Vec<Offence>) -> Option<f64> {
    let one = Dyadic::from_f64(1.0);
    let mut min_gap: Option<f64> = None;
    for c in circles {
        let [x, y, r] = &c.exact;
        for edge in Edge::ALL {
            let (gap, coordinate) = match edge {
                Edge::Left => (x - r, c.x),
                Edge::Bottom => (y - r, c.y),
                Edge::Right => (&one - &(x + r), c.x),
                Edge::Top => (&one - &(y + r), c.y),
            };
            // Rounding is monotone, so the minimum of the rounded gaps is the
            // rounded minimum gap.
            let rounded = gap.to_f64();
            min_gap = Some(min_gap.map_or(rounded, |m| m.min(rounded)));
            if gap.is_negative() {
                offences.push(Offence::OutsideSquare {
                    circle: c.index,
                    edge,
                    amount: -rounded,
                    coordinate,
                    radius: c.r,
                });
            }
        }
    }
    min_gap
}

/// Checks disjointness of every pair; returns the smallest pair gap.
fn check_pairs(circles: &[Circle], offences: &mut Vec<Offence>) -> Option<f64> {
    let mut min_gap: Option<f64> = None;
    for (k, a) in circles.iter().enumerate() {
        for b in &circles[k + 1..] {
            let dx = &a.exact[0] - &b.exact[0];
            let dy = &a.exact[1] - &b.exact[1];
            let reach = &a.exact[2] + &b.exact[2];
            // dist^2 - (ri + rj)^2, exactly: negative iff the circles overlap.
            let slack = &(&(&dx * &dx) + &(&dy * &dy)) - &(&reach * &reach);
            let gap = pair_gap(a, b, &slack);
            min_gap = Some(min_gap.map_or(gap, |m| m.min(gap)));
            if slack.is_negative() {
                offences.push(Offence::Overlap { i: a.index, j: b.index, amount: -gap });
            }
        }
    }
    min_gap
}

/// `dist - ri - rj` in f64, for display. Computed as
/// `(dist^2 - (ri+rj)^2) / (dist + ri + rj)` from the exact numerator, so its
/// sign always agrees with the exact test and tiny overlaps are not rounded
/// away by cancellation.
fn pair_gap(a: &Circle, b: &Circle, slack: &Dyadic) -> f64 {
    let dist = (a.x - b.x).hypot(a.y - b.y);
    let denominator = dist + a.r + b.r;
    if denominator == 0.0 {
        return 0.0; // two radius-0 circles at the same point: touching
    }
    let gap = slack.to_f64() / denominator;
    if gap.is_finite() { gap } else { dist - a.r - b.r } // huge coordinates overflow
}

/// The reported-sum check, when a sum was reported and the radii are finite
/// (otherwise the radii are already offences and there is nothing to match).
fn check_reported_sum(p: &Packing) -> Option<Offence> {
    let reported = p.reported_sum?;
    if !reported.is_finite() {
        return Some(Offence::NonFinite { field: Field::ReportedSum, value: reported });
    }
    if !p.radii.iter().all(|r| r.is_finite()) {
        return None;
    }
    let radii: Vec<Dyadic> = p.radii.iter().map(|&r| Dyadic::from_f64(r)).collect();
    let exact_sum: Dyadic = radii.iter().cloned().sum();
    let abs_sum: Dyadic = radii.iter().map(Dyadic::abs).sum();
    let difference = (&Dyadic::from_f64(reported) - &exact_sum).abs();
    let terms = p.radii.len();
    if within_summation_error(&difference, &abs_sum, terms) {
        return None;
    }
    let abs_radii: Vec<f64> = p.radii.iter().map(|r| r.abs()).collect();
    Some(Offence::ReportedSumMismatch {
        reported,
        actual: exact_sum.to_f64(),
        difference: difference.to_f64(),
        tolerance: reported_sum_tolerance(terms) * correctly_rounded_sum(&abs_radii),
    })
}

/// `gamma_{m-1} = (m-1)u / (1 - (m-1)u)` with `u = 2^-53`, the unit roundoff
/// of round-to-nearest binary64.
///
/// Summing `m` floats in any order (left to right, pairwise, any tree) makes
/// at most `m - 1` roundings, and the classical bound (Higham, *Accuracy and
/// Stability of Numerical Algorithms*, 2nd ed., eq. 4.4 and Lemma 3.1) is
/// `|computed - exact| <= gamma_{m-1} * sum |x_i|`. It holds with subnormals
/// too, since a float addition that underflows is exact. A correctly rounded
/// sum is within `u |exact|`, which is inside the bound for `m >= 2`, and is
/// exact for `m <= 1`. A reported sum outside the bound cannot have come from
/// adding these radii in double precision, so it is rejected.
pub fn reported_sum_tolerance(terms: usize) -> f64 {
    let k = terms.saturating_sub(1) as f64;
    let u = 2f64.powi(-53);
    k * u / (1.0 - k * u)
}

/// `difference <= gamma_{m-1} * abs_sum`, decided exactly: with
/// `gamma = k / (2^53 - k)`, it is `difference * (2^53 - k) <= k * abs_sum`.
fn within_summation_error(difference: &Dyadic, abs_sum: &Dyadic, terms: usize) -> bool {
    let k = terms.saturating_sub(1) as u64;
    assert!(k < 1 << 53, "{terms} radii are beyond the bound's validity");
    let k_exact = Dyadic::from_f64(k as f64); // k < 2^53 is exact in f64
    let denominator = Dyadic::from_f64(((1u64 << 53) - k) as f64);
    difference * &denominator <= &k_exact * abs_sum
}
