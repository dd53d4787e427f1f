//! Jobs' `ACTIONS_RUNTIME_TOKEN`s: `ferryj_<job id>_<started at>_<HMAC-SHA256>`, signed with
//! a key derived from the server's `secret.key` over the job's id and the time its current
//! claim started it. Nothing is stored: a token is valid while its job is in progress under
//! that claim, so it dies when the job ends (or is lost and claimed again), and no other
//! token (a user's, a runner's) opens the runtime services.

use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;

/// What a valid-looking token names; the caller checks the job is in progress under it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct TokenClaim {
    pub(crate) job_id: i64,
    pub(crate) started_at: i64,
}

fn mac(key: &[u8; 32], claim: TokenClaim) -> Hmac<Sha256> {
    let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(key).expect("HMAC takes a key of any length");
    mac.update(format!("runtime:{}:{}", claim.job_id, claim.started_at).as_bytes());
    mac
}

/// The token of the job `claim` names.
pub(crate) fn issue(key: &[u8; 32], claim: TokenClaim) -> String {
    let tag = hex::encode(mac(key, claim).finalize().into_bytes());
    format!("ferryj_{}_{}_{tag}", claim.job_id, claim.started_at)
}

/// The job and claim `token` was issued for, when its signature holds (checked in constant time).
pub(crate) fn verify(key: &[u8; 32], token: &str) -> Option<TokenClaim> {
    let mut parts = token.strip_prefix("ferryj_")?.splitn(3, '_');
    let job_id = parts.next()?.parse().ok()?;
    let started_at = parts.next()?.parse().ok()?;
    let tag = hex::decode(parts.next()?).ok()?;
    let claim = TokenClaim { job_id, started_at };
    mac(key, claim).verify_slice(&tag).ok().map(|()| claim)
}

#[cfg(test)]
mod tests;
