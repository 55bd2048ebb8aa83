//! How commands print: a text table or line, or JSON with `--json`.

use crate::clock::rfc3339;

pub(super) fn print_issued(json: bool, issued: &crate::service::Issued) {
    let record = &issued.record;
    if let Some(generated) = &issued.generated_key {
        eprintln!(
            "generated the first {} signing key {} in {}",
            generated.format,
            generated.kid,
            generated.path.display()
        );
    }
    if json {
        let mut value = serde_json::to_value(record).unwrap_or_default();
        value["token"] = issued.token.as_str().into();
        println!("{value:#}");
    } else {
        // The token alone on stdout, so `TOKEN=$(informly tokens issue …)` works;
        // the rest is for the person at the terminal.
        eprintln!(
            "issued {} token {} (scopes: {}; expires {})",
            record.format,
            record.id,
            record.scopes.join(" "),
            rfc3339(record.expires_at)
        );
        eprintln!("copy it now: it is shown only once");
        println!("{}", issued.token.as_str());
    }
}

pub(super) fn print<T: serde::Serialize + ?Sized>(
    json: bool,
    value: &T,
    text: impl FnOnce() -> String,
) {
    if json {
        match serde_json::to_string_pretty(value) {
            Ok(out) => println!("{out}"),
            Err(e) => eprintln!("error: cannot print JSON: {e}"),
        }
    } else {
        println!("{}", text());
    }
}

pub(super) fn date(t: &time::OffsetDateTime) -> String {
    rfc3339(t.unix_timestamp())
}

/// Aligned columns with a header row.
pub(super) fn table(header: &[&str], rows: impl Iterator<Item = Vec<String>>) -> String {
    let rows: Vec<Vec<String>> = rows.collect();
    if rows.is_empty() {
        return "(none)".to_owned();
    }
    let mut widths: Vec<usize> = header.iter().map(|h| h.len()).collect();
    for row in &rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let line = |cells: Vec<String>| {
        let mut out = String::new();
        for (i, (cell, w)) in cells.iter().zip(&widths).enumerate() {
            if i + 1 == cells.len() {
                out.push_str(cell);
            } else {
                out.push_str(&format!("{cell:<w$}  "));
            }
        }
        out.trim_end().to_owned()
    };
    let mut out = vec![line(header.iter().map(|h| h.to_string()).collect())];
    out.extend(rows.into_iter().map(line));
    out.join("\n")
}
