//! Runtime tokens: signed, bound to a job and its claim.

use super::*;

#[test]
fn a_token_verifies_under_its_key_only_and_unaltered() {
    let key = [7u8; 32];
    let claim = TokenClaim { job_id: 12, started_at: 1_700_000_000_123 };
    let token = issue(&key, claim);
    assert_eq!(verify(&key, &token), Some(claim));
    assert_eq!(verify(&[8u8; 32], &token), None, "another server's key");
    let other_job = token.replacen("ferryj_12_", "ferryj_13_", 1);
    assert_eq!(verify(&key, &other_job), None, "the job id is signed");
    let later_claim = token.replacen("_1700000000123_", "_1700000000124_", 1);
    assert_eq!(verify(&key, &later_claim), None, "so is the claim");
    for bad in ["", "ferryj_", "ferryj_1_2", "ferryj_x_2_00", "ferry_abc_def", &token[..token.len() - 2]] {
        assert_eq!(verify(&key, bad), None, "{bad:?}");
    }
}
