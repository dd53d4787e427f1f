//! Runs, jobs, steps and logs as the API shows them, and the bodies that start, cancel and
//! repeat runs.

use std::borrow::Cow;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use utoipa::openapi::schema::{ObjectBuilder, OneOfBuilder, Schema, SchemaType, Type};
use utoipa::openapi::{Ref, RefOr};
use utoipa::{PartialSchema, ToSchema};

use crate::{Conclusion, Status};

/// A run in lists.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct RunView {
    pub id: i64,
    pub project: String,
    /// 1, 2, 3… per project.
    pub number: i64,
    pub workflow_file: String,
    /// The workflow's `name:`, or its file.
    pub workflow_name: String,
    pub event: String,
    pub git_ref: String,
    pub sha: String,
    /// The commit's subject line.
    pub title: String,
    /// The commit's author.
    pub author: String,
    /// Who or what started it: a token's name, `webhook`, `schedule`, `poll`.
    pub actor: String,
    /// `queued`, `in_progress` or `completed`.
    #[schema(value_type = String)]
    pub status: Status,
    #[schema(value_type = Option<crate::names::ConclusionWord>)]
    pub conclusion: Option<Conclusion>,
    pub created_at: i64,
    pub started_at: Option<i64>,
    pub finished_at: Option<i64>,
    /// Why it concluded without running, if it did.
    pub error: Option<String>,
    pub rerun_of: Option<i64>,
}

/// A step of a job.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct StepView {
    pub id: i64,
    pub step_idx: i64,
    pub name: String,
    #[schema(value_type = String)]
    pub status: Status,
    #[schema(value_type = Option<crate::names::ConclusionWord>)]
    pub outcome: Option<Conclusion>,
    #[schema(value_type = Option<crate::names::ConclusionWord>)]
    pub conclusion: Option<Conclusion>,
    pub started_at: Option<i64>,
    pub finished_at: Option<i64>,
}

/// A job instance of a run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct JobView {
    pub id: i64,
    /// The job's id in the workflow.
    pub key: String,
    pub name: String,
    #[schema(value_type = String)]
    pub status: Status,
    #[schema(value_type = Option<crate::names::ConclusionWord>)]
    pub conclusion: Option<Conclusion>,
    /// The jobs (by key) it needs.
    pub needs: Vec<String>,
    pub runs_on: Vec<String>,
    /// The runner that ran or runs it.
    pub runner: Option<String>,
    #[schema(value_type = Object)]
    pub outputs: Map<String, Value>,
    /// Why it failed outside its steps ("runner lost"), if it did; while it is `waiting` at
    /// its environment's gates, what it waits for.
    pub reason: Option<String>,
    /// The environment it deploys to (`environment:`), evaluated.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub environment: Option<String>,
    /// The deployment it is recorded as (`ferry approve DEPLOYMENT` lets it go).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deployment: Option<i64>,
    pub queued_at: i64,
    pub started_at: Option<i64>,
    pub finished_at: Option<i64>,
    pub steps: Vec<StepView>,
}

/// A workflow job that has no instance: skipped, or not reached yet.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct PlannedJob {
    pub key: String,
    pub name: String,
    pub needs: Vec<String>,
    /// `waiting` (its needs have not finished) or `skipped`.
    pub state: String,
}

/// A run with its job graph.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct RunDetail {
    pub run: RunView,
    pub jobs: Vec<JobView>,
    /// Workflow jobs without instances, so the graph shows every job.
    pub planned: Vec<PlannedJob>,
}

/// `POST /api/v1/projects/{name}/trigger`: start the workflows a dispatch triggers.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize, ToSchema)]
pub struct TriggerRequest {
    /// A branch, tag or full ref; the project's branch when left out.
    #[serde(default)]
    pub git_ref: Option<String>,
    /// Only this workflow file (as `.github/workflows/ci.yml` or `ci.yml`); else every
    /// workflow with `on: workflow_dispatch`.
    #[serde(default)]
    pub workflow: Option<String>,
    /// `workflow_dispatch` inputs.
    #[serde(default)]
    pub inputs: Map<String, Value>,
}

/// The runs a trigger started.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct TriggeredRuns {
    pub runs: Vec<RunView>,
}

/// `POST /api/v1/runs/{id}/rerun`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, ToSchema)]
pub struct RerunRequest {
    /// Run again only the jobs that did not succeed (and those that need them); the others
    /// keep their results.
    #[serde(default)]
    pub failed_only: bool,
}

/// A piece of a job's log: lines of one step, numbered per step.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct LogChunkView {
    pub job_id: i64,
    pub step_idx: i64,
    /// 1, 2, 3… per step, without gaps.
    pub seq: i64,
    pub lines: Vec<String>,
}

/// One Server-Sent Event of `GET /api/v1/runs/{id}/logs`, as a schema: `chunk` events whose
/// data is a [`LogChunkView`], then one `end` event whose data is `{}`. (A schema only.)
pub enum LogEvent {}

impl PartialSchema for LogEvent {
    fn schema() -> RefOr<Schema> {
        let event = |name: &str, data: RefOr<Schema>| {
            ObjectBuilder::new()
                .property(
                    "event",
                    ObjectBuilder::new().schema_type(SchemaType::new(Type::String)).enum_values(Some([name])),
                )
                .required("event")
                .property(
                    "data",
                    ObjectBuilder::new()
                        .schema_type(SchemaType::new(Type::String))
                        .content_media_type("application/json")
                        .content_schema(Some(data)),
                )
                .required("data")
        };
        let end = ObjectBuilder::new().schema_type(SchemaType::new(Type::Object)).max_properties(Some(0));
        OneOfBuilder::new()
            .item(event("chunk", RefOr::Ref(Ref::from_schema_name(LogChunkView::name()))))
            .item(event("end", end.into()))
            .description(Some("A `chunk` event with a LogChunkView, or the `end` event"))
            .into()
    }
}

impl ToSchema for LogEvent {
    fn name() -> Cow<'static, str> {
        Cow::Borrowed("LogEvent")
    }

    fn schemas(schemas: &mut Vec<(String, RefOr<Schema>)>) {
        schemas.push((LogChunkView::name().into_owned(), LogChunkView::schema()));
    }
}
