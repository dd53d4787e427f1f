//! `action.yml`: the metadata of an action, and how it runs.

use indexmap::IndexMap;
use serde::Serialize;

use super::{Spanned, Step, Text};

/// One `action.yml` / `action.yaml`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Action {
    pub name: Option<Text>,
    pub description: Option<Text>,
    pub author: Option<Text>,
    pub inputs: IndexMap<String, ActionInput>,
    pub outputs: IndexMap<String, ActionOutput>,
    /// `None` when `runs:` is missing or unusable (a diagnostic says why).
    pub runs: Option<Runs>,
    /// `branding:` as JSON.
    pub branding: Option<Spanned<serde_json::Value>>,
}

/// An action input. `required` is advisory on GitHub (a missing input is not an error).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ActionInput {
    pub description: Option<Text>,
    pub required: Option<Spanned<bool>>,
    /// As written; may hold expressions (`${{ github.token }}`).
    pub default: Option<Text>,
    pub deprecation_message: Option<Text>,
}

/// An action output.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ActionOutput {
    pub description: Option<Text>,
    /// Composite actions only: the template giving the output.
    pub value: Option<Text>,
}

/// `runs:`.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Runs {
    /// `using: composite`: the steps, where every `run` step names its `shell`.
    Composite { steps: Vec<Step> },
    /// `using: node12|node16|node20|node24`.
    Node { using: Text, main: Text, pre: Option<Text>, pre_if: Option<Text>, post: Option<Text>, post_if: Option<Text> },
    /// `using: docker`: `image` is a Dockerfile path or `docker://image`.
    Docker {
        image: Text,
        args: Vec<Text>,
        entrypoint: Option<Text>,
        /// Run in the image before the job's steps, when `pre_if` holds (`always()` if absent).
        pre_entrypoint: Option<Text>,
        pre_if: Option<Text>,
        /// Run in the image at the job's end, when `post_if` holds (`always()` if absent).
        post_entrypoint: Option<Text>,
        post_if: Option<Text>,
        env: super::Env,
    },
}
