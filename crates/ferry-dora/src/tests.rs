//! Hand-computed keys over constructed histories: each test lays out the events, and the
//! expected numbers are worked out in its comments the way `docs/dora.md` tells a person to.

use crate::{
    Commit, DAY, Deployment, History, Incident, Outcome, Tier, WEEK, Window, nearest_rank, parse_deployments,
    parse_incidents, parse_window, project_report, report, weekly,
};

/// 2024-10-04T00:00:00Z, a midnight, so days are easy to count.
const T0: i64 = 20_000 * DAY;
const HOUR: i64 = 3600;

fn window30() -> Window {
    Window { from: T0, to: T0 + 30 * DAY }
}

fn commit(sha: &str, at: i64) -> Commit {
    Commit { sha: sha.to_owned(), at }
}

fn deployment(id: i64, finished_at: i64, outcome: Outcome, commits: Vec<Commit>) -> Deployment {
    Deployment { id, started_at: Some(finished_at - 600), finished_at, outcome, commits }
}

fn incident(id: i64, started_at: i64, resolved_at: Option<i64>) -> Incident {
    Incident { id, started_at, resolved_at, caused_by_deployment: None, caused_by_commit: None }
}

#[test]
fn nearest_rank_is_an_observed_value() {
    let mut ten: Vec<i64> = (1..=10).rev().collect();
    assert_eq!(nearest_rank(&mut ten, 50), Some(5)); // ⌈0.5·10⌉ = 5th
    assert_eq!(nearest_rank(&mut ten, 90), Some(9)); // ⌈0.9·10⌉ = 9th
    assert_eq!(nearest_rank(&mut [7], 90), Some(7));
    assert_eq!(nearest_rank(&mut [4, 2], 50), Some(2)); // ⌈0.5·2⌉ = 1st
    assert_eq!(nearest_rank(&mut [3, 1, 2], 50), Some(2)); // ⌈1.5⌉ = 2nd
    assert_eq!(nearest_rank(&mut [], 50), None);
}

#[test]
fn a_deployment_bringing_many_commits() {
    let finished = T0 + DAY + 1000;
    let commits =
        [100, 5000, 300, 200, 400].iter().enumerate().map(|(idx, age)| commit(&format!("c{idx}"), finished - age));
    let history = History {
        deployments: vec![deployment(1, finished, Outcome::Succeeded, commits.collect())],
        incidents: vec![],
    };
    let report = report(&history, window30());
    assert_eq!(report.window.from, "2024-10-04T00:00:00Z");
    assert_eq!(report.window.to, "2024-11-03T00:00:00Z");
    // 1 deployment over 30 days; 1 day with one over 30/7 weeks.
    assert_eq!(report.deployment_frequency.deployments, 1);
    assert!((report.deployment_frequency.per_day - 1.0 / 30.0).abs() < 1e-12);
    assert!((report.deployment_frequency.deploy_days_per_week - 7.0 / 30.0).abs() < 1e-12);
    assert_eq!(report.deployment_frequency.tier, Tier::Medium);
    // Lead times sorted: 100 200 300 400 5000; median the ⌈2.5⌉ = 3rd, p90 the ⌈4.5⌉ = 5th.
    assert_eq!(report.lead_time.commits, 5);
    assert_eq!(report.lead_time.median_seconds, Some(300));
    assert_eq!(report.lead_time.p90_seconds, Some(5000));
    assert_eq!(report.lead_time.tier, Some(Tier::Elite));
    assert_eq!((report.change_failure_rate.failed, report.change_failure_rate.total), (0, 1));
    assert_eq!(report.change_failure_rate.rate, Some(0.0));
    assert_eq!(report.change_failure_rate.tier, Some(Tier::Elite));
    assert_eq!(report.recovery_time.failures, 0);
    assert_eq!(report.recovery_time.median_seconds, None);
    assert_eq!(report.recovery_time.tier, None);
    assert_eq!((report.rework_rate.rework, report.rework_rate.total), (0, 1));
}

#[test]
fn a_deployment_with_no_new_commits() {
    let d1 = T0 + 2 * DAY;
    let d2 = T0 + 3 * DAY;
    let history = History {
        deployments: vec![
            deployment(1, d1, Outcome::Succeeded, vec![commit("a", d1 - 2 * DAY)]),
            deployment(2, d2, Outcome::Succeeded, vec![]),
        ],
        incidents: vec![],
    };
    let report = report(&history, window30());
    // Two deployments on two days; one commit, 2 days old when deployed.
    assert_eq!(report.deployment_frequency.deployments, 2);
    assert!((report.deployment_frequency.deploy_days_per_week - 2.0 * 7.0 / 30.0).abs() < 1e-12);
    assert_eq!(report.lead_time.commits, 1);
    assert_eq!(report.lead_time.median_seconds, Some(2 * DAY));
    assert_eq!(report.lead_time.p90_seconds, Some(2 * DAY));
    assert_eq!(report.lead_time.tier, Some(Tier::High));
    assert_eq!(report.change_failure_rate.total, 2);
}

#[test]
fn a_revert_and_a_commit_brought_twice_count_once_each() {
    // D1 brings A; D2 brings R, the commit reverting A; D3 rolls back to before R (no new
    // commits); D4 deploys R again, which the commits since D3 bring again.
    let history = History {
        deployments: vec![
            deployment(1, T0 + DAY, Outcome::Succeeded, vec![commit("a", T0 + DAY - 7200)]),
            deployment(2, T0 + 2 * DAY, Outcome::Succeeded, vec![commit("r", T0 + 2 * DAY - 60)]),
            deployment(3, T0 + 3 * DAY, Outcome::Succeeded, vec![]),
            deployment(4, T0 + 4 * DAY, Outcome::Succeeded, vec![commit("r", T0 + 2 * DAY - 60)]),
        ],
        incidents: vec![],
    };
    let report = report(&history, window30());
    // A: 7200 s at D1; R: 60 s at D2 (D4 brought it again: not counted). Sorted 60, 7200:
    // median the 1st, p90 the ⌈1.8⌉ = 2nd.
    assert_eq!(report.lead_time.commits, 2);
    assert_eq!(report.lead_time.median_seconds, Some(60));
    assert_eq!(report.lead_time.p90_seconds, Some(7200));
    assert_eq!(report.deployment_frequency.deployments, 4);
}

/// Three successful deployments a day apart, bringing a, b and c.
fn three_deployments() -> Vec<Deployment> {
    vec![
        deployment(1, T0 + DAY, Outcome::Succeeded, vec![commit("a", T0)]),
        deployment(2, T0 + 2 * DAY, Outcome::Succeeded, vec![commit("b", T0)]),
        deployment(3, T0 + 3 * DAY, Outcome::Succeeded, vec![commit("c", T0)]),
    ]
}

#[test]
fn an_incident_attributed_by_commit() {
    let started = T0 + 3 * DAY + HOUR;
    let mut incident = incident(1, started, Some(started + 2 * HOUR));
    incident.caused_by_commit = Some("b".to_owned());
    let history = History { deployments: three_deployments(), incidents: vec![incident] };
    assert_eq!(crate::attributions(&history).get(&1), Some(&2));
    let report = report(&history, window30());
    // D2 first brought b: 1 of 3 failed; recovered when the incident was resolved, 2 h on.
    assert_eq!((report.change_failure_rate.failed, report.change_failure_rate.total), (1, 3));
    assert_eq!(report.change_failure_rate.rate, Some(1.0 / 3.0));
    assert_eq!(report.change_failure_rate.tier, Some(Tier::Low));
    assert_eq!(report.recovery_time.failures, 1);
    assert_eq!(report.recovery_time.median_seconds, Some(2 * HOUR));
    assert_eq!(report.recovery_time.tier, Some(Tier::High));
}

#[test]
fn an_incident_attributed_by_deployment() {
    // It names D1 though D3 is the last before it; D2 succeeding later does not end it, as
    // D2 finished before the incident started.
    let started = T0 + 3 * DAY + HOUR;
    let mut incident = incident(1, started, Some(started + 30 * 60));
    incident.caused_by_deployment = Some(1);
    let history = History { deployments: three_deployments(), incidents: vec![incident] };
    let failures = crate::failures(&history, window30(), window30().to);
    assert_eq!(failures.len(), 1);
    assert_eq!(failures[0].deployment, 1);
    assert_eq!(failures[0].incidents, vec![1]);
    let report = report(&history, window30());
    assert_eq!(report.recovery_time.median_seconds, Some(30 * 60));
    assert_eq!(report.recovery_time.tier, Some(Tier::Elite));
}

#[test]
fn an_incident_attributed_by_time() {
    // No cause named: the last successful deployment finished before it started is D2 (D3
    // finished after; the failed D4 before it is not a successful one).
    let mut deployments = three_deployments();
    deployments[2].finished_at = T0 + 5 * DAY;
    deployments.push(deployment(4, T0 + 2 * DAY + HOUR, Outcome::Failed, vec![]));
    let started = T0 + 2 * DAY + 2 * HOUR;
    let history = History { deployments, incidents: vec![incident(1, started, None)] };
    assert_eq!(crate::attributions(&history).get(&1), Some(&2));
    let report = report(&history, window30());
    // D2 (incident) and D4 (outcome) failed: 2 of 4. D4 recovered when D3 succeeded (it
    // finished after D4); D2's incident started at +2d2h and D3 succeeded at +5d: 70 h. D4:
    // from +2d1h to +5d: 71 h. Sorted 70 h, 71 h: median the 1st, p90 the 2nd.
    assert_eq!((report.change_failure_rate.failed, report.change_failure_rate.total), (2, 4));
    assert_eq!(report.recovery_time.failures, 2);
    assert_eq!(report.recovery_time.median_seconds, Some(70 * HOUR));
    assert_eq!(report.recovery_time.p90_seconds, Some(71 * HOUR));
    assert_eq!(report.recovery_time.tier, Some(Tier::Medium));
    // D3 started (5d − 600 s) while the incident was open (never resolved): rework 1 of 4.
    assert_eq!((report.rework_rate.rework, report.rework_rate.total), (1, 4));
}

#[test]
fn an_incident_spanning_the_window_edge() {
    // D1 finished before the window; its incident started before and was resolved inside.
    // D2 started inside while it was open. A second incident, by time on D2, starts an
    // hour before the window ends and stays open.
    let window = window30();
    let history = History {
        deployments: vec![
            deployment(1, T0 - DAY, Outcome::Succeeded, vec![commit("a", T0 - 2 * DAY)]),
            deployment(2, T0 + HOUR, Outcome::Succeeded, vec![commit("b", T0)]),
        ],
        incidents: vec![incident(1, T0 - HOUR, Some(T0 + 2 * HOUR)), incident(2, window.to - HOUR, None)],
    };
    let report = report(&history, window);
    // Only D2 finished in the window; a's lead time belongs to the window before.
    assert_eq!(report.deployment_frequency.deployments, 1);
    assert_eq!(report.lead_time.commits, 1);
    assert_eq!(report.lead_time.median_seconds, Some(HOUR));
    // D2 failed (incident 2), not yet recovered: counted failed, no recovery time.
    assert_eq!((report.change_failure_rate.failed, report.change_failure_rate.total), (1, 1));
    assert_eq!(report.recovery_time.failures, 0);
    assert_eq!(report.recovery_time.median_seconds, None);
    // D2 started at T0 + 1 h − 600 s, inside incident 1 (T0 − 1 h to T0 + 2 h).
    assert_eq!((report.rework_rate.rework, report.rework_rate.total), (1, 1));
    assert_eq!(report.rework_rate.rate, Some(1.0));
}

#[test]
fn an_empty_window() {
    let history = History {
        deployments: vec![deployment(1, T0 - DAY, Outcome::Failed, vec![commit("a", T0 - 2 * DAY)])],
        incidents: vec![],
    };
    let report = report(&history, window30());
    assert_eq!(report.deployment_frequency.deployments, 0);
    assert!(report.deployment_frequency.per_day.abs() < f64::EPSILON);
    assert_eq!(report.deployment_frequency.tier, Tier::Low);
    assert_eq!(report.lead_time.commits, 0);
    assert_eq!(report.lead_time.median_seconds, None);
    assert_eq!(report.lead_time.tier, None);
    assert_eq!((report.change_failure_rate.failed, report.change_failure_rate.total), (0, 0));
    assert_eq!(report.change_failure_rate.rate, None);
    assert_eq!(report.change_failure_rate.tier, None);
    assert_eq!(report.recovery_time.failures, 0);
    assert_eq!(report.rework_rate.rate, None);
    let json = serde_json::to_value(&report).expect("a report serialises");
    assert_eq!(json["lead_time"]["median_seconds"], serde_json::Value::Null);
    assert_eq!(json["deployment_frequency"]["tier"], "low");
}

#[test]
fn a_failed_deployment_then_a_rollback_then_a_fix() {
    // D1 brings a. D2 brings b and fails after reaching users: an incident opens at its
    // finish. D3 rolls back (no new commits). D4 fixes: brings b again and c; it resolves the
    // incident when it succeeds.
    let (t1, t2, t3, t4) = (T0 + DAY, T0 + DAY + 2 * HOUR, T0 + DAY + 3 * HOUR, T0 + 2 * DAY);
    let mut opened = incident(1, t2, Some(t4));
    opened.caused_by_deployment = Some(2);
    let history = History {
        deployments: vec![
            deployment(1, t1, Outcome::Succeeded, vec![commit("a", t1 - HOUR)]),
            deployment(2, t2, Outcome::Failed, vec![commit("b", t1)]),
            deployment(3, t3, Outcome::Succeeded, vec![]),
            deployment(4, t4, Outcome::Succeeded, vec![commit("b", t1), commit("c", t4 - 2 * HOUR)]),
        ],
        incidents: vec![opened],
    };
    let report = report(&history, window30());
    // Successes: D1, D3, D4 on two days.
    assert_eq!(report.deployment_frequency.deployments, 3);
    assert!((report.deployment_frequency.deploy_days_per_week - 2.0 * 7.0 / 30.0).abs() < 1e-12);
    // a: 1 h at D1; b: first brought by a success at D4, t4 − t1 = 1 day; c: 2 h.
    // Sorted 1 h, 2 h, 24 h: median the 2nd, p90 the 3rd.
    assert_eq!(report.lead_time.commits, 3);
    assert_eq!(report.lead_time.median_seconds, Some(2 * HOUR));
    assert_eq!(report.lead_time.p90_seconds, Some(DAY));
    // D2 failed: 1 of 4; recovered at D3's success (before the incident's resolution).
    assert_eq!((report.change_failure_rate.failed, report.change_failure_rate.total), (1, 4));
    assert_eq!(report.change_failure_rate.rate, Some(0.25));
    assert_eq!(report.change_failure_rate.tier, Some(Tier::High));
    assert_eq!(report.recovery_time.median_seconds, Some(HOUR));
    assert_eq!(report.recovery_time.tier, Some(Tier::High));
    // D3 and D4 started while the incident was open (t2 to t4): rework 2 of 4.
    assert_eq!((report.rework_rate.rework, report.rework_rate.total), (2, 4));
    assert_eq!(report.rework_rate.rate, Some(0.5));
}

#[test]
fn imported_deployments_count_rework_from_their_finish() {
    let mut imported = deployment(1, T0 + DAY, Outcome::Succeeded, vec![]);
    imported.started_at = None;
    // The incident opened 5 minutes before the finish; a Ferry deployment starting 10 minutes
    // before would not count, the imported one does.
    let history = History { deployments: vec![imported], incidents: vec![incident(1, T0 + DAY - 300, None)] };
    let report = report(&history, window30());
    assert_eq!(report.rework_rate.rework, 1);
}

#[test]
fn weeks_end_at_the_window_end() {
    let window = Window { from: T0, to: T0 + 10 * DAY };
    let history = History {
        deployments: vec![
            deployment(1, T0 + DAY, Outcome::Failed, vec![]),
            deployment(2, T0 + 5 * DAY, Outcome::Succeeded, vec![commit("a", T0)]),
            deployment(3, T0 + 9 * DAY, Outcome::Succeeded, vec![]),
        ],
        incidents: vec![],
    };
    let weeks = weekly(std::slice::from_ref(&history), window);
    // Ten days: a 3-day week [T0, T0+3d) and a 7-day one [T0+3d, T0+10d).
    assert_eq!(weeks.len(), 2);
    assert_eq!(weeks[0].window, Window { from: T0, to: T0 + 3 * DAY });
    assert_eq!(weeks[1].window, Window { from: T0 + 3 * DAY, to: T0 + 10 * DAY });
    // D1 failed in week 1 and recovered at D2, in week 2: counted in week 1.
    assert_eq!(weeks[0].report.change_failure_rate.failed, 1);
    assert_eq!(weeks[0].report.recovery_time.median_seconds, Some(4 * DAY));
    assert_eq!(weeks[1].report.deployment_frequency.deployments, 2);
    assert_eq!(weeks[1].report.lead_time.median_seconds, Some(5 * DAY));
}

/// Two services of one project in production. Each unit's rules apply to its own history
/// only: api's success between web's rollback and web's fix does not recover web, web's
/// deployment during api's incident is no rework, and commit `x`, brought to both, counts
/// once per service.
#[test]
fn a_project_adds_up_its_services() {
    let web = History {
        deployments: vec![
            deployment(
                1,
                T0 + DAY,
                Outcome::Succeeded,
                vec![commit("s1", T0 + DAY - HOUR), commit("x", T0 + DAY - 2 * HOUR)],
            ),
            deployment(2, T0 + 2 * DAY, Outcome::RolledBack, vec![commit("w2", T0 + 2 * DAY - 600)]),
            deployment(3, T0 + 2 * DAY + HOUR, Outcome::Succeeded, vec![commit("w2", T0 + 2 * DAY - 600)]),
            deployment(4, T0 + 5 * DAY + 2 * HOUR, Outcome::Succeeded, vec![]),
        ],
        incidents: vec![],
    };
    let api = History {
        deployments: vec![
            deployment(11, T0 + DAY, Outcome::Succeeded, vec![commit("x", T0 + DAY - 2 * HOUR)]),
            deployment(12, T0 + 2 * DAY + 1800, Outcome::Succeeded, vec![]),
            deployment(13, T0 + 5 * DAY, Outcome::Succeeded, vec![commit("a2", T0 + 4 * DAY)]),
        ],
        // By time: to D13, the last success of api before it started.
        incidents: vec![incident(21, T0 + 5 * DAY + HOUR, Some(T0 + 5 * DAY + 3 * HOUR))],
    };
    let report = project_report(&[web.clone(), api.clone()], window30());
    // 7 deployments finished in the window, 6 succeeded, on days 1, 2 and 5 (D1, D11 on day
    // 1; D3, D12 on day 2; D4, D13 on day 5): 6/30 = 0.2 a day, 3/(30/7) = 0.7 days a week.
    assert_eq!(report.deployment_frequency.deployments, 6);
    assert!((report.deployment_frequency.per_day - 0.2).abs() < 1e-12);
    assert!((report.deployment_frequency.deploy_days_per_week - 0.7).abs() < 1e-12);
    assert_eq!(report.deployment_frequency.tier, Tier::High);
    // web: s1 1 h and x 2 h at D1, w2 at D3 (its first success) 1 h 10 min = 4200 s; api: x
    // 2 h at D11, a2 1 day at D13. Sorted 3600, 4200, 7200, 7200, 86400: the median is the
    // ⌈2.5⌉ = 3rd, the p90 the ⌈4.5⌉ = 5th.
    assert_eq!(report.lead_time.commits, 5);
    assert_eq!(report.lead_time.median_seconds, Some(7200));
    assert_eq!(report.lead_time.p90_seconds, Some(86_400));
    assert_eq!(report.lead_time.tier, Some(Tier::Elite));
    // Failed: D2 (rolled back) and D13 (incident 21): 2 of 7 = 28.6 %.
    assert_eq!((report.change_failure_rate.failed, report.change_failure_rate.total), (2, 7));
    assert_eq!(report.change_failure_rate.tier, Some(Tier::High));
    // D2 recovered at web's next success D3, 1 h later (not at api's D12, 30 min later); D13
    // at its incident's resolution, 2 h after it started. Sorted 3600, 7200: the median is
    // the 1st, the p90 the ⌈1.8⌉ = 2nd.
    assert_eq!(report.recovery_time.failures, 2);
    assert_eq!(report.recovery_time.median_seconds, Some(HOUR));
    assert_eq!(report.recovery_time.p90_seconds, Some(2 * HOUR));
    assert_eq!(report.recovery_time.tier, Some(Tier::High));
    // D4 started during api's incident, but web had none open: no rework.
    assert_eq!((report.rework_rate.rework, report.rework_rate.total), (0, 7));
    // One unit's project report is its report.
    assert_eq!(project_report(std::slice::from_ref(&web), window30()), super::report(&web, window30()));
    // The project's weekly trend adds up the units' weeks the same way.
    let weeks = weekly(&[web, api], window30());
    let n_deployments: u64 = weeks.iter().map(|week| week.report.change_failure_rate.total).sum();
    assert_eq!(n_deployments, 7);
}

#[test]
fn tiers_at_their_boundaries() {
    use crate::{change_failure_tier, frequency_tier, lead_time_tier, recovery_tier};
    assert_eq!(frequency_tier(1.0), Tier::Elite);
    assert_eq!(frequency_tier(0.99), Tier::High);
    assert_eq!(frequency_tier(1.0 / 7.0), Tier::High);
    assert_eq!(frequency_tier(0.1), Tier::Medium);
    assert_eq!(frequency_tier(0.03), Tier::Low);
    assert_eq!(lead_time_tier(DAY - 1), Tier::Elite);
    assert_eq!(lead_time_tier(DAY), Tier::High);
    assert_eq!(lead_time_tier(WEEK), Tier::Medium);
    assert_eq!(lead_time_tier(30 * DAY), Tier::Low);
    assert_eq!(change_failure_tier(0.05), Tier::Elite);
    assert_eq!(change_failure_tier(0.1), Tier::Medium);
    assert_eq!(change_failure_tier(0.2), Tier::High);
    assert_eq!(change_failure_tier(0.4), Tier::Low);
    assert_eq!(recovery_tier(3599), Tier::Elite);
    assert_eq!(recovery_tier(3600), Tier::High);
    assert_eq!(recovery_tier(DAY), Tier::Medium);
    assert_eq!(recovery_tier(WEEK), Tier::Low);
}

#[test]
fn windows_parse_with_a_unit() {
    assert_eq!(parse_window("30d"), Ok(30 * DAY));
    assert_eq!(parse_window("2w"), Ok(2 * WEEK));
    assert_eq!(parse_window("48h"), Ok(48 * HOUR));
    assert!(parse_window("30").expect_err("no unit").to_string().contains("needs a unit"));
    assert!(parse_window("0d").expect_err("zero").to_string().contains("whole number"));
    assert!(parse_window("99999d").is_err());
}

#[test]
fn deployments_csv_reads_rows_and_reports_every_bad_line() {
    let good = "service,environment,commit,finished_at,outcome\n\
                web,production,abc123,2026-01-31T14:05:00Z,succeeded\n\
                \"web\",production,def456,2026-02-01T10:00:00+01:00,rolled_back\n";
    let deployments = parse_deployments(good).expect("a good file");
    assert_eq!(deployments.len(), 2);
    assert_eq!(deployments[0].finished_at, 1_769_868_300_000);
    assert_eq!(deployments[1].finished_at, 1_769_936_400_000);
    assert_eq!(deployments[1].outcome, Outcome::RolledBack);

    let bad = "service,environment,commit,finished_at,outcome\n\
               web,production,abc,yesterday,succeeded\n\
               web,production,abc,2026-01-31T14:05:00Z,broken\n\
               web,production,2026-01-31T14:05:00Z,succeeded\n\
               \n\
               ,production,abc,2026-01-31T14:05:00Z,failed\n";
    let errors = parse_deployments(bad).expect_err("bad rows");
    let shown: Vec<String> = errors.iter().map(ToString::to_string).collect();
    assert_eq!(shown.len(), 4, "{shown:#?}");
    assert!(shown[0].starts_with("line 2: finished_at \"yesterday\" is not an RFC 3339 time"), "{}", shown[0]);
    assert_eq!(shown[1], "line 3: outcome \"broken\" must be succeeded, failed or rolled_back");
    assert_eq!(shown[2], "line 4: 4 fields where the header \"service,environment,commit,finished_at,outcome\" has 5");
    assert_eq!(shown[3], "line 6: service is empty");

    let errors = parse_deployments("service,commit\nweb,abc\n").expect_err("a wrong header");
    assert_eq!(
        errors[0].to_string(),
        "line 1: the header is \"service,commit\"; it must be \"service,environment,commit,finished_at,outcome\""
    );
}

#[test]
fn incidents_csv_takes_empty_resolution_and_cause() {
    let text = "service,environment,started_at,resolved_at,caused_by_commit\n\
                web,production,2026-01-31T14:00:00Z,,\n\
                web,production,2026-01-31T14:00:00Z,2026-01-31T15:00:00Z,abc\n\
                web,production,2026-01-31T14:00:00Z,2026-01-31T13:00:00Z,\n\
                web,production,\"2026-01-31T14:00:00Z,\n";
    let errors = parse_incidents(text).expect_err("two bad rows");
    let shown: Vec<String> = errors.iter().map(ToString::to_string).collect();
    assert_eq!(shown, ["line 4: resolved_at is before started_at", "line 5: a quoted field is not closed"]);
    let incidents = parse_incidents(&text.lines().take(3).collect::<Vec<_>>().join("\n")).expect("good rows");
    assert_eq!(incidents[0].resolved_at, None);
    assert_eq!(incidents[0].caused_by_commit, None);
    assert_eq!(incidents[1].resolved_at, Some(incidents[1].started_at + 3_600_000));
    assert_eq!(incidents[1].caused_by_commit.as_deref(), Some("abc"));
}
