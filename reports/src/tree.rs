//! The evolution tree of one campaign as an SVG drawn by hand: x is the round, y a lane. Each
//! node continues the lane of its primary parent when it is that parent's largest branch (so
//! long lineages read as straight lines); other branches take the nearest lane that is free for
//! the rounds they span. Colour is the score on a continuous scale, failures are marked, the best
//! node and its lineage are highlighted, and every node carries a `<title>` tooltip.
//!
//! A branch's edge leaves the parent, turns into the branch's lane and runs along it, which
//! reads best, but needs the lane free from the parent's round on. When a parent is many rounds
//! back (random sampling picks old parents) that would take a fresh lane per branch, so such a
//! branch is placed by its own rounds only and its edge drawn as a direct curve instead.

use std::collections::HashMap;
use std::fmt::Write;

use asi_evolve_store::{FailureClass, Status};

use crate::campaign_db::NodeRow;
use crate::page::escape;

/// Viridis, sampled at quarters; colour-blind safe and readable in greyscale.
const VIRIDIS: [(f64, f64, f64); 5] =
    [(68.0, 1.0, 84.0), (59.0, 82.0, 139.0), (33.0, 145.0, 140.0), (94.0, 201.0, 98.0), (253.0, 231.0, 37.0)];

pub fn viridis(t: f64) -> String {
    let t = if t.is_finite() { t.clamp(0.0, 1.0) } else { 0.0 };
    let x = t * (VIRIDIS.len() - 1) as f64;
    let i = (x.floor() as usize).min(VIRIDIS.len() - 2);
    let f = x - i as f64;
    let (a, b) = (VIRIDIS[i], VIRIDIS[i + 1]);
    let mix = |p: f64, q: f64| (p + (q - p) * f).round() as u8;
    format!("#{:02x}{:02x}{:02x}", mix(a.0, b.0), mix(a.1, b.1), mix(a.2, b.2))
}

/// Where a node goes: its lane (from 0) and whether the edge from its parent runs along it.
struct Placement {
    lanes: Vec<usize>,
    along: Vec<bool>,
}

/// How many lanes further away a routed edge may push a branch before a direct curve is used.
const ROUTING_SLACK: i64 = 2;

fn layout(nodes: &[NodeRow]) -> Placement {
    let index: HashMap<u64, usize> = nodes.iter().enumerate().map(|(i, n)| (n.id, i)).collect();
    // A parent must come from an earlier round; anything else is treated as a root so that a
    // malformed database can never make the layout loop.
    let parent: Vec<Option<usize>> = nodes
        .iter()
        .map(|n| n.parents.first().and_then(|p| index.get(p).copied()).filter(|&p| nodes[p].round < n.round))
        .collect();
    let mut children: Vec<Vec<usize>> = vec![Vec::new(); nodes.len()];
    for (i, p) in parent.iter().enumerate() {
        if let Some(p) = p {
            children[*p].push(i);
        }
    }
    for c in &mut children {
        c.sort_by_key(|&i| nodes[i].round);
    }
    let mut by_round_desc: Vec<usize> = (0..nodes.len()).collect();
    by_round_desc.sort_by_key(|&i| std::cmp::Reverse(nodes[i].round));
    let mut size = vec![1usize; nodes.len()];
    for &i in &by_round_desc {
        if let Some(p) = parent[i] {
            size[p] += size[i];
        }
    }
    // The heir continues its parent's lane: the largest branch, the earliest on a tie.
    let heir: Vec<Option<usize>> = children
        .iter()
        .map(|c| c.iter().copied().max_by_key(|&i| (size[i], std::cmp::Reverse(nodes[i].round))))
        .collect();
    let mut chain_end: Vec<u64> = nodes.iter().map(|n| n.round).collect();
    for &i in &by_round_desc {
        if let Some(h) = heir[i] {
            chain_end[i] = chain_end[h];
        }
    }

    let mut lanes: HashMap<i64, Vec<(u64, u64)>> = HashMap::new();
    // One empty round between two chains of a lane, so they never look connected.
    let free = |lanes: &HashMap<i64, Vec<(u64, u64)>>, lane: i64, (s, e): (u64, u64)| {
        lanes.get(&lane).is_none_or(|v| v.iter().all(|&(a, b)| e + 1 < a || b + 1 < s))
    };
    let nearest = |lanes: &HashMap<i64, Vec<(u64, u64)>>, from: i64, span: (u64, u64)| {
        (0i64..).flat_map(|d| [from + d, from - d]).find(|&l| free(lanes, l, span)).expect("lanes are unbounded")
    };
    let mut lane = vec![0i64; nodes.len()];
    let mut along = vec![true; nodes.len()];
    let mut stack: Vec<(usize, i64)> = Vec::new();
    let mut roots: Vec<usize> = (0..nodes.len()).filter(|&i| parent[i].is_none()).collect();
    roots.sort_by_key(|&i| nodes[i].round);
    for root in roots {
        let span = (nodes[root].round, chain_end[root]);
        let l = nearest(&lanes, 0, span);
        lanes.entry(l).or_default().push(span);
        stack.push((root, l));
        while let Some((i, l)) = stack.pop() {
            lane[i] = l;
            // Branches that are not the heir leave the parent's lane right after it, so their
            // lane must be free from the round after the parent on.
            for &c in children[i].iter().filter(|&&c| Some(c) != heir[i]) {
                let routed = (nodes[i].round + 1, chain_end[c]);
                let direct = (nodes[c].round, chain_end[c]);
                let (lr, ld) = (nearest(&lanes, l + 1, routed), nearest(&lanes, l + 1, direct));
                let (cl, span) = if (lr - l).abs() <= (ld - l).abs() + ROUTING_SLACK {
                    (lr, routed)
                } else {
                    along[c] = false;
                    (ld, direct)
                };
                lanes.entry(cl).or_default().push(span);
                stack.push((c, cl));
            }
            if let Some(h) = heir[i] {
                stack.push((h, l));
            }
        }
    }
    let min = lane.iter().copied().min().unwrap_or(0);
    Placement { lanes: lane.iter().map(|&l| (l - min) as usize).collect(), along }
}

/// The ids of the best node and its primary-parent chain.
fn best_lineage(nodes: &[NodeRow], best: Option<usize>) -> Vec<usize> {
    let index: HashMap<u64, usize> = nodes.iter().enumerate().map(|(i, n)| (n.id, i)).collect();
    let mut chain = Vec::new();
    let mut current = best;
    while let Some(i) = current {
        if chain.contains(&i) {
            break;
        }
        chain.push(i);
        current =
            nodes[i].parents.first().and_then(|p| index.get(p).copied()).filter(|&p| nodes[p].round < nodes[i].round);
    }
    chain
}

/// An SVG of the campaign's tree. `key` makes gradient ids unique when several trees share a
/// page.
pub fn tree_svg(nodes: &[NodeRow], title: &str, key: &str) -> String {
    let Placement { lanes, along } = layout(nodes);
    let (lo, hi, clamped) = colour_range(nodes);
    let best = nodes
        .iter()
        .enumerate()
        .filter(|(_, n)| n.status == Status::Valid)
        .filter_map(|(i, n)| n.score.map(|s| (i, s)))
        .fold(None::<(usize, f64)>, |acc, (i, s)| match acc {
            Some((_, b)) if b >= s => acc,
            _ => Some((i, s)),
        })
        .map(|(i, _)| i);
    let lineage = best_lineage(nodes, best);

    let max_round = nodes.iter().map(|n| n.round).max().unwrap_or(0).max(1);
    let n_lanes = lanes.iter().copied().max().unwrap_or(0) + 1;
    let dx = (1100.0 / max_round as f64).clamp(6.0, 28.0);
    let dy = 18.0;
    let r = (dx.min(dy) * 0.36).clamp(2.8, 6.0);
    let (left, top, right, bottom) = (40.0, 92.0, 150.0, 52.0);
    // Never narrower than the legend.
    let width = (left + max_round as f64 * dx + right).max(760.0);
    let height = top + (n_lanes - 1) as f64 * dy + bottom;
    let pos = |i: usize| (left + nodes[i].round as f64 * dx, top + lanes[i] as f64 * dy);
    let index: HashMap<u64, usize> = nodes.iter().enumerate().map(|(i, n)| (n.id, i)).collect();

    let mut svg = String::new();
    let w = &mut svg;
    let _ = writeln!(
        w,
        r#"<svg xmlns="http://www.w3.org/2000/svg" class="tree" width="{width:.0}" height="{height:.0}" viewBox="0 0 {width:.0} {height:.0}" font-family="DejaVu Sans, Verdana, sans-serif" font-size="12" role="img">"#
    );
    let _ = writeln!(w, "<title>{}</title>", escape(title));
    let _ = writeln!(w, r##"<rect width="100%" height="100%" fill="#ffffff"/>"##);
    let _ = writeln!(w, r#"<text x="{left}" y="20" font-size="15" font-weight="bold">{}</text>"#, escape(title));
    legend(w, key, (lo, hi, clamped), left);

    // The round axis.
    let step = nice_step(max_round);
    let axis_y = height - bottom + 18.0;
    let _ = writeln!(w, r##"<g class="axis" stroke="#999" fill="#444">"##);
    let _ = writeln!(w, r#"<line x1="{left}" y1="{axis_y}" x2="{:.1}" y2="{axis_y}"/>"#, left + max_round as f64 * dx);
    for t in (0..=max_round).step_by(step as usize) {
        let x = left + t as f64 * dx;
        let _ = writeln!(w, r#"<line x1="{x:.1}" y1="{axis_y}" x2="{x:.1}" y2="{:.1}"/>"#, axis_y + 4.0);
        let _ =
            writeln!(w, r#"<text x="{x:.1}" y="{:.1}" text-anchor="middle" stroke="none">{t}</text>"#, axis_y + 17.0);
    }
    let _ = writeln!(
        w,
        r#"<text x="{:.1}" y="{:.1}" stroke="none">round</text></g>"#,
        left + max_round as f64 * dx + 10.0,
        axis_y + 4.0
    );

    // Edges to the primary parent, under the nodes.
    let _ = writeln!(w, r##"<g class="edges" fill="none" stroke="#b9b9b9" stroke-width="1.2">"##);
    for (i, n) in nodes.iter().enumerate() {
        let Some(p) = n.parents.first().and_then(|p| index.get(p).copied()).filter(|&p| nodes[p].round < n.round)
        else {
            continue;
        };
        let ((x0, y0), (x1, y1)) = (pos(p), pos(i));
        let on_lineage = lineage.contains(&i) && lineage.contains(&p);
        let style = if on_lineage { r##" stroke="#d4a017" stroke-width="3""## } else { "" };
        if (y0 - y1).abs() < f64::EPSILON {
            let _ = writeln!(w, r#"<path d="M{x0:.1},{y0:.1} L{x1:.1},{y1:.1}"{style}/>"#);
        } else if !along[i] {
            let xm = (x0 + x1) / 2.0;
            let _ =
                writeln!(w, r#"<path d="M{x0:.1},{y0:.1} C{xm:.1},{y0:.1} {xm:.1},{y1:.1} {x1:.1},{y1:.1}"{style}/>"#);
        } else {
            // Leave the parent, turn into the branch's lane within one round, then run along it.
            let xm = x0 + dx;
            let _ = writeln!(
                w,
                r#"<path d="M{x0:.1},{y0:.1} C{:.1},{y0:.1} {:.1},{y1:.1} {xm:.1},{y1:.1} L{x1:.1},{y1:.1}"{style}/>"#,
                x0 + dx * 0.5,
                x0 + dx * 0.5
            );
        }
    }
    let _ = writeln!(w, "</g>");

    let _ = writeln!(w, r#"<g class="nodes">"#);
    for (i, n) in nodes.iter().enumerate() {
        let (x, y) = pos(i);
        let name = if n.name.is_empty() { String::new() } else { format!(" {}", n.name) };
        match (n.status, n.score) {
            (Status::Valid, Some(score)) => {
                let t = if hi > lo { (score - lo) / (hi - lo) } else { 1.0 };
                let is_best = Some(i) == best;
                let class = if is_best { "node valid best" } else { "node valid" };
                let tip = format!("#{}{name} — score {score} (round {})", n.id, n.round);
                let _ = write!(w, r#"<g class="{class}" data-id="{}"><title>{}</title>"#, n.id, escape(&tip));
                if is_best {
                    let _ = write!(
                        w,
                        r##"<circle cx="{x:.1}" cy="{y:.1}" r="{:.1}" fill="none" stroke="#d4a017" stroke-width="3"/>"##,
                        r + 4.0
                    );
                }
                let _ = writeln!(
                    w,
                    r##"<circle cx="{x:.1}" cy="{y:.1}" r="{r:.1}" fill="{}" stroke="#333" stroke-width="0.6"/></g>"##,
                    viridis(t)
                );
                if is_best {
                    let _ = writeln!(
                        w,
                        r##"<text x="{x:.1}" y="{:.1}" text-anchor="middle" font-weight="bold" stroke="#ffffff" stroke-width="4" paint-order="stroke">best #{} · {score:.6}</text>"##,
                        y - r - 8.0,
                        n.id
                    );
                }
            }
            (status, _) => {
                let failure = n.failure.map_or("unclassified", FailureClass::as_str);
                let reason = n.reason.as_deref().map(|r| format!(": {}", truncate(r, 300))).unwrap_or_default();
                let tip = format!("#{}{name} — {status} ({failure}){reason} (round {})", n.id, n.round);
                let class = if status == Status::Failed { "node failed failure" } else { "node invalid failure" };
                let _ = write!(w, r#"<g class="{class}" data-id="{}"><title>{}</title>"#, n.id, escape(&tip));
                if status == Status::Failed {
                    let a = r * 0.9;
                    let _ = writeln!(
                        w,
                        r##"<circle cx="{x:.1}" cy="{y:.1}" r="{r:.1}" fill="#ffffff" fill-opacity="0.01"/><path d="M{:.1},{:.1} L{:.1},{:.1} M{:.1},{:.1} L{:.1},{:.1}" stroke="#d62728" stroke-width="2.2"/></g>"##,
                        x - a,
                        y - a,
                        x + a,
                        y + a,
                        x - a,
                        y + a,
                        x + a,
                        y - a
                    );
                } else {
                    let _ = writeln!(
                        w,
                        r##"<circle cx="{x:.1}" cy="{y:.1}" r="{r:.1}" fill="#ffffff" stroke="#7f7f7f" stroke-width="1.6"/></g>"##
                    );
                }
            }
        }
    }
    let _ = writeln!(w, "</g></svg>");
    svg
}

/// The score range the colours span: from the lower quartile of valid scores to the best, so a
/// few broken-but-valid programs (a score of 0 among scores near 1) do not wash out the
/// differences that matter; lower scores get the darkest colour. The flag says whether any did.
fn colour_range(nodes: &[NodeRow]) -> (f64, f64, bool) {
    let mut scores: Vec<f64> = nodes.iter().filter(|n| n.status == Status::Valid).filter_map(|n| n.score).collect();
    scores.sort_by(f64::total_cmp);
    match (scores.first(), scores.last()) {
        (Some(&min), Some(&max)) => {
            let lo = scores[(scores.len() - 1) / 4];
            (lo, max, min < lo)
        }
        _ => (f64::INFINITY, f64::NEG_INFINITY, false),
    }
}

/// The colour scale and the failure symbols, across the top.
fn legend(w: &mut String, key: &str, (lo, hi, clamped): (f64, f64, bool), left: f64) {
    let gradient = format!("score-scale-{key}");
    let _ = write!(w, r#"<defs><linearGradient id="{gradient}" x1="0" x2="1" y1="0" y2="0">"#);
    for s in 0..=10 {
        let t = s as f64 / 10.0;
        let _ = write!(w, r#"<stop offset="{t}" stop-color="{}"/>"#, viridis(t));
    }
    let _ = writeln!(w, "</linearGradient></defs>");
    let y = 44.0;
    let _ = writeln!(w, r#"<g class="legend">"#);
    let _ = writeln!(w, r#"<text x="{left}" y="{}">score</text>"#, y + 11.0);
    let bar_x = left + 44.0;
    let _ = writeln!(
        w,
        r##"<rect x="{bar_x}" y="{y}" width="180" height="14" fill="url(#{gradient})" stroke="#555" stroke-width="0.5"/>"##
    );
    let (lo_text, hi_text) = if lo.is_finite() {
        (format!("{}{lo:.6}", if clamped { "≤ " } else { "" }), format!("{hi:.6}"))
    } else {
        ("–".into(), "no valid node".into())
    };
    let _ = writeln!(w, r#"<text x="{bar_x}" y="{}" font-size="11">{lo_text}</text>"#, y + 27.0);
    let _ = writeln!(
        w,
        r#"<text x="{}" y="{}" font-size="11" text-anchor="end">{hi_text}</text>"#,
        bar_x + 180.0,
        y + 27.0
    );
    let mut x = bar_x + 220.0;
    let _ = writeln!(
        w,
        r##"<circle cx="{x}" cy="{}" r="5" fill="#ffffff" stroke="#7f7f7f" stroke-width="1.6"/><text x="{}" y="{}">invalid</text>"##,
        y + 7.0,
        x + 10.0,
        y + 11.0
    );
    x += 80.0;
    let _ = writeln!(
        w,
        r##"<path d="M{:.1},{:.1} L{:.1},{:.1} M{:.1},{:.1} L{:.1},{:.1}" stroke="#d62728" stroke-width="2.2"/><text x="{}" y="{}">failed</text>"##,
        x - 4.5,
        y + 2.5,
        x + 4.5,
        y + 11.5,
        x - 4.5,
        y + 11.5,
        x + 4.5,
        y + 2.5,
        x + 10.0,
        y + 11.0
    );
    x += 76.0;
    let _ = writeln!(
        w,
        r##"<circle cx="{x}" cy="{}" r="8" fill="none" stroke="#d4a017" stroke-width="3"/><text x="{}" y="{}">best node and its lineage</text>"##,
        y + 7.0,
        x + 13.0,
        y + 11.0
    );
    let _ = writeln!(
        w,
        r##"<text x="{}" y="{}" font-size="11" fill="#555">hover a node for its id, name, score or failure</text>"##,
        bar_x + 220.0,
        y + 27.0
    );
    let _ = writeln!(w, "</g>");
}

/// A round step giving about ten ticks.
fn nice_step(max_round: u64) -> u64 {
    [1, 2, 5, 10, 20, 25, 50, 100, 200, 250, 500, 1000]
        .into_iter()
        .find(|s| max_round / s <= 12)
        .unwrap_or(max_round.div_ceil(10))
}

fn truncate(s: &str, max: usize) -> String {
    if s.chars().count() <= max { s.to_owned() } else { format!("{}…", s.chars().take(max).collect::<String>()) }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn node(id: u64, parent: Option<u64>, status: Status, score: Option<f64>) -> NodeRow {
        NodeRow {
            id,
            round: id,
            parents: parent.into_iter().collect(),
            name: format!("n{id}"),
            status,
            failure: (status != Status::Valid).then_some(FailureClass::Crash),
            reason: None,
            score,
            propose_seconds: 0.0,
            evaluate_seconds: 0.0,
            analyze_seconds: 0.0,
            committed_at: String::new(),
            metrics: Default::default(),
        }
    }

    /// A bushy tree of `n` nodes whose parents are spread over earlier rounds.
    fn bushy(n: u64) -> Vec<NodeRow> {
        (0..n)
            .map(|i| {
                let parent = (i > 0).then(|| (i * 7919 + 13) % i);
                node(i, parent, Status::Valid, Some(i as f64))
            })
            .collect()
    }

    #[test]
    fn a_chain_stays_in_one_lane() {
        let nodes: Vec<NodeRow> = (0..6).map(|i| node(i, i.checked_sub(1), Status::Valid, Some(1.0))).collect();
        assert_eq!(layout(&nodes).lanes, vec![0; 6]);
    }

    #[test]
    fn no_edge_runs_through_another_node() {
        let nodes = bushy(300);
        let Placement { lanes, along } = layout(&nodes);
        for (c, n) in nodes.iter().enumerate() {
            let Some(&p) = n.parents.first().filter(|_| along[c]) else { continue };
            let p = p as usize;
            // The edge runs along the child's lane from just after the parent to the child.
            for (other, m) in nodes.iter().enumerate() {
                let between = nodes[p].round < m.round && m.round < n.round;
                assert!(!(other != c && lanes[other] == lanes[c] && between), "edge #{p}→#{c} runs through #{other}");
            }
        }
        // Parents drawn from all earlier rounds alike need many lanes whatever the layout (about
        // r·ln(n/r) edges cross round r); direct curves keep it well under one lane per node.
        let used = lanes.iter().max().unwrap() + 1;
        assert!(used < 150, "300 nodes used {used} lanes");
        assert!(along.iter().filter(|a| !**a).count() > 0);
    }

    #[test]
    fn every_node_is_drawn_once_and_failures_are_marked() {
        let mut nodes = bushy(40);
        nodes[5].status = Status::Failed;
        nodes[5].score = None;
        nodes[6].status = Status::Invalid;
        nodes[6].score = None;
        let svg = tree_svg(&nodes, "t <&>", "k");
        assert_eq!(svg.matches("class=\"node ").count(), 40);
        assert_eq!(svg.matches("class=\"node failed failure\"").count(), 1);
        assert_eq!(svg.matches("class=\"node invalid failure\"").count(), 1);
        assert_eq!(svg.matches("class=\"node valid best\" data-id=\"39\"").count(), 1);
        assert!(svg.contains("<title>t &lt;&amp;&gt;</title>"));
    }

    #[test]
    fn colours_span_the_lower_quartile_to_the_best() {
        assert_eq!(viridis(0.0), "#440154");
        assert_eq!(viridis(1.0), "#fde725");
        let scores = [0.0, 0.9, 1.0, 1.1, 1.2];
        let nodes: Vec<NodeRow> =
            scores.iter().enumerate().map(|(i, &s)| node(i as u64, None, Status::Valid, Some(s))).collect();
        assert_eq!(colour_range(&nodes), (0.9, 1.2, true));
    }
}
