//! The agent protocol's calls (`ferry agent`): registering an agent with an admin token,
//! then, with the agent's own token, saying hello, long-polling the desired state, reporting,
//! shipping replicas' output, pushing what it scraped and fetching release files by digest.
//! The route table is in `ferry_proto::agent`.

use std::path::Path;
use std::time::Duration;

use ferry_proto::agent::{
    AgentHello, AgentRegistration, AgentReport, AgentView, AgentWelcome, DesiredState, RegisteredAgent, ServiceLogBatch,
};
use hyper::{Method, StatusCode};

use crate::{CALL_TIMEOUT, Client, ClientError, Upload, segment};

/// How much longer than the wait it asked for a desired-state poll may take before it counts
/// as lost.
const POLL_GRACE: Duration = Duration::from_secs(10);

impl Client {
    /// `POST /api/v1/agents` (admin token): registers an agent, or replaces the token of one
    /// with this name.
    ///
    /// # Errors
    /// Any [`ClientError`]; 401/403 when the token is not an admin's, 400 for a bad name.
    pub async fn register_agent(&self, registration: &AgentRegistration) -> Result<RegisteredAgent, ClientError> {
        self.json(Method::POST, "/api/v1/agents", Some(registration)).await
    }

    /// `GET /api/v1/agents` (admin token): every agent, revoked ones included.
    ///
    /// # Errors
    /// Any [`ClientError`]; 401/403 when the token is not an admin's.
    pub async fn list_agents(&self) -> Result<Vec<AgentView>, ClientError> {
        self.json(Method::GET, "/api/v1/agents", None::<&()>).await
    }

    /// `POST /api/v1/agent/hello` (agent token): what an agent says when it starts and after
    /// the server came back.
    ///
    /// # Errors
    /// Any [`ClientError`]; 401 when the token is not an agent's (or was revoked).
    pub async fn agent_hello(&self, hello: &AgentHello) -> Result<AgentWelcome, ClientError> {
        self.json(Method::POST, "/api/v1/agent/hello", Some(hello)).await
    }

    /// `GET /api/v1/agent/desired?after=G&wait_ms=N`: the desired state when it is newer than
    /// generation `after`, waiting up to `wait_ms` for one; `None` when none came in time.
    ///
    /// # Errors
    /// Any [`ClientError`]; 401 when the token is not an agent's.
    pub async fn desired_state(&self, after: i64, wait_ms: u64) -> Result<Option<DesiredState>, ClientError> {
        let path = format!("/api/v1/agent/desired?after={after}&wait_ms={wait_ms}");
        let timeout = Duration::from_millis(wait_ms) + POLL_GRACE;
        let (status, body) = self.call(Method::GET, &path, None::<&()>, timeout).await?;
        if status == StatusCode::NO_CONTENT {
            return Ok(None);
        }
        crate::decode(&Method::GET, &path, &body).map(Some)
    }

    /// `POST /api/v1/agent/report`: what the agent runs now; also its heartbeat.
    ///
    /// # Errors
    /// Any [`ClientError`]; 401 when the token is not an agent's.
    pub async fn agent_report(&self, report: &AgentReport) -> Result<(), ClientError> {
        self.call(Method::POST, "/api/v1/agent/report", Some(report), CALL_TIMEOUT).await.map(drop)
    }

    /// `POST /api/v1/agent/logs`: a batch of replicas' output lines, masked by the agent.
    ///
    /// # Errors
    /// Any [`ClientError`]; 401 when the token is not an agent's.
    pub async fn agent_logs(&self, batch: &ServiceLogBatch) -> Result<(), ClientError> {
        self.call(Method::POST, "/api/v1/agent/logs", Some(batch), CALL_TIMEOUT).await.map(drop)
    }

    /// `POST /api/v1/agent/metrics`: samples the agent scraped, as a remote-write 1.0 body
    /// (a snappy-compressed protobuf `WriteRequest`, `ferry_promql::remote_write::encode`).
    ///
    /// # Errors
    /// Any [`ClientError`]; 400 when the body is not a remote-write request (do not send it
    /// again), 401 when the token is not an agent's, 5xx when the server could not store it
    /// (send it again).
    pub async fn agent_metrics(&self, body: Vec<u8>) -> Result<(), ClientError> {
        let upload = Upload::bytes(body, "application/x-protobuf");
        self.exchange(Method::POST, "/api/v1/agent/metrics", Some(upload), CALL_TIMEOUT).await.map(drop)
    }

    /// `GET /api/v1/agent/blobs/{sha256}`: writes a blob of a release in the agent's desired
    /// state to `dest`, checking its digest.
    ///
    /// # Errors
    /// Any [`ClientError`]; 404 when no release of the agent's desired state names it;
    /// [`ClientError::Unexpected`] when `dest` cannot be written or the bytes are not the
    /// blob `digest`.
    pub async fn agent_blob(&self, digest: &str, dest: &Path) -> Result<(), ClientError> {
        let api_path = format!("/api/v1/agent/blobs/{}", segment(digest));
        let actual = self.download(&api_path, dest).await?;
        if actual != digest {
            return Err(ClientError::Unexpected {
                method: "GET".to_owned(),
                path: api_path,
                message: format!("the bytes' SHA-256 is {actual}, not {digest}"),
            });
        }
        Ok(())
    }
}
