//! Dashboard passwords: Argon2id (RFC 9106) with the OWASP parameters
//! (19 MiB, two passes, one lane), stored as PHC strings so the parameters
//! travel with each hash.

use std::sync::LazyLock;

use argon2::password_hash::rand_core::OsRng;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};
use zeroize::Zeroizing;

/// Shortest password accepted (NIST SP 800-63B asks for at least 8; a
/// dashboard that issues API credentials asks for more).
pub const MIN_CHARS: usize = 12;
/// Longest password accepted: long passphrases are fine, megabytes are not.
pub const MAX_CHARS: usize = 256;

fn argon2() -> Argon2<'static> {
    // Params::DEFAULT is OWASP's first recommendation: m=19456 KiB, t=2, p=1.
    Argon2::new(Algorithm::Argon2id, Version::V0x13, Params::DEFAULT)
}

/// Whether a password is acceptable; the message says why not.
pub fn check(password: &str) -> Result<(), String> {
    let chars = password.chars().count();
    if chars < MIN_CHARS {
        return Err(format!("must be at least {MIN_CHARS} characters"));
    }
    if chars > MAX_CHARS {
        return Err(format!("must be at most {MAX_CHARS} characters"));
    }
    Ok(())
}

/// Hashes a password with a fresh random salt. CPU- and memory-heavy (tens
/// of milliseconds, 19 MiB): call it off the async runtime.
pub fn hash(password: &str) -> Result<String, argon2::password_hash::Error> {
    let salt = SaltString::generate(&mut OsRng);
    Ok(argon2()
        .hash_password(password.as_bytes(), &salt)?
        .to_string())
}

/// Whether `password` matches a stored hash. A hash that does not parse
/// matches nothing.
pub fn verify(password: &str, stored: &str) -> bool {
    match PasswordHash::new(stored) {
        Ok(parsed) => argon2()
            .verify_password(password.as_bytes(), &parsed)
            .is_ok(),
        Err(_) => false,
    }
}

/// Spends the time of one verification when there is no user to check
/// against, so a wrong email takes as long as a wrong password.
pub fn verify_nobody(password: &str) {
    static NOBODY: LazyLock<String> = LazyLock::new(|| {
        let random = Zeroizing::new(SaltString::generate(&mut OsRng).to_string());
        hash(&random).unwrap_or_default()
    });
    let _ = verify(password, &NOBODY);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_hash_is_argon2id_with_owasp_parameters_and_verifies_only_its_password() {
        let stored = hash("correct horse battery staple").expect("hash");
        assert!(
            stored.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"),
            "{stored}"
        );
        assert!(verify("correct horse battery staple", &stored));
        assert!(!verify("correct horse battery stapler", &stored));
        assert!(!verify("correct horse battery staple", "not a phc string"));
        // Two hashes of one password differ: the salt is fresh each time.
        assert_ne!(stored, hash("correct horse battery staple").expect("hash"));
    }

    #[test]
    fn passwords_have_bounded_lengths_in_characters() {
        assert!(check("short").is_err());
        assert!(check("twelve chars").is_ok());
        assert!(check("ééééééééééé").is_err(), "11 characters, 22 bytes");
        assert!(check(&"x".repeat(MAX_CHARS)).is_ok());
        assert!(check(&"x".repeat(MAX_CHARS + 1)).is_err());
    }
}
