//! The rules for text fields, in one place: a length in characters, and no
//! control characters (Unicode category Cc; PostgreSQL would refuse NUL
//! anyway, so both backends answer alike). The OpenAPI documents say the same
//! with [`PATTERN`] and [`Rule::schema`].
//!
//! Names (of apps, tokens, workspaces) and email addresses must also not
//! deceive: no character that reorders or hides what is shown (bidirectional
//! controls, zero-width and other invisible format characters, line and
//! paragraph separators), and two that look the same are the same — names
//! compare in NFKC, ignoring case ([`name_key`]); addresses compare with the
//! local part in NFKC, ignoring case, and the domain in its IDNA ASCII form
//! ([`Email`]).

use std::borrow::Cow;

use unicode_normalization::UnicodeNormalization as _;

/// The JSON Schema pattern of text without control characters.
pub const PATTERN: &str = r"^[^\u0000-\u001F\u007F-\u009F]*$";

/// The longest email address accepted (RFC 5321's path limit).
pub const MAX_EMAIL_LEN: usize = 254;

/// Lengths, in characters, that a kind of text field must have, and whether
/// it is a name (which must not deceive).
#[derive(Debug, Clone, Copy)]
pub struct Rule {
    pub min: usize,
    pub max: usize,
    pub name: bool,
}

/// Names of apps, tokens and workspaces.
pub const NAME: Rule = Rule {
    min: 1,
    max: 100,
    name: true,
};
/// An app's description.
pub const DESCRIPTION: Rule = Rule::up_to(500);

/// A field that failed its rule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Invalid {
    pub field: &'static str,
    pub message: String,
}

/// Characters that change or hide what is displayed without being seen
/// themselves: bidirectional controls and marks, zero-width and other
/// invisible format characters, the soft hyphen, line and paragraph
/// separators.
pub fn is_deceptive(c: char) -> bool {
    matches!(
        c,
        '\u{00AD}'
            | '\u{061C}'
            | '\u{180E}'
            | '\u{200B}'..='\u{200F}'
            | '\u{2028}'..='\u{202E}'
            | '\u{2060}'..='\u{2064}'
            | '\u{2066}'..='\u{2069}'
            | '\u{FEFF}'
    )
}

impl Rule {
    pub const fn up_to(max: usize) -> Rule {
        Rule {
            min: 0,
            max,
            name: false,
        }
    }

    /// What is wrong with `value`, if anything.
    pub fn problem(&self, value: &str) -> Option<String> {
        let Rule { min, max, name } = *self;
        let len = value.chars().count();
        if len < min || len > max {
            return Some(match min {
                0 => format!("must be at most {max} characters, got {len}"),
                _ => format!("must be {min} to {max} characters, got {len}"),
            });
        }
        if value.chars().any(char::is_control) {
            return Some("must not contain control characters".to_owned());
        }
        if name && value.chars().any(is_deceptive) {
            return Some(
                "must not contain invisible, bidirectional-control or line-separator characters"
                    .to_owned(),
            );
        }
        None
    }

    pub fn check(&self, field: &'static str, value: &str) -> Result<(), Invalid> {
        match self.problem(value) {
            None => Ok(()),
            Some(message) => Err(Invalid { field, message }),
        }
    }

    /// The field's JSON Schema: a string (or null, when `nullable`) of these
    /// lengths without control characters.
    pub fn schema(&self, nullable: bool) -> utoipa::openapi::schema::Object {
        use utoipa::openapi::schema::{ObjectBuilder, SchemaType, Type};
        let types = match nullable {
            true => SchemaType::from_iter([Type::String, Type::Null]),
            false => SchemaType::new(Type::String),
        };
        ObjectBuilder::new()
            .schema_type(types)
            .min_length((self.min > 0).then_some(self.min))
            .max_length(Some(self.max))
            .pattern(Some(PATTERN))
            .build()
    }
}

/// What two names that look the same have in common: NFKC (full-width and
/// compatibility forms folded), ignoring case. Uniqueness is on this.
pub fn name_key(name: &str) -> String {
    name.nfkc().collect::<String>().to_lowercase()
}

/// An email address as accepted: its canonical form, shown and stored, and
/// the key two addresses that reach the same mailbox share.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Email {
    /// The local part in NFKC, `@`, the domain in Unicode after IDNA mapping
    /// (full-width letters folded, lower case).
    pub address: String,
    /// The local part in NFKC, lower case, `@`, the domain in IDNA ASCII.
    pub key: String,
}

impl Email {
    /// Reads an address: RFC 5321/5322 syntax with an unquoted local part,
    /// no control or invisible characters, a domain IDNA accepts, at most
    /// [`MAX_EMAIL_LEN`] bytes in its ASCII form.
    pub fn parse(value: &str) -> Result<Email, &'static str> {
        const INVALID: &str = "must be a valid email address";
        if value.len() > 4 * MAX_EMAIL_LEN {
            return Err(INVALID);
        }
        if value.chars().any(|c| c.is_control() || is_deceptive(c)) {
            return Err("must not contain control or invisible characters");
        }
        let (local, domain) = value.rsplit_once('@').ok_or(INVALID)?;
        if local.starts_with('"') {
            return Err("must not have a quoted local part");
        }
        let local: String = local.nfkc().collect();
        let ascii = idna::domain_to_ascii(domain).map_err(|_| INVALID)?;
        let canonical_ascii = format!("{local}@{ascii}");
        if canonical_ascii.len() > MAX_EMAIL_LEN
            || !email_address::EmailAddress::is_valid(&canonical_ascii)
        {
            return Err(INVALID);
        }
        let (unicode, _) = idna::domain_to_unicode(&ascii);
        Ok(Email {
            key: format!("{}@{ascii}", local.to_lowercase()),
            address: format!("{local}@{unicode}"),
        })
    }

    /// The key of an address typed to look one up (sign-in, a filter): its
    /// canonical key when it reads as an address, else the text in lower
    /// case (which matches nothing stored).
    pub fn key_of(value: &str) -> Cow<'_, str> {
        match Email::parse(value) {
            Ok(email) => Cow::Owned(email.key),
            Err(_) => Cow::Owned(value.to_lowercase()),
        }
    }
}

/// An email address as a field: see [`Email::parse`].
pub fn check_email(field: &'static str, value: &str) -> Result<Email, Invalid> {
    Email::parse(value).map_err(|message| Invalid {
        field,
        message: message.to_owned(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn look_alike_addresses_share_a_key_or_are_refused() {
        let key = |s: &str| Email::parse(s).map(|e| e.key);
        let plain = key("ada@example.com").unwrap();
        assert_eq!(key("Ada@EXAMPLE.com").unwrap(), plain);
        assert_eq!(
            key("ada@ｅｘａｍｐｌｅ.com").unwrap(),
            plain,
            "full-width domain"
        );
        assert_eq!(
            key("ａｄａ@example.com").unwrap(),
            plain,
            "full-width local part"
        );
        assert!(key("\"ada\"@example.com").is_err(), "quoted local part");
        assert!(key("ada@exam\u{00AD}ple.com").is_err(), "soft hyphen");
        assert!(key("ada\u{200B}@example.com").is_err(), "zero-width space");
        assert!(key("ada@example.com\u{202E}").is_err(), "bidi override");
        assert!(key("not an address").is_err());
        assert_eq!(
            Email::parse("ada@ＥＸＡＭＰＬＥ.com").unwrap().address,
            "ada@example.com"
        );
        assert_eq!(
            key("ada@bücher.example").unwrap(),
            "ada@xn--bcher-kva.example"
        );
    }

    #[test]
    fn look_alike_names_share_a_key_and_deceptive_ones_are_refused() {
        assert_eq!(name_key("appＡ"), name_key("appA"));
        assert_eq!(name_key("APPA"), name_key("appa"));
        for deceptive in [
            "app\u{200B}A",
            "\u{202E}AppA",
            "app\u{2028}A",
            "app\u{2066}A",
        ] {
            assert!(NAME.problem(deceptive).is_some(), "{deceptive:?}");
        }
        assert!(NAME.problem("Zapier sync — EU").is_none());
        assert!(
            DESCRIPTION.problem("a\u{200B}b").is_none(),
            "descriptions are free text"
        );
    }
}
