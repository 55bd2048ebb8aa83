//! Dashboard passwords: Argon2id (RFC 9106) with the OWASP parameters
//! (19 MiB, two passes, one lane), stored as PHC strings so the parameters
//! travel with each hash.

use std::sync::{LazyLock, Mutex};

use argon2::password_hash::rand_core::OsRng;
use argon2::password_hash::{Output, PasswordHash, PasswordHasher, SaltString};
use argon2::{Algorithm, Argon2, Block, Params, Version};
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

/// Whether `password` matches a stored hash. A hash that does not parse, or
/// is not Argon2id with parameters this service would accept, matches
/// nothing. The comparison is constant-time.
pub fn verify(password: &str, stored: &str) -> bool {
    let Ok(parsed) = PasswordHash::new(stored) else {
        return false;
    };
    let (Some(salt), Some(expected)) = (parsed.salt, parsed.hash) else {
        return false;
    };
    let version = parsed.version.map_or(Ok(Version::V0x13), Version::try_from);
    let (Ok(Algorithm::Argon2id), Ok(version), Ok(params)) = (
        Algorithm::try_from(parsed.algorithm),
        version,
        Params::try_from(&parsed),
    ) else {
        return false;
    };
    // A stored hash may not ask for more memory than we would spend.
    if params.m_cost() > Params::DEFAULT.m_cost() {
        return false;
    }
    let mut salt_bytes = [0u8; 64];
    let Ok(salt) = salt.decode_b64(&mut salt_bytes) else {
        return false;
    };
    let mut out = Zeroizing::new(vec![0u8; expected.len()]);
    let argon2 = Argon2::new(Algorithm::Argon2id, version, params.clone());
    let hashed = with_memory(params.block_count(), |memory| {
        argon2.hash_password_into_with_memory(password.as_bytes(), salt, &mut out, memory)
    });
    hashed.is_ok() && Output::new(&out).is_ok_and(|out| out == expected)
}

/// Argon2's working memory (19 MiB a check), kept and reused. At most one
/// buffer per check running at once stays here — the service runs at most
/// one check per core — so a flood of sign-ins holds a fixed amount of
/// memory rather than allocating and freeing 19 MiB per attempt (which the
/// allocator's arenas kept, growing the process to hundreds of MiB).
static MEMORY: Mutex<Vec<Vec<Block>>> = Mutex::new(Vec::new());

fn with_memory<R>(blocks: usize, check: impl FnOnce(&mut [Block]) -> R) -> R {
    let kept = MEMORY.lock().unwrap_or_else(|e| e.into_inner()).pop();
    let mut memory = match kept {
        Some(memory) if memory.len() >= blocks => memory,
        _ => vec![Block::default(); blocks],
    };
    let result = check(&mut memory[..blocks]);
    // What stays behind is derived from a password: cleared before it waits.
    memory.fill(Block::default());
    MEMORY
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .push(memory);
    result
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
