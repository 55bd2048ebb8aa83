//! `informly contacts import FILE`: contacts from a CSV or JSON Lines file,
//! each checked as `POST /v1/contacts` checks a body and created a thousand
//! at a time through the service (one transaction per thousand). A row that
//! is refused (invalid, or a duplicate email) is reported with its line and
//! does not stop the others; the import goes on to the end of the file.

use std::fs::File;
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::time::Instant;

use anyhow::{Context, Result, bail};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use serde::Serialize;
use serde_json::{Map, Value};

use super::commands::Ctx;
use crate::http::contacts::new_contact;
use crate::http::error::{ApiError, Problem};
use crate::service::MAX_BATCH;
use crate::store::ContactFields;

/// The CSV columns, named as the API's fields. `tags` holds tags separated
/// by `;`, `attributes` a JSON object; an empty cell leaves its field out.
const COLUMNS: [&str; 7] = [
    "email",
    "first_name",
    "last_name",
    "phone",
    "company",
    "tags",
    "attributes",
];

/// Failures listed one by one in the text summary (`--json` lists all).
const SHOWN: usize = 20;

/// A row that was not imported.
#[derive(Serialize)]
struct Failure {
    line: u64,
    #[serde(flatten)]
    problem: Problem,
}

#[derive(Serialize)]
struct Summary {
    file: String,
    imported: u64,
    failed: u64,
    failures: Vec<Failure>,
}

/// One row of the file: its line, and the contact it holds or why not.
struct Row {
    line: u64,
    contact: Result<ContactFields, Problem>,
}

enum Rows {
    Csv {
        reader: csv::Reader<File>,
        columns: Vec<&'static str>,
    },
    Jsonl {
        reader: BufReader<File>,
        line: u64,
        offset: u64,
    },
}

impl Rows {
    fn open(path: &Path) -> Result<Rows> {
        let shown = path.display();
        let file = File::open(path).with_context(|| format!("cannot open {shown}"))?;
        match path.extension().and_then(|e| e.to_str()) {
            Some("csv") => {
                let mut reader = csv::Reader::from_reader(file);
                let header = reader
                    .headers()
                    .with_context(|| format!("{shown}: cannot read the header row"))?;
                let mut columns = Vec::new();
                for name in header {
                    let name = name.trim();
                    let Some(column) = COLUMNS.iter().find(|c| **c == name) else {
                        bail!(
                            "{shown}: unknown column `{name}`: the columns are {}",
                            COLUMNS.join(", ")
                        );
                    };
                    if columns.contains(column) {
                        bail!("{shown}: the column `{name}` appears twice");
                    }
                    columns.push(*column);
                }
                if !columns.contains(&"email") {
                    bail!("{shown}: no `email` column (the header row names the columns)");
                }
                Ok(Rows::Csv { reader, columns })
            }
            Some("jsonl" | "ndjson") => Ok(Rows::Jsonl {
                reader: BufReader::new(file),
                line: 0,
                offset: 0,
            }),
            _ => bail!("{shown}: give a .csv or a .jsonl (JSON Lines) file"),
        }
    }

    /// The next row and the byte offset after it; `None` at the end.
    fn next(&mut self) -> Result<Option<(Row, u64)>> {
        match self {
            Rows::Csv { reader, columns } => {
                let mut record = csv::StringRecord::new();
                let read = reader.read_record(&mut record);
                let line = reader.position().line();
                let offset = reader.position().byte();
                let contact = match read {
                    Ok(false) => return Ok(None),
                    Ok(true) => from_csv(columns, &record),
                    // A row that is not UTF-8 or has the wrong number of
                    // cells is that row's problem; the next row is read.
                    Err(e) => match e.kind() {
                        csv::ErrorKind::Utf8 { .. } => {
                            Err(row_problem("the row is not UTF-8".to_owned()))
                        }
                        csv::ErrorKind::UnequalLengths {
                            expected_len, len, ..
                        } => Err(row_problem(format!(
                            "the row has {len} cells where the header has {expected_len}"
                        ))),
                        _ => return Err(e).context("cannot read the file"),
                    },
                };
                let line = record.position().map_or(line, |p| p.line());
                Ok(Some((Row { line, contact }, offset)))
            }
            Rows::Jsonl {
                reader,
                line,
                offset,
            } => loop {
                let mut bytes = Vec::new();
                let read = reader
                    .read_until(b'\n', &mut bytes)
                    .context("cannot read the file")?;
                if read == 0 {
                    return Ok(None);
                }
                *line += 1;
                *offset += read as u64;
                let text = match std::str::from_utf8(&bytes) {
                    Ok(text) if text.trim().is_empty() => continue,
                    Ok(text) => new_contact(text).map_err(ApiError::problem),
                    Err(_) => Err(row_problem("the line is not UTF-8".to_owned())),
                };
                return Ok(Some((
                    Row {
                        line: *line,
                        contact: text,
                    },
                    *offset,
                )));
            },
        }
    }
}

/// A CSV row as the JSON object the API would be sent, then checked as such.
fn from_csv(columns: &[&str], record: &csv::StringRecord) -> Result<ContactFields, Problem> {
    let mut object = Map::new();
    for (column, cell) in columns.iter().zip(record) {
        if cell.is_empty() {
            continue;
        }
        let value = match *column {
            "tags" => cell
                .split(';')
                .map(str::trim)
                .filter(|tag| !tag.is_empty())
                .map(|tag| Value::String(tag.to_owned()))
                .collect(),
            "attributes" => match serde_json::from_str::<Value>(cell) {
                Ok(value @ Value::Object(_)) => value,
                _ => {
                    return Err(
                        ApiError::validation("attributes", "must be a JSON object").problem()
                    );
                }
            },
            _ => Value::String(cell.to_owned()),
        };
        object.insert((*column).to_owned(), value);
    }
    new_contact(&Value::Object(object).to_string()).map_err(ApiError::problem)
}

fn row_problem(detail: String) -> Problem {
    ApiError::BadRequest(detail).problem()
}

impl Ctx {
    pub(super) async fn import_contacts(&self, path: &Path, workspace: &str) -> Result<()> {
        let actor = self.actor(workspace).await?;
        let mut rows = Rows::open(path)?;
        let size = std::fs::metadata(path).map(|m| m.len()).unwrap_or(0);
        let bar = progress_bar(size, self.json);
        let started = Instant::now();
        let mut summary = Summary {
            file: path.display().to_string(),
            imported: 0,
            failed: 0,
            failures: Vec::new(),
        };
        let mut batch: Vec<(u64, ContactFields)> = Vec::with_capacity(MAX_BATCH);
        loop {
            let next = rows.next()?;
            let end = next.is_none();
            if let Some((row, offset)) = next {
                match row.contact {
                    Ok(fields) => batch.push((row.line, fields)),
                    Err(problem) => summary.fail(row.line, problem),
                }
                bar.set_position(offset);
            }
            if batch.len() == MAX_BATCH || (end && !batch.is_empty()) {
                let (lines, fields): (Vec<u64>, Vec<ContactFields>) = batch.drain(..).unzip();
                let first = lines.first().copied().unwrap_or_default();
                let results = self
                    .service
                    .create_contacts(&actor, fields)
                    .await
                    .with_context(|| {
                        format!(
                            "stopped at line {first} with {} contacts imported",
                            summary.imported
                        )
                    })?;
                for (line, result) in lines.into_iter().zip(results) {
                    match result {
                        Ok(_) => summary.imported += 1,
                        Err(e) => summary.fail(line, ApiError::from(e).problem()),
                    }
                }
            }
            bar.set_message(format!(
                "{} imported, {} failed",
                summary.imported, summary.failed
            ));
            if end {
                break;
            }
        }
        bar.finish_and_clear();
        summary.failures.sort_by_key(|f| f.line);
        summary.report(self.json, workspace, started.elapsed().as_secs_f64());
        if summary.failed > 0 {
            bail!(
                "{} of {} contacts were not imported (see above)",
                summary.failed,
                summary.failed + summary.imported
            );
        }
        Ok(())
    }
}

fn progress_bar(size: u64, json: bool) -> ProgressBar {
    // Drawn on standard error, and only on a terminal (indicatif hides it
    // otherwise), so piped output stays clean.
    let target = match json {
        true => ProgressDrawTarget::hidden(),
        false => ProgressDrawTarget::stderr(),
    };
    let bar = ProgressBar::with_draw_target(Some(size), target);
    if let Ok(style) = ProgressStyle::with_template(
        "{wide_bar} {percent:>3}% {binary_bytes}/{binary_total_bytes} · {msg} · {eta} left",
    ) {
        bar.set_style(style);
    }
    bar
}

impl Summary {
    fn fail(&mut self, line: u64, problem: Problem) {
        self.failed += 1;
        self.failures.push(Failure { line, problem });
    }

    fn report(&self, json: bool, workspace: &str, seconds: f64) {
        if json {
            super::output::print(true, self, String::new);
            return;
        }
        let plural = if self.imported == 1 { "" } else { "s" };
        println!(
            "imported {} contact{plural} from {} into workspace {workspace} in {seconds:.1} s",
            self.imported, self.file
        );
        if self.failures.is_empty() {
            return;
        }
        let count = |status: u16| {
            self.failures
                .iter()
                .filter(|f| f.problem.status == status)
                .count()
        };
        let (duplicates, invalid) = (count(409), count(422));
        let unreadable = self.failures.len() - duplicates - invalid;
        let kinds: Vec<String> = [
            (duplicates, "duplicate email"),
            (invalid, "invalid fields"),
            (unreadable, "unreadable"),
        ]
        .iter()
        .filter(|(n, _)| *n > 0)
        .map(|(n, kind)| format!("{n} {kind}"))
        .collect();
        eprintln!("{} not imported: {}", self.failed, kinds.join(", "));
        for failure in self.failures.iter().take(SHOWN) {
            eprintln!("  line {}: {}", failure.line, reason(&failure.problem));
        }
        if self.failures.len() > SHOWN {
            eprintln!(
                "  … and {} more (--json lists every one)",
                self.failures.len() - SHOWN
            );
        }
    }
}

/// A problem in one line: the field errors when there are some.
fn reason(problem: &Problem) -> String {
    if problem.errors.is_empty() {
        return problem.detail.clone();
    }
    problem
        .errors
        .iter()
        .map(|e| match e.field.is_empty() {
            true => e.message.clone(),
            false => format!("{}: {}", e.field, e.message),
        })
        .collect::<Vec<_>>()
        .join("; ")
}
