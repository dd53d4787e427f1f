//! The `needs` graph: every name must be a job, and the graph must have no cycle.

use crate::yaml::Reader as _;
use std::collections::HashSet;

use crate::model::Workflow;
use crate::parse::Cx;
use crate::suggest;

pub(super) fn check(cx: &mut Cx, workflow: &Workflow) {
    let ids: Vec<&str> = workflow.jobs.keys().map(String::as_str).collect();
    for job in workflow.jobs.values() {
        for need in &job.needs {
            if workflow.jobs.contains_key(&need.value) {
                if need.value == job.id.value {
                    cx.error(
                        "needs-cycle",
                        need.span,
                        format!("job `{}` needs itself", need.value),
                        "remove it from its own `needs`",
                    );
                }
                continue;
            }
            let help = match suggest::closest(&need.value, &ids) {
                Some(candidate) => format!("did you mean `{candidate}`?"),
                None => format!("the jobs are: {}", ids.join(", ")),
            };
            cx.error(
                "unknown-need",
                need.span,
                format!("job `{}` needs unknown job `{}`", job.id.value, need.value),
                help,
            );
        }
    }
    report_cycles(cx, workflow);
}

/// Depth-first search in written order; each cycle is reported once, at the `needs` entry that
/// closes it, naming the jobs along it.
fn report_cycles(cx: &mut Cx, workflow: &Workflow) {
    #[derive(Clone, Copy, PartialEq)]
    enum Mark {
        New,
        Active,
        Done,
    }
    let n_jobs = workflow.jobs.len();
    let mut marks = vec![Mark::New; n_jobs];
    let mut reported: HashSet<Vec<usize>> = HashSet::new();
    for root in 0..n_jobs {
        if marks[root] != Mark::New {
            continue;
        }
        // Stack of (job index, next need index); `path` mirrors the active jobs.
        let mut stack: Vec<(usize, usize)> = vec![(root, 0)];
        marks[root] = Mark::Active;
        while let Some(&mut (job_idx, ref mut need_idx)) = stack.last_mut() {
            let Some((_, job)) = workflow.jobs.get_index(job_idx) else { break };
            let Some(need) = job.needs.get(*need_idx) else {
                marks[job_idx] = Mark::Done;
                stack.pop();
                continue;
            };
            *need_idx += 1;
            let Some(next) = workflow.jobs.get_index_of(&need.value) else { continue };
            if next == job_idx {
                continue;
            }
            match marks[next] {
                Mark::New => {
                    marks[next] = Mark::Active;
                    stack.push((next, 0));
                }
                Mark::Active => {
                    let start = stack.iter().position(|&(idx, _)| idx == next).unwrap_or(0);
                    let cycle: Vec<usize> = stack[start..].iter().map(|&(idx, _)| idx).collect();
                    let mut key = cycle.clone();
                    key.sort_unstable();
                    if reported.insert(key) {
                        let mut names: Vec<&str> = cycle
                            .iter()
                            .filter_map(|&idx| workflow.jobs.get_index(idx).map(|(id, _)| id.as_str()))
                            .collect();
                        names.push(need.value.as_str());
                        cx.error(
                            "needs-cycle",
                            need.span,
                            format!("the jobs depend on each other in a cycle: {}", names.join(" -> ")),
                            "remove one of these `needs` so that the jobs can run in some order",
                        );
                    }
                }
                Mark::Done => {}
            }
        }
    }
}
