//! The SLO route (`ferry_proto::slos`): each SLO's error budget in each environment.

use ferry_proto::slos::SloView;
use hyper::Method;

use crate::{Client, ClientError, segment};

impl Client {
    /// `GET /api/v1/projects/{name}/slos?service=&environment=`.
    ///
    /// # Errors
    /// Any [`ClientError`]; 422 when the project's deploy.yml cannot be read or has errors.
    pub async fn slos(
        &self,
        project: &str,
        service: Option<&str>,
        environment: Option<&str>,
    ) -> Result<Vec<SloView>, ClientError> {
        let params: Vec<String> = [("service", service), ("environment", environment)]
            .into_iter()
            .filter_map(|(key, value)| value.map(|value| format!("{key}={}", segment(value))))
            .collect();
        let mut path = format!("/api/v1/projects/{}/slos", segment(project));
        if !params.is_empty() {
            path = format!("{path}?{}", params.join("&"));
        }
        self.json(Method::GET, &path, None::<&()>).await
    }
}
