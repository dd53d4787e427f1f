//! The `on:` section: which events start a workflow, and their filters and inputs.

use indexmap::IndexMap;
use serde::Serialize;

use super::{Spanned, Text};

/// One event under `on:`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Trigger {
    /// The event name as written (`push`, `workflow_dispatch`, …).
    pub event: Text,
    pub kind: TriggerKind,
}

/// What an event's configuration says, by event.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum TriggerKind {
    /// `push`, `pull_request` and `pull_request_target`, with their filters.
    Ref(RefFilters),
    /// `workflow_dispatch` with its typed inputs.
    Dispatch(IndexMap<String, DispatchInput>),
    /// `schedule`: the cron strings (5-field POSIX cron, UTC).
    Schedule(Vec<Text>),
    /// `workflow_call`: the interface of a reusable workflow.
    Call(WorkflowCall),
    /// Any other event; its configuration (`types:`, `workflows:`, …) as JSON, `null` if none.
    Other(serde_json::Value),
}

/// Filters of `push`, `pull_request` and `pull_request_target`. `None` means the filter is
/// not written (so it does not restrict anything); the `-ignore` and plain forms of one filter
/// never both appear in a valid workflow.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct RefFilters {
    pub branches: Option<Vec<Text>>,
    pub branches_ignore: Option<Vec<Text>>,
    pub tags: Option<Vec<Text>>,
    pub tags_ignore: Option<Vec<Text>>,
    pub paths: Option<Vec<Text>>,
    pub paths_ignore: Option<Vec<Text>>,
    /// Activity types (`opened`, `synchronize`, …) for pull-request events.
    pub types: Vec<Text>,
}

/// A `workflow_dispatch` input.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DispatchInput {
    pub description: Option<Text>,
    pub required: bool,
    /// As JSON: a string, boolean or number.
    pub default: Option<Spanned<serde_json::Value>>,
    pub kind: DispatchInputType,
}

/// The `type:` of a `workflow_dispatch` input; `string` when not written.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum DispatchInputType {
    String,
    Boolean,
    Number,
    /// One of `options`.
    Choice {
        options: Vec<Text>,
    },
    /// The name of one of the repository's environments.
    Environment,
}

/// `workflow_call`: inputs, outputs and secrets of a reusable workflow.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct WorkflowCall {
    pub inputs: IndexMap<String, CallInput>,
    pub outputs: IndexMap<String, CallOutput>,
    pub secrets: IndexMap<String, CallSecret>,
}

/// A `workflow_call` input; `default` may hold expressions over `github`, `inputs` and `vars`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CallInput {
    pub description: Option<Text>,
    pub required: bool,
    pub default: Option<Spanned<serde_json::Value>>,
    pub kind: CallInputType,
}

/// The `type:` of a `workflow_call` input (required by GitHub).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum CallInputType {
    String,
    Boolean,
    Number,
}

/// A `workflow_call` output.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CallOutput {
    pub description: Option<Text>,
    /// An expression over `jobs.<id>.outputs`.
    pub value: Option<Text>,
}

/// A secret a reusable workflow accepts.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CallSecret {
    pub description: Option<Text>,
    pub required: bool,
}
