//! The rule for text fields, in one place: a length in characters, and no
//! control characters (Unicode category Cc; PostgreSQL would refuse NUL
//! anyway, so both backends answer alike). The OpenAPI documents say the same
//! with [`PATTERN`] and [`Rule::schema`].

/// The JSON Schema pattern of text without control characters.
pub const PATTERN: &str = r"^[^\u0000-\u001F\u007F-\u009F]*$";

/// The longest email address accepted (RFC 5321's path limit).
pub const MAX_EMAIL_LEN: usize = 254;

/// Lengths, in characters, that a kind of text field must have.
#[derive(Debug, Clone, Copy)]
pub struct Rule {
    pub min: usize,
    pub max: usize,
}

/// Names of apps, tokens and workspaces.
pub const NAME: Rule = Rule { min: 1, max: 100 };
/// An app's description.
pub const DESCRIPTION: Rule = Rule { min: 0, max: 500 };

/// A field that failed its rule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Invalid {
    pub field: &'static str,
    pub message: String,
}

impl Rule {
    pub const fn up_to(max: usize) -> Rule {
        Rule { min: 0, max }
    }

    /// What is wrong with `value`, if anything.
    pub fn problem(&self, value: &str) -> Option<String> {
        let Rule { min, max } = *self;
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
    #[cfg(feature = "server")]
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

/// An email address: RFC 5321/5322 syntax, at most [`MAX_EMAIL_LEN`] bytes,
/// no control characters.
#[cfg(feature = "server")]
pub fn check_email(field: &'static str, value: &str) -> Result<(), Invalid> {
    if value.len() > MAX_EMAIL_LEN || !email_address::EmailAddress::is_valid(value) {
        return Err(Invalid {
            field,
            message: "must be a valid email address".to_owned(),
        });
    }
    Rule::up_to(MAX_EMAIL_LEN).check(field, value)
}
