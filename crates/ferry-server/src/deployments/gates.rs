//! The gates before a deployment starts, judged from what is known (no IO): `branches:` (the
//! commit is on one of them), `after:` (it succeeded in that environment) and `approvals: N`
//! (N approvals by people other than its author). A gate that can never pass refuses the
//! deployment; one that may still pass holds it, saying what it waits for. The same gates
//! hold a service's release ([`Subject::Release`]) and a workflow job with `environment:`
//! ([`Subject::Commit`]: the run's commit, and the run's actor as its author). An
//! environment with `error-budget: hold` also holds a service's release while an SLO of the
//! service has spent its error budget there (`approval`: until one approval); a rollback is
//! never held by it, and an SLO without data never holds.

use ferry_deploy::ErrorBudgetPolicy;
use ferry_proto::deployments::{ApprovalView, GateView};
use ferry_proto::slos::{SloStatus, SloView};
use serde::{Deserialize, Serialize};

/// The rules of an environment, from the release's deploy.yml.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub(crate) struct EnvironmentRules {
    /// Every new release of a service goes here.
    #[serde(default)]
    pub(crate) auto_deploy: bool,
    /// Takes only releases that succeeded in these environments.
    #[serde(default)]
    pub(crate) after: Vec<String>,
    /// Approvals needed, by developers who are not the release's author.
    #[serde(default)]
    pub(crate) approvals: u32,
    /// Only commits of these branches may deploy here (none: any).
    #[serde(default)]
    pub(crate) branches: Vec<String>,
    /// The agents (by name or label) it runs on; none: the local agent.
    #[serde(default)]
    pub(crate) hosts: Vec<String>,
    /// Whether a spent error budget holds a deployment (`error-budget:`).
    #[serde(default)]
    pub(crate) error_budget: ErrorBudgetPolicy,
}

impl EnvironmentRules {
    /// The rules `.ferry/deploy.yml` declares for an environment.
    pub(crate) fn of(environment: &ferry_deploy::Environment) -> EnvironmentRules {
        EnvironmentRules {
            auto_deploy: environment.auto_deploy,
            after: environment.after.clone(),
            approvals: environment.approvals,
            branches: environment.branches.clone(),
            hosts: environment.hosts.clone(),
            error_budget: environment.error_budget,
        }
    }
}

/// What goes through the gates.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Subject<'a> {
    /// Release N of a service.
    Release(i64),
    /// A workflow job's run at a commit.
    Commit(&'a str),
}

impl Subject<'_> {
    /// `release 7`, `commit 1a2b3c4`.
    fn name(self) -> String {
        match self {
            Subject::Release(number) => format!("release {number}"),
            Subject::Commit(sha) => format!("commit {}", sha.get(..7).unwrap_or(sha)),
        }
    }

    /// Who may not approve it.
    pub(crate) fn author_role(self) -> &'static str {
        match self {
            Subject::Release(_) => "the release's author",
            Subject::Commit(_) => "the run's actor",
        }
    }
}

/// What is known when the gates are judged.
#[derive(Debug, Clone, Copy)]
pub(crate) struct GateFacts<'a> {
    pub(crate) environment: &'a str,
    pub(crate) subject: Subject<'a>,
    /// The branch the commit came from, when known.
    pub(crate) branch: Option<&'a str>,
    /// The `after:` environments the subject has not succeeded in yet.
    pub(crate) missing_after: &'a [String],
    pub(crate) author: &'a str,
    pub(crate) approvals: &'a [ApprovalView],
    /// The error budgets of the service's SLOs in the environment, judged now (none for a
    /// workflow job).
    pub(crate) budgets: &'a [SloView],
    /// A rollback puts back what served: it is never held by an error budget.
    pub(crate) is_rollback: bool,
    pub(crate) now: i64,
}

/// What the gates say.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Verdict {
    Pass,
    /// Held until something changes: what it waits for.
    Wait(String),
    /// Never: the rule that refused it.
    Refuse(String),
}

/// Judges every gate of `rules`: the verdict, and each gate as the deployment records it
/// (gates that passed before keep when they passed, from `before`).
pub(crate) fn judge(rules: &EnvironmentRules, facts: &GateFacts<'_>, before: &[GateView]) -> (Verdict, Vec<GateView>) {
    let mut gates = Vec::new();
    let mut waits = Vec::new();
    let mut refusal = None;
    let passed_at = |kind: &str, passed: bool| {
        passed
            .then(|| before.iter().find(|gate| gate.kind == kind && gate.passed).and_then(|gate| gate.passed_at))
            .map(|at| at.unwrap_or(facts.now))
    };
    if !rules.branches.is_empty() {
        let rule = format!("branches: {}", rules.branches.join(", "));
        let passed = facts.branch.is_some_and(|branch| ferry_workflow::filter::list_matches(&rules.branches, branch));
        if !passed {
            let from = facts.branch.map_or_else(|| "an unknown branch".to_owned(), |branch| format!("branch {branch}"));
            refusal = Some(format!(
                "{} takes only commits of {} (branches:), and {} was made from {from}",
                facts.environment,
                rules.branches.join(", "),
                facts.subject.name()
            ));
        }
        gates.push(GateView {
            kind: "branches".into(),
            rule,
            passed,
            passed_by: Vec::new(),
            passed_at: passed_at("branches", passed),
        });
    }
    if !rules.after.is_empty() {
        let passed = facts.missing_after.is_empty();
        if !passed {
            let missing = facts.missing_after.join(" and ");
            waits.push(format!("{} to succeed in {missing} (after: {})", facts.subject.name(), rules.after.join(", ")));
        }
        gates.push(GateView {
            kind: "after".into(),
            rule: format!("after: {}", rules.after.join(", ")),
            passed,
            passed_by: Vec::new(),
            passed_at: passed_at("after", passed),
        });
    }
    let mut approvers: Vec<String> = Vec::new();
    for approval in facts.approvals {
        if approval.by != facts.author && !approvers.contains(&approval.by) {
            approvers.push(approval.by.clone());
        }
    }
    if rules.approvals > 0 {
        let n_needed = usize::try_from(rules.approvals).unwrap_or(usize::MAX);
        let passed = approvers.len() >= n_needed;
        if !passed {
            waits.push(format!(
                "{} more approval(s) ({} of {}; `ferry approve DEPLOYMENT`, not by {} {})",
                n_needed - approvers.len(),
                approvers.len(),
                rules.approvals,
                facts.subject.author_role(),
                facts.author
            ));
        }
        gates.push(GateView {
            kind: "approvals".into(),
            rule: format!("approvals: {} by a developer who is not {}", rules.approvals, facts.subject.author_role()),
            passed,
            passed_by: approvers.clone(),
            passed_at: passed_at("approvals", passed),
        });
    }
    if rules.error_budget != ErrorBudgetPolicy::None && !facts.is_rollback {
        let spent: Vec<&SloView> =
            facts.budgets.iter().filter(|budget| budget.status == SloStatus::Exhausted).collect();
        let overridden = rules.error_budget == ErrorBudgetPolicy::Approval && !approvers.is_empty();
        let passed = spent.is_empty() || overridden;
        if !passed {
            let slos: Vec<String> = spent.iter().map(|budget| spent_words(budget)).collect();
            let until = match rules.error_budget {
                ErrorBudgetPolicy::Approval => format!(
                    "an approval (error-budget: approval; `ferry approve DEPLOYMENT`, not by {} {})",
                    facts.subject.author_role(),
                    facts.author
                ),
                _ => "the error budget to recover (error-budget: hold)".to_owned(),
            };
            waits.push(format!("{until}: {}", slos.join(", ")));
        }
        gates.push(GateView {
            kind: "error-budget".into(),
            rule: format!(
                "error-budget: {} while an SLO of the service has spent its error budget here",
                rules.error_budget.as_str()
            ),
            passed,
            passed_by: if overridden && !spent.is_empty() { approvers.clone() } else { Vec::new() },
            passed_at: passed_at("error-budget", passed),
        });
    }
    let verdict = match (refusal, waits.is_empty()) {
        (Some(refusal), _) => Verdict::Refuse(refusal),
        (None, true) => Verdict::Pass,
        (None, false) => Verdict::Wait(format!("waiting for {}", waits.join(" and "))),
    };
    (verdict, gates)
}

/// Whether a deployment whose gates are `gates` waits for an approval someone may give: an
/// `approvals:` gate, or an `error-budget: approval` gate, not passed yet (the UI's Approve
/// button).
pub(crate) fn awaits_approval(gates: &[GateView]) -> bool {
    let approval_rule = format!("error-budget: {} ", ErrorBudgetPolicy::Approval.as_str());
    gates.iter().any(|gate| {
        !gate.passed
            && (gate.kind == "approvals" || (gate.kind == "error-budget" && gate.rule.starts_with(&approval_rule)))
    })
}

/// An SLO that has spent its budget, in words: `SLO availability of web has spent its error
/// budget (-40 % left: 0.140 % errors over 30d, objective 99.9 %)`.
fn spent_words(budget: &SloView) -> String {
    let left = budget.budget_remaining.map_or_else(|| "?".to_owned(), |left| format!("{:.0} %", left * 100.0));
    let errors = budget.error_ratio.map_or_else(|| "?".to_owned(), |ratio| format!("{:.3} %", ratio * 100.0));
    format!(
        "SLO {} of {} has spent its error budget ({left} left: {errors} errors over {}, objective {} %)",
        budget.slo, budget.service, budget.window, budget.objective
    )
}

#[cfg(test)]
mod tests;
