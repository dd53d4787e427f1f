//! A run's job graph: a box per job in columns by `needs` depth (a job without needs in the
//! first column, every other one column after the deepest job it needs), with lines from
//! each job to the jobs that need it. [`layout`] is pure; [`render`] draws it as positioned
//! links over an inline SVG of the lines.

use std::collections::HashMap;

use maud::{Markup, html};

/// A box of the graph: a job instance, or a workflow job without one yet.
pub(super) struct Node {
    /// The job's id in the workflow; matrix instances share it.
    pub(super) key: String,
    pub(super) needs: Vec<String>,
    pub(super) name: String,
    /// `queued`, `running`, `waiting`, `skipped` or a conclusion (the CSS class).
    pub(super) state: &'static str,
    /// What the box says on its right: a duration, or nothing.
    pub(super) detail: String,
    /// While it runs: since when, so the page can count up.
    pub(super) running_since: Option<i64>,
    /// Where clicking it leads (instances only).
    pub(super) href: Option<String>,
    pub(super) selected: bool,
}

/// Where the boxes go: columns of node indexes (in the order given) and the lines between
/// them as (needed, needing) index pairs.
#[derive(Debug, PartialEq, Eq)]
pub(super) struct Layout {
    pub(super) columns: Vec<Vec<usize>>,
    pub(super) edges: Vec<(usize, usize)>,
}

/// Lays out nodes given as (key, needs). Needs of unknown keys are ignored; a cycle (which
/// the workflow checks refuse) is cut where it closes.
pub(super) fn layout(nodes: &[(&str, &[String])]) -> Layout {
    let mut depths: HashMap<&str, usize> = HashMap::new();
    let mut columns: Vec<Vec<usize>> = Vec::new();
    for (node_idx, (key, _)) in nodes.iter().enumerate() {
        let depth = depth(key, nodes, &mut depths, &mut Vec::new());
        if columns.len() <= depth {
            columns.resize_with(depth + 1, Vec::new);
        }
        columns[depth].push(node_idx);
    }
    let edges = nodes
        .iter()
        .enumerate()
        .flat_map(|(needing, (_, needs))| {
            needs.iter().flat_map(move |need| {
                nodes
                    .iter()
                    .enumerate()
                    .filter(move |(_, (key, _))| key == need)
                    .map(move |(needed, _)| (needed, needing))
            })
        })
        .collect();
    Layout { columns, edges }
}

fn depth<'a>(
    key: &'a str,
    nodes: &[(&'a str, &'a [String])],
    depths: &mut HashMap<&'a str, usize>,
    visiting: &mut Vec<&'a str>,
) -> usize {
    if let Some(depth) = depths.get(key) {
        return *depth;
    }
    if visiting.contains(&key) {
        return 0;
    }
    visiting.push(key);
    let needs = nodes.iter().filter(|(node_key, _)| *node_key == key).flat_map(|(_, needs)| needs.iter());
    let known: Vec<&'a str> = needs
        .filter_map(|need| nodes.iter().find(|(node_key, _)| node_key == need).map(|(node_key, _)| *node_key))
        .collect();
    let depth = known.into_iter().map(|need| depth(need, nodes, depths, visiting) + 1).max().unwrap_or(0);
    visiting.pop();
    depths.insert(key, depth);
    depth
}

const BOX_WIDTH: usize = 210;
const BOX_HEIGHT: usize = 38;
const COLUMN_GAP: usize = 56;
const ROW_GAP: usize = 12;

/// The graph as HTML: `#graph`, each box an `.job` with `data-key` and `data-state`.
pub(super) fn render(nodes: &[Node]) -> Markup {
    let keyed: Vec<(&str, &[String])> = nodes.iter().map(|node| (node.key.as_str(), node.needs.as_slice())).collect();
    let layout = layout(&keyed);
    let mut positions = vec![(0, 0); nodes.len()];
    for (column_idx, column) in layout.columns.iter().enumerate() {
        for (row_idx, node_idx) in column.iter().enumerate() {
            positions[*node_idx] = (column_idx * (BOX_WIDTH + COLUMN_GAP), row_idx * (BOX_HEIGHT + ROW_GAP));
        }
    }
    let n_rows = layout.columns.iter().map(Vec::len).max().unwrap_or(0);
    let width = (layout.columns.len() * (BOX_WIDTH + COLUMN_GAP)).saturating_sub(COLUMN_GAP);
    let height = (n_rows * (BOX_HEIGHT + ROW_GAP)).saturating_sub(ROW_GAP);
    html! {
        div #graph .graph style=(format!("width:{width}px;height:{height}px")) {
            svg.edges width=(width) height=(height) viewBox=(format!("0 0 {width} {height}")) aria-hidden="true" {
                defs {
                    marker #arrow viewBox="0 0 8 8" refX="7" refY="4" markerWidth="7" markerHeight="7" orient="auto" {
                        path d="M0,0 L8,4 L0,8 z" {}
                    }
                }
                @for (needed, needing) in &layout.edges {
                    @let (x1, y1) = (positions[*needed].0 + BOX_WIDTH, positions[*needed].1 + BOX_HEIGHT / 2);
                    @let (x2, y2) = (positions[*needing].0, positions[*needing].1 + BOX_HEIGHT / 2);
                    @let bend = COLUMN_GAP / 2;
                    path.edge marker-end="url(#arrow)"
                        d=(format!("M{x1},{y1} C{},{y1} {},{y2} {},{y2}", x1 + bend, x2 - bend, x2 - 1)) {}
                }
            }
            @for (node, (x, y)) in nodes.iter().zip(&positions) {
                @let class = format!("job state-{}{}", node.state, if node.selected { " selected" } else { "" });
                @let style = format!("left:{x}px;top:{y}px;width:{BOX_WIDTH}px;height:{BOX_HEIGHT}px");
                @let inner = html! {
                    span.dot {}
                    span.name title=(node.name) { (node.name) }
                    span.dur data-since=[node.running_since] { (node.detail) }
                };
                @if let Some(href) = &node.href {
                    a class=(class) style=(style) href=(href) data-key=(node.key) data-state=(node.state) { (inner) }
                } @else {
                    div class=(class) style=(style) data-key=(node.key) data-state=(node.state) title="no instance yet" { (inner) }
                }
            }
        }
    }
}
