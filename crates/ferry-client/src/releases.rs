//! The release routes (`ferry_proto::releases`), a project's blob uploads, and the
//! environment-scoped secrets and variables.

use std::path::Path;

use ferry_proto::artifacts::BlobList;
use ferry_proto::releases::{ReleaseRequest, ReleaseView};
use hyper::Method;
use serde_json::{Value, json};

use crate::{CALL_TIMEOUT, Client, ClientError, segment};

/// `?environment=ENV`, or nothing for the project's own.
fn scope(environment: Option<&str>) -> String {
    environment.map_or_else(String::new, |environment| format!("?environment={}", segment(environment)))
}

impl Client {
    /// `GET /api/v1/projects/{name}/releases?service=S`: newest first.
    ///
    /// # Errors
    /// Any [`ClientError`]; 404 when there is no such project.
    pub async fn list_releases(&self, project: &str, service: Option<&str>) -> Result<Vec<ReleaseView>, ClientError> {
        let query = service.map_or_else(String::new, |service| format!("?service={}", segment(service)));
        self.json(Method::GET, &format!("/api/v1/projects/{}/releases{query}", segment(project)), None::<&()>).await
    }

    /// `POST /api/v1/projects/{name}/releases`: makes a release.
    ///
    /// # Errors
    /// Any [`ClientError`]; 422 with what to fix when the release cannot be made.
    pub async fn create_release(&self, project: &str, request: &ReleaseRequest) -> Result<ReleaseView, ClientError> {
        self.json(Method::POST, &format!("/api/v1/projects/{}/releases", segment(project)), Some(request)).await
    }

    /// `POST /api/v1/projects/{name}/blobs/missing`: which of `digests` to upload for the project.
    ///
    /// # Errors
    /// Any [`ClientError`].
    pub async fn missing_project_blobs(&self, project: &str, digests: &[String]) -> Result<Vec<String>, ClientError> {
        let list = BlobList { digests: digests.to_vec() };
        let path = format!("/api/v1/projects/{}/blobs/missing", segment(project));
        let missing: BlobList = self.json(Method::POST, &path, Some(&list)).await?;
        Ok(missing.digests)
    }

    /// `PUT /api/v1/projects/{name}/blobs/{sha256}`: uploads the file at `path` as blob
    /// `digest` of the project, streamed from the file.
    ///
    /// # Errors
    /// As [`Client::upload_blob`].
    pub async fn upload_project_blob(&self, project: &str, digest: &str, path: &Path) -> Result<(), ClientError> {
        self.put_file(&format!("/api/v1/projects/{}/blobs/{}", segment(project), segment(digest)), path).await
    }

    /// `PUT /api/v1/projects/{name}/secrets/{key}?environment=ENV`: sets a secret of the
    /// project (`None`) or of one of its environments.
    ///
    /// # Errors
    /// As [`Client::set_secret`].
    pub async fn set_secret_in(
        &self,
        project: &str,
        environment: Option<&str>,
        key: &str,
        value: &str,
    ) -> Result<(), ClientError> {
        let path = format!("/api/v1/projects/{}/secrets/{}{}", segment(project), segment(key), scope(environment));
        self.call(Method::PUT, &path, Some(&json!({"value": value})), CALL_TIMEOUT).await.map(drop)
    }

    /// `PUT /api/v1/projects/{name}/vars/{key}?environment=ENV`.
    ///
    /// # Errors
    /// As [`Client::set_secret`].
    pub async fn set_var_in(
        &self,
        project: &str,
        environment: Option<&str>,
        key: &str,
        value: &str,
    ) -> Result<(), ClientError> {
        let path = format!("/api/v1/projects/{}/vars/{}{}", segment(project), segment(key), scope(environment));
        self.call(Method::PUT, &path, Some(&json!({"value": value})), CALL_TIMEOUT).await.map(drop)
    }

    /// `GET /api/v1/projects/{name}/vars?environment=ENV`: `[{name, value, updated_at}]`.
    ///
    /// # Errors
    /// Any [`ClientError`]; 404 when there is no such project.
    pub async fn list_vars(&self, project: &str, environment: Option<&str>) -> Result<Vec<Value>, ClientError> {
        let path = format!("/api/v1/projects/{}/vars{}", segment(project), scope(environment));
        self.json(Method::GET, &path, None::<&()>).await
    }

    /// `DELETE /api/v1/projects/{name}/vars/{key}?environment=ENV`.
    ///
    /// # Errors
    /// Any [`ClientError`]; 404 when it is not set.
    pub async fn delete_var(&self, project: &str, environment: Option<&str>, key: &str) -> Result<(), ClientError> {
        let path = format!("/api/v1/projects/{}/vars/{}{}", segment(project), segment(key), scope(environment));
        self.call(Method::DELETE, &path, None::<&()>, CALL_TIMEOUT).await.map(drop)
    }
}
