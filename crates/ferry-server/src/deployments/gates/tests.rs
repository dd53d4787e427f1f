//! The gates judged from facts: each rule passing, holding and refusing.

use ferry_proto::deployments::ApprovalView;

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
