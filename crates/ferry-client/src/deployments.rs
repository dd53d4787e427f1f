//! The deployment routes (`ferry_proto::deployments`): deploying, listing and reading
//! deployments, approving, rolling back, a project's status and plan, a service's output.

use ferry_proto::deployments::{
    ApprovalRequest, DeploymentRequest, DeploymentView, PlanView, RollbackRequest, ServiceLogPage, StatusView,
};
use hyper::Method;

use crate::{Client, ClientError, segment};

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

    /// `GET /api/v1/projects/{name}/services/{service}/{environment}/logs?after=`.
    ///
    /// # Errors
    /// Any [`ClientError`].
    pub async fn service_logs(
        &self,
        project: &str,
        service: &str,
        environment: &str,
        after: i64,
    ) -> Result<ServiceLogPage, ClientError> {
        let path = format!(
            "/api/v1/projects/{}/services/{}/{}/logs?after={after}",
            segment(project),
            segment(service),
            segment(environment)
        );
        self.json(Method::GET, &path, None::<&()>).await
    }
}
