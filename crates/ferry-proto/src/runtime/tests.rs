//! The runtime bodies read what `@actions/cache` sends, in the spellings it sends them.

use super::*;

#[test]
fn a_finalize_request_takes_the_size_as_the_toolkit_sends_it() {
    // protobuf-ts' toJson with `useProtoFieldName`: snake_case, int64 as a string.
    let sent = r#"{"key":"cargo-Linux-1","version":"abc","size_bytes":"1048576"}"#;
    let request: FinalizeCacheEntryUploadRequest = serde_json::from_str(sent).expect("the toolkit's request");
    assert_eq!(request.size_bytes, 1_048_576);
    let camel = r#"{"key":"k","version":"v","sizeBytes":7}"#;
    let request: FinalizeCacheEntryUploadRequest = serde_json::from_str(camel).expect("json names, a number");
    assert_eq!(request.size_bytes, 7);
    assert!(
        serde_json::from_str::<FinalizeCacheEntryUploadRequest>(r#"{"key":"k","version":"v","size_bytes":"x"}"#)
            .is_err()
    );
}

#[test]
fn a_download_request_without_restore_keys_has_none() {
    let request: GetCacheEntryDownloadUrlRequest =
        serde_json::from_str(r#"{"key":"k","version":"v"}"#).expect("emitDefaultValues is false");
    assert!(request.restore_keys.is_empty());
    let request: GetCacheEntryDownloadUrlRequest =
        serde_json::from_str(r#"{"key":"k","restore_keys":["a-","b-"],"version":"v"}"#).expect("restore keys");
    assert_eq!(request.restore_keys, ["a-", "b-"]);
}

#[test]
fn legacy_bodies_are_camel_case() {
    let reserve: LegacyReserve =
        serde_json::from_str(r#"{"key":"k","version":"v","cacheSize":12}"#).expect("reserveCache's body");
    assert_eq!(reserve.cache_size, Some(12));
    let entry = LegacyCacheEntry {
        cache_key: "k".to_owned(),
        scope: "refs/heads/main".to_owned(),
        cache_version: "v".to_owned(),
        archive_location: "http://x/a".to_owned(),
    };
    let json = serde_json::to_value(&entry).expect("json");
    assert_eq!(json["archiveLocation"], "http://x/a");
    assert_eq!(json["cacheKey"], "k");
}
