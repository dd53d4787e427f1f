//! The metrics routes: a backfill of OpenMetrics text (`ferry metrics import`).

use std::time::Duration;

use ferry_proto::metrics::ImportReport;
use hyper::Method;

use crate::{Client, ClientError, Upload, decode};

/// How long a backfill may take: the server stores every sample before it answers.
const IMPORT_TIMEOUT: Duration = Duration::from_secs(30 * 60);

impl Client {
    /// `POST /api/v1/metrics/import`: OpenMetrics text ending with `# EOF`, every sample with
    /// a timestamp.
    ///
    /// # Errors
    /// Any [`ClientError`]; 400 names the first line the server does not read.
    pub async fn import_metrics(&self, text: Vec<u8>) -> Result<ImportReport, ClientError> {
        let path = "/api/v1/metrics/import";
        let upload = Upload::bytes(text, "application/openmetrics-text; version=1.0.0; charset=utf-8");
        let (_, body) = self.exchange(Method::POST, path, Some(upload), IMPORT_TIMEOUT).await?;
        decode(&Method::POST, path, &body)
    }
}
