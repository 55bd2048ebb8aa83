//! The Contacts API. The workspace comes only from the verified token and is
//! bound into every query, so another workspace's contacts are not found.

use axum::Json as JsonResponse;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;
use serde_json::{Map, Value};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::AppState;
use super::auth::{Auth, need};
use super::error::{ApiError, ApiResult, FieldError, Problem};
use super::extract::{Json, Path, Query, UniqueMap, item, nullable, parse_id};
use crate::clock::rfc3339_precise;
use crate::ids::ContactId;
use crate::service::MAX_BATCH;
use crate::store::{Contact, ContactFields, ContactPatch};
use crate::text;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_contacts, create_contact))
        .routes(routes!(create_contacts))
        .routes(routes!(get_contact, update_contact, delete_contact))
}

const DEFAULT_LIMIT: u32 = 25;
const MAX_LIMIT: u32 = 100;
const MAX_TAGS: usize = 50;
const MAX_TAG_LEN: usize = 100;
const MAX_ATTRIBUTES_BYTES: usize = 16 * 1024;
const MAX_NAME_LEN: usize = 200;
const MAX_PHONE_LEN: usize = 50;

#[derive(Serialize, ToSchema)]
struct ContactBody {
    id: String,
    email: String,
    first_name: Option<String>,
    last_name: Option<String>,
    phone: Option<String>,
    company: Option<String>,
    tags: Vec<String>,
    #[schema(value_type = Object)]
    attributes: Map<String, Value>,
    created_at: String,
    updated_at: String,
}

impl From<Contact> for ContactBody {
    fn from(c: Contact) -> Self {
        ContactBody {
            id: c.id.into(),
            email: c.email,
            first_name: c.first_name,
            last_name: c.last_name,
            phone: c.phone,
            company: c.company,
            tags: c.tags,
            attributes: c.attributes,
            created_at: rfc3339_precise(c.created_at),
            updated_at: rfc3339_precise(c.updated_at),
        }
    }
}

#[derive(Serialize, ToSchema)]
struct ContactList {
    data: Vec<ContactBody>,
    /// Pass as `cursor` to get the next page; null on the last page.
    next_cursor: Option<String>,
}

#[derive(Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
struct ListParams {
    /// 1–100, default 25.
    #[param(minimum = 1, maximum = 100)]
    limit: Option<u32>,
    /// From the previous page's `next_cursor`.
    #[param(min_length = 1)]
    cursor: Option<String>,
    /// Only the contact with this email (case-insensitive).
    email: Option<String>,
}

// The schemas below state every rule `Checks` applies that JSON Schema can
// express, so clients (and schemathesis) know a body is valid before sending
// it: lengths in characters, and no control characters (the `TEXT` pattern,
// Unicode category Cc). The 16 KiB bound on `attributes` is checked only here.

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct CreateContact {
    /// Unique in the workspace, case-insensitively.
    #[schema(schema_with = email_field)]
    email: String,
    #[schema(schema_with = name_field)]
    first_name: Option<String>,
    #[schema(schema_with = name_field)]
    last_name: Option<String>,
    #[schema(schema_with = phone_field)]
    phone: Option<String>,
    #[schema(schema_with = name_field)]
    company: Option<String>,
    /// At most 50 strings of 1 to 100 characters.
    #[schema(schema_with = tags_schema)]
    tags: Option<Vec<String>>,
    /// A flat JSON object (no nested objects or arrays), at most 16 KiB.
    #[schema(schema_with = attributes_schema)]
    attributes: Option<UniqueMap>,
}

/// Only the fields given change; `null` clears an optional field.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct UpdateContact {
    /// Cannot be cleared.
    #[serde(default, deserialize_with = "nullable")]
    #[schema(schema_with = email_field, required = false)]
    email: Option<Option<String>>,
    #[serde(default, deserialize_with = "nullable")]
    #[schema(schema_with = name_field, required = false)]
    first_name: Option<Option<String>>,
    #[serde(default, deserialize_with = "nullable")]
    #[schema(schema_with = name_field, required = false)]
    last_name: Option<Option<String>>,
    #[serde(default, deserialize_with = "nullable")]
    #[schema(schema_with = phone_field, required = false)]
    phone: Option<Option<String>>,
    #[serde(default, deserialize_with = "nullable")]
    #[schema(schema_with = name_field, required = false)]
    company: Option<Option<String>>,
    #[serde(default, deserialize_with = "nullable")]
    #[schema(schema_with = tags_schema, required = false)]
    tags: Option<Option<Vec<String>>>,
    #[serde(default, deserialize_with = "nullable")]
    #[schema(schema_with = attributes_schema, required = false)]
    attributes: Option<Option<UniqueMap>>,
}

/// `email`: an address of at most 254 characters.
fn email_field() -> utoipa::openapi::schema::Object {
    use utoipa::openapi::schema::{KnownFormat, SchemaFormat};
    let mut schema = text::Rule::up_to(text::MAX_EMAIL_LEN).schema(false);
    schema.format = Some(SchemaFormat::KnownFormat(KnownFormat::Email));
    schema
}

/// Names and the company: up to 200 characters, or null.
fn name_field() -> utoipa::openapi::schema::Object {
    text::Rule::up_to(MAX_NAME_LEN).schema(true)
}

/// `phone`: up to 50 characters, or null.
fn phone_field() -> utoipa::openapi::schema::Object {
    text::Rule::up_to(MAX_PHONE_LEN).schema(true)
}

/// `tags`: up to 50 strings of 1–100 characters, or null.
fn tags_schema() -> utoipa::openapi::schema::Array {
    use utoipa::openapi::schema::{ArrayBuilder, ObjectBuilder, SchemaType, Type};
    ArrayBuilder::new()
        .schema_type(SchemaType::from_iter([Type::Array, Type::Null]))
        .items(
            ObjectBuilder::new()
                .schema_type(Type::String)
                .min_length(Some(1))
                .max_length(Some(MAX_TAG_LEN))
                .pattern(Some(text::PATTERN)),
        )
        .max_items(Some(MAX_TAGS))
        .build()
}

/// `attributes`: an object of scalar values whose keys are text of at most
/// 200 characters and whose strings hold no NUL, or null.
fn attributes_schema() -> utoipa::openapi::schema::Object {
    use utoipa::openapi::schema::{AdditionalProperties, ObjectBuilder, SchemaType, Type};
    let scalar = ObjectBuilder::new()
        .schema_type(SchemaType::from_iter([
            Type::String,
            Type::Number,
            Type::Boolean,
            Type::Null,
        ]))
        .pattern(Some(r"^[^\u0000]*$"));
    let key = ObjectBuilder::new()
        .schema_type(Type::String)
        .max_length(Some(MAX_NAME_LEN))
        .pattern(Some(text::PATTERN));
    ObjectBuilder::new()
        .schema_type(SchemaType::from_iter([Type::Object, Type::Null]))
        .description(Some(
            "A flat JSON object (values are strings, numbers, booleans or null), at most 16 KiB.",
        ))
        .property_names(Some(key))
        .additional_properties(Some(AdditionalProperties::RefOr(scalar.into())))
        .build()
}

/// Collects every field error of a body before answering.
#[derive(Default)]
struct Checks(Vec<FieldError>);

impl Checks {
    fn fail(&mut self, field: &str, message: impl Into<String>) {
        self.0.push(FieldError {
            field: field.to_owned(),
            message: message.into(),
        });
    }

    fn text(&mut self, field: &str, value: &str, max: usize) {
        if let Some(problem) = text::Rule::up_to(max).problem(value) {
            self.fail(field, problem);
        }
    }

    fn optional(&mut self, field: &str, value: Option<&String>, max: usize) {
        if let Some(value) = value {
            self.text(field, value, max);
        }
    }

    /// The address in its canonical form, if it is one.
    fn email(&mut self, value: &str) -> Option<String> {
        match text::check_email("email", value) {
            Ok(email) => Some(email.address),
            Err(e) => {
                self.fail(e.field, e.message);
                None
            }
        }
    }

    fn tags(&mut self, tags: &[String]) {
        if tags.len() > MAX_TAGS {
            self.fail(
                "tags",
                format!("at most {MAX_TAGS} tags, got {}", tags.len()),
            );
        }
        for (i, tag) in tags.iter().enumerate() {
            if tag.is_empty() {
                self.fail(&format!("tags[{i}]"), "must not be empty");
            } else {
                self.text(&format!("tags[{i}]"), tag, MAX_TAG_LEN);
            }
        }
    }

    fn attributes(&mut self, attributes: &Map<String, Value>) {
        if let Some((key, _)) = attributes
            .iter()
            .find(|(_, v)| v.is_object() || v.is_array())
        {
            self.fail(
                &format!("attributes.{key}"),
                "attributes are flat: values are strings, numbers, booleans or null",
            );
        }
        let size = serde_json::to_vec(attributes)
            .map(|v| v.len())
            .unwrap_or(usize::MAX);
        if size > MAX_ATTRIBUTES_BYTES {
            self.fail(
                "attributes",
                format!("must be at most 16 KiB as JSON, got {size} bytes"),
            );
        }
        // Keys and string values are text like any other field (no NUL, which
        // PostgreSQL would refuse).
        for (key, value) in attributes {
            self.text(&format!("attributes.{key}"), key, MAX_NAME_LEN);
            if let Value::String(s) = value
                && s.contains('\0')
            {
                self.fail(
                    &format!("attributes.{key}"),
                    "must not contain NUL characters",
                );
            }
        }
    }

    fn done(self) -> ApiResult<()> {
        if self.0.is_empty() {
            Ok(())
        } else {
            Err(ApiError::Validation(self.0))
        }
    }
}

const CURSOR_PURPOSE: &str = "contacts";

fn bad_cursor() -> ApiError {
    ApiError::BadRequest("invalid cursor: pass next_cursor from a previous page".to_owned())
}

/// List contacts, oldest first, a page at a time.
#[utoipa::path(get, path = "/v1/contacts", tag = "contacts", security(("bearer" = ["contacts:read"])),
    params(ListParams),
    responses((status = 200, body = ContactList), (status = 400, body = Problem), (status = 401, body = Problem), (status = 403, body = Problem)))]
async fn list_contacts(
    State(state): State<AppState>,
    Auth(principal, ..): Auth<need::ContactsRead>,
    Query(params): Query<ListParams>,
) -> ApiResult<JsonResponse<ContactList>> {
    let limit = params.limit.unwrap_or(DEFAULT_LIMIT);
    if !(1..=MAX_LIMIT).contains(&limit) {
        return Err(ApiError::BadRequest(format!(
            "limit must be 1 to {MAX_LIMIT}, got {limit}"
        )));
    }
    let workspace = principal.workspace();
    let after = match params.cursor.as_deref() {
        None => None,
        Some(cursor) => Some(
            state
                .cursor_key()
                .open(CURSOR_PURPOSE, workspace, cursor)
                .and_then(|id| ContactId::parse(&id))
                .ok_or_else(bad_cursor)?,
        ),
    };
    let mut contacts = state
        .service()
        .contacts(
            &principal.actor(),
            params.email.as_deref(),
            after.as_ref(),
            limit + 1,
        )
        .await?;
    let next_cursor = if contacts.len() > limit as usize {
        contacts.truncate(limit as usize);
        contacts.last().map(|c| {
            state
                .cursor_key()
                .seal(CURSOR_PURPOSE, workspace, c.id.as_str())
        })
    } else {
        None
    };
    Ok(JsonResponse(ContactList {
        data: contacts.into_iter().map(ContactBody::from).collect(),
        next_cursor,
    }))
}

/// Create a contact.
#[utoipa::path(post, path = "/v1/contacts", tag = "contacts", security(("bearer" = ["contacts:write"])),
    request_body = CreateContact,
    responses((status = 201, body = ContactBody), (status = 409, body = Problem), (status = 422, body = Problem)))]
async fn create_contact(
    State(state): State<AppState>,
    Auth(principal, ..): Auth<need::ContactsWrite>,
    Json(body): Json<CreateContact>,
) -> ApiResult<impl IntoResponse> {
    let fields = checked(body)?;
    let contact = state
        .service()
        .create_contact(&principal.actor(), fields)
        .await?;
    let location = format!("/v1/contacts/{}", contact.id);
    Ok((
        StatusCode::CREATED,
        [(header::LOCATION, location)],
        JsonResponse(ContactBody::from(contact)),
    ))
}

/// A new contact from one JSON object, checked as `POST /v1/contacts`
/// checks its body: what `informly contacts import` sends in batches.
pub(crate) fn new_contact(json: &str) -> ApiResult<ContactFields> {
    item::<CreateContact>(json).and_then(checked)
}

/// The fields of a create, checked: every bad field reported at once.
fn checked(body: CreateContact) -> ApiResult<ContactFields> {
    let mut checks = Checks::default();
    let email = checks.email(&body.email);
    checks.optional("first_name", body.first_name.as_ref(), MAX_NAME_LEN);
    checks.optional("last_name", body.last_name.as_ref(), MAX_NAME_LEN);
    checks.optional("phone", body.phone.as_ref(), MAX_PHONE_LEN);
    checks.optional("company", body.company.as_ref(), MAX_NAME_LEN);
    let tags = body.tags.unwrap_or_default();
    checks.tags(&tags);
    let attributes = body.attributes.unwrap_or_default().0;
    checks.attributes(&attributes);
    checks.done()?;
    Ok(ContactFields {
        // Checked above: the canonical form.
        email: email.unwrap_or(body.email),
        first_name: body.first_name,
        last_name: body.last_name,
        phone: body.phone,
        company: body.company,
        tags,
        attributes,
    })
}

/// Up to 1,000 contacts to create; each is a `CreateContact`, checked on its
/// own.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct CreateContacts {
    #[schema(value_type = Vec<CreateContact>, min_items = 1, max_items = 1000)]
    contacts: Vec<Box<RawValue>>,
}

/// One item's outcome, at the item's index.
#[derive(Serialize, ToSchema)]
struct BatchResult {
    /// 201 when created, else the problem's status (409 duplicate email,
    /// 422 invalid fields).
    status: u16,
    /// The created contact, when `status` is 201.
    #[serde(skip_serializing_if = "Option::is_none")]
    contact: Option<ContactBody>,
    /// What was wrong with this item, when it was not created.
    #[serde(skip_serializing_if = "Option::is_none")]
    problem: Option<Problem>,
}

impl From<ApiResult<Contact>> for BatchResult {
    fn from(outcome: ApiResult<Contact>) -> Self {
        match outcome {
            Ok(contact) => BatchResult {
                status: StatusCode::CREATED.as_u16(),
                contact: Some(contact.into()),
                problem: None,
            },
            Err(e) => {
                let problem = e.problem();
                BatchResult {
                    status: problem.status,
                    contact: None,
                    problem: Some(problem),
                }
            }
        }
    }
}

#[derive(Serialize, ToSchema)]
struct BatchBody {
    /// One per item of the request, in its order.
    results: Vec<BatchResult>,
    created: usize,
    failed: usize,
}

/// Create up to 1,000 contacts at once.
///
/// Answered 200 whenever the batch itself is well-formed: each item has its
/// own result, in order, created or refused with its own problem (a
/// duplicate email, whether of an existing contact or of an earlier item,
/// or invalid fields). The items created are committed in one transaction.
#[utoipa::path(post, path = "/v1/contacts/batch", tag = "contacts", security(("bearer" = ["contacts:write"])),
    request_body = CreateContacts,
    responses((status = 200, body = BatchBody), (status = 400, body = Problem), (status = 413, body = Problem), (status = 422, body = Problem)))]
async fn create_contacts(
    State(state): State<AppState>,
    Auth(principal, ..): Auth<need::ContactsWrite>,
    Json(body): Json<CreateContacts>,
) -> ApiResult<JsonResponse<BatchBody>> {
    let count = body.contacts.len();
    if count == 0 || count > MAX_BATCH {
        return Err(ApiError::validation(
            "contacts",
            format!("must hold 1 to {MAX_BATCH} contacts, got {count}"),
        ));
    }
    // Each item checked alone: a bad one is its own result, and the good
    // ones go to the service together, in order.
    let mut valid = Vec::with_capacity(count);
    let checked: Vec<ApiResult<()>> = body
        .contacts
        .iter()
        .map(|raw| new_contact(raw.get()).map(|fields| valid.push(fields)))
        .collect();
    let mut created = match valid.is_empty() {
        true => Vec::new(),
        false => {
            state
                .service()
                .create_contacts(&principal.actor(), valid)
                .await?
        }
    }
    .into_iter();
    let results: Vec<BatchResult> = checked
        .into_iter()
        .map(|item| {
            BatchResult::from(item.and_then(|()| match created.next() {
                Some(result) => result.map_err(ApiError::from),
                None => Err(ApiError::Internal(
                    "the batch was answered for fewer items than it had".to_owned(),
                )),
            }))
        })
        .collect();
    let created = results.iter().filter(|r| r.contact.is_some()).count();
    Ok(JsonResponse(BatchBody {
        failed: results.len() - created,
        created,
        results,
    }))
}

/// Get a contact.
#[utoipa::path(get, path = "/v1/contacts/{id}", tag = "contacts", security(("bearer" = ["contacts:read"])),
    params(("id" = String, Path)),
    responses((status = 200, body = ContactBody), (status = 404, body = Problem)))]
async fn get_contact(
    State(state): State<AppState>,
    Auth(principal, ..): Auth<need::ContactsRead>,
    Path(id): Path<String>,
) -> ApiResult<JsonResponse<ContactBody>> {
    let contact = state
        .service()
        .contact(&principal.actor(), &parse_id(&id)?)
        .await?;
    Ok(JsonResponse(contact.into()))
}

/// Update some fields of a contact.
#[utoipa::path(patch, path = "/v1/contacts/{id}", tag = "contacts", security(("bearer" = ["contacts:write"])),
    params(("id" = String, Path)), request_body = UpdateContact,
    responses((status = 200, body = ContactBody), (status = 404, body = Problem), (status = 409, body = Problem), (status = 422, body = Problem)))]
async fn update_contact(
    State(state): State<AppState>,
    Auth(principal, ..): Auth<need::ContactsWrite>,
    Path(id): Path<String>,
    Json(body): Json<UpdateContact>,
) -> ApiResult<JsonResponse<ContactBody>> {
    let id: ContactId = parse_id(&id)?;
    let mut checks = Checks::default();
    let email = match body.email {
        None => None,
        Some(None) => {
            checks.fail("email", "is required and cannot be null");
            None
        }
        Some(Some(email)) => checks.email(&email),
    };
    checks.optional(
        "first_name",
        body.first_name.as_ref().and_then(Option::as_ref),
        MAX_NAME_LEN,
    );
    checks.optional(
        "last_name",
        body.last_name.as_ref().and_then(Option::as_ref),
        MAX_NAME_LEN,
    );
    checks.optional(
        "phone",
        body.phone.as_ref().and_then(Option::as_ref),
        MAX_PHONE_LEN,
    );
    checks.optional(
        "company",
        body.company.as_ref().and_then(Option::as_ref),
        MAX_NAME_LEN,
    );
    let tags = body.tags.map(Option::unwrap_or_default);
    if let Some(tags) = &tags {
        checks.tags(tags);
    }
    let attributes = body.attributes.map(|a| a.unwrap_or_default().0);
    if let Some(attributes) = &attributes {
        checks.attributes(attributes);
    }
    checks.done()?;

    let patch = ContactPatch {
        email,
        first_name: body.first_name,
        last_name: body.last_name,
        phone: body.phone,
        company: body.company,
        tags,
        attributes,
    };
    let contact = state
        .service()
        .update_contact(&principal.actor(), &id, patch)
        .await?;
    Ok(JsonResponse(contact.into()))
}

/// Delete a contact.
#[utoipa::path(delete, path = "/v1/contacts/{id}", tag = "contacts", security(("bearer" = ["contacts:delete"])),
    params(("id" = String, Path)),
    responses((status = 204), (status = 404, body = Problem)))]
async fn delete_contact(
    State(state): State<AppState>,
    Auth(principal, ..): Auth<need::ContactsDelete>,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    state
        .service()
        .delete_contact(&principal.actor(), &parse_id(&id)?)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}
