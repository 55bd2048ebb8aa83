//! Scopes: the fixed `module:action` vocabulary and a compact set of them.
//!
//! A scope set is a bitmask, so the per-request check is one AND.

use std::fmt;
use std::str::FromStr;

/// Every scope this service knows. The order fixes the bit of each scope and the
/// order in which a set prints. The bits are stored (`tokens.used_scopes`), so
/// new scopes are only ever appended: never reorder or remove one.
const ALL: [(&str, Kind); 26] = [
    ("contacts:read", Kind::App),
    ("contacts:write", Kind::App),
    ("contacts:delete", Kind::App),
    ("surveys:read", Kind::App),
    ("surveys:write", Kind::App),
    ("surveys:delete", Kind::App),
    ("coupons:read", Kind::App),
    ("coupons:write", Kind::App),
    ("coupons:delete", Kind::App),
    ("coupons:validate", Kind::App),
    ("referrals:read", Kind::App),
    ("referrals:write", Kind::App),
    ("referrals:delete", Kind::App),
    ("testimonials:read", Kind::App),
    ("testimonials:write", Kind::App),
    ("testimonials:delete", Kind::App),
    ("tickets:read", Kind::App),
    ("tickets:write", Kind::App),
    ("tickets:delete", Kind::App),
    ("apps:read", Kind::Admin),
    ("apps:write", Kind::Admin),
    ("apps:delete", Kind::Admin),
    ("audit:read", Kind::Admin),
    ("webhooks:read", Kind::Admin),
    ("webhooks:write", Kind::Admin),
    ("webhooks:delete", Kind::Admin),
];

/// A module of the product: the first part of its app scopes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Module {
    pub name: &'static str,
    /// Served today; the others answer 501 ("coming soon") until they ship,
    /// though tokens may already carry their scopes.
    pub live: bool,
}

/// Every module, in the order the dashboard shows them: the one list of
/// which modules exist and which are live.
pub const MODULES: [Module; 6] = [
    Module {
        name: "contacts",
        live: true,
    },
    Module {
        name: "surveys",
        live: false,
    },
    Module {
        name: "coupons",
        live: false,
    },
    Module {
        name: "referrals",
        live: false,
    },
    Module {
        name: "testimonials",
        live: false,
    },
    Module {
        name: "tickets",
        live: false,
    },
];

impl Module {
    /// The module of that name.
    pub fn named(name: &str) -> Option<Module> {
        MODULES.into_iter().find(|m| m.name == name)
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    App,
    Admin,
}

/// One known scope, such as `contacts:read`.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Scope(u8);

impl Scope {
    pub const CONTACTS_READ: Scope = Scope(0);
    pub const CONTACTS_WRITE: Scope = Scope(1);
    pub const CONTACTS_DELETE: Scope = Scope(2);
    pub const APPS_READ: Scope = Scope(19);
    pub const APPS_WRITE: Scope = Scope(20);
    pub const APPS_DELETE: Scope = Scope(21);
    pub const AUDIT_READ: Scope = Scope(22);
    pub const WEBHOOKS_READ: Scope = Scope(23);
    pub const WEBHOOKS_WRITE: Scope = Scope(24);
    pub const WEBHOOKS_DELETE: Scope = Scope(25);

    pub fn as_str(self) -> &'static str {
        ALL[self.0 as usize].0
    }

    /// Admin scopes (`apps:*`, `audit:read`, `webhooks:*`) exist only on
    /// admin tokens.
    pub fn is_admin(self) -> bool {
        ALL[self.0 as usize].1 == Kind::Admin
    }

    /// Every scope, in bit order.
    pub fn all() -> impl Iterator<Item = Scope> {
        (0..ALL.len() as u8).map(Scope)
    }

    /// Looks a scope up by its exact name: lowercase, no wildcards, no prefixes.
    pub fn lookup(name: &str) -> Option<Scope> {
        ALL.iter()
            .position(|(n, _)| *n == name)
            .map(|i| Scope(i as u8))
    }

    fn bit(self) -> u32 {
        1 << self.0
    }
}

impl fmt::Display for Scope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl fmt::Debug for Scope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Why a scope list was refused at issuance. The message names the bad scope.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ScopeError {
    #[error("unknown scope `{0}`{hint}", hint = Hint(.0))]
    Unknown(String),
    #[error("scope `{0}` is reserved for admin tokens and cannot be granted to an app token")]
    AdminOnly(String),
    #[error("scope `{0}` is not available on admin tokens")]
    AppOnly(String),
    #[error("at least one scope is required")]
    Empty,
}

/// What follows an unknown scope's name: the nearest app scope, when one is
/// near, and the list of them.
struct Hint<'a>(&'a str);

impl fmt::Display for Hint<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let app_scopes = || Scope::all().filter(|s| !s.is_admin()).map(Scope::as_str);
        let nearest = app_scopes()
            .map(|name| (strsim::damerau_levenshtein(self.0, name), name))
            .min();
        if let Some((distance, name)) = nearest
            && distance <= 3
        {
            write!(f, ": did you mean `{name}`?")?;
        } else if self.0.contains('*') {
            write!(f, ": wildcards are not allowed")?;
        }
        let all: Vec<&str> = app_scopes().collect();
        write!(f, " The scopes are: {}", all.join(", "))
    }
}

impl FromStr for Scope {
    type Err = ScopeError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Scope::lookup(s).ok_or_else(|| ScopeError::Unknown(s.to_owned()))
    }
}

/// A set of scopes.
#[derive(Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct ScopeSet(u32);

impl ScopeSet {
    pub const EMPTY: ScopeSet = ScopeSet(0);

    /// The scopes of an admin token: all of `apps:*`, `audit:read`, and
    /// all of `webhooks:*`.
    pub fn admin() -> ScopeSet {
        [
            Scope::APPS_READ,
            Scope::APPS_WRITE,
            Scope::APPS_DELETE,
            Scope::AUDIT_READ,
            Scope::WEBHOOKS_READ,
            Scope::WEBHOOKS_WRITE,
            Scope::WEBHOOKS_DELETE,
        ]
        .into_iter()
        .collect()
    }

    pub fn contains(self, scope: Scope) -> bool {
        self.0 & scope.bit() != 0
    }

    pub fn insert(&mut self, scope: Scope) {
        self.0 |= scope.bit();
    }

    pub fn is_empty(self) -> bool {
        self.0 == 0
    }

    /// The set as stored: one bit per scope, in the order of the scope list.
    pub fn bits(self) -> u32 {
        self.0
    }

    /// A stored set; bits of no known scope are dropped.
    pub fn from_bits(bits: u32) -> ScopeSet {
        let known = if ALL.len() >= 32 {
            u32::MAX
        } else {
            (1 << ALL.len()) - 1
        };
        ScopeSet(bits & known)
    }

    /// The scopes of `self` not in `other`.
    pub fn without(self, other: ScopeSet) -> ScopeSet {
        ScopeSet(self.0 & !other.0)
    }

    pub fn union(self, other: ScopeSet) -> ScopeSet {
        ScopeSet(self.0 | other.0)
    }

    pub fn has_admin_scope(self) -> bool {
        self.iter().any(Scope::is_admin)
    }

    pub fn iter(self) -> impl Iterator<Item = Scope> {
        (0..ALL.len() as u8)
            .map(Scope)
            .filter(move |s| self.contains(*s))
    }

    /// Parses the scopes asked for at issuance of an app token: each must be a
    /// known, non-admin scope; at least one is required. Duplicates are harmless.
    pub fn parse_for_app<I, S>(names: I) -> Result<ScopeSet, ScopeError>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        let mut set = ScopeSet::EMPTY;
        for name in names {
            let name = name.as_ref();
            let scope: Scope = name.parse()?;
            if scope.is_admin() {
                return Err(ScopeError::AdminOnly(name.to_owned()));
            }
            set.insert(scope);
        }
        if set.is_empty() {
            return Err(ScopeError::Empty);
        }
        Ok(set)
    }

    /// Reads the `scope` claim of a verified token: space-separated names. Names
    /// this version does not know grant nothing and are skipped (RFC 6749 §3.3
    /// scope tokens match exactly or not at all).
    pub fn from_claim(claim: &str) -> ScopeSet {
        claim.split(' ').filter_map(Scope::lookup).collect()
    }

    /// The `scope` claim: space-separated names.
    pub fn to_claim(self) -> String {
        let mut out = String::new();
        for scope in self.iter() {
            if !out.is_empty() {
                out.push(' ');
            }
            out.push_str(scope.as_str());
        }
        out
    }
}

impl FromIterator<Scope> for ScopeSet {
    fn from_iter<T: IntoIterator<Item = Scope>>(iter: T) -> Self {
        let mut set = ScopeSet::EMPTY;
        for scope in iter {
            set.insert(scope);
        }
        set
    }
}

impl fmt::Display for ScopeSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_claim())
    }
}

impl fmt::Debug for ScopeSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_set().entries(self.iter()).finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The stored bits (`tokens.used_scopes`) mean these scopes: a reorder
    /// would silently change what every stored set says.
    #[test]
    fn the_bit_of_each_scope_is_fixed() {
        let stored = [
            "contacts:read",
            "contacts:write",
            "contacts:delete",
            "surveys:read",
            "surveys:write",
            "surveys:delete",
            "coupons:read",
            "coupons:write",
            "coupons:delete",
            "coupons:validate",
            "referrals:read",
            "referrals:write",
            "referrals:delete",
            "testimonials:read",
            "testimonials:write",
            "testimonials:delete",
            "tickets:read",
            "tickets:write",
            "tickets:delete",
            "apps:read",
            "apps:write",
            "apps:delete",
            "audit:read",
            "webhooks:read",
            "webhooks:write",
            "webhooks:delete",
        ];
        for (bit, name) in stored.iter().enumerate() {
            let set = ScopeSet::from_bits(1 << bit);
            assert_eq!(set.to_claim(), *name, "bit {bit}");
        }
        let all = ScopeSet::from_bits(u32::MAX);
        assert_eq!(all.iter().count(), ALL.len(), "unknown bits are dropped");
        assert_eq!(ScopeSet::from_bits(all.bits()), all);
    }

    #[test]
    fn every_app_scope_belongs_to_a_module_of_the_list() {
        for scope in Scope::all().filter(|s| !s.is_admin()) {
            let (module, _) = scope.as_str().split_once(':').unwrap();
            assert!(Module::named(module).is_some(), "{scope}");
        }
    }

    #[test]
    fn every_module_action_pair_is_known() {
        for module in MODULES.map(|m| m.name) {
            for action in ["read", "write", "delete"] {
                let name = format!("{module}:{action}");
                assert_eq!(Scope::lookup(&name).map(Scope::as_str), Some(name.as_str()));
            }
        }
        assert!(Scope::lookup("coupons:validate").is_some());
    }

    #[test]
    fn issuance_rejects_unknown_wildcard_and_case_variants_naming_the_scope() {
        for bad in [
            "contacts:*",
            "*",
            "Contacts:Read",
            "contacts:read-all",
            "contacts:readcontacts:write",
            "contacts",
            "contacts:validate",
            "",
            " contacts:read",
        ] {
            let err = ScopeSet::parse_for_app([bad]).unwrap_err();
            assert_eq!(err, ScopeError::Unknown(bad.to_owned()), "{bad:?}");
            assert!(err.to_string().contains(&format!("`{bad}`")));
        }
    }

    #[test]
    fn issuance_rejects_admin_scopes_on_app_tokens() {
        for admin in ["apps:read", "apps:write", "apps:delete"] {
            assert_eq!(
                ScopeSet::parse_for_app(["contacts:read", admin]),
                Err(ScopeError::AdminOnly(admin.to_owned()))
            );
        }
    }

    #[test]
    fn issuance_requires_at_least_one_scope() {
        assert_eq!(
            ScopeSet::parse_for_app(Vec::<String>::new()),
            Err(ScopeError::Empty)
        );
    }

    #[test]
    fn claim_round_trips_in_canonical_order() {
        let set = ScopeSet::parse_for_app(["contacts:write", "coupons:validate", "contacts:read"])
            .unwrap();
        assert_eq!(
            set.to_claim(),
            "contacts:read contacts:write coupons:validate"
        );
        assert_eq!(ScopeSet::from_claim(&set.to_claim()), set);
    }

    #[test]
    fn claim_parsing_grants_nothing_for_unknown_or_near_miss_names() {
        let set = ScopeSet::from_claim("Contacts:Read contacts:* contacts:read-all");
        assert!(set.is_empty());
        assert!(ScopeSet::from_claim("").is_empty());
    }
}
