//! The deployment routes (`ferry_proto::deployments`): deploying, listing and reading
//! deployments, approving, rolling back, a project's status and plan, a service's output.

use std::collections::VecDeque;
use std::time::Duration;

use ferry_proto::deployments::{
    ApprovalRequest, DeploymentRequest, DeploymentView, PlanView, RollbackRequest, ServiceLogPage, StatusView,
};
use http_body_util::BodyExt as _;
use hyper::Method;
use hyper::body::Incoming;

use crate::sse::{SseEvent, SseParser};
use crate::{CALL_TIMEOUT, CLAIM_GRACE, Client, ClientError, refusal, segment};

/// A deployment as it changes, from `GET /api/v1/deployments/{id}/events`: read with
/// [`DeploymentEvents::next`].
#[derive(Debug)]
pub struct DeploymentEvents {
    base: String,
    path: String,
    body: Incoming,
    parser: SseParser,
    pending: VecDeque<SseEvent>,
    ended: bool,
}

impl DeploymentEvents {
    /// The deployment each time it changed, or `None` after the server said it is over (the
    /// last view it sent was over). Waits as long as the server takes; keep-alives are skipped.
    ///
    /// # Errors
    /// [`ClientError::Connection`] when the stream broke or ended before the deployment was
    /// over, [`ClientError::Unexpected`] for an event that is not a deployment.
    pub async fn next(&mut self) -> Result<Option<DeploymentView>, ClientError> {
        loop {
            if self.ended {
                return Ok(None);
            }
            while let Some(event) = self.pending.pop_front() {
                match event.event.as_str() {
                    "deployment" => {
                        return serde_json::from_str(&event.data).map(Some).map_err(|error| ClientError::Unexpected {
                            method: "GET".to_owned(),
                            path: self.path.clone(),
                            message: format!("a deployment event: {error}"),
                        });
                    }
                    "end" => {
                        self.ended = true;
                        return Ok(None);
                    }
                    "error" => return Err(self.broke(format!("the server stopped the stream: {}", event.data))),
                    // Events this client does not know yet are for newer clients.
                    _ => {}
                }
            }
            match self.body.frame().await {
                Some(Ok(frame)) => {
                    if let Some(data) = frame.data_ref() {
                        self.pending.extend(self.parser.push(data));
                    }
                }
                Some(Err(error)) => return Err(self.broke(crate::error_chain(&error))),
                None => return Err(self.broke("the stream ended before the deployment was over".to_owned())),
            }
        }
    }

    fn broke(&self, message: String) -> ClientError {
        ClientError::Connection { url: self.base.clone(), message }
    }
}

/// `?environment=ENV`, or nothing.
fn environment_query(environment: Option<&str>) -> String {
    environment.map_or_else(String::new, |environment| format!("?environment={}", segment(environment)))
}

impl Client {
    /// `POST /api/v1/projects/{name}/deployments`.
    ///
    /// # Errors
    /// Any [`ClientError`]; 404 without such a release, 422 when it cannot go there.
    pub async fn deploy(&self, project: &str, request: &DeploymentRequest) -> Result<DeploymentView, ClientError> {
        self.json(Method::POST, &format!("/api/v1/projects/{}/deployments", segment(project)), Some(request)).await
    }

    /// `GET /api/v1/projects/{name}/deployments?service=&environment=`: newest first.
    ///
    /// # Errors
    /// Any [`ClientError`].
    pub async fn list_deployments(
        &self,
        project: &str,
        service: Option<&str>,
        environment: Option<&str>,
    ) -> Result<Vec<DeploymentView>, ClientError> {
        let mut query = Vec::new();
        if let Some(service) = service {
            query.push(format!("service={}", segment(service)));
        }
        if let Some(environment) = environment {
            query.push(format!("environment={}", segment(environment)));
        }
        let query = if query.is_empty() { String::new() } else { format!("?{}", query.join("&")) };
        self.json(Method::GET, &format!("/api/v1/projects/{}/deployments{query}", segment(project)), None::<&()>).await
    }

    /// `GET /api/v1/deployments/{id}`.
    ///
    /// # Errors
    /// Any [`ClientError`].
    pub async fn get_deployment(&self, id: i64) -> Result<DeploymentView, ClientError> {
        self.json(Method::GET, &format!("/api/v1/deployments/{id}"), None::<&()>).await
    }

    /// `GET /api/v1/deployments/{id}/events`: the deployment as it changes, until it is over.
    ///
    /// # Errors
    /// Opening the stream: any [`ClientError`]; 404 when there is no such deployment.
    pub async fn follow_deployment(&self, id: i64) -> Result<DeploymentEvents, ClientError> {
        let path = format!("/api/v1/deployments/{id}/events");
        let response = self.send(Method::GET, &path, None, CALL_TIMEOUT).await?;
        let status = response.status();
        if !status.is_success() {
            let body = self.read_body(&Method::GET, &path, response.into_body(), CALL_TIMEOUT).await?;
            return Err(refusal(&Method::GET, &path, status, &body));
        }
        Ok(DeploymentEvents {
            base: self.base.clone(),
            path,
            body: response.into_body(),
            parser: SseParser::new(),
            pending: VecDeque::new(),
            ended: false,
        })
    }

    /// `POST /api/v1/deployments/{id}/approve`.
    ///
    /// # Errors
    /// Any [`ClientError`]; 403 for the release's author, 409 when it waits for no approval.
    pub async fn approve_deployment(&self, id: i64, comment: Option<&str>) -> Result<DeploymentView, ClientError> {
        let body = ApprovalRequest { comment: comment.map(str::to_owned) };
        self.json(Method::POST, &format!("/api/v1/deployments/{id}/approve"), Some(&body)).await
    }

    /// `POST /api/v1/deployments/{id}/cancel`.
    ///
    /// # Errors
    /// Any [`ClientError`]; 409 when it is over.
    pub async fn cancel_deployment(&self, id: i64) -> Result<DeploymentView, ClientError> {
        self.json(Method::POST, &format!("/api/v1/deployments/{id}/cancel"), None::<&()>).await
    }

    /// `POST /api/v1/projects/{name}/rollback`.
    ///
    /// # Errors
    /// Any [`ClientError`]; 409 when nothing succeeded there before.
    pub async fn rollback(&self, project: &str, request: &RollbackRequest) -> Result<DeploymentView, ClientError> {
        self.json(Method::POST, &format!("/api/v1/projects/{}/rollback", segment(project)), Some(request)).await
    }

    /// `GET /api/v1/projects/{name}/status?environment=`.
    ///
    /// # Errors
    /// Any [`ClientError`].
    pub async fn project_status(&self, project: &str, environment: Option<&str>) -> Result<StatusView, ClientError> {
        let query = environment_query(environment);
        self.json(Method::GET, &format!("/api/v1/projects/{}/status{query}", segment(project)), None::<&()>).await
    }

    /// `GET /api/v1/projects/{name}/plan?environment=`.
    ///
    /// # Errors
    /// Any [`ClientError`].
    pub async fn project_plan(&self, project: &str, environment: &str) -> Result<PlanView, ClientError> {
        let query = environment_query(Some(environment));
        self.json(Method::GET, &format!("/api/v1/projects/{}/plan{query}", segment(project)), None::<&()>).await
    }

    /// `GET /api/v1/projects/{name}/services/{service}/{environment}/logs?after=&wait_ms=`:
    /// the lines after `after`; when there are none yet, the server waits up to `wait_ms`
    /// (at most 30000) for one.
    ///
    /// # Errors
    /// Any [`ClientError`].
    pub async fn service_logs(
        &self,
        project: &str,
        service: &str,
        environment: &str,
        after: i64,
        wait_ms: u64,
    ) -> Result<ServiceLogPage, ClientError> {
        let path = format!(
            "/api/v1/projects/{}/services/{}/{}/logs?after={after}&wait_ms={wait_ms}",
            segment(project),
            segment(service),
            segment(environment)
        );
        let timeout = Duration::from_millis(wait_ms) + CLAIM_GRACE;
        let (_, bytes) = self.call(Method::GET, &path, None::<&()>, timeout).await?;
        crate::decode(&Method::GET, &path, &bytes)
    }
}
