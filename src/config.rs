//! Settings shared by every command: flags, each with an `INFORMLY_*`
//! environment variable and a default.

use std::path::PathBuf;

use clap::Args;

use crate::token::Policy;
use crate::token::expiry::parse_duration;

#[derive(Args, Debug, Clone)]
pub struct Settings {
    /// Database URL: sqlite://FILE or postgres://…; only `serve` and
    /// `migrate` create a missing SQLite file.
    #[arg(
        long,
        global = true,
        help_heading = "Global options",
        env = "INFORMLY_DATABASE_URL",
        default_value = "sqlite://informly.db"
    )]
    pub database_url: String,

    /// Directory of the private key files.
    #[arg(
        long,
        global = true,
        help_heading = "Global options",
        env = "INFORMLY_KEYS_DIR",
        default_value = "keys"
    )]
    pub keys_dir: PathBuf,

    /// The `iss` of issued tokens, required of verified ones.
    #[arg(long, global = true, help_heading = "Global options", env = "INFORMLY_ISSUER", default_value = Policy::DEFAULT_ISSUER)]
    pub issuer: String,

    /// The `aud` of issued tokens, required of verified ones.
    #[arg(long, global = true, help_heading = "Global options", env = "INFORMLY_AUDIENCE", default_value = Policy::DEFAULT_AUDIENCE)]
    pub audience: String,

    /// Clock skew tolerated on exp, nbf and iat.
    #[arg(long, global = true, help_heading = "Global options", env = "INFORMLY_LEEWAY", default_value = "30s", value_parser = duration)]
    pub leeway: i64,

    /// Longest lifetime of an app token.
    #[arg(long, global = true, help_heading = "Global options", env = "INFORMLY_MAX_TOKEN_LIFETIME", default_value = "366d", value_parser = duration)]
    pub max_token_lifetime: i64,

    /// Longest lifetime of an admin token.
    #[arg(long, global = true, help_heading = "Global options", env = "INFORMLY_MAX_ADMIN_TOKEN_LIFETIME", default_value = "24h", value_parser = duration)]
    pub max_admin_token_lifetime: i64,

    /// Print JSON instead of text, for scripts.
    #[arg(long, global = true, help_heading = "Global options")]
    pub json: bool,
}

impl Settings {
    pub fn policy(&self) -> Policy {
        Policy {
            issuer: self.issuer.clone(),
            audience: self.audience.clone(),
            leeway: self.leeway,
            max_lifetime: self.max_token_lifetime,
            max_admin_lifetime: self.max_admin_token_lifetime,
        }
    }
}

/// A duration flag: seconds, or the units s, m, h, d and w (`30d`, `12h`).
pub fn duration(s: &str) -> Result<i64, String> {
    parse_duration(s).map_err(|e| e.to_string())
}
