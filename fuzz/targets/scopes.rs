//! `scopes`: scope parsing and printing, against the vocabulary of SPEC.md
//! written out again; the token oracle reads `scope` claims with it too.

use informly::token::{Scope, ScopeError, ScopeSet};

use super::Seeds;

/// Every scope, with whether it is an admin scope: the vocabulary of SPEC.md,
/// written out again rather than read from the code under test.
const SCOPES: [(&str, bool); 22] = [
    ("contacts:read", false),
    ("contacts:write", false),
    ("contacts:delete", false),
    ("surveys:read", false),
    ("surveys:write", false),
    ("surveys:delete", false),
    ("coupons:read", false),
    ("coupons:write", false),
    ("coupons:delete", false),
    ("coupons:validate", false),
    ("referrals:read", false),
    ("referrals:write", false),
    ("referrals:delete", false),
    ("testimonials:read", false),
    ("testimonials:write", false),
    ("testimonials:delete", false),
    ("tickets:read", false),
    ("tickets:write", false),
    ("tickets:delete", false),
    ("apps:read", true),
    ("apps:write", true),
    ("apps:delete", true),
];

/// The scopes a `scope` claim grants: space-separated names, each matched
/// exactly (RFC 6749 §3.3); anything else grants nothing.
pub(super) fn expect_scopes(claim: &str) -> ScopeSet {
    SCOPES
        .iter()
        .filter(|(name, _)| claim.split(' ').any(|t| t == *name))
        .map(|(name, _)| Scope::lookup(name).expect("a known scope"))
        .collect()
}

/// Scope parsing: the input (lossy UTF-8) as a `scope` claim, as one scope
/// name, and, split on spaces, as the scopes asked for at issuance.
pub fn scopes(data: &[u8]) {
    let input = String::from_utf8_lossy(data);

    // The claim grants exactly the names it spells out; it prints in the
    // canonical order, and printing then parsing is the identity.
    let set = ScopeSet::from_claim(&input);
    assert_eq!(set, expect_scopes(&input), "{input:?}");
    let claim = set.to_claim();
    assert_eq!(set.to_string(), claim);
    assert_eq!(ScopeSet::from_claim(&claim), set, "{input:?} -> {claim:?}");
    assert_eq!(ScopeSet::from_claim(&claim).to_claim(), claim);
    let order: Vec<usize> = match claim.as_str() {
        "" => Vec::new(),
        claim => claim
            .split(' ')
            .map(|n| position(n).expect("known"))
            .collect(),
    };
    assert!(
        order.windows(2).all(|w| w[0] < w[1]),
        "not in canonical order, or repeated: {claim:?}"
    );
    assert_eq!(
        set.has_admin_scope(),
        set.iter().any(Scope::is_admin),
        "{input:?}"
    );

    // One name: known exactly as spelled, and prints back as spelled.
    match input.parse::<Scope>() {
        Ok(scope) => {
            assert_eq!(scope.to_string(), input);
            assert_eq!(scope.is_admin(), SCOPES[position(&input).expect("known")].1);
        }
        Err(e) => {
            assert_eq!(position(&input), None, "{input:?}");
            assert_eq!(e, ScopeError::Unknown(input.to_string()));
        }
    }

    // Issuance: every name known and not admin-only, at least one; the error
    // names the first name that breaks a rule.
    let names: Vec<&str> = input.split(' ').collect();
    let first_bad = names
        .iter()
        .find(|n| position(n).is_none_or(|i| SCOPES[i].1));
    match (ScopeSet::parse_for_app(&names), first_bad) {
        (Ok(granted), None) => {
            assert_eq!(granted, set, "{input:?}");
            assert!(!granted.is_empty() && !granted.has_admin_scope());
        }
        (Err(ScopeError::Unknown(name)), Some(bad)) if position(bad).is_none() => {
            assert_eq!(name, *bad);
            assert!(
                ScopeError::Unknown(name.clone())
                    .to_string()
                    .contains(&format!("`{name}`"))
            );
        }
        (Err(ScopeError::AdminOnly(name)), Some(bad)) if position(bad).is_some() => {
            assert_eq!(name, *bad);
        }
        (answer, _) => panic!("parse_for_app({names:?}) gave {answer:?}"),
    }
}

fn position(name: &str) -> Option<usize> {
    SCOPES.iter().position(|(n, _)| *n == name)
}

/// The seeds of `scopes`: scope lists.
pub(super) fn seeds(seeds: &mut Seeds) {
    for (name, scope) in [
        ("app", "contacts:read contacts:write"),
        ("every", &SCOPES.map(|(n, _)| n).join(" ")[..]),
        ("admin", "apps:read apps:write apps:delete"),
        (
            "near-misses",
            "contacts:* Contacts:Read contacts:read-all contacts",
        ),
        ("double-space", "contacts:read  contacts:write"),
        ("empty", ""),
    ] {
        seeds.push(("scopes", name.to_owned(), scope.as_bytes().to_vec()));
    }
}
