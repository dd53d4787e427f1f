//! What the API answers about access itself: the one-time web UI login links a command line
//! tool prints instead of a token.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// A one-time link that logs a browser into the web UI as the token that asked for it
/// (`POST /api/v1/login-links`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct LoginLink {
    /// `<server>/login/link/<ticket>`: opening it starts a web UI session (12 hours, like a
    /// login with the token) and the link stops working.
    pub url: String,
    /// When the link stops working unused (milliseconds since the Unix epoch).
    pub expires_at: i64,
}
