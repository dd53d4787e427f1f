//! Checks that look at a whole workflow rather than one node: the `needs` graph and the
//! `${{ }}` expressions.

use crate::model::Workflow;
use crate::parse::Cx;
use crate::yaml::Node;

mod expressions;
mod graph;

pub(crate) fn workflow(cx: &mut Cx, workflow: &Workflow, tree: &Node) {
    graph::check(cx, workflow);
    expressions::check_workflow(cx, tree);
}

pub(crate) fn action(cx: &mut Cx, tree: &Node) {
    expressions::check_action(cx, tree);
}
