//! Alert routing's routes (`ferry_proto::alerts`, Alertmanager's API v2 under
//! `/alertmanager`): alerts posted and listed, silences made, listed and expired.

use ferry_proto::alerts::{GettableAlert, GettableSilence, PostableAlert, PostableSilence, SilenceCreated};
use hyper::Method;

use crate::{CALL_TIMEOUT, Client, ClientError, segment};

impl Client {
    /// `POST /alertmanager/api/v2/alerts` (an admin token).
    ///
    /// # Errors
    /// Any [`ClientError`]; 400 for an alert without labels or with a bad time.
    pub async fn post_alerts(&self, alerts: &[PostableAlert]) -> Result<(), ClientError> {
        self.call(Method::POST, "/alertmanager/api/v2/alerts", Some(&alerts), CALL_TIMEOUT).await.map(drop)
    }

    /// `GET /alertmanager/api/v2/alerts`.
    ///
    /// # Errors
    /// Any [`ClientError`].
    pub async fn list_alerts(&self) -> Result<Vec<GettableAlert>, ClientError> {
        self.json(Method::GET, "/alertmanager/api/v2/alerts", None::<&()>).await
    }

    /// `GET /alertmanager/api/v2/silences`.
    ///
    /// # Errors
    /// Any [`ClientError`].
    pub async fn list_silences(&self) -> Result<Vec<GettableSilence>, ClientError> {
        self.json(Method::GET, "/alertmanager/api/v2/silences", None::<&()>).await
    }

    /// `POST /alertmanager/api/v2/silences`: the new silence's id.
    ///
    /// # Errors
    /// Any [`ClientError`]; 400 for matchers that match everything or a window in the past.
    pub async fn create_silence(&self, silence: &PostableSilence) -> Result<SilenceCreated, ClientError> {
        self.json(Method::POST, "/alertmanager/api/v2/silences", Some(silence)).await
    }

    /// `DELETE /alertmanager/api/v2/silence/{id}`.
    ///
    /// # Errors
    /// Any [`ClientError`]; 404 without such a silence, 400 when it had expired.
    pub async fn expire_silence(&self, id: &str) -> Result<(), ClientError> {
        let path = format!("/alertmanager/api/v2/silence/{}", segment(id));
        self.call(Method::DELETE, &path, None::<&()>, CALL_TIMEOUT).await.map(drop)
    }
}
