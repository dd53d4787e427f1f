//! Scheduler behaviour as traces: each test is a workflow shape plus the results jobs report.

use std::collections::{HashMap, VecDeque};

use ferry_model::{Conclusion, JobStatus};
use serde_json::Map;

use super::*;

/// `jobs`: `id<-need1,need2` entries; `matrix`: job id → instance count; `fails`: instance
/// names that conclude failure. Instances finish in the order they started, except those in
/// `slow`, which finish only when nothing else runs. Jobs whose needs did not all succeed are
/// skipped unless listed in `always`. `calls`: jobs that make legs (job id → number of legs);
/// `legs_of`: jobs split by them (job id → the job that splits it), whose instances are named
/// `id[leg]`. Returns the trace.
struct Sim<'a> {
    jobs: &'a [&'a str],
    max_parallel: usize,
    matrix: &'a [(&'a str, usize)],
    fails: &'a [&'a str],
    always: &'a [&'a str],
    cancel_after_starts: Option<usize>,
    max_parallel_of: &'a [(&'a str, usize)],
    no_fail_fast: &'a [&'a str],
    slow: &'a [&'a str],
    calls: &'a [(&'a str, usize)],
    legs_of: &'a [(&'a str, &'a str)],
}

impl Default for Sim<'_> {
    fn default() -> Self {
        Sim {
            jobs: &[],
            max_parallel: 8,
            matrix: &[],
            fails: &[],
            always: &[],
            cancel_after_starts: None,
            max_parallel_of: &[],
            no_fail_fast: &[],
            slow: &[],
            calls: &[],
            legs_of: &[],
        }
    }
}

fn run(sim: Sim<'_>) -> String {
    let specs: Vec<JobSpec> = sim
        .jobs
        .iter()
        .map(|entry| {
            let (id, needs) = entry.split_once("<-").unwrap_or((entry, ""));
            JobSpec {
                id: id.to_owned(),
                needs: needs.split(',').filter(|need| !need.is_empty()).map(str::to_owned).collect(),
                fail_fast: !sim.no_fail_fast.contains(&id),
                max_parallel: sim.max_parallel_of.iter().find(|(job, _)| *job == id).map(|(_, n)| *n),
                legs_of: sim.legs_of.iter().find(|(job, _)| *job == id).map(|(_, source)| (*source).to_owned()),
            }
        })
        .collect();
    let matrix: HashMap<&str, usize> = sim.matrix.iter().copied().collect();
    let mut scheduler = Scheduler::new(specs, sim.max_parallel);
    let mut trace = Vec::new();
    let mut running: VecDeque<InstanceId> = VecDeque::new();
    let mut cancelled: Vec<InstanceId> = Vec::new();
    let mut n_starts = 0;
    loop {
        let commands = scheduler.next_commands();
        let had_commands = !commands.is_empty();
        for command in commands {
            match command {
                Command::Expand(request) => {
                    let job_id = scheduler.jobs()[request.job_idx].id.clone();
                    let id = match request.leg {
                        Some(leg) => format!("{job_id}[{leg}]"),
                        None => job_id.clone(),
                    };
                    let runs = if sim.always.contains(&job_id.as_str()) {
                        true
                    } else {
                        request.needs_succeeded && request.status == JobStatus::Success
                    };
                    if !runs {
                        trace.push(format!("skip {id} ({:?})", request.status));
                        scheduler.expanded(request.job_idx, request.leg, Expansion::Skip);
                        continue;
                    }
                    if let Some((_, n_legs)) = sim.calls.iter().find(|(call, _)| *call == job_id) {
                        trace.push(format!("call {id}: {n_legs} legs"));
                        scheduler.expanded(request.job_idx, request.leg, Expansion::Legs(*n_legs));
                        continue;
                    }
                    let n = matrix.get(job_id.as_str()).copied().unwrap_or(1);
                    let instances =
                        (0..n).map(|i| (if n == 1 { id.clone() } else { format!("{id} ({i})") }, Map::new())).collect();
                    scheduler.expanded(request.job_idx, request.leg, Expansion::Instances(instances));
                }
                Command::Start(instance) => {
                    trace.push(format!("start {}", scheduler.instance(instance).0));
                    running.push_back(instance);
                    n_starts += 1;
                    if sim.cancel_after_starts == Some(n_starts) {
                        trace.push("cancel run".to_owned());
                        scheduler.cancel_run();
                    }
                }
                Command::Cancel(instance) => {
                    trace.push(format!("cancel {}", scheduler.instance(instance).0));
                    cancelled.push(instance);
                }
            }
        }
        if had_commands {
            continue;
        }
        let Some(position) = running
            .iter()
            .position(|instance| !sim.slow.contains(&scheduler.instance(*instance).0))
            .or((!running.is_empty()).then_some(0))
        else {
            break;
        };
        let Some(instance) = running.remove(position) else { break };
        let name = scheduler.instance(instance).0.to_owned();
        let conclusion = if cancelled.contains(&instance) {
            Conclusion::Cancelled
        } else if sim.fails.contains(&name.as_str()) {
            Conclusion::Failure
        } else {
            Conclusion::Success
        };
        trace.push(format!("end {name}: {conclusion}"));
        scheduler.finished(instance, conclusion);
    }
    assert!(scheduler.is_done(), "scheduler not done:\n{}", trace.join("\n"));
    let conclusion = scheduler.conclusion().expect("done");
    trace.push(format!("run: {conclusion}"));
    trace.join("\n")
}

#[test]
fn jobs_run_in_dependency_order() {
    let trace = run(Sim { jobs: &["test<-build", "build", "deploy<-test,build"], ..Sim::default() });
    assert_eq!(
        trace,
        "start build\nend build: success\nstart test\nend test: success\nstart deploy\nend deploy: success\nrun: success"
    );
}

#[test]
fn dependents_of_a_failed_job_are_skipped_and_the_run_fails() {
    let trace = run(Sim { jobs: &["build", "test<-build", "deploy<-test"], fails: &["build"], ..Sim::default() });
    assert_eq!(trace, "start build\nend build: failure\nskip test (Failure)\nskip deploy (Failure)\nrun: failure");
}

#[test]
fn an_always_job_runs_after_a_failure() {
    let trace =
        run(Sim { jobs: &["build", "report<-build"], fails: &["build"], always: &["report"], ..Sim::default() });
    assert_eq!(trace, "start build\nend build: failure\nstart report\nend report: success\nrun: failure");
}

#[test]
fn parallelism_is_bounded() {
    let trace = run(Sim { jobs: &["a", "b", "c"], max_parallel: 2, ..Sim::default() });
    assert_eq!(trace, "start a\nstart b\nend a: success\nstart c\nend b: success\nend c: success\nrun: success");
}

#[test]
fn max_parallel_bounds_one_matrix() {
    let trace = run(Sim { jobs: &["m", "other"], matrix: &[("m", 3)], max_parallel_of: &[("m", 1)], ..Sim::default() });
    assert_eq!(
        trace,
        "start m (0)\nstart other\nend m (0): success\nstart m (1)\nend other: success\nend m (1): success\nstart m (2)\nend m (2): success\nrun: success"
    );
}

#[test]
fn fail_fast_cancels_running_and_queued_siblings() {
    let trace = run(Sim { jobs: &["m"], matrix: &[("m", 4)], max_parallel: 2, fails: &["m (0)"], ..Sim::default() });
    assert_eq!(trace, "start m (0)\nstart m (1)\nend m (0): failure\ncancel m (1)\nend m (1): cancelled\nrun: failure");
}

#[test]
fn without_fail_fast_siblings_finish() {
    let trace = run(Sim {
        jobs: &["m"],
        matrix: &[("m", 3)],
        max_parallel: 2,
        fails: &["m (0)"],
        no_fail_fast: &["m"],
        ..Sim::default()
    });
    assert_eq!(
        trace,
        "start m (0)\nstart m (1)\nend m (0): failure\nstart m (2)\nend m (1): success\nend m (2): success\nrun: failure"
    );
}

#[test]
fn cancelling_the_run_cancels_running_jobs_and_offers_the_rest_as_cancelled() {
    let trace = run(Sim {
        jobs: &["build", "lint", "cleanup<-build", "deploy<-build"],
        max_parallel: 1,
        cancel_after_starts: Some(1),
        always: &["cleanup"],
        ..Sim::default()
    });
    assert_eq!(
        trace,
        "start build\ncancel run\ncancel build\nend build: cancelled\nskip deploy (Cancelled)\nstart cleanup\nend cleanup: success\nrun: cancelled"
    );
}

#[test]
fn unknown_needs_and_cycles_are_skipped_without_blocking_the_rest() {
    let trace = run(Sim { jobs: &["a<-b", "b<-a", "c<-nope", "d<-a", "e"], ..Sim::default() });
    assert_eq!(trace, "start e\nend e: success\nrun: success");
}

#[test]
fn job_conclusion_combines_its_instances() {
    let specs = vec![JobSpec { id: "m".into(), needs: vec![], fail_fast: false, max_parallel: None, legs_of: None }];
    let mut scheduler = Scheduler::new(specs, 4);
    assert!(matches!(scheduler.next_commands()[..], [Command::Expand(_)]));
    let instances = vec![("m (a)".to_owned(), Map::new()), ("m (b)".to_owned(), Map::new())];
    scheduler.expanded(0, None, Expansion::Instances(instances));
    assert_eq!(scheduler.next_commands(), vec![Command::Start(InstanceId(0)), Command::Start(InstanceId(1))]);
    scheduler.finished(InstanceId(0), Conclusion::Neutral);
    assert_eq!(scheduler.job_conclusion(0), None);
    scheduler.finished(InstanceId(1), Conclusion::Success);
    assert_eq!(scheduler.job_conclusion(0), Some(Conclusion::Neutral));
    assert_eq!(scheduler.conclusion(), Some(Conclusion::Success));
}

#[test]
fn an_empty_matrix_skips_the_job() {
    let specs = vec![JobSpec { id: "m".into(), needs: vec![], fail_fast: true, max_parallel: None, legs_of: None }];
    let mut scheduler = Scheduler::new(specs, 4);
    scheduler.next_commands();
    scheduler.expanded(0, None, Expansion::Instances(Vec::new()));
    assert_eq!(scheduler.job_conclusion(0), Some(Conclusion::Skipped));
    assert_eq!(scheduler.conclusion(), Some(Conclusion::Success));
}

#[test]
fn each_leg_of_a_split_job_waits_only_for_its_own_leg_of_what_it_needs() {
    let trace = run(Sim {
        jobs: &["call", "a<-call", "b<-a,call", "exit<-a,b,call"],
        calls: &[("call", 2)],
        legs_of: &[("a", "call"), ("b", "call")],
        slow: &["a[0]"],
        ..Sim::default()
    });
    assert_eq!(
        trace,
        "call call: 2 legs\nstart a[0]\nstart a[1]\nend a[1]: success\nstart b[1]\nend b[1]: success\n\
         end a[0]: success\nstart b[0]\nend b[0]: success\nstart exit\nend exit: success\nrun: success"
    );
}

#[test]
fn a_failure_in_one_leg_skips_what_needs_it_in_that_leg_only() {
    let trace = run(Sim {
        jobs: &["call", "a<-call", "b<-a,call", "c<-b,call", "exit<-a,b,c,call"],
        calls: &[("call", 2)],
        legs_of: &[("a", "call"), ("b", "call"), ("c", "call")],
        fails: &["a[1]"],
        always: &["c", "exit"],
        no_fail_fast: &["a"],
        ..Sim::default()
    });
    assert_eq!(
        trace,
        "call call: 2 legs\nstart a[0]\nstart a[1]\nend a[0]: success\nstart b[0]\nend a[1]: failure\n\
         skip b[1] (Failure)\nstart c[1]\nend b[0]: success\nstart c[0]\nend c[1]: success\n\
         end c[0]: success\nstart exit\nend exit: success\nrun: failure"
    );
}

#[test]
fn a_job_split_by_a_job_that_made_no_legs_is_decided_whole() {
    let trace = run(Sim { jobs: &["call", "a<-call"], fails: &["call"], legs_of: &[("a", "call")], ..Sim::default() });
    assert_eq!(trace, "start call\nend call: failure\nskip a (Failure)\nrun: failure");
}
