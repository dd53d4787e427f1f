//! The gates judged from facts: each rule passing, holding and refusing.

use ferry_deploy::ErrorBudgetPolicy;
use ferry_proto::deployments::ApprovalView;
use ferry_proto::slos::{SloStatus, SloView};

use super::{EnvironmentRules, GateFacts, Subject, Verdict, judge};

fn approval(by: &str) -> ApprovalView {
    ApprovalView { by: by.into(), comment: None, at: 5 }
}

const STAGING: &[String] = &[];

fn facts<'a>(branch: Option<&'a str>, succeeded_after: bool, approvals: &'a [ApprovalView]) -> GateFacts<'a> {
    static MISSING: std::sync::LazyLock<Vec<String>> = std::sync::LazyLock::new(|| vec!["staging".to_owned()]);
    let missing_after = if succeeded_after { STAGING } else { MISSING.as_slice() };
    GateFacts {
        environment: "production",
        subject: Subject::Release(7),
        branch,
        missing_after,
        author: "alice",
        approvals,
        budgets: &[],
        is_rollback: false,
        now: 9,
    }
}

fn production() -> EnvironmentRules {
    EnvironmentRules {
        after: vec!["staging".into()],
        approvals: 1,
        branches: vec!["main".into()],
        ..EnvironmentRules::default()
    }
}

#[test]
fn no_rules_pass_at_once() {
    let (verdict, gates) = judge(&EnvironmentRules::default(), &facts(None, false, &[]), &[]);
    assert_eq!(verdict, Verdict::Pass);
    assert!(gates.is_empty());
}

#[test]
fn a_release_of_another_branch_is_refused_with_the_rule() {
    let (verdict, _) = judge(&production(), &facts(Some("dev"), true, &[]), &[]);
    assert_eq!(
        verdict,
        Verdict::Refuse(
            "production takes only commits of main (branches:), and release 7 was made from branch dev".into()
        )
    );
}

#[test]
fn branches_are_patterns_as_in_workflow_filters() {
    let rules =
        EnvironmentRules { branches: vec!["release/*".into(), "!release/old".into()], ..EnvironmentRules::default() };
    let verdict = |branch| judge(&rules, &facts(Some(branch), true, &[]), &[]).0;
    assert_eq!(verdict("release/2.0"), Verdict::Pass);
    assert!(matches!(verdict("release/old"), Verdict::Refuse(_)));
    assert!(matches!(verdict("main"), Verdict::Refuse(_)));
}

#[test]
fn it_waits_for_the_earlier_environment_and_an_approval() {
    let (verdict, gates) = judge(&production(), &facts(Some("main"), false, &[]), &[]);
    assert_eq!(
        verdict,
        Verdict::Wait(
            "waiting for release 7 to succeed in staging (after: staging) and 1 more approval(s) (0 of 1; \
             `ferry approve DEPLOYMENT`, not by the release's author alice)"
                .into()
        )
    );
    assert_eq!(
        gates.iter().map(|gate| (gate.kind.as_str(), gate.passed)).collect::<Vec<_>>(),
        [("branches", true), ("after", false), ("approvals", false)]
    );
}

#[test]
fn the_authors_own_approval_does_not_count_and_others_count_once() {
    let approvals = [approval("alice"), approval("bob"), approval("bob")];
    let rules = EnvironmentRules { approvals: 2, ..EnvironmentRules::default() };
    let (verdict, gates) = judge(&rules, &facts(None, false, &approvals), &[]);
    assert!(matches!(verdict, Verdict::Wait(_)), "{verdict:?}");
    assert_eq!(gates[0].passed_by, ["bob"]);
    let approvals = [approval("bob"), approval("carol")];
    let (verdict, gates) = judge(&rules, &facts(None, false, &approvals), &[]);
    assert_eq!(verdict, Verdict::Pass);
    assert_eq!((gates[0].passed_by.clone(), gates[0].passed_at), (vec!["bob".to_owned(), "carol".to_owned()], Some(9)));
    // Judged again later, a gate keeps when it passed first.
    let later = GateFacts { now: 20, ..facts(None, false, &approvals) };
    let (_, again) = judge(&rules, &later, &gates);
    assert_eq!(again[0].passed_at, Some(9));
}

#[test]
fn a_jobs_commit_is_judged_by_the_same_gates_in_its_own_words() {
    let facts = GateFacts {
        subject: Subject::Commit("0123456789abcdef"),
        author: "octocat",
        ..facts(Some("main"), false, &[])
    };
    let (verdict, gates) = judge(&production(), &facts, &[]);
    assert_eq!(
        verdict,
        Verdict::Wait(
            "waiting for commit 0123456 to succeed in staging (after: staging) and 1 more approval(s) (0 of 1; \
             `ferry approve DEPLOYMENT`, not by the run's actor octocat)"
                .into()
        )
    );
    assert_eq!(gates[2].rule, "approvals: 1 by a developer who is not the run's actor");
    let refused = GateFacts { branch: Some("dev"), ..facts };
    assert_eq!(
        judge(&production(), &refused, &[]).0,
        Verdict::Refuse(
            "production takes only commits of main (branches:), and commit 0123456 was made from branch dev".into()
        )
    );
}

/// An SLO of `web` in production at 99.9 % over 30d whose errors were `error_ratio`.
fn budget(slo: &str, error_ratio: Option<f64>) -> SloView {
    let remaining = error_ratio.map(|ratio| ferry_deploy::slo::budget_remaining(99.9, ratio));
    SloView {
        service: "web".into(),
        environment: "production".into(),
        slo: slo.into(),
        objective: 99.9,
        window: "30d".into(),
        error_ratio,
        budget_remaining: remaining,
        burn_rate_1h: None,
        status: ferry_deploy::slo::status(error_ratio, 99.9),
    }
}

fn with_budgets<'a>(budgets: &'a [SloView], approvals: &'a [ApprovalView]) -> GateFacts<'a> {
    GateFacts { budgets, ..facts(None, true, approvals) }
}

fn error_budget(policy: ErrorBudgetPolicy) -> EnvironmentRules {
    EnvironmentRules { error_budget: policy, ..EnvironmentRules::default() }
}

#[test]
fn a_spent_error_budget_holds_a_release_and_says_which_slo() {
    let budgets = [budget("availability", Some(0.0004)), budget("latency", Some(0.0014))];
    assert_eq!(budgets[1].status, SloStatus::Exhausted);
    let (verdict, gates) = judge(&error_budget(ErrorBudgetPolicy::Hold), &with_budgets(&budgets, &[]), &[]);
    assert_eq!(
        verdict,
        Verdict::Wait(
            "waiting for the error budget to recover (error-budget: hold): SLO latency of web has spent its error \
             budget (-40 % left: 0.140 % errors over 30d, objective 99.9 %)"
                .into()
        )
    );
    assert_eq!(
        gates.iter().map(|gate| (gate.kind.as_str(), gate.passed)).collect::<Vec<_>>(),
        [("error-budget", false)]
    );
    // An approval does not override `hold`.
    let approvals = [approval("bob")];
    let (verdict, _) = judge(&error_budget(ErrorBudgetPolicy::Hold), &with_budgets(&budgets, &approvals), &[]);
    assert!(matches!(verdict, Verdict::Wait(_)), "{verdict:?}");
}

#[test]
fn budget_left_or_no_data_never_holds() {
    let budgets = [budget("availability", Some(0.0009)), budget("latency", None), budget("checkout", Some(f64::NAN))];
    assert_eq!(
        budgets.iter().map(|b| b.status).collect::<Vec<_>>(),
        [SloStatus::Ok, SloStatus::NoData, SloStatus::NoData]
    );
    let (verdict, gates) = judge(&error_budget(ErrorBudgetPolicy::Hold), &with_budgets(&budgets, &[]), &[]);
    assert_eq!((verdict, gates[0].passed), (Verdict::Pass, true));
}

#[test]
fn a_rollback_is_never_held_by_an_error_budget() {
    let budgets = [budget("availability", Some(0.5))];
    let facts = GateFacts { is_rollback: true, ..with_budgets(&budgets, &[]) };
    let (verdict, gates) = judge(&error_budget(ErrorBudgetPolicy::Hold), &facts, &[]);
    assert_eq!(verdict, Verdict::Pass);
    assert!(gates.is_empty(), "{gates:?}");
}

#[test]
fn with_approval_a_spent_budget_waits_for_one_approval_not_by_the_author() {
    let rules = error_budget(ErrorBudgetPolicy::Approval);
    let budgets = [budget("availability", Some(0.002))];
    let (verdict, _) = judge(&rules, &with_budgets(&budgets, &[approval("alice")]), &[]);
    assert_eq!(
        verdict,
        Verdict::Wait(
            "waiting for an approval (error-budget: approval; `ferry approve DEPLOYMENT`, not by the release's author \
             alice): SLO availability of web has spent its error budget (-100 % left: 0.200 % errors over 30d, \
             objective 99.9 %)"
                .into()
        )
    );
    let (verdict, gates) = judge(&rules, &with_budgets(&budgets, &[approval("alice"), approval("bob")]), &[]);
    assert_eq!(verdict, Verdict::Pass);
    assert_eq!((gates[0].kind.as_str(), gates[0].passed_by.as_slice()), ("error-budget", &["bob".to_owned()][..]));
    // The UI offers the Approve button while it waits, and not once it passed.
    let (_, waiting) = judge(&rules, &with_budgets(&budgets, &[]), &[]);
    assert!(super::awaits_approval(&waiting) && !super::awaits_approval(&gates));
    let (_, held) = judge(&error_budget(ErrorBudgetPolicy::Hold), &with_budgets(&budgets, &[]), &[]);
    assert!(!super::awaits_approval(&held), "an approval does not move `hold`");
    // Without a spent budget, no approval is needed.
    let budgets = [budget("availability", Some(0.0))];
    assert_eq!(judge(&rules, &with_budgets(&budgets, &[]), &[]).0, Verdict::Pass);
}

#[test]
fn without_error_budget_a_spent_budget_does_not_matter() {
    let budgets = [budget("availability", Some(0.5))];
    let (verdict, gates) = judge(&EnvironmentRules::default(), &with_budgets(&budgets, &[]), &[]);
    assert_eq!((verdict, gates.len()), (Verdict::Pass, 0));
}
