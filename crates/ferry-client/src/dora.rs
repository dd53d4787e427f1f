//! The DORA routes (`ferry_proto::dora`): a unit's five keys, incidents opened, listed, read
//! with their timelines, acknowledged and resolved, and deployments and incidents sent from outside.

use ferry_proto::dora::{DoraEvents, DoraEventsRecorded, DoraReport, IncidentDetail, IncidentRequest, IncidentView};
use hyper::Method;

use crate::{Client, ClientError, segment};

/// Which unit and window [`Client::dora_report`] asks for.
#[derive(Debug, Clone, Copy)]
pub struct DoraQuery<'a> {
    /// `None`: every service of the project, added up.
    pub service: Option<&'a str>,
    pub environment: Option<&'a str>,
    pub window: Option<&'a str>,
    pub until: Option<&'a str>,
}

impl Client {
    /// `GET /api/v1/projects/{name}/dora?service=&environment=&window=&until=`.
    ///
    /// # Errors
    /// Any [`ClientError`]; 422 for a window or time the server does not read.
    pub async fn dora_report(&self, project: &str, query: DoraQuery<'_>) -> Result<DoraReport, ClientError> {
        let mut params = Vec::new();
        for (key, value) in [
            ("service", query.service),
            ("environment", query.environment),
            ("window", query.window),
            ("until", query.until),
        ] {
            if let Some(value) = value {
                params.push(format!("{key}={}", segment(value)));
            }
        }
        let mut path = format!("/api/v1/projects/{}/dora", segment(project));
        if !params.is_empty() {
            path = format!("{path}?{}", params.join("&"));
        }
        self.json(Method::GET, &path, None::<&()>).await
    }

    /// `POST /api/v1/projects/{name}/dora/events`.
    ///
    /// # Errors
    /// Any [`ClientError`].
    pub async fn record_dora_events(
        &self,
        project: &str,
        events: &DoraEvents,
    ) -> Result<DoraEventsRecorded, ClientError> {
        self.json(Method::POST, &format!("/api/v1/projects/{}/dora/events", segment(project)), Some(events)).await
    }

    /// `POST /api/v1/projects/{name}/incidents`.
    ///
    /// # Errors
    /// Any [`ClientError`]; 422 for a deployment of another unit.
    pub async fn open_incident(&self, project: &str, request: &IncidentRequest) -> Result<IncidentView, ClientError> {
        self.json(Method::POST, &format!("/api/v1/projects/{}/incidents", segment(project)), Some(request)).await
    }

    /// `GET /api/v1/projects/{name}/incidents`: newest first.
    ///
    /// # Errors
    /// Any [`ClientError`].
    pub async fn list_incidents(&self, project: &str) -> Result<Vec<IncidentView>, ClientError> {
        self.json(Method::GET, &format!("/api/v1/projects/{}/incidents", segment(project)), None::<&()>).await
    }

    /// `GET /api/v1/projects/{name}/incidents?open=true`: the open ones, newest first.
    ///
    /// # Errors
    /// Any [`ClientError`].
    pub async fn list_open_incidents(&self, project: &str) -> Result<Vec<IncidentView>, ClientError> {
        self.json(Method::GET, &format!("/api/v1/projects/{}/incidents?open=true", segment(project)), None::<&()>).await
    }

    /// `GET /api/v1/incidents/{id}`: the incident with its timeline.
    ///
    /// # Errors
    /// Any [`ClientError`]; 404 without such an incident.
    pub async fn get_incident(&self, id: i64) -> Result<IncidentDetail, ClientError> {
        self.json(Method::GET, &format!("/api/v1/incidents/{id}"), None::<&()>).await
    }

    /// `POST /api/v1/incidents/{id}/ack`.
    ///
    /// # Errors
    /// Any [`ClientError`]; 404 without such an incident.
    pub async fn ack_incident(&self, id: i64) -> Result<IncidentView, ClientError> {
        self.json(Method::POST, &format!("/api/v1/incidents/{id}/ack"), None::<&()>).await
    }

    /// `POST /api/v1/incidents/{id}/resolve`.
    ///
    /// # Errors
    /// Any [`ClientError`]; 404 without such an incident.
    pub async fn resolve_incident(&self, id: i64) -> Result<IncidentView, ClientError> {
        self.json(Method::POST, &format!("/api/v1/incidents/{id}/resolve"), None::<&()>).await
    }
}
