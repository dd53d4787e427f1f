//! Token format and hashing.

use super::*;

#[test]
fn a_token_is_ferry_prefix_secret_and_only_its_secret_is_hashed() {
    let token = generate();
    let parts: Vec<&str> = token.plaintext.split('_').collect();
    assert_eq!(parts.len(), 3, "{}", token.plaintext);
    assert_eq!(parts[0], "ferry");
    assert_eq!(parts[1], token.prefix);
    assert_eq!(parts[1].len(), 16);
    assert_eq!(parts[2].len(), 64);
    assert_eq!(token.hash, hash(parts[2]));
    assert!(!token.hash.contains(parts[2]));
    assert_ne!(generate().plaintext, token.plaintext);
}

#[test]
fn hex_is_lowercase_two_digits_a_byte() {
    assert_eq!(hex(&[0, 1, 0xab, 0xff]), "0001abff");
}
