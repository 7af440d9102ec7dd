//! The report's figures, each written as PNG and SVG with plotters: the convergence of every
//! arm (mean best-so-far with a min–max band over seeds), a bar chart of final bests, and the
//! interval estimates (IQM with its bootstrap 95% interval per arm, final best and AUC side by
//! side, in the shape of rliable's interval plots).
//!
//! plotters is built without system-font support (the `ab_glyph` backend), so the DejaVu font
//! shipped inside the `dejavu` crate is registered before anything is drawn: the PNGs then look
//! the same on every machine and need no installed fonts.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use asi_evolve_baselines::Baseline;
use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};
use plotters::style::{FontStyle, register_font};

use crate::aggregate::{ArmCurve, ArmSummary, CurvePoint};
use crate::error::ReportError;
use crate::stats::{ArmEstimate, Metric};

const FONT: &str = "sans-serif";
const SIZE: (u32, u32) = (1100, 650);

/// Which of the suite's reference numbers the convergence figure draws.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum References {
    /// Only those inside the range of our curves, so far-away paper numbers do not squash them;
    /// the others are listed in the report's text.
    #[default]
    InRange,
    /// Every reference, widening the y-axis to include them.
    All,
    Off,
}

/// Arm colours, shared with the HTML so an arm looks the same everywhere (Tableau 10).
pub const PALETTE: [(u8, u8, u8); 10] = [
    (31, 119, 180),
    (255, 127, 14),
    (44, 160, 44),
    (214, 39, 40),
    (148, 103, 189),
    (140, 86, 75),
    (227, 119, 194),
    (127, 127, 127),
    (188, 189, 34),
    (23, 190, 207),
];

fn arm_color(i: usize) -> RGBColor {
    let (r, g, b) = PALETTE[i % PALETTE.len()];
    RGBColor(r, g, b)
}

fn register_fonts() -> Result<(), String> {
    static REGISTERED: OnceLock<Result<(), String>> = OnceLock::new();
    REGISTERED
        .get_or_init(|| {
            let invalid = |_| "the bundled DejaVu font could not be loaded".to_string();
            register_font(FONT, FontStyle::Normal, dejavu::sans::regular()).map_err(invalid)?;
            register_font(FONT, FontStyle::Bold, dejavu::sans::bold()).map_err(invalid)
        })
        .clone()
}

/// What the convergence figure drew, for the report's text.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ConvergenceInfo {
    pub drawn: Vec<Baseline>,
    /// References left out because they lie outside the plotted range.
    pub outside: Vec<Baseline>,
}

/// A figure drawable on any plotters backend, so PNG and SVG come from one drawing.
trait Figure {
    fn draw<DB: DrawingBackend>(&self, root: DrawingArea<DB, Shift>)
    -> Result<(), DrawingAreaErrorKind<DB::ErrorType>>;
}

/// Writes `<stem>.png` and `<stem>.svg` of the figure, returning both paths.
fn both(out: &Path, stem: &str, figure: &impl Figure) -> Result<Vec<PathBuf>, ReportError> {
    let png = out.join(format!("{stem}.png"));
    let svg = out.join(format!("{stem}.svg"));
    let plot_err = |path: &Path| {
        let path = path.to_owned();
        move |message: String| ReportError::Plot { path, message }
    };
    register_fonts().map_err(plot_err(&png))?;
    figure.draw(BitMapBackend::new(&png, SIZE).into_drawing_area()).map_err(|e| plot_err(&png)(e.to_string()))?;
    figure.draw(SVGBackend::new(&svg, SIZE).into_drawing_area()).map_err(|e| plot_err(&svg)(e.to_string()))?;
    Ok(vec![png, svg])
}

struct Convergence<'a> {
    title: &'a str,
    curves: &'a [ArmCurve],
    seeds: Vec<u64>,
    references: &'a [Baseline],
    rounds: f64,
    y: (f64, f64),
}

pub fn convergence(
    out: &Path,
    title: &str,
    curves: &[ArmCurve],
    arms: &[ArmSummary],
    baselines: &[Baseline],
    policy: References,
) -> Result<(Vec<PathBuf>, ConvergenceInfo), ReportError> {
    let values = curves.iter().flat_map(|c| c.points.iter()).flat_map(|p| [p.min, p.max, p.mean]).flatten();
    let (lo, hi) = values.fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), v| (lo.min(v), hi.max(v)));
    let (mut lo, mut hi) = if lo.is_finite() { (lo, hi) } else { (0.0, 1.0) };
    if policy == References::All {
        for b in baselines {
            lo = lo.min(b.value);
            hi = hi.max(b.value);
        }
    }
    let y = padded(lo, hi);
    let mut info = ConvergenceInfo::default();
    for b in baselines {
        let inside = b.value >= y.0 && b.value <= y.1;
        match policy {
            References::Off => {}
            _ if inside => info.drawn.push(b.clone()),
            _ => info.outside.push(b.clone()),
        }
    }
    let rounds = curves.iter().flat_map(|c| c.points.last()).map(|p| p.round).max().unwrap_or(0).max(1) as f64;
    let seeds = curves.iter().map(|c| arms.iter().find(|a| a.arm == c.arm).map_or(0, |a| a.seeds)).collect();
    let plot = Convergence { title, curves, seeds, references: &info.drawn, rounds, y };
    let files = both(out, "convergence", &plot)?;
    Ok((files, info))
}

/// How many labels the round axis asks for: at most one per round, so that plotters' ticks fall
/// on whole rounds (more would put ticks at fractions that print as repeated integers), and at
/// most 10.
fn round_labels(rounds: f64) -> usize {
    (rounds.max(0.0) as usize + 1).clamp(2, 10)
}

/// A round tick's text: rounds are whole numbers, so a tick between two is left blank.
fn round_label(x: f64) -> String {
    if (x - x.round()).abs() < 1e-9 { format!("{:.0}", x.round()) } else { String::new() }
}

/// A range around [lo, hi] with a margin, never empty.
fn padded(lo: f64, hi: f64) -> (f64, f64) {
    let span = hi - lo;
    let pad = if span > 0.0 { span * 0.08 } else { lo.abs().max(1.0) * 0.05 };
    (lo - pad, hi + pad)
}

impl Figure for Convergence<'_> {
    fn draw<DB: DrawingBackend>(
        &self,
        root: DrawingArea<DB, Shift>,
    ) -> Result<(), DrawingAreaErrorKind<DB::ErrorType>> {
        draw_convergence(root, self)
    }
}

fn draw_convergence<DB: DrawingBackend>(
    root: DrawingArea<DB, Shift>,
    plot: &Convergence,
) -> Result<(), DrawingAreaErrorKind<DB::ErrorType>> {
    root.fill(&WHITE)?;
    let mut chart = ChartBuilder::on(&root)
        .caption(plot.title, (FONT, 26))
        .margin(18)
        .x_label_area_size(56)
        .y_label_area_size(86)
        .build_cartesian_2d(0f64..plot.rounds, plot.y.0..plot.y.1)?;
    chart
        .configure_mesh()
        .x_desc("round")
        .y_desc("best score")
        .axis_desc_style((FONT, 20))
        .label_style((FONT, 15))
        .x_labels(round_labels(plot.rounds))
        .x_label_formatter(&|x| round_label(*x))
        .y_label_formatter(&|y| format!("{y:.3}"))
        .light_line_style(RGBColor(235, 235, 235))
        .draw()?;

    for (i, curve) in plot.curves.iter().enumerate() {
        let color = arm_color(i);
        let upper = curve.points.iter().filter_map(|p| p.max.map(|v| (p.round as f64, v)));
        let lower = curve.points.iter().rev().filter_map(|p| p.min.map(|v| (p.round as f64, v)));
        let band: Vec<(f64, f64)> = upper.chain(lower).collect();
        if band.len() > 2 {
            chart.draw_series(std::iter::once(Polygon::new(band, color.mix(0.15).filled())))?;
        }
        // Thin edges keep each arm's band readable where bands overlap.
        for edge in [|p: &CurvePoint| p.min, |p: &CurvePoint| p.max] {
            let line: Vec<(f64, f64)> =
                curve.points.iter().filter_map(|p| edge(p).map(|v| (p.round as f64, v))).collect();
            chart.draw_series(LineSeries::new(line, color.mix(0.55).stroke_width(1)))?;
        }
        let mean: Vec<(f64, f64)> = curve.points.iter().filter_map(|p| p.mean.map(|v| (p.round as f64, v))).collect();
        let seeds = plot.seeds[i];
        let label = format!("{} — mean of {seeds} seed{}, band min–max", curve.arm, if seeds == 1 { "" } else { "s" });
        chart
            .draw_series(LineSeries::new(mean, color.stroke_width(3)))?
            .label(label)
            .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 26, y)], color.stroke_width(3)));
    }

    for (i, b) in plot.references.iter().enumerate() {
        let shade = 60 + 40 * (i as u8 % 4);
        let color = RGBColor(shade, shade, shade);
        let line = vec![(0.0, b.value), (plot.rounds, b.value)];
        chart
            .draw_series(DashedLineSeries::new(line, 10, 6, color.stroke_width(2)))?
            .label(reference_label(b))
            .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 26, y)], color.stroke_width(2)));
    }

    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::UpperLeft)
        .margin(12)
        .label_font((FONT, 15))
        .background_style(WHITE.mix(0.9))
        .border_style(BLACK)
        .draw()?;
    root.present()
}

/// "reference: ASI-Evolve 2.63597 (GPT-5-mini, 17 rounds)", as the legend shows it.
fn reference_label(b: &Baseline) -> String {
    format!("reference: {}", describe(b))
}

/// "ASI-Evolve 2.63597 (GPT-5-mini, 17 rounds)".
pub fn describe(b: &Baseline) -> String {
    let by = match (&b.model, b.rounds) {
        (Some(m), Some(r)) => format!(" ({m}, {r} rounds)"),
        (Some(m), None) => format!(" ({m})"),
        (None, Some(r)) => format!(" ({r} rounds)"),
        (None, None) => String::new(),
    };
    format!("{} {}{by}", b.system, b.value)
}

struct FinalBest<'a> {
    title: &'a str,
    arms: &'a [ArmSummary],
}

impl Figure for FinalBest<'_> {
    fn draw<DB: DrawingBackend>(
        &self,
        root: DrawingArea<DB, Shift>,
    ) -> Result<(), DrawingAreaErrorKind<DB::ErrorType>> {
        draw_final_best(root, self.title, self.arms)
    }
}

pub fn final_best(out: &Path, title: &str, arms: &[ArmSummary]) -> Result<Vec<PathBuf>, ReportError> {
    both(out, "final_best", &FinalBest { title, arms })
}

fn draw_final_best<DB: DrawingBackend>(
    root: DrawingArea<DB, Shift>,
    title: &str,
    arms: &[ArmSummary],
) -> Result<(), DrawingAreaErrorKind<DB::ErrorType>> {
    root.fill(&WHITE)?;
    let top = arms.iter().filter_map(|a| a.final_best_max).fold(0.0f64, f64::max);
    let bottom = arms.iter().filter_map(|a| a.final_best_min).fold(0.0f64, f64::min);
    let y_top = if top > 0.0 { top * 1.15 } else { 1.0 };
    let n = arms.len().max(1) as f64;
    // Arms sit at x = 0, 1, …; their names are drawn under the axis by hand, because numeric
    // tick labels cannot be made to fall on exactly the bars.
    let mut chart = ChartBuilder::on(&root)
        .caption(title, (FONT, 26))
        .margin(18)
        .x_label_area_size(56)
        .y_label_area_size(86)
        .build_cartesian_2d(-0.5..n - 0.5, bottom..y_top)?;
    chart
        .configure_mesh()
        .disable_x_mesh()
        .x_labels(0)
        .x_desc("arm")
        .y_desc("final best score")
        .axis_desc_style((FONT, 20))
        .label_style((FONT, 15))
        .y_label_formatter(&|y| format!("{y:.3}"))
        .light_line_style(RGBColor(235, 235, 235))
        .draw()?;

    let name_style = TextStyle::from((FONT, 16).into_font()).pos(Pos::new(HPos::Center, VPos::Top));
    for (i, arm) in arms.iter().enumerate() {
        let x = i as f64;
        let (px, py) = chart.backend_coord(&(x, bottom));
        root.draw(&Text::new(arm.arm.clone(), (px, py + 8), name_style.clone()))?;
        let (Some(mean), Some(min), Some(max)) = (arm.final_best_mean, arm.final_best_min, arm.final_best_max) else {
            continue;
        };
        let color = arm_color(i);
        chart.draw_series(std::iter::once(Rectangle::new(
            [(x - 0.32, 0.0), (x + 0.32, mean)],
            color.mix(0.75).filled(),
        )))?;
        let whisker = BLACK.stroke_width(2);
        chart.draw_series(std::iter::once(PathElement::new(vec![(x, min), (x, max)], whisker)))?;
        for v in [min, max] {
            chart.draw_series(std::iter::once(
                EmptyElement::at((x, v)) + PathElement::new(vec![(-12, 0), (12, 0)], whisker),
            ))?;
        }
        let label = format!("{mean:.4} (n={})", arm.seeds);
        let style = TextStyle::from((FONT, 15).into_font()).pos(Pos::new(HPos::Center, VPos::Bottom));
        chart.draw_series(std::iter::once(EmptyElement::at((x, max)) + Text::new(label, (0, -10), style)))?;
    }
    root.present()
}

struct Intervals<'a> {
    title: &'a str,
    arms: &'a [String],
    estimates: &'a [ArmEstimate],
}

impl Figure for Intervals<'_> {
    fn draw<DB: DrawingBackend>(
        &self,
        root: DrawingArea<DB, Shift>,
    ) -> Result<(), DrawingAreaErrorKind<DB::ErrorType>> {
        root.fill(&WHITE)?;
        let root = root.titled(self.title, (FONT, 26))?;
        let panels = root.split_evenly((1, 2));
        for (panel, metric) in panels.iter().zip(Metric::ALL) {
            let label = match metric {
                Metric::FinalBest => "final best score",
                Metric::Auc => "AUC: mean best-so-far over rounds",
            };
            draw_interval_panel(panel, label, self.arms, self.estimates, metric)?;
        }
        root.present()
    }
}

/// `intervals.{png,svg}`: per arm, the IQM as a point and its 95% interval as whiskers, one panel
/// per metric; arms run down the y-axis as in rliable's plots.
pub fn intervals(
    out: &Path,
    title: &str,
    arms: &[String],
    estimates: &[ArmEstimate],
) -> Result<Vec<PathBuf>, ReportError> {
    both(out, "intervals", &Intervals { title, arms, estimates })
}

fn draw_interval_panel<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    label: &str,
    arms: &[String],
    estimates: &[ArmEstimate],
    metric: Metric,
) -> Result<(), DrawingAreaErrorKind<DB::ErrorType>> {
    let of_arm = |arm: &str| estimates.iter().find(|e| e.arm == arm && e.metric == metric);
    let values = arms.iter().filter_map(|a| of_arm(a)).flat_map(|e| [e.iqm, e.ci.map(|c| c.low), e.ci.map(|c| c.high)]);
    let (lo, hi) = values.flatten().fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), v| (lo.min(v), hi.max(v)));
    let x = if lo.is_finite() { padded(lo, hi) } else { (0.0, 1.0) };
    let n = arms.len().max(1) as f64;
    // Arm names are drawn beside the axis by hand (as in the bar chart): numeric tick labels
    // cannot be made to fall on exactly the arms. The label area is sized to the longest name.
    let longest = arms.iter().map(|a| a.chars().count()).max().unwrap_or(0) as u32;
    let mut chart = ChartBuilder::on(area)
        .margin(18)
        .x_label_area_size(56)
        .y_label_area_size((longest * 9 + 24).clamp(60, 260))
        .build_cartesian_2d(x.0..x.1, -0.5..n - 0.5)?;
    chart
        .configure_mesh()
        .disable_y_mesh()
        .y_labels(0)
        .x_desc(label)
        .axis_desc_style((FONT, 18))
        .label_style((FONT, 14))
        .x_labels(6)
        .x_label_formatter(&|v| format!("{v:.3}"))
        .light_line_style(RGBColor(246, 246, 246))
        .draw()?;
    let name_style = TextStyle::from((FONT, 15).into_font()).pos(Pos::new(HPos::Right, VPos::Center));
    for (i, arm) in arms.iter().enumerate() {
        // The first arm at the top, as the tables list them.
        let y = n - 1.0 - i as f64;
        // The chart's coordinates are the backend's; the panel draws relative to its own corner.
        let ((px, py), (bx, by)) = (chart.backend_coord(&(x.0, y)), area.get_base_pixel());
        area.draw(&Text::new(arm.clone(), (px - bx - 8, py - by), name_style.clone()))?;
        let Some(e) = of_arm(arm) else { continue };
        let Some(iqm) = e.iqm else { continue };
        let color = arm_color(i);
        if let Some(ci) = e.ci {
            let whisker = color.stroke_width(3);
            chart.draw_series(std::iter::once(PathElement::new(vec![(ci.low, y), (ci.high, y)], whisker)))?;
            for v in [ci.low, ci.high] {
                chart.draw_series(std::iter::once(
                    EmptyElement::at((v, y)) + PathElement::new(vec![(0, -10), (0, 10)], whisker),
                ))?;
            }
        }
        chart.draw_series(std::iter::once(Circle::new((iqm, y), 7, color.filled())))?;
        chart.draw_series(std::iter::once(Circle::new((iqm, y), 7, BLACK.stroke_width(1))))?;
        let text = format!("{iqm:.4} (n={})", e.seeds);
        let style = TextStyle::from((FONT, 13).into_font()).pos(Pos::new(HPos::Center, VPos::Bottom));
        chart.draw_series(std::iter::once(EmptyElement::at((iqm, y)) + Text::new(text, (0, -14), style)))?;
    }
    Ok(())
}

/// `promote`'s scatter: each promoted node's score in the campaign (x) against its score at the
/// other scale (y); the seed in black, with dashed lines through it, so a point above the
/// horizontal line still beats the seed at the larger scale.
pub(crate) struct Scatter<'a> {
    pub title: &'a str,
    pub x_desc: &'a str,
    pub y_desc: &'a str,
    /// (x, y, is the seed)
    pub points: &'a [(f64, f64, bool)],
}

impl Figure for Scatter<'_> {
    fn draw<DB: DrawingBackend>(
        &self,
        root: DrawingArea<DB, Shift>,
    ) -> Result<(), DrawingAreaErrorKind<DB::ErrorType>> {
        root.fill(&WHITE)?;
        let range = |f: fn(&(f64, f64, bool)) -> f64| {
            let (lo, hi) =
                self.points.iter().map(f).fold((f64::INFINITY, f64::NEG_INFINITY), |(l, h), v| (l.min(v), h.max(v)));
            if lo.is_finite() { padded(lo, hi) } else { (0.0, 1.0) }
        };
        let (x, y) = (range(|p| p.0), range(|p| p.1));
        let (dx, dy) = (tick_digits(x), tick_digits(y));
        let mut chart = ChartBuilder::on(&root)
            .caption(self.title, (FONT, 24))
            .margin(18)
            .x_label_area_size(56)
            .y_label_area_size(130)
            .build_cartesian_2d(x.0..x.1, y.0..y.1)?;
        chart
            .configure_mesh()
            .x_desc(self.x_desc)
            .y_desc(self.y_desc)
            .axis_desc_style((FONT, 18))
            .label_style((FONT, 15))
            .x_label_formatter(&|v| format!("{v:.dx$}"))
            .y_label_formatter(&|v| format!("{v:.dy$}"))
            .light_line_style(RGBColor(235, 235, 235))
            .draw()?;
        if let Some(&(sx, sy, _)) = self.points.iter().find(|p| p.2) {
            let style = BLACK.mix(0.5).stroke_width(1);
            chart.draw_series(DashedLineSeries::new(vec![(x.0, sy), (x.1, sy)], 6, 4, style))?;
            chart.draw_series(DashedLineSeries::new(vec![(sx, y.0), (sx, y.1)], 6, 4, style))?;
        }
        chart.draw_series(
            self.points.iter().filter(|p| !p.2).map(|&(px, py, _)| Circle::new((px, py), 7, arm_color(0).filled())),
        )?;
        // The seed last, so a node that scores as it does cannot hide it.
        let label = TextStyle::from((FONT, 15).into_font()).pos(Pos::new(HPos::Left, VPos::Bottom));
        chart.draw_series(self.points.iter().filter(|p| p.2).map(|&(px, py, _)| {
            EmptyElement::at((px, py))
                + Circle::new((0, 0), 5, BLACK.filled())
                + Text::new("seed", (8, -8), label.clone())
        }))?;
        root.present()
    }
}

/// Decimals that tell a range's ticks apart: three, or more for a narrow range (offline
/// mutants of one seed differ in the sixth decimal).
fn tick_digits((lo, hi): (f64, f64)) -> usize {
    let span = hi - lo;
    if span > 0.0 { ((-span.log10()).ceil().max(0.0) as usize + 2).clamp(3, 12) } else { 3 }
}

/// Writes `<stem>.{png,svg}` of the scatter.
pub(crate) fn scatter(out: &Path, stem: &str, plot: &Scatter) -> Result<Vec<PathBuf>, ReportError> {
    both(out, stem, plot)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn narrow_ranges_get_the_decimals_that_tell_their_ticks_apart() {
        assert_eq!(tick_digits((0.0, 2.6)), 3);
        assert_eq!(tick_digits((0.99218, 0.99219)), 7);
        assert_eq!(tick_digits((1.0, 1.0)), 3);
    }

    #[test]
    fn the_round_axis_labels_whole_rounds_once_each() {
        assert_eq!(round_labels(5.0), 6);
        assert_eq!(round_labels(1.0), 2);
        assert_eq!(round_labels(1000.0), 10);
        assert_eq!(round_label(2.0), "2");
        assert_eq!(round_label(2.5), "");
        assert_eq!(round_label(1.9999999999999), "2");
        // What plotters draws for a 5-round run with that many labels: each round once.
        let dir = tempfile::tempdir().unwrap();
        let curves = [ArmCurve {
            arm: "full".into(),
            points: (0..=5)
                .map(|round| CurvePoint { round, mean: Some(round as f64), min: Some(0.0), max: Some(5.0), seeds: 1 })
                .collect(),
        }];
        let (files, _) = convergence(dir.path(), "t", &curves, &[], &[], References::Off).unwrap();
        let svg =
            std::fs::read_to_string(files.iter().find(|f| f.extension().is_some_and(|e| e == "svg")).unwrap()).unwrap();
        let texts: Vec<&str> =
            svg.split("<text").skip(1).filter_map(|t| Some(t.split('>').nth(1)?.split('<').next()?.trim())).collect();
        let rounds: Vec<&str> = texts.iter().copied().filter(|t| ["0", "1", "2", "3", "4", "5"].contains(t)).collect();
        assert_eq!(rounds, ["0", "1", "2", "3", "4", "5"], "{texts:?}");
    }
}
