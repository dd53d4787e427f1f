//! The conformance suite every store backend passes: each check gets a fresh database from
//! the backend's `TestDb` constructor and exercises one repository through the public API.

use std::collections::{BTreeMap, BTreeSet};

use ferry_proto::artifacts::ArtifactFile;
use ferry_store::ReleaseCommit;
use ferry_store::{
    Acquired, AgentHelloRecord, AppendedChunk, CacheEntry, Conclusion, DeploymentStatus, JobGate, Lease, NewAgent,
    NewApiToken, NewArtifact, NewCacheEntry, NewDeployment, NewJob, NewProject, NewRelease, NewRun, NewRunner,
    NewServiceLogLine, NewStep, ProjectScope, Recorded, Role, RunFilter, RunState, Status, StepEvent, Store,
    StoreError, UnitRef,
};
use ferry_testkit::TestDb;

use crate::alertmanager::alert_routing_state;
use crate::dora::ledger_and_incidents;
use crate::incidents::incidents_from_alerts;

/// How long a claim's lease lasts in these checks.
const LEASE: i64 = 30_000;

pub async fn run(new_db: fn() -> TestDb) {
    macro_rules! checks {
        ($($check:ident),* $(,)?) => {$(
            let db = new_db();
            let store = db.open().await;
            $check(store.clone(), &db).await;
            store.close().await;
        )*};
    }
    checks!(
        migrations_are_applied_once,
        projects,
        tokens,
        secrets_and_variables,
        run_numbers_count_up_per_project,
        run_lists_filter_and_page,
        claim_respects_labels,
        concurrent_claimers_never_share_a_job,
        leases,
        cancel,
        steps,
        logs_read_after_seq,
        artifacts_and_cache,
        concurrency_groups,
        counts_for_metrics,
        pipeline_bookkeeping,
        runner_event_batches,
        scoped_tokens_and_sessions,
        scoped_runners_claim_only_their_projects_jobs,
        revoked_runners,
        forks_approvals_and_deliveries,
        agents_and_deployments,
        deployments_on_several_hosts,
        jobs_held_at_gates_and_their_deployments,
        a_job_and_its_deployment_are_written_together_or_not_at_all,
        environment_secrets_and_variables,
        releases_are_numbered_per_service,
        project_blobs,
        ledger_and_incidents,
        alert_routing_state,
        incidents_from_alerts,
    );
    cache_entries_from_before_scopes_join_the_default_branch(new_db()).await;
}

fn project(name: &str) -> NewProject<'_> {
    NewProject { name, repo: "/srv/repo.git", branch: "main", webhook_secret: "hook" }
}

fn labels(names: &[&str]) -> Vec<String> {
    names.iter().map(|name| (*name).to_owned()).collect()
}

async fn new_run(store: &Store, project_id: i64) -> ferry_store::Run {
    let run = NewRun {
        project_id,
        workflow_file: ".github/workflows/ci.yml",
        workflow_name: "CI",
        event: "push",
        git_ref: "refs/heads/main",
        sha: "0123abcd",
        trigger_actor: "alice",
        trigger_info: "{}",
        workflow_src: "on: push",
        title: "Fix the build",
        author: "Alice",
        rerun_of: None,
    };
    store.runs().create(&run, 10).await.expect("create run")
}

async fn enqueue(store: &Store, run_id: i64, name: &str, runs_on: &[&str]) -> ferry_store::Job {
    let runs_on = labels(runs_on);
    let job = NewJob {
        run_id,
        name,
        runs_on: &runs_on,
        requires: &[],
        needs: "[]",
        matrix: "{}",
        job_key: "",
        instance_idx: 0,
        contexts: "{}",
    };
    store.jobs().enqueue(&job, 20).await.expect("enqueue")
}

/// A workflow job with `environment:`: held at its gates until let go, and recorded as a
/// deployment without a release that says its job, run, commit and URL; `after:` for a job
/// asks whether its commit succeeded in an environment.
async fn jobs_held_at_gates_and_their_deployments(store: Store, _db: &TestDb) {
    let project = store.projects().create(&project("shop"), 1).await.expect("project");
    let run = new_run(&store, project.id).await;
    let runner = register(&store, "r1", &["linux"]).await;
    let runs_on = labels(&["linux"]);
    let new_job = NewJob {
        run_id: run.id,
        name: "deploy",
        runs_on: &runs_on,
        requires: &[],
        needs: "[]",
        matrix: "{}",
        job_key: "deploy",
        instance_idx: 0,
        contexts: "{}",
    };
    let held = store.jobs().enqueue_held(&new_job, "the gates of production", 20).await.expect("enqueue held");
    assert_eq!((held.status, held.waiting_for.as_deref()), (Status::Waiting, Some("the gates of production")));
    assert_eq!(store.jobs().count_queued().await.expect("count"), 0, "a held job is not in the queue");
    assert!(store.jobs().claim(runner.id, &runs_on, 21, 1000).await.expect("claim").is_none(), "held: not claimed");
    let again = store.jobs().enqueue_held(&new_job, "something else", 22).await.expect("enqueue again");
    assert_eq!((again.id, again.waiting_for.as_deref()), (held.id, Some("the gates of production")));
    let waiting = store.jobs().set_waiting_for(held.id, "1 more approval(s)").await.expect("waiting for");
    assert_eq!((waiting.status, waiting.waiting_for.as_deref()), (Status::Waiting, Some("1 more approval(s)")));

    let new = NewDeployment {
        project_id: project.id,
        service: "deploy",
        environment: "production",
        release: None,
        strategy: "job",
        status: DeploymentStatus::Waiting,
        reason: Some("1 more approval(s)"),
        triggered_by: "alice",
        rollback_of: None,
        is_rollback: false,
        agent_id: None,
        hosts: &[],
        author: "alice",
        commits: "[]",
        gates: "[]",
        target: "{}",
        job_id: Some(held.id),
        run_id: Some(run.id),
        commit_sha: Some(&run.sha),
        url: Some("https://shop.example"),
    };
    let deployment = store.deployments().create(&new, 23).await.expect("create");
    assert_eq!(
        (
            deployment.release,
            deployment.job_id,
            deployment.run_id,
            deployment.commit_sha.as_deref(),
            deployment.url.as_deref()
        ),
        (None, Some(held.id), Some(run.id), Some("0123abcd"), Some("https://shop.example"))
    );
    assert_eq!(store.deployments().for_job(held.id).await.expect("for job").map(|found| found.id), Some(deployment.id));
    let of_run = store.deployments().of_run_jobs(run.id).await.expect("of run");
    assert_eq!(of_run.iter().map(|found| found.id).collect::<Vec<_>>(), [deployment.id]);
    // A job's deployment is not a service's: it never waits in a service's queue.
    assert!(
        store.deployments().pending_for_unit(project.id, "deploy", "production").await.expect("pending").is_empty()
    );

    let released = store.jobs().release_hold(held.id).await.expect("let go");
    assert_eq!((released.status, released.waiting_for), (Status::Queued, None));
    assert!(matches!(store.jobs().release_hold(held.id).await, Err(StoreError::Conflict(_))), "let go once");
    assert!(matches!(store.jobs().set_waiting_for(held.id, "late").await, Err(StoreError::Conflict(_))));
    let claimed = store.jobs().claim(runner.id, &runs_on, 24, 1000).await.expect("claim").expect("claimed now");
    assert_eq!(claimed.id, held.id);

    assert!(!store.deployments().commit_succeeded_in(project.id, "production", "0123abcd").await.expect("succeeded"));
    let from = [DeploymentStatus::Waiting];
    store.deployments().transition(deployment.id, &from, DeploymentStatus::Succeeded, None, 30).await.expect("done");
    assert!(store.deployments().commit_succeeded_in(project.id, "production", "0123abcd").await.expect("succeeded"));
    assert!(!store.deployments().commit_succeeded_in(project.id, "staging", "0123abcd").await.expect("succeeded"));
    assert!(!store.deployments().commit_succeeded_in(project.id, "production", "ffff").await.expect("succeeded"));
}

/// A job with `environment:` is enqueued with its deployment in one transaction: held and
/// naming its deployment, queued, or failed with its refusal. A failure between the two
/// writes (here: the deployment names a deployment that does not exist) leaves neither, so
/// no job stays held at gates without the deployment that would release it.
async fn a_job_and_its_deployment_are_written_together_or_not_at_all(store: Store, _db: &TestDb) {
    let project = store.projects().create(&project("shop"), 1).await.expect("project");
    let run = new_run(&store, project.id).await;
    let runs_on = labels(&["linux"]);
    let new_job = |job_key| NewJob {
        run_id: run.id,
        name: job_key,
        runs_on: &runs_on,
        requires: &[],
        needs: "[]",
        matrix: "{}",
        job_key,
        instance_idx: 0,
        contexts: "{}",
    };
    let deployment = |service, status| NewDeployment {
        project_id: project.id,
        service,
        environment: "production",
        release: None,
        strategy: "job",
        status,
        reason: None,
        triggered_by: "alice",
        rollback_of: None,
        is_rollback: false,
        agent_id: None,
        hosts: &[],
        author: "alice",
        commits: "[]",
        gates: "[]",
        target: "{}",
        job_id: None,
        run_id: Some(run.id),
        commit_sha: Some(&run.sha),
        url: None,
    };
    let broken = NewDeployment { rollback_of: Some(999_999), ..deployment("broken", DeploymentStatus::Waiting) };
    let failed = store.jobs().enqueue_at_gate(&new_job("broken"), &broken, JobGate::Waiting("1 approval"), 20).await;
    assert!(matches!(failed, Err(StoreError::Conflict(_))), "{failed:?}");
    assert!(store.jobs().list_for_run(run.id).await.expect("jobs").is_empty(), "no job held without a deployment");
    assert!(store.deployments().of_run_jobs(run.id).await.expect("deployments").is_empty());

    let waiting = deployment("wait", DeploymentStatus::Waiting);
    let (held, made) = store
        .jobs()
        .enqueue_at_gate(&new_job("wait"), &waiting, JobGate::Waiting("1 approval"), 21)
        .await
        .expect("held");
    let made = made.expect("its deployment");
    assert_eq!((held.status, made.job_id), (Status::Waiting, Some(held.id)));
    assert_eq!(held.waiting_for, Some(format!("1 approval (deployment {})", made.id)));
    let (again, found) =
        store.jobs().enqueue_at_gate(&new_job("wait"), &waiting, JobGate::Passed, 22).await.expect("again");
    assert_eq!((again.id, again.status, found.map(|found| found.id)), (held.id, Status::Waiting, Some(made.id)));

    let passing = deployment("pass", DeploymentStatus::Queued);
    let (queued, _) =
        store.jobs().enqueue_at_gate(&new_job("pass"), &passing, JobGate::Passed, 23).await.expect("queued");
    assert_eq!((queued.status, queued.waiting_for), (Status::Queued, None));
    let refused = deployment("refuse", DeploymentStatus::Failed);
    let (failed, made) = store
        .jobs()
        .enqueue_at_gate(&new_job("refuse"), &refused, JobGate::Refused("refused: main only"), 24)
        .await
        .expect("refused");
    assert_eq!(
        (failed.status, failed.conclusion, failed.reason.as_deref(), failed.waiting_for),
        (Status::Completed, Some(Conclusion::Failure), Some("refused: main only"), None)
    );
    assert_eq!(made.map(|made| made.status), Some(DeploymentStatus::Failed));
    assert_eq!(store.deployments().of_run_jobs(run.id).await.expect("deployments").len(), 3);
}

async fn register(store: &Store, name: &str, runner_labels: &[&str]) -> ferry_store::Runner {
    let runner_labels = labels(runner_labels);
    let runner =
        NewRunner { name, labels: &runner_labels, token_prefix: name, token_hash: "hash", scope: &ProjectScope::All };
    store.runners().register(&runner, 5).await.expect("register runner")
}

/// A project with one run, the setting most checks need.
async fn project_and_run(store: &Store) -> (i64, i64) {
    let project = store.projects().create(&project("web"), 1).await.expect("create project");
    let run = new_run(store, project.id).await;
    (project.id, run.id)
}

async fn migrations_are_applied_once(store: Store, db: &TestDb) {
    let project = store.projects().create(&project("web"), 1).await.expect("create");
    // Opening again finds the schema current and keeps the data.
    let again = db.open().await;
    assert_eq!(again.projects().get(project.id).await.expect("get"), project);
    again.close().await;
}

async fn projects(store: Store, _db: &TestDb) {
    let projects = store.projects();
    let web = projects.create(&project("web"), 1).await.expect("create web");
    let api = projects.create(&project("api"), 2).await.expect("create api");
    assert_eq!(
        (web.name.as_str(), web.repo.as_str(), web.branch.as_str(), web.created_at),
        ("web", "/srv/repo.git", "main", 1)
    );
    assert_eq!(projects.get(web.id).await.expect("get"), web);
    assert_eq!(projects.by_name("api").await.expect("by_name"), Some(api.clone()));
    assert_eq!(projects.by_name("nope").await.expect("by_name"), None);
    let names: Vec<String> = projects.list().await.expect("list").into_iter().map(|project| project.name).collect();
    assert_eq!(names, ["api", "web"]);

    let dup = projects.create(&project("web"), 3).await;
    assert!(matches!(dup, Err(StoreError::Conflict(_))), "{dup:?}");
    let renamed = projects.update(api.id, &project("web")).await;
    assert!(matches!(renamed, Err(StoreError::Conflict(_))), "{renamed:?}");

    let changed =
        NewProject { name: "web2", repo: "https://example.com/web.git", branch: "trunk", webhook_secret: "new" };
    let web2 = projects.update(web.id, &changed).await.expect("update");
    assert_eq!((web2.name.as_str(), web2.branch.as_str(), web2.webhook_secret.as_str()), ("web2", "trunk", "new"));

    projects.delete(web.id).await.expect("delete");
    assert!(matches!(projects.get(web.id).await, Err(StoreError::NotFound { entity: "project", .. })));
    assert!(matches!(projects.delete(web.id).await, Err(StoreError::NotFound { .. })));
}

async fn tokens(store: Store, _db: &TestDb) {
    let tokens = store.tokens();
    let token = NewApiToken {
        prefix: "fy_abc",
        hash: "$argon2id$v=19$hash",
        name: "ci",
        role: Role::Developer,
        scope: &ProjectScope::All,
    };
    let created = tokens.create(&token, 7).await.expect("create");
    assert_eq!((created.role, created.created_at, created.revoked_at), (Role::Developer, 7, None));
    assert_eq!(tokens.active_by_prefix("fy_abc").await.expect("lookup"), Some(created.clone()));
    assert_eq!(tokens.active_by_prefix("fy_xyz").await.expect("lookup"), None);

    let dup = tokens.create(&NewApiToken { name: "other", ..token }, 8).await;
    assert!(matches!(dup, Err(StoreError::Conflict(_))), "{dup:?}");
    let admin =
        NewApiToken { prefix: "fy_adm", hash: "h2", name: "root", role: Role::Admin, scope: &ProjectScope::All };
    tokens.create(&admin, 8).await.expect("create admin");

    tokens.revoke(created.id, 9).await.expect("revoke");
    tokens.revoke(created.id, 10).await.expect("revoking twice is fine");
    assert_eq!(tokens.active_by_prefix("fy_abc").await.expect("lookup"), None);
    let listed: Vec<(String, Role, Option<i64>)> = tokens
        .list()
        .await
        .expect("list")
        .into_iter()
        .map(|token| (token.prefix, token.role, token.revoked_at))
        .collect();
    assert_eq!(listed, [("fy_abc".to_owned(), Role::Developer, Some(9)), ("fy_adm".to_owned(), Role::Admin, None)]);
    assert!(matches!(tokens.revoke(999, 1).await, Err(StoreError::NotFound { .. })));
}

async fn secrets_and_variables(store: Store, _db: &TestDb) {
    let web = store.projects().create(&project("web"), 1).await.expect("create").id;
    let api = store.projects().create(&project("api"), 1).await.expect("create").id;
    let secrets = store.secrets();
    secrets.set(web, "TOKEN", &[0, 1, 2, 255], &[9; 12], 5).await.expect("set");
    secrets.set(web, "TOKEN", &[3, 4], &[8; 12], 6).await.expect("replace");
    secrets.set(web, "A_KEY", b"cipher", b"nonce", 6).await.expect("set");
    secrets.set(api, "TOKEN", b"other", b"n", 6).await.expect("set in another project");
    let token = secrets.get(web, "TOKEN").await.expect("get").expect("set");
    assert_eq!((token.ciphertext, token.nonce, token.updated_at), (vec![3, 4], vec![8; 12], 6));
    let names: Vec<String> = secrets.list(web).await.expect("list").into_iter().map(|secret| secret.name).collect();
    assert_eq!(names, ["A_KEY", "TOKEN"]);
    secrets.delete(web, "TOKEN").await.expect("delete");
    assert_eq!(secrets.get(web, "TOKEN").await.expect("get"), None);
    assert!(matches!(secrets.delete(web, "TOKEN").await, Err(StoreError::NotFound { .. })));
    assert!(secrets.get(api, "TOKEN").await.expect("get").is_some());
    let orphan = secrets.set(999, "X", b"c", b"n", 1).await;
    assert!(matches!(orphan, Err(StoreError::Conflict(_))), "{orphan:?}");

    let variables = store.variables();
    variables.set(web, "REGION", "eu", 5).await.expect("set");
    variables.set(web, "REGION", "us", 6).await.expect("replace");
    variables.set(web, "ENV", "prod", 6).await.expect("set");
    assert_eq!(variables.get(web, "REGION").await.expect("get").map(|variable| variable.value), Some("us".into()));
    let listed: Vec<(String, String)> =
        variables.list(web).await.expect("list").into_iter().map(|variable| (variable.name, variable.value)).collect();
    assert_eq!(listed, [("ENV".to_owned(), "prod".to_owned()), ("REGION".to_owned(), "us".to_owned())]);
    variables.delete(web, "ENV").await.expect("delete");
    assert_eq!(variables.list(api).await.expect("list"), []);
    assert_eq!(variables.get(web, "ENV").await.expect("get"), None);

    // Deleting the project deletes its secrets and variables.
    store.projects().delete(web).await.expect("delete project");
    assert_eq!(secrets.list(web).await.expect("list"), []);
    assert_eq!(variables.list(web).await.expect("list"), []);
}

async fn environment_secrets_and_variables(store: Store, _db: &TestDb) {
    let web = store.projects().create(&project("web"), 1).await.expect("create").id;
    let secrets = store.secrets();
    secrets.set(web, "TOKEN", b"project", b"n", 1).await.expect("set");
    secrets.set_in(web, "production", "TOKEN", b"production", b"n", 2).await.expect("set in an environment");
    secrets.set_in(web, "production", "TOKEN", b"production 2", b"n", 3).await.expect("replace");
    secrets.set_in(web, "staging", "ONLY_STAGING", b"s", b"n", 2).await.expect("set");
    // The project's own are apart from each environment's.
    let own: Vec<(String, Vec<u8>)> =
        secrets.list(web).await.expect("list").into_iter().map(|secret| (secret.name, secret.ciphertext)).collect();
    assert_eq!(own, [("TOKEN".to_owned(), b"project".to_vec())]);
    let production: Vec<(String, Vec<u8>)> = secrets
        .list_in(web, "production")
        .await
        .expect("list")
        .into_iter()
        .map(|secret| (secret.name, secret.ciphertext))
        .collect();
    assert_eq!(production, [("TOKEN".to_owned(), b"production 2".to_vec())]);
    secrets.delete_in(web, "production", "TOKEN").await.expect("delete");
    assert_eq!(secrets.list_in(web, "production").await.expect("list"), []);
    assert!(secrets.get(web, "TOKEN").await.expect("get").is_some(), "the project's own stays");
    assert!(matches!(secrets.delete_in(web, "staging", "TOKEN").await, Err(StoreError::NotFound { .. })));

    let variables = store.variables();
    variables.set(web, "REGION", "eu", 1).await.expect("set");
    variables.set_in(web, "production", "REGION", "us", 2).await.expect("set in an environment");
    assert_eq!(variables.get(web, "REGION").await.expect("get").map(|variable| variable.value), Some("eu".into()));
    assert_eq!(
        variables.get_in(web, "production", "REGION").await.expect("get").map(|variable| variable.value),
        Some("us".into())
    );
    assert_eq!(variables.list_in(web, "staging").await.expect("list"), []);
    variables.delete_in(web, "production", "REGION").await.expect("delete");
    assert_eq!(variables.list(web).await.expect("list").len(), 1);
    store.projects().delete(web).await.expect("delete project");
    assert_eq!(secrets.list_in(web, "staging").await.expect("list"), []);
}

fn new_release<'a>(
    project_id: i64,
    service: &'a str,
    run_id: Option<i64>,
    files: &'a [ArtifactFile],
) -> NewRelease<'a> {
    NewRelease {
        project_id,
        service,
        commit_sha: "abc123",
        branch: Some("main"),
        run_id,
        author: Some("ada"),
        files,
        deploy_spec: "services: {}",
        commits: &[],
    }
}

async fn releases_are_numbered_per_service(store: Store, _db: &TestDb) {
    let web = store.projects().create(&project("web"), 1).await.expect("create").id;
    let other = store.projects().create(&project("other"), 1).await.expect("create").id;
    let files = [ArtifactFile { path: "app/server.py".into(), sha256: "a".repeat(64), size: 3, mode: 0o755 }];
    let commits =
        [ReleaseCommit { sha: "abc123".into(), message: "Say hello".into(), author: "ada".into(), at: 1_000 }];
    let first = store
        .releases()
        .create(&NewRelease { commits: &commits, ..new_release(web, "web", None, &files) }, 10)
        .await
        .expect("create");
    assert_eq!((first.number, first.service.as_str(), first.created_at), (1, "web", 10));
    assert_eq!(first.branch.as_deref(), Some("main"));
    assert_eq!((first.files.as_slice(), first.commits.as_slice()), (files.as_slice(), commits.as_slice()));
    let second = store.releases().create(&new_release(web, "web", None, &[]), 11).await.expect("create");
    let api = store.releases().create(&new_release(web, "api", None, &[]), 12).await.expect("create");
    let elsewhere = store.releases().create(&new_release(other, "web", None, &[]), 13).await.expect("create");
    assert_eq!((second.number, api.number, elsewhere.number), (2, 1, 1));

    assert_eq!(store.releases().get(web, "web", 1).await.expect("get"), first);
    assert_eq!(store.releases().by_id(second.id).await.expect("by id"), second);
    assert_eq!(store.releases().latest(web, "web").await.expect("latest"), Some(second.clone()));
    assert_eq!(store.releases().latest(web, "db").await.expect("latest"), None);
    assert!(matches!(store.releases().get(web, "web", 9).await, Err(StoreError::NotFound { .. })));
    let numbers = |releases: Vec<ferry_store::Release>| -> Vec<(String, i64)> {
        releases.into_iter().map(|release| (release.service, release.number)).collect()
    };
    assert_eq!(
        numbers(store.releases().list(web, Some("web")).await.expect("list")),
        [("web".into(), 2), ("web".into(), 1)]
    );
    assert_eq!(
        numbers(store.releases().list(web, None).await.expect("list")),
        [("api".into(), 1), ("web".into(), 2), ("web".into(), 1)]
    );
    assert!(store.releases().holds_blob(web, &"a".repeat(64)).await.expect("holds"));
    assert!(!store.releases().holds_blob(other, &"a".repeat(64)).await.expect("holds"));
    assert_eq!(store.releases().all_files().await.expect("all files"), files);

    // A run makes one release per service.
    let run = new_run(&store, web).await;
    let from_run = store.releases().create(&new_release(web, "web", Some(run.id), &[]), 14).await.expect("create");
    assert_eq!(store.releases().of_run(run.id, "web").await.expect("of run"), Some(from_run));
    let again = store.releases().create(&new_release(web, "web", Some(run.id), &[]), 15).await;
    assert!(matches!(again, Err(StoreError::Conflict(_))), "{again:?}");
    store.releases().create(&new_release(web, "api", Some(run.id), &[]), 15).await.expect("another service");
    let missing = store.releases().create(&new_release(999, "web", None, &[]), 15).await;
    assert!(matches!(missing, Err(StoreError::NotFound { .. })), "{missing:?}");

    // Concurrent creators get distinct, consecutive numbers.
    let tasks: Vec<_> = (0..8)
        .map(|_| {
            let store = store.clone();
            tokio::spawn(async move {
                store.releases().create(&new_release(web, "burst", None, &[]), 20).await.expect("create").number
            })
        })
        .collect();
    let mut numbers = Vec::new();
    for task in tasks {
        numbers.push(task.await.expect("task"));
    }
    numbers.sort_unstable();
    assert_eq!(numbers, (1..=8).collect::<Vec<i64>>());
}

async fn project_blobs(store: Store, _db: &TestDb) {
    let web = store.projects().create(&project("web"), 1).await.expect("create").id;
    let other = store.projects().create(&project("other"), 1).await.expect("create").id;
    let digest = "b".repeat(64);
    store.project_blobs().add(web, &digest, 1).await.expect("add");
    store.project_blobs().add(web, &digest, 2).await.expect("add again");
    assert!(store.project_blobs().has(web, &digest).await.expect("has"));
    assert!(!store.project_blobs().has(other, &digest).await.expect("has"));
    let orphan = store.project_blobs().add(999, &digest, 1).await;
    assert!(matches!(orphan, Err(StoreError::Conflict(_))), "{orphan:?}");
}

async fn run_numbers_count_up_per_project(store: Store, _db: &TestDb) {
    let web = store.projects().create(&project("web"), 1).await.expect("create").id;
    let api = store.projects().create(&project("api"), 1).await.expect("create").id;
    let mut numbers = Vec::new();
    for _ in 0..3 {
        numbers.push(new_run(&store, web).await.number);
    }
    assert_eq!(numbers, [1, 2, 3]);
    let first_api = new_run(&store, api).await;
    assert_eq!((first_api.number, first_api.status, first_api.conclusion), (1, Status::Queued, None));

    // Concurrent creators still get distinct, consecutive numbers.
    let tasks: Vec<_> = (0..10)
        .map(|_| {
            let store = store.clone();
            tokio::spawn(async move { new_run(&store, web).await.number })
        })
        .collect();
    let mut concurrent = BTreeSet::new();
    for task in tasks {
        concurrent.insert(task.await.expect("task"));
    }
    assert_eq!(concurrent, (4..=13).collect());

    let run = store.runs().by_number(web, 2).await.expect("by_number").expect("exists");
    let started = store.runs().start(run.id, 50).await.expect("start");
    assert_eq!((started.status, started.started_at), (Status::InProgress, Some(50)));
    let done = store.runs().complete(run.id, Conclusion::Failure, 60).await.expect("complete");
    assert_eq!(
        (done.status, done.conclusion, done.finished_at),
        (Status::Completed, Some(Conclusion::Failure), Some(60))
    );
    let again = store.runs().complete(run.id, Conclusion::Success, 70).await;
    assert!(matches!(again, Err(StoreError::Conflict(_))), "{again:?}");
    assert!(matches!(store.runs().start(9999, 1).await, Err(StoreError::NotFound { .. })));

    let page: Vec<i64> = store.runs().list(web, 12, 3).await.expect("list").into_iter().map(|run| run.number).collect();
    assert_eq!(page, [11, 10, 9]);
    let missing = store.runs().create(&NewRun { project_id: 999, ..example_run() }, 1).await;
    assert!(matches!(missing, Err(StoreError::NotFound { entity: "project", .. })), "{missing:?}");
}

async fn run_lists_filter_and_page(store: Store, _db: &TestDb) {
    let web = store.projects().create(&project("web"), 1).await.expect("create").id;
    let api = store.projects().create(&project("api"), 1).await.expect("create").id;
    let files = [".github/workflows/ci.yml", ".github/workflows/release.yml"];
    for number in 1..=8_usize {
        let run = NewRun {
            project_id: web,
            workflow_file: files[number % 2],
            event: if number % 3 == 0 { "pull_request" } else { "push" },
            git_ref: if number <= 4 { "refs/heads/main" } else { "refs/heads/dev" },
            ..example_run()
        };
        let run = store.runs().create(&run, 1).await.expect("create run");
        if number % 4 == 0 {
            store.runs().complete(run.id, Conclusion::Failure, 2).await.expect("complete");
        }
    }
    store.runs().create(&NewRun { project_id: api, ..example_run() }, 1).await.expect("another project's run");
    let numbers = async |filter: RunFilter<'_>, before: i64, limit: i64| -> Vec<i64> {
        let runs = store.runs().list_filtered(web, &filter, before, limit).await.expect("list");
        runs.into_iter().map(|run| run.number).collect()
    };
    assert_eq!(numbers(RunFilter::default(), i64::MAX, 3).await, [8, 7, 6]);
    assert_eq!(numbers(RunFilter::default(), 6, 3).await, [5, 4, 3]);
    let ci = [files[1].to_owned()];
    assert_eq!(numbers(RunFilter { workflow_files: &ci, ..RunFilter::default() }, i64::MAX, 10).await, [7, 5, 3, 1]);
    let both = files.map(str::to_owned);
    assert_eq!(numbers(RunFilter { workflow_files: &both, ..RunFilter::default() }, 3, 10).await, [2, 1]);
    let main = RunFilter { git_ref: Some("refs/heads/main"), ..RunFilter::default() };
    assert_eq!(numbers(main, i64::MAX, 10).await, [4, 3, 2, 1]);
    let pull = RunFilter { event: Some("pull_request"), ..main };
    assert_eq!(numbers(pull, i64::MAX, 10).await, [3]);
    let failed = RunFilter { state: Some(RunState::Conclusion(Conclusion::Failure)), ..RunFilter::default() };
    assert_eq!(numbers(failed, i64::MAX, 10).await, [8, 4]);
    let completed = RunFilter { state: Some(RunState::Status(Status::Completed)), ..RunFilter::default() };
    assert_eq!(numbers(completed, 8, 10).await, [4]);
    let queued = RunFilter { state: Some(RunState::Status(Status::Queued)), ..main };
    assert_eq!(numbers(queued, i64::MAX, 2).await, [3, 2]);
}

fn example_run() -> NewRun<'static> {
    NewRun {
        project_id: 0,
        workflow_file: "ci.yml",
        workflow_name: "ci.yml",
        event: "push",
        git_ref: "refs/heads/main",
        sha: "abc",
        trigger_actor: "bob",
        trigger_info: "{}",
        workflow_src: "",
        title: "",
        author: "",
        rerun_of: None,
    }
}

async fn claim_respects_labels(store: Store, _db: &TestDb) {
    let (_, run) = project_and_run(&store).await;
    let big = enqueue(&store, run, "big", &["linux", "big"]).await;
    let small = enqueue(&store, run, "small", &["linux"]).await;
    let anywhere = enqueue(&store, run, "anywhere", &[]).await;
    assert_eq!((big.status, big.runs_on.clone()), (Status::Queued, labels(&["linux", "big"])));

    let linux = register(&store, "linux-1", &["linux"]).await;
    let mac = register(&store, "mac-1", &["macos"]).await;
    let jobs = store.jobs();
    let claimed = jobs.claim(linux.id, &linux.labels, 100, LEASE).await.expect("claim").expect("a job fits");
    assert_eq!(claimed.id, small.id, "the oldest job the runner can run, skipping `big`");
    assert_eq!(
        (claimed.status, claimed.runner_id, claimed.started_at, claimed.lease_expires_at),
        (Status::InProgress, Some(linux.id), Some(100), Some(100 + LEASE))
    );
    let claimed = jobs.claim(mac.id, &mac.labels, 101, LEASE).await.expect("claim").expect("a job fits");
    assert_eq!(claimed.id, anywhere.id, "a job without labels runs anywhere");
    assert_eq!(jobs.claim(linux.id, &linux.labels, 102, LEASE).await.expect("claim"), None);
    assert_eq!(jobs.claim(linux.id, &[], 102, LEASE).await.expect("claim"), None);

    let big_runner = register(&store, "linux-big", &["Linux", "BIG", "x64"]).await;
    let claimed = jobs.claim(big_runner.id, &big_runner.labels, 103, LEASE).await.expect("claim");
    assert_eq!(claimed.map(|job| job.id), Some(big.id), "a superset of the labels, in any case, satisfies them");
    assert_eq!(jobs.get(big.id).await.expect("get").runner_id, Some(big_runner.id));
    let orphan = jobs
        .enqueue(
            &NewJob {
                run_id: 999,
                name: "x",
                runs_on: &[],
                requires: &[],
                needs: "[]",
                matrix: "{}",
                job_key: "x",
                instance_idx: 0,
                contexts: "{}",
            },
            1,
        )
        .await;
    assert!(matches!(orphan, Err(StoreError::NotFound { entity: "run", .. })), "{orphan:?}");
}

async fn concurrent_claimers_never_share_a_job(store: Store, _db: &TestDb) {
    const N_JOBS: usize = 40;
    const N_CLAIMERS: usize = 8;
    let (_, run) = project_and_run(&store).await;
    let mut job_ids = BTreeSet::new();
    for job_idx in 0..N_JOBS {
        let runs_on: &[&str] = if job_idx % 3 == 0 { &["linux", "big"] } else { &["linux"] };
        job_ids.insert(enqueue(&store, run, &format!("job-{job_idx}"), runs_on).await.id);
    }
    let mut tasks = Vec::new();
    for claimer_idx in 0..N_CLAIMERS {
        let runner = register(&store, &format!("runner-{claimer_idx}"), &["linux", "big"]).await;
        let store = store.clone();
        tasks.push(tokio::spawn(async move {
            let mut claimed = Vec::new();
            while let Some(job) = store.jobs().claim(runner.id, &runner.labels, 100, LEASE).await.expect("claim") {
                assert_eq!(job.runner_id, Some(runner.id));
                claimed.push(job.id);
            }
            claimed
        }));
    }
    let mut claims: BTreeMap<i64, usize> = BTreeMap::new();
    for task in tasks {
        for job_id in task.await.expect("claimer") {
            *claims.entry(job_id).or_default() += 1;
        }
    }
    assert_eq!(claims.keys().copied().collect::<BTreeSet<_>>(), job_ids, "every job was claimed");
    assert!(claims.values().all(|&n_claims| n_claims == 1), "no job was claimed twice: {claims:?}");
}

async fn leases(store: Store, _db: &TestDb) {
    let (_, run) = project_and_run(&store).await;
    let first = enqueue(&store, run, "first", &[]).await;
    let second = enqueue(&store, run, "second", &[]).await;
    let runner = register(&store, "r1", &[]).await;
    let other = register(&store, "r2", &[]).await;
    let jobs = store.jobs();
    jobs.claim(runner.id, &[], 1_000, LEASE).await.expect("claim").expect("first");
    jobs.claim(runner.id, &[], 1_000, LEASE).await.expect("claim").expect("second");

    let lease = jobs.heartbeat(first.id, runner.id, 20_000, LEASE).await.expect("heartbeat");
    assert_eq!((lease.expires_at, lease.cancel_requested), (20_000 + LEASE, false));
    let stolen = jobs.heartbeat(first.id, other.id, 20_000, LEASE).await;
    assert!(matches!(stolen, Err(StoreError::NotFound { .. })), "only the holder renews: {stolen:?}");

    // At 31 000 the second job's lease (1 000 + 30 000) has run out; the first was renewed.
    assert_eq!(jobs.expired_leases(31_000).await.expect("expired"), []);
    let expired: Vec<i64> = jobs.expired_leases(31_001).await.expect("expired").into_iter().map(|job| job.id).collect();
    assert_eq!(expired, [second.id]);
    let lost = jobs.complete(second.id, Conclusion::Failure, 31_001).await.expect("fail as runner lost");
    assert_eq!(
        (lost.status, lost.conclusion, lost.lease_expires_at),
        (Status::Completed, Some(Conclusion::Failure), None)
    );
    let late = jobs.complete(second.id, Conclusion::Success, 31_002).await;
    assert!(matches!(late, Err(StoreError::Conflict(_))), "a late report loses: {late:?}");
    let late_heartbeat = jobs.heartbeat(second.id, runner.id, 31_002, LEASE).await;
    assert!(matches!(late_heartbeat, Err(StoreError::NotFound { .. })), "{late_heartbeat:?}");
    assert_eq!(jobs.expired_leases(1_000_000).await.expect("expired").len(), 1, "only the first job is left running");

    store.runners().heartbeat(runner.id, 40_000).await.expect("runner heartbeat");
    assert_eq!(store.runners().get(runner.id).await.expect("get").last_heartbeat_at, Some(40_000));
    let found = store.runners().by_token_prefix("r1").await.expect("by prefix").expect("registered");
    assert_eq!(found.id, runner.id);
    let dup = store
        .runners()
        .register(
            &NewRunner { name: "r1", labels: &[], token_prefix: "r3", token_hash: "h", scope: &ProjectScope::All },
            1,
        )
        .await;
    assert!(matches!(dup, Err(StoreError::Conflict(_))), "{dup:?}");
    assert!(matches!(jobs.complete(9999, Conclusion::Success, 1).await, Err(StoreError::NotFound { .. })));
}

async fn cancel(store: Store, _db: &TestDb) {
    let (_, run) = project_and_run(&store).await;
    let running = enqueue(&store, run, "running", &[]).await;
    let queued = enqueue(&store, run, "queued", &[]).await;
    let runner = register(&store, "r1", &[]).await;
    let jobs = store.jobs();
    jobs.claim(runner.id, &[], 100, LEASE).await.expect("claim").expect("running");

    let cancelled = jobs.cancel(queued.id, 200).await.expect("cancel queued");
    assert_eq!((cancelled.status, cancelled.conclusion), (Status::Completed, Some(Conclusion::Cancelled)));
    assert_eq!(jobs.claim(runner.id, &[], 201, LEASE).await.expect("claim"), None, "a cancelled job is not claimed");

    let asked = jobs.cancel(running.id, 300).await.expect("cancel running");
    assert_eq!((asked.status, asked.cancel_requested_at), (Status::InProgress, Some(300)));
    let lease = jobs.heartbeat(running.id, runner.id, 301, LEASE).await.expect("heartbeat");
    assert!(lease.cancel_requested, "the runner learns of the cancel from its heartbeat");
    let done = jobs.complete(running.id, Conclusion::Cancelled, 302).await.expect("complete");
    assert_eq!(jobs.cancel(done.id, 400).await.expect("cancel completed"), done, "a completed job stays as it is");
    assert!(matches!(jobs.cancel(9999, 1).await, Err(StoreError::NotFound { .. })));

    let (a, b) = (enqueue(&store, run, "a", &[]).await, enqueue(&store, run, "b", &[]).await);
    jobs.claim(runner.id, &[], 500, LEASE).await.expect("claim").expect("a");
    assert_eq!(jobs.cancel_run(run, 600).await.expect("cancel run"), 2);
    assert_eq!(jobs.get(a.id).await.expect("get").cancel_requested_at, Some(600));
    assert_eq!(jobs.get(b.id).await.expect("get").conclusion, Some(Conclusion::Cancelled));
    let statuses: Vec<Status> = jobs.list_for_run(run).await.expect("list").into_iter().map(|job| job.status).collect();
    assert_eq!(statuses, [Status::Completed, Status::Completed, Status::InProgress, Status::Completed]);
}

async fn steps(store: Store, _db: &TestDb) {
    let (_, run) = project_and_run(&store).await;
    let job = enqueue(&store, run, "build", &[]).await;
    let steps = store.steps();
    let checkout = steps.create(&NewStep { job_id: job.id, step_idx: 0, name: "checkout" }).await.expect("create");
    let test = steps.create(&NewStep { job_id: job.id, step_idx: 1, name: "test" }).await.expect("create");
    let dup = steps.create(&NewStep { job_id: job.id, step_idx: 1, name: "again" }).await;
    assert!(matches!(dup, Err(StoreError::Conflict(_))), "{dup:?}");
    assert_eq!((checkout.status, checkout.outcome), (Status::Queued, None));

    steps.start(checkout.id, 10).await.expect("start");
    let done = steps.complete(checkout.id, Conclusion::Success, Conclusion::Success, 11).await.expect("complete");
    assert_eq!((done.status, done.started_at, done.finished_at), (Status::Completed, Some(10), Some(11)));
    steps.start(test.id, 12).await.expect("start");
    let failed = steps.complete(test.id, Conclusion::Failure, Conclusion::Success, 13).await.expect("complete");
    assert_eq!((failed.outcome, failed.conclusion), (Some(Conclusion::Failure), Some(Conclusion::Success)));
    assert!(matches!(steps.start(test.id, 14).await, Err(StoreError::NotFound { .. })));

    let listed: Vec<(i64, String)> =
        steps.list_for_job(job.id).await.expect("list").into_iter().map(|step| (step.step_idx, step.name)).collect();
    assert_eq!(listed, [(0, "checkout".to_owned()), (1, "test".to_owned())]);
    assert_eq!(steps.get(test.id).await.expect("get"), failed);
}

async fn logs_read_after_seq(store: Store, _db: &TestDb) {
    const N_CHUNKS: usize = 60;
    let (_, run) = project_and_run(&store).await;
    let job = enqueue(&store, run, "build", &[]).await;
    let step = store.steps().create(&NewStep { job_id: job.id, step_idx: 0, name: "test" }).await.expect("step");
    let logs = store.logs();
    assert_eq!(logs.append(step.id, "hello\nworld\n", 1).await.expect("append"), 1);
    let first = logs.after(step.id, 0, 10).await.expect("read");
    assert_eq!(first.len(), 1);
    assert_eq!((first[0].seq, first[0].n_lines, first[0].body.as_str()), (1, 2, "hello\nworld\n"));
    assert!(matches!(logs.append(9999, "x\n", 1).await, Err(StoreError::NotFound { .. })));
    let quiet = store.steps().create(&NewStep { job_id: job.id, step_idx: 1, name: "quiet" }).await.expect("step");
    assert_eq!(
        logs.steps_of_run(run).await.expect("steps"),
        [
            ferry_store::StepLog { step_id: step.id, job_id: job.id, step_idx: 0, last_seq: 1 },
            ferry_store::StepLog { step_id: quiet.id, job_id: job.id, step_idx: 1, last_seq: 0 },
        ]
    );

    // Two writers append to the same step while a reader follows with "after seq N".
    let writers: Vec<_> = ["a", "b"]
        .into_iter()
        .map(|writer| {
            let store = store.clone();
            tokio::spawn(async move {
                for chunk_idx in 0..N_CHUNKS {
                    let text = format!("{writer}{chunk_idx}\n-\n");
                    store.logs().append(step.id, &text, 2).await.expect("append");
                }
            })
        })
        .collect();
    let mut seen = Vec::new();
    let mut last_seq = 1;
    while seen.len() < 2 * N_CHUNKS {
        let chunks = logs.after(step.id, last_seq, 7).await.expect("read");
        for chunk in chunks {
            assert_eq!(chunk.seq, last_seq + 1, "chunks arrive in order without gaps");
            last_seq = chunk.seq;
            seen.push(chunk.body.lines().next().unwrap_or_default().to_owned());
        }
        tokio::task::yield_now().await;
    }
    for writer in writers {
        writer.await.expect("writer");
    }
    assert_eq!(logs.after(step.id, last_seq, 7).await.expect("read"), [], "nothing is read twice");
    for writer in ["a", "b"] {
        let order: Vec<&String> = seen.iter().filter(|line| line.starts_with(writer)).collect();
        let want: Vec<String> = (0..N_CHUNKS).map(|chunk_idx| format!("{writer}{chunk_idx}")).collect();
        assert_eq!(order, want.iter().collect::<Vec<_>>(), "each writer's chunks, once each, in its order");
    }
}

async fn artifacts_and_cache(store: Store, _db: &TestDb) {
    let (project_id, run) = project_and_run(&store).await;
    let job = enqueue(&store, run, "build", &[]).await;
    let artifacts = store.artifacts();
    let artifact = NewArtifact {
        run_id: run,
        job_id: Some(job.id),
        name: "dist",
        digest: "sha256:aa",
        size: 42,
        expires_at: Some(1_000),
    };
    let dist = artifacts.create(&artifact, 100).await.expect("create");
    let report =
        artifacts.create(&NewArtifact { name: "report", expires_at: None, ..artifact }, 100).await.expect("create");
    let dup = artifacts.create(&artifact, 101).await;
    assert!(matches!(dup, Err(StoreError::Conflict(_))), "{dup:?}");
    assert_eq!(artifacts.list_for_run(run).await.expect("list"), [dist.clone(), report.clone()]);
    // `overwrite: true`: a new row takes the name, the old one is gone.
    let newer = NewArtifact { digest: "sha256:dd", size: 7, ..artifact };
    let dist = artifacts.replace(&newer, 150).await.expect("replace");
    assert_eq!((dist.digest.as_str(), dist.size, dist.created_at), ("sha256:dd", 7, 150));
    assert_eq!(artifacts.list_for_run(run).await.expect("list"), [dist.clone(), report.clone()]);
    assert_eq!(artifacts.all().await.expect("all").len(), 2, "the replaced row is gone");
    let fresh = artifacts.replace(&NewArtifact { name: "fresh", ..newer }, 160).await.expect("a free name");
    assert_eq!(artifacts.list_for_run(run).await.expect("list"), [dist.clone(), fresh.clone(), report]);
    artifacts.delete(fresh.id).await.expect("delete");
    let missing_run = artifacts.replace(&NewArtifact { run_id: run + 100, ..newer }, 170).await;
    assert!(matches!(missing_run, Err(StoreError::Conflict(_))), "{missing_run:?}");
    assert_eq!(artifacts.expired(999).await.expect("expired"), []);
    assert_eq!(artifacts.expired(1_000).await.expect("expired"), std::slice::from_ref(&dist));
    artifacts.delete(dist.id).await.expect("delete");
    assert_eq!(artifacts.expired(5_000).await.expect("expired"), []);

    let cache = store.cache();
    let main = "refs/heads/main";
    let entry = NewCacheEntry {
        project_id,
        scope: main,
        key: "cargo-Linux-abc",
        version: "",
        digest: "sha256:bb",
        size: 7,
        run_id: Some(run),
        job_id: None,
        expires_at: Some(2_000),
    };
    let saved = cache.put(&entry, 100).await.expect("put");
    let again = cache.put(&NewCacheEntry { digest: "sha256:cc", ..entry }, 200).await;
    assert!(matches!(again, Err(StoreError::Conflict(_))), "entries are immutable: {again:?}");
    // Another version of the key is another entry, found only under its version.
    let versioned = NewCacheEntry { version: "9f86d0", digest: "sha256:ee", expires_at: Some(1_500), ..entry };
    let archive = cache.put(&versioned, 150).await.expect("the key with another version");
    assert_eq!(
        cache.get(project_id, main, "cargo-Linux-abc", "9f86d0", 200).await.expect("get"),
        Some(archive.clone())
    );
    let listed = cache.list_in_scope(project_id, main, "9f86d0", 200).await.expect("list");
    assert_eq!(listed, std::slice::from_ref(&archive), "only the entries of that version");
    assert_eq!(cache.get(project_id, main, "cargo-Linux-abc", "other", 200).await.expect("get"), None);
    cache.delete(archive.id).await.expect("delete");
    assert_eq!(cache.get(project_id, main, "cargo-Linux-abc", "", 1_999).await.expect("get"), Some(saved.clone()));
    assert_eq!(cache.get(project_id, main, "cargo-Linux-abc", "", 2_000).await.expect("get"), None, "expired");
    assert_eq!(cache.expired(2_000).await.expect("expired"), std::slice::from_ref(&saved));
    // An expired entry the sweep has not deleted yet gives way to a new one under its key.
    let replaced =
        cache.put(&NewCacheEntry { digest: "sha256:cc", ..entry }, 2_000).await.expect("replacing an expired entry");
    assert_eq!((replaced.id, replaced.digest.as_str(), replaced.created_at), (saved.id, "sha256:cc", 2_000));
    assert_eq!(cache.get(project_id, main, "cargo-Linux-abc", "", 2_500).await.expect("get"), None, "still expired");
    cache.set_expiry(replaced.id, Some(5_000)).await.expect("kept for longer");

    // A key is unique per scope: another branch saves its own entry under it.
    let feature = "refs/heads/feature";
    let own = NewCacheEntry { scope: feature, digest: "sha256:dd", expires_at: Some(4_000), ..entry };
    let on_feature = cache.put(&own, 2_100).await.expect("the key in another scope");
    assert_eq!(
        cache.get(project_id, feature, "cargo-Linux-abc", "", 2_500).await.expect("get"),
        Some(on_feature.clone())
    );
    assert_eq!(
        cache.get(project_id, main, "cargo-Linux-abc", "", 2_500).await.expect("get").map(|entry| entry.digest),
        Some("sha256:cc".to_owned())
    );
    let newer =
        cache.put(&NewCacheEntry { key: "cargo-Linux-def", expires_at: None, ..entry }, 2_200).await.expect("put");
    let kept = cache.put(&NewCacheEntry { key: "cargo-Linux-def", ..entry }, 9_000).await;
    assert!(matches!(kept, Err(StoreError::Conflict(_))), "an entry kept for good stays: {kept:?}");
    let keys = |entries: Vec<CacheEntry>| entries.into_iter().map(|entry| entry.key).collect::<Vec<_>>();
    assert_eq!(
        keys(cache.list_in_scope(project_id, main, "", 2_500).await.expect("list")),
        ["cargo-Linux-def", "cargo-Linux-abc"],
        "newest first"
    );
    assert_eq!(keys(cache.list_in_scope(project_id, feature, "", 2_500).await.expect("list")), ["cargo-Linux-abc"]);
    assert_eq!(keys(cache.list_in_scope(project_id, feature, "", 4_000).await.expect("list")), Vec::<String>::new());
    assert_eq!(keys(cache.list_in_scope(project_id, main, "", 5_000).await.expect("list")), ["cargo-Linux-def"]);
    assert_eq!(
        keys(cache.list_in_scope(project_id, "refs/heads/other", "", 0).await.expect("list")),
        Vec::<String>::new()
    );
    let scopes: Vec<(String, String)> =
        cache.all().await.expect("all").into_iter().map(|entry| (entry.scope, entry.key)).collect();
    assert_eq!(
        scopes,
        [
            (main.to_owned(), "cargo-Linux-abc".to_owned()),
            (feature.to_owned(), "cargo-Linux-abc".to_owned()),
            (main.to_owned(), "cargo-Linux-def".to_owned())
        ]
    );
    cache.delete(newer.id).await.expect("delete");
    cache.delete(on_feature.id).await.expect("delete");
    cache.delete(replaced.id).await.expect("delete");
    assert!(matches!(cache.delete(replaced.id).await, Err(StoreError::NotFound { .. })));
    assert!(matches!(cache.set_expiry(replaced.id, None).await, Err(StoreError::NotFound { .. })));
}

/// A database as servers before cache scopes left it (migrations 1 to 3) with a cache
/// entry: opening the store moves the entry into the default branch's scope, which every run
/// restores from, so no run loses an entry it could restore before.
async fn cache_entries_from_before_scopes_join_the_default_branch(db: TestDb) {
    use sqlx::SqlSafeStr as _;
    use sqlx::migrate::{Migration, MigrationType, Migrator};
    let postgres = db.url().starts_with("postgres");
    let before: [(i64, &str, &'static str); 3] = if postgres {
        [
            (1, "init", include_str!("../../migrations/postgres/0001_init.sql")),
            (2, "pipelines", include_str!("../../migrations/postgres/0002_pipelines.sql")),
            (3, "compressed_logs", include_str!("../../migrations/postgres/0003_compressed_logs.sql")),
        ]
    } else {
        [
            (1, "init", include_str!("../../migrations/sqlite/0001_init.sql")),
            (2, "pipelines", include_str!("../../migrations/sqlite/0002_pipelines.sql")),
            (3, "compressed_logs", include_str!("../../migrations/sqlite/0003_compressed_logs.sql")),
        ]
    };
    let url = if postgres { db.url().to_owned() } else { format!("sqlite://{}?mode=rwc", db.url()) };
    sqlx::any::install_default_drivers();
    let pool = sqlx::AnyPool::connect(&url).await.expect("connecting");
    let migrations: Vec<Migration> = before
        .into_iter()
        .map(|(version, description, sql)| {
            Migration::new(version, description.into(), MigrationType::Simple, sql.into_sql_str(), false)
        })
        .collect();
    Migrator { migrations: migrations.into(), ..Migrator::DEFAULT }.run(&pool).await.expect("migrations 1 to 3");
    let project_id: i64 = sqlx::query_scalar(
        "INSERT INTO projects (name, repo, branch, webhook_secret, created_at)
         VALUES ('web', '/srv/web.git', 'trunk', 'hook', 1) RETURNING id",
    )
    .fetch_one(&pool)
    .await
    .expect("a project");
    sqlx::query(
        "INSERT INTO cache_entries (project_id, cache_key, digest, size, created_at, expires_at)
         VALUES ($1, 'deps-1', 'sha256:aa', 3, 2, 10000)",
    )
    .bind(project_id)
    .execute(&pool)
    .await
    .expect("an entry");
    pool.close().await;

    let store = db.open().await;
    let cache = store.cache();
    let entry = cache.get(project_id, "refs/heads/trunk", "deps-1", "", 5).await.expect("get").expect("the old entry");
    assert_eq!(
        (entry.digest.as_str(), entry.size, entry.created_at, entry.expires_at),
        ("sha256:aa", 3, 2, Some(10_000))
    );
    let same = NewCacheEntry {
        project_id,
        scope: "refs/heads/trunk",
        key: "deps-1",
        version: "",
        digest: "sha256:bb",
        size: 1,
        run_id: None,
        job_id: None,
        expires_at: None,
    };
    assert!(matches!(cache.put(&same, 5).await, Err(StoreError::Conflict(_))), "the key is taken in its scope");
    cache.put(&NewCacheEntry { scope: "refs/heads/feature", ..same }, 5).await.expect("free in another scope");
    store.close().await;
}

async fn concurrency_groups(store: Store, _db: &TestDb) {
    let (project_id, first) = project_and_run(&store).await;
    let second = new_run(&store, project_id).await.id;
    let groups = store.concurrency();
    assert_eq!(groups.holder(project_id, "deploy-prod").await.expect("holder"), None);
    assert_eq!(groups.acquire(project_id, "deploy-prod", first, 1).await.expect("acquire"), Acquired::Yes);
    assert_eq!(groups.acquire(project_id, "deploy-prod", first, 2).await.expect("again"), Acquired::Yes);
    assert_eq!(groups.acquire(project_id, "deploy-prod", second, 3).await.expect("acquire"), Acquired::HeldBy(first));
    assert_eq!(groups.acquire(project_id, "deploy-dev", second, 3).await.expect("acquire"), Acquired::Yes);
    assert!(!groups.release(project_id, "deploy-prod", second).await.expect("release"), "only the holder releases");
    assert!(groups.release(project_id, "deploy-prod", first).await.expect("release"));
    assert_eq!(groups.acquire(project_id, "deploy-prod", second, 4).await.expect("acquire"), Acquired::Yes);
    assert_eq!(groups.holder(project_id, "deploy-prod").await.expect("holder"), Some(second));
}

async fn counts_for_metrics(store: Store, _db: &TestDb) {
    store.ping().await.expect("the store answers");
    assert_eq!(store.jobs().count_queued().await.expect("count"), 0);
    assert_eq!(store.runs().count_by_conclusion().await.expect("count"), vec![]);
    let (project_id, run_id) = project_and_run(&store).await;
    enqueue(&store, run_id, "build", &["linux"]).await;
    let test = enqueue(&store, run_id, "test", &["linux"]).await;
    store.jobs().cancel(test.id, 30).await.expect("cancel");
    assert_eq!(store.jobs().count_queued().await.expect("count"), 1);
    store.runs().complete(run_id, Conclusion::Failure, 40).await.expect("complete");
    for conclusion in [Conclusion::Success, Conclusion::Success] {
        let run = new_run(&store, project_id).await;
        store.runs().complete(run.id, conclusion, 50).await.expect("complete");
    }
    new_run(&store, project_id).await;
    assert_eq!(
        store.runs().count_by_conclusion().await.expect("count"),
        vec![(Conclusion::Failure, 1), (Conclusion::Success, 2)]
    );
}

async fn pipeline_bookkeeping(store: Store, _db: &TestDb) {
    let (_, run) = project_and_run(&store).await;
    let stored = store.runs().get(run).await.expect("get");
    assert_eq!(
        (stored.workflow_src.as_str(), stored.workflow_name.as_str(), stored.title.as_str(), stored.author.as_str()),
        ("on: push", "CI", "Fix the build", "Alice")
    );

    // An expansion is decided once: the first one recorded holds.
    let runs = store.runs();
    assert_eq!(runs.expansion(run, "build").await.expect("read"), None);
    assert_eq!(runs.record_expansion(run, "build", "skip", 1).await.expect("record"), "skip");
    assert_eq!(runs.record_expansion(run, "build", "other", 2).await.expect("record"), "skip");
    assert_eq!(runs.expansions(run).await.expect("list"), [("build".to_owned(), "skip".to_owned())]);

    // A keyed job instance is enqueued once.
    let new_job = NewJob {
        run_id: run,
        name: "test (1)",
        runs_on: &[],
        requires: &[],
        needs: "[]",
        matrix: r#"{"n":1}"#,
        job_key: "test",
        instance_idx: 1,
        contexts: r#"{"matrix":{"n":1}}"#,
    };
    let first = store.jobs().enqueue(&new_job, 3).await.expect("enqueue");
    let again = store.jobs().enqueue(&NewJob { name: "changed", ..new_job }, 4).await.expect("enqueue again");
    assert_eq!(again, first);
    assert_eq!(
        (first.job_key.as_str(), first.instance_idx, first.contexts.as_str()),
        ("test", 1, r#"{"matrix":{"n":1}}"#)
    );

    let done = store
        .jobs()
        .finish(first.id, Conclusion::Failure, r#"{"v":"1"}"#, Some("runner lost"), 5)
        .await
        .expect("finish");
    assert_eq!(
        (done.outputs.as_str(), done.reason.as_deref(), done.status),
        (r#"{"v":"1"}"#, Some("runner lost"), Status::Completed)
    );
    let late = store.jobs().finish(first.id, Conclusion::Success, "{}", None, 6).await;
    assert!(matches!(late, Err(StoreError::Conflict(_))), "{late:?}");

    assert_eq!(store.runs().unfinished().await.expect("unfinished").len(), 1);
    let cancelled = store.runs().request_cancel(run, 7).await.expect("cancel");
    assert_eq!(
        store.runs().request_cancel(run, 8).await.expect("cancel").cancel_requested_at,
        cancelled.cancel_requested_at
    );
    store.runs().start(run, 2).await.expect("start");
    let failed = store.runs().fail(run, "the workflow does not parse", 9).await.expect("fail");
    assert_eq!(
        (failed.conclusion, failed.error.as_deref()),
        (Some(Conclusion::Failure), Some("the workflow does not parse"))
    );
    assert_eq!(store.runs().unfinished().await.expect("unfinished"), []);
    let durations = store.run_durations().await.expect("durations");
    assert_eq!(
        (durations.per_bucket[0], durations.per_bucket.iter().sum::<u64>(), durations.sum_ms, durations.count),
        (1, 1, 7, 1),
        "started at 2, failed at 9"
    );
    assert_eq!(store.step_durations().await.expect("durations").count, 0);
}

async fn runner_event_batches(store: Store, _db: &TestDb) {
    let (_, run) = project_and_run(&store).await;
    let runner = register(&store, "r1", &[]).await;
    let job = enqueue(&store, run, "build", &[]).await;
    let claimed = store.jobs().claim(runner.id, &[], 10, 1000).await.expect("claim").expect("a job");
    assert_eq!(claimed.id, job.id);
    let batch = [
        StepEvent::Started { step_idx: 0, name: "test", at: 11 },
        StepEvent::Lines { step_idx: 0, text: "one\ntwo\n" },
        StepEvent::Lines { step_idx: 0, text: "three\n" },
    ];
    let recorded = store.jobs().record_events(job.id, runner.id, 1, &batch, 12, 1000).await.expect("record");
    let step_id = store.steps().list_for_job(job.id).await.expect("steps")[0].id;
    let chunk = |event_idx, seq| AppendedChunk { event_idx, run_id: run, step_id, step_idx: 0, seq };
    assert_eq!(
        recorded,
        Recorded {
            applied: true,
            lease: Lease { expires_at: 1012, cancel_requested: false },
            chunks: vec![chunk(1, 1), chunk(2, 2)],
        }
    );
    // A repeated batch (the runner retried after a lost answer) changes nothing but the lease.
    let repeat = store.jobs().record_events(job.id, runner.id, 1, &batch, 13, 1000).await.expect("repeat");
    assert_eq!(
        repeat,
        Recorded { applied: false, lease: Lease { expires_at: 1013, cancel_requested: false }, chunks: Vec::new() }
    );
    let finished =
        [StepEvent::Finished { step_idx: 0, outcome: Conclusion::Failure, conclusion: Conclusion::Success, at: 14 }];
    store.jobs().cancel(job.id, 14).await.expect("cancel");
    let recorded = store.jobs().record_events(job.id, runner.id, 2, &finished, 14, 1000).await.expect("record");
    assert_eq!(
        recorded,
        Recorded { applied: true, lease: Lease { expires_at: 1014, cancel_requested: true }, chunks: Vec::new() }
    );

    let steps = store.steps().list_for_job(job.id).await.expect("steps");
    assert_eq!(steps.len(), 1);
    assert_eq!(
        (steps[0].status, steps[0].outcome, steps[0].started_at, steps[0].finished_at),
        (Status::Completed, Some(Conclusion::Failure), Some(11), Some(14))
    );
    // Counted once in the steps' duration histogram (3 ms: the first bucket), not again when
    // the same batch is repeated.
    store.jobs().record_events(job.id, runner.id, 2, &finished, 15, 1000).await.expect("repeat");
    let durations = store.step_durations().await.expect("durations");
    assert_eq!((durations.per_bucket[0], durations.count, durations.sum_ms), (1, 1, 3));
    let bodies: Vec<String> =
        store.logs().after(steps[0].id, 0, 10).await.expect("logs").into_iter().map(|chunk| chunk.body).collect();
    assert_eq!(bodies, ["one\ntwo\n", "three\n"]);
    // A large chunk is stored compressed and read back as it was written.
    let long_text: String = (0..200).map(|line_idx| format!("line {line_idx}: building crate\n")).collect();
    let big = [StepEvent::Lines { step_idx: 0, text: &long_text }];
    assert!(store.jobs().record_events(job.id, runner.id, 3, &big, 14, 1000).await.expect("record").applied);
    let chunks = store.logs().after(steps[0].id, 2, 10).await.expect("logs");
    assert_eq!(chunks[0].body, long_text);
    assert_eq!(chunks[0].n_lines, 200);

    let other = register(&store, "r2", &[]).await;
    let refused = store.jobs().record_events(job.id, other.id, 4, &finished, 15, 1000).await;
    assert!(matches!(refused, Err(StoreError::NotFound { .. })), "another runner cannot report: {refused:?}");
    assert_eq!(store.jobs().in_progress_on(runner.id).await.expect("held").len(), 1);
}

async fn scoped_tokens_and_sessions(store: Store, _db: &TestDb) {
    let web = store.projects().create(&project("web"), 1).await.expect("create").id;
    let api = store.projects().create(&project("api"), 1).await.expect("create").id;
    let tokens = store.tokens();
    let scope = ProjectScope::Projects(vec![api, web, api]);
    let token = NewApiToken { prefix: "fy_web", hash: "h", name: "web-ci", role: Role::Developer, scope: &scope };
    let created = tokens.create(&token, 1).await.expect("create");
    let both = ProjectScope::Projects(vec![web.min(api), web.max(api)]);
    assert_eq!(created.scope, both, "sorted, each once");
    assert_eq!(tokens.active_by_prefix("fy_web").await.expect("lookup").map(|token| token.scope), Some(both.clone()));
    assert!(both.allows(web) && !both.allows(web + api + 1) && ProjectScope::All.allows(web));
    let unknown = ProjectScope::Projects(vec![999]);
    let res = tokens.create(&NewApiToken { prefix: "fy_bad", scope: &unknown, ..token }, 1).await;
    assert!(matches!(res, Err(StoreError::Conflict(_))), "a scope names existing projects: {res:?}");
    assert_eq!(tokens.active_by_prefix("fy_bad").await.expect("lookup"), None, "nothing was stored");

    let sessions = store.sessions();
    sessions.create("s1", created.id, 100, 200).await.expect("session");
    sessions.create("s2", created.id, 100, 300).await.expect("session");
    assert_eq!(sessions.active("s1", 199).await.expect("active"), Some(created.clone()));
    assert_eq!(sessions.active("s1", 200).await.expect("active"), None, "it ends at expires_at");
    assert_eq!(sessions.active("nope", 100).await.expect("active"), None);
    sessions.delete("s2").await.expect("logout");
    sessions.delete("s2").await.expect("logging out twice is fine");
    assert_eq!(sessions.active("s2", 150).await.expect("active"), None, "logged out");
    sessions.create("s3", created.id, 100, 300).await.expect("session");
    tokens.revoke(created.id, 150).await.expect("revoke");
    assert_eq!(sessions.active("s3", 150).await.expect("active"), None, "revoking the token ends its sessions");

    // Deleting the only project of a scope leaves a token that reaches nothing, not everything.
    let lone = ProjectScope::Projects(vec![web]);
    let lone = tokens.create(&NewApiToken { prefix: "fy_lone", scope: &lone, ..token }, 1).await.expect("create");
    store.projects().delete(web).await.expect("delete project");
    let after = tokens.active_by_prefix("fy_lone").await.expect("lookup").expect("active");
    assert_eq!((after.id, after.scope), (lone.id, ProjectScope::Projects(vec![])));
}

async fn scoped_runners_claim_only_their_projects_jobs(store: Store, _db: &TestDb) {
    let web = store.projects().create(&project("web"), 1).await.expect("create").id;
    let api = store.projects().create(&project("api"), 1).await.expect("create").id;
    let web_run = new_run(&store, web).await.id;
    let api_run = new_run(&store, api).await.id;
    let api_job = enqueue(&store, api_run, "api-build", &[]).await;
    let scope = ProjectScope::Projects(vec![web]);
    let web_runner = NewRunner { name: "web-1", labels: &[], token_prefix: "w1", token_hash: "h", scope: &scope };
    let web_runner = store.runners().register(&web_runner, 1).await.expect("register");
    assert_eq!(web_runner.scope, scope);
    let jobs = store.jobs();
    assert_eq!(
        jobs.claim(web_runner.id, &[], 10, LEASE).await.expect("claim"),
        None,
        "the only queued job is another project's"
    );
    let web_job = enqueue(&store, web_run, "web-build", &[]).await;
    let claimed = jobs.claim(web_runner.id, &[], 11, LEASE).await.expect("claim").expect("its project's job");
    assert_eq!(claimed.id, web_job.id, "the older job of the other project is skipped");
    let anywhere = register(&store, "any-1", &[]).await;
    let claimed = jobs.claim(anywhere.id, &[], 12, LEASE).await.expect("claim").expect("an unscoped runner");
    assert_eq!(claimed.id, api_job.id);

    // Registering again replaces the scope; an empty scope reaches nothing.
    let nothing = ProjectScope::Projects(vec![]);
    let again = NewRunner { name: "web-1", labels: &[], token_prefix: "w2", token_hash: "h", scope: &nothing };
    let again = store.runners().register_or_replace(&again, 20).await.expect("register again");
    assert_eq!((again.id, again.scope), (web_runner.id, nothing));
    enqueue(&store, web_run, "web-test", &[]).await;
    assert_eq!(jobs.claim(web_runner.id, &[], 21, LEASE).await.expect("claim"), None);
}

async fn revoked_runners(store: Store, _db: &TestDb) {
    let runner = register(&store, "r1", &["linux"]).await;
    assert_eq!(runner.revoked_at, None);
    let revoked = store.runners().revoke(runner.id, 50).await.expect("revoke");
    assert_eq!(revoked.revoked_at, Some(50));
    assert_eq!(store.runners().revoke(runner.id, 60).await.expect("again").revoked_at, Some(50));
    assert_eq!(store.runners().by_token_prefix("r1").await.expect("lookup"), None, "its token no longer works");
    assert_eq!(store.runners().by_name("r1").await.expect("by name").map(|runner| runner.id), Some(runner.id));
    let listed: Vec<(String, Option<i64>)> = store
        .runners()
        .list()
        .await
        .expect("list")
        .into_iter()
        .map(|runner| (runner.name, runner.revoked_at))
        .collect();
    assert_eq!(listed, [("r1".to_owned(), Some(50))]);
    assert!(matches!(store.runners().revoke(999, 1).await, Err(StoreError::NotFound { .. })));
    let labels = labels(&["linux"]);
    let new_token =
        NewRunner { name: "r1", labels: &labels, token_prefix: "r1b", token_hash: "h", scope: &ProjectScope::All };
    let again = store.runners().register_or_replace(&new_token, 70).await.expect("register again");
    assert_eq!((again.id, again.revoked_at), (runner.id, None), "registering again gives a working token");
    assert!(store.runners().by_token_prefix("r1b").await.expect("lookup").is_some());
}

async fn forks_approvals_and_deliveries(store: Store, _db: &TestDb) {
    let (project_id, plain) = project_and_run(&store).await;
    assert!(!store.projects().get(project_id).await.expect("project").require_approval);
    assert!(store.projects().set_require_approval(project_id, true).await.expect("set").require_approval);
    store.projects().set_webhook_secret(project_id, "sealed1:00").await.expect("seal");
    assert_eq!(store.projects().get(project_id).await.expect("project").webhook_secret, "sealed1:00");
    assert!(matches!(store.projects().set_require_approval(999, true).await, Err(StoreError::NotFound { .. })));
    let forge_of = async || {
        let stored = store.projects().get(project_id).await.expect("project");
        (stored.forge, stored.forge_url)
    };
    assert_eq!(forge_of().await, (String::new(), String::new()));
    store.projects().set_forge(project_id, "gitea", "https://gitea.example").await.expect("forge");
    assert_eq!(forge_of().await, ("gitea".to_owned(), "https://gitea.example".to_owned()));
    assert!(matches!(store.projects().set_forge(999, "gitea", "").await, Err(StoreError::NotFound { .. })));

    let run = store.runs().get(plain).await.expect("run");
    assert_eq!((run.from_fork, run.status, run.approved_by.as_str()), (false, Status::Queued, ""));
    let waiting = new_run(&store, project_id).await.id;
    let run = store.runs().mark_from_fork(waiting, true).await.expect("mark");
    assert_eq!((run.from_fork, run.status), (true, Status::Waiting));
    assert_eq!(store.runs().unfinished().await.expect("unfinished").iter().filter(|run| run.id == waiting).count(), 1);
    let run = store.runs().approve(waiting, "dev").await.expect("approve");
    assert_eq!((run.from_fork, run.status, run.approved_by.as_str()), (true, Status::Queued, "dev"));
    assert!(matches!(store.runs().approve(waiting, "dev").await, Err(StoreError::Conflict(_))));
    assert!(matches!(store.runs().approve(plain, "dev").await, Err(StoreError::Conflict(_))));
    assert!(matches!(store.runs().approve(999, "dev").await, Err(StoreError::NotFound { .. })));
    let unapproved = new_run(&store, project_id).await.id;
    let run = store.runs().mark_from_fork(unapproved, false).await.expect("mark");
    assert_eq!((run.from_fork, run.status), (true, Status::Queued));
    // A waiting run that is cancelled completes; it is no longer waiting.
    let cancelled = new_run(&store, project_id).await.id;
    store.runs().mark_from_fork(cancelled, true).await.expect("mark");
    let run = store.runs().complete(cancelled, Conclusion::Cancelled, 20).await.expect("complete");
    assert_eq!(run.status, Status::Completed);
    // A re-run of a fork's run is one too; of another run, not.
    let rerun = |old| NewRun { project_id, rerun_of: Some(old), ..example_run() };
    assert!(store.runs().create(&rerun(waiting), 30).await.expect("rerun").from_fork);
    assert!(!store.runs().create(&rerun(plain), 30).await.expect("rerun").from_fork);

    let deliveries = store.deliveries();
    assert!(deliveries.record(project_id, "d1", 100).await.expect("record"));
    assert!(!deliveries.record(project_id, "d1", 150).await.expect("again"), "a repeat");
    let other = store.projects().create(&project("other"), 1).await.expect("create").id;
    assert!(deliveries.record(other, "d1", 100).await.expect("another project's"));
    assert!(deliveries.record(project_id, "d2", 200).await.expect("record"));
    deliveries.forget(project_id, "d2").await.expect("forget");
    assert!(deliveries.record(project_id, "d2", 200).await.expect("taken again after forget"));
    assert_eq!(deliveries.sweep(150).await.expect("sweep"), 2, "d1 of both projects, received at 100");
    assert!(deliveries.record(project_id, "d1", 300).await.expect("swept, so new"));
    assert!(!deliveries.record(project_id, "d2", 300).await.expect("kept"));
}

async fn agents_and_deployments(store: Store, _db: &TestDb) {
    let labels = labels(&["edge"]);
    let new_agent = NewAgent { name: "host-1", labels: &labels, token_prefix: "p1", token_hash: "h1" };
    let agent = store.agents().register(&new_agent, 5).await.expect("register");
    assert!(matches!(store.agents().register(&new_agent, 6).await, Err(StoreError::Conflict(_))));
    assert_eq!(store.agents().by_token_prefix("p1").await.expect("lookup").map(|agent| agent.id), Some(agent.id));
    let hello = AgentHelloRecord { hostname: "box", version: "0.1", docker: true, labels: None };
    let agent = store.agents().hello(agent.id, &hello, 7).await.expect("hello");
    assert_eq!((agent.hostname.as_deref(), agent.docker, agent.labels.clone()), (Some("box"), true, labels.clone()));
    assert_eq!(store.agents().bump_generation(agent.id).await.expect("bump"), 1);
    assert_eq!(store.agents().bump_generation(agent.id).await.expect("bump"), 2);
    store.agents().record_report(agent.id, "[1]", 9).await.expect("report");
    let agent = store.agents().get(agent.id).await.expect("get");
    assert_eq!((agent.report.as_str(), agent.last_seen_at), ("[1]", Some(9)));
    store.agents().revoke(agent.id, 10).await.expect("revoke");
    assert_eq!(store.agents().by_token_prefix("p1").await.expect("lookup"), None);
    let replaced = NewAgent { token_prefix: "p2", token_hash: "h2", ..new_agent };
    let agent = store.agents().register_or_replace(&replaced, 11).await.expect("replace");
    assert_eq!((agent.revoked_at, agent.token_prefix.as_str()), (None, "p2"));

    let project = store.projects().create(&project("shop"), 1).await.expect("project");
    let hosts = [agent.id];
    let new = |release, status| NewDeployment {
        project_id: project.id,
        service: "web",
        environment: "staging",
        release: Some(release),
        strategy: "rolling",
        status,
        reason: None,
        triggered_by: "alice",
        rollback_of: None,
        is_rollback: false,
        agent_id: Some(agent.id),
        hosts: &hosts,
        author: "bob",
        commits: "[]",
        gates: "[]",
        target: "{}",
        job_id: None,
        run_id: None,
        commit_sha: Some("0123abcd"),
        url: None,
    };
    let first = store.deployments().create(&new(1, DeploymentStatus::InProgress), 20).await.expect("create");
    assert_eq!((first.status, first.started_at, first.finished_at), (DeploymentStatus::InProgress, Some(20), None));
    let second = store.deployments().create(&new(2, DeploymentStatus::Queued), 21).await.expect("create");
    let pending = store.deployments().pending_for_unit(project.id, "web", "staging").await.expect("pending");
    assert_eq!(pending.iter().map(|deployment| deployment.id).collect::<Vec<_>>(), [first.id, second.id]);
    let placed = store.deployments().placed_on(agent.id).await.expect("placed");
    assert_eq!(placed.iter().map(|deployment| deployment.id).collect::<Vec<_>>(), [first.id]);

    let done = store
        .deployments()
        .transition(first.id, &[DeploymentStatus::InProgress], DeploymentStatus::Succeeded, Some("ok"), 30)
        .await
        .expect("finish");
    assert_eq!(
        (done.status, done.finished_at, done.reason.as_deref()),
        (DeploymentStatus::Succeeded, Some(30), Some("ok"))
    );
    // A second request moving it from where it was is refused.
    let again = store
        .deployments()
        .transition(first.id, &[DeploymentStatus::InProgress], DeploymentStatus::Failed, None, 31)
        .await;
    assert!(matches!(again, Err(StoreError::Conflict(_))), "{again:?}");
    assert!(store.deployments().succeeded_in(project.id, "web", "staging", 1).await.expect("succeeded"));
    assert!(!store.deployments().succeeded_in(project.id, "web", "production", 1).await.expect("succeeded"));
    let started = store
        .deployments()
        .transition(second.id, &[DeploymentStatus::Queued], DeploymentStatus::InProgress, None, 32)
        .await
        .expect("start");
    assert_eq!(started.started_at, Some(32));
    let placed = store.deployments().placed_on(agent.id).await.expect("placed");
    assert_eq!(placed.iter().map(|deployment| deployment.id).collect::<Vec<_>>(), [first.id, second.id]);
    store
        .deployments()
        .record_progress(second.id, r#"[{"name":"start","at":33}]"#, Some("{}"), None)
        .await
        .expect("progress");
    store.deployments().set_gates(second.id, "[1]", "[2]", Some("why")).await.expect("gates");
    let second = store.deployments().get(second.id).await.expect("get");
    assert_eq!(
        (second.gates.as_str(), second.approvals.as_str(), second.analysis.as_deref()),
        ("[1]", "[2]", Some("{}"))
    );
    assert_eq!(second.measurements, None);
    store.deployments().record_measurements(second.id, r#"[{"name":"error-ratio"}]"#).await.expect("measurements");
    let measured = store.deployments().get(second.id).await.expect("get");
    assert_eq!(measured.measurements.as_deref(), Some(r#"[{"name":"error-ratio"}]"#));
    let missing = store.deployments().record_measurements(9_999, "[]").await;
    assert!(matches!(missing, Err(StoreError::NotFound { .. })), "{missing:?}");
    // Cancelling one in progress is a request its agent carries out; the first reason stays.
    let cancelling = store.deployments().request_cancel(second.id, "cancelled by carol").await.expect("cancel");
    assert_eq!(
        (cancelling.status, cancelling.cancel_requested.as_deref()),
        (DeploymentStatus::InProgress, Some("cancelled by carol"))
    );
    let again = store.deployments().request_cancel(second.id, "cancelled by dave").await.expect("cancel");
    assert_eq!(again.cancel_requested.as_deref(), Some("cancelled by carol"));
    let over = store.deployments().request_cancel(first.id, "cancelled by carol").await;
    assert!(matches!(over, Err(StoreError::Conflict(_))), "{over:?}");
    assert_eq!(store.deployments().get(first.id).await.expect("get").cancel_requested, None);
    let last = store.deployments().last_succeeded(project.id, "web", "staging").await.expect("last");
    assert_eq!(last.map(|deployment| deployment.release), Some(Some(1)));
    let listed = store.deployments().list(project.id, Some("web"), None, 10).await.expect("list");
    assert_eq!(listed.iter().map(|deployment| deployment.release).collect::<Vec<_>>(), [Some(2), Some(1)]);
    assert!(store.deployments().list(project.id, None, Some("production"), 10).await.expect("list").is_empty());

    let unit = UnitRef { project_id: project.id, service: "web", environment: "staging" };
    store.service_events().add(unit, Some(agent.id), 40, "crashed", "replica web-1 exited").await.expect("event");
    let events = store.service_events().latest(unit, 10).await.expect("events");
    assert_eq!(events.iter().map(|event| event.kind.as_str()).collect::<Vec<_>>(), ["crashed"]);
    let texts = ["one", "two", "three"];
    let lines: Vec<_> = texts
        .iter()
        .map(|text| NewServiceLogLine { unit, replica: "web-1", release: 1, stream: "stdout", at: 41, text })
        .collect();
    store.service_logs().append(&lines, 2).await.expect("append");
    let kept = store.service_logs().after(unit, 0, 10).await.expect("lines");
    assert_eq!(kept.iter().map(|line| line.text.as_str()).collect::<Vec<_>>(), ["two", "three"]);
    let later = store.service_logs().after(unit, kept[0].id, 10).await.expect("lines");
    assert_eq!(later.iter().map(|line| line.text.as_str()).collect::<Vec<_>>(), ["three"]);
}

async fn deployments_on_several_hosts(store: Store, _db: &TestDb) {
    let register = |name, prefix| NewAgent { name, labels: &[], token_prefix: prefix, token_hash: "h" };
    let one = store.agents().register(&register("one", "p1"), 1).await.expect("register");
    let two = store.agents().register(&register("two", "p2"), 1).await.expect("register");
    let other = store.agents().register(&register("other", "p3"), 1).await.expect("register");
    let project = store.projects().create(&project("shop"), 1).await.expect("project");
    let hosts = [one.id, two.id];
    let new = |release, status| NewDeployment {
        project_id: project.id,
        service: "web",
        environment: "production",
        release: Some(release),
        strategy: "rolling",
        status,
        reason: None,
        triggered_by: "alice",
        rollback_of: None,
        is_rollback: false,
        agent_id: Some(one.id),
        hosts: &hosts,
        author: "bob",
        commits: "[]",
        gates: "[]",
        target: "{}",
        job_id: None,
        run_id: None,
        commit_sha: None,
        url: None,
    };
    let first = store.deployments().create(&new(1, DeploymentStatus::InProgress), 2).await.expect("create");
    let placed = |agent_id| {
        let store = store.clone();
        async move {
            let placed = store.deployments().placed_on(agent_id).await.expect("placed");
            placed.iter().map(|deployment| deployment.id).collect::<Vec<_>>()
        }
    };
    assert_eq!((placed(one.id).await, placed(two.id).await), (vec![first.id], vec![first.id]));
    assert!(placed(other.id).await.is_empty());
    let hosts_of = |id| {
        let store = store.clone();
        async move {
            let hosts = store.deployments().hosts(id).await.expect("hosts");
            hosts.iter().map(|host| (host.agent_id, host.status, host.finished_at)).collect::<Vec<_>>()
        }
    };
    assert_eq!(
        hosts_of(first.id).await,
        [(one.id, DeploymentStatus::InProgress, None), (two.id, DeploymentStatus::InProgress, None)]
    );

    let succeeded = ferry_store::HostReport {
        status: DeploymentStatus::Succeeded,
        reason: Some("serves"),
        steps: r#"[{"name":"start","at":3}]"#,
        analysis: None,
    };
    store.deployments().record_host(first.id, one.id, &succeeded, 4).await.expect("record");
    store.deployments().record_host(first.id, one.id, &succeeded, 5).await.expect("again");
    assert_eq!(
        hosts_of(first.id).await,
        [(one.id, DeploymentStatus::Succeeded, Some(4)), (two.id, DeploymentStatus::InProgress, None)]
    );
    // A host that succeeded is rolled back with the others after a failure elsewhere.
    let cancelled = ferry_store::HostReport { status: DeploymentStatus::Cancelled, ..succeeded };
    store.deployments().record_host(first.id, one.id, &cancelled, 6).await.expect("record");
    let hosts = store.deployments().hosts(first.id).await.expect("hosts");
    assert_eq!(
        (hosts[0].status, hosts[0].reason.as_deref(), hosts[0].steps.as_str(), hosts[0].finished_at),
        (DeploymentStatus::Cancelled, Some("serves"), r#"[{"name":"start","at":3}]"#, Some(4))
    );
    let stranger = store.deployments().record_host(first.id, other.id, &succeeded, 7).await;
    assert!(matches!(stranger, Err(StoreError::NotFound { .. })), "{stranger:?}");

    store
        .deployments()
        .transition(first.id, &[DeploymentStatus::InProgress], DeploymentStatus::Succeeded, None, 8)
        .await
        .expect("finish");
    let second = store.deployments().create(&new(2, DeploymentStatus::Failed), 9).await.expect("create");
    assert_eq!(
        hosts_of(second.id).await,
        [(one.id, DeploymentStatus::Failed, None), (two.id, DeploymentStatus::Failed, None)]
    );
    // What serves on each host is the last deployment that succeeded on it.
    assert_eq!((placed(one.id).await, placed(two.id).await), (vec![first.id], vec![first.id]));
    // A deployment whose host is gone is not recorded, nor is any of its hosts.
    let gone = [one.id, 999_999];
    let refused =
        store.deployments().create(&NewDeployment { hosts: &gone, ..new(3, DeploymentStatus::Queued) }, 10).await;
    assert!(matches!(refused, Err(StoreError::Conflict(_))), "{refused:?}");
    let listed = store.deployments().list(project.id, None, None, 10).await.expect("list");
    assert_eq!(listed.iter().map(|deployment| deployment.release).collect::<Vec<_>>(), [Some(2), Some(1)]);
}
