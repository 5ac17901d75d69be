//! The API keeps the promises of its OpenAPI document. A clinic's whole
//! story is told through the API, calling every operation the document
//! lists, and every answer, refusals included, is checked against the
//! schema the document declares for that operation and status (with a JSON
//! Schema validator, `$ref`s resolved into the document's components). A
//! field the document does not declare fails it, and so does a `null` where
//! it declares a plain type: an optional field is left out, never `null`
//! (see docs/architecture.md). Every operation must also refuse a caller
//! with no credentials and no body with a documented error. An operation
//! the document lists and this test never calls fails it, so a new endpoint
//! comes with its line here.

use std::collections::{BTreeMap, BTreeSet};

use portico_tests::smtp::{Behaviour, SmtpSink, via_smtp};
use portico_tests::{
    FIRST_PASSWORD, PASSWORD, Patient, Staff, TestApp, both_engines, file_form, plugin_fixture,
};
use reqwest::header::HeaderMap;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

const PATIENT_PASSWORD: &str = "a family passphrase";
const PDF: &[u8] =
    b"%PDF-1.7\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n";

/// Who sends a request.
enum As<'a> {
    Nobody,
    Operator,
    Staff(&'a Staff),
    /// A staff member's cookie session: the cookie and its CSRF token.
    StaffCookie(&'a str, &'a str),
    Patient(&'a Patient),
}

/// What a request carries.
enum Body {
    None,
    Json(Value),
    Form(reqwest::multipart::Form),
    Bytes(Vec<u8>, &'static str),
}

impl From<Value> for Body {
    fn from(v: Value) -> Self {
        Body::Json(v)
    }
}

/// An answer, read whole.
struct Answer {
    status: StatusCode,
    headers: HeaderMap,
    /// The JSON body; `Null` for an empty or non-JSON one.
    json: Value,
    text: String,
}

impl Answer {
    /// The first cookie the answer sets, as `name=value`.
    fn cookie(&self) -> String {
        self.headers
            .get("set-cookie")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split(';').next())
            .expect("the answer sets a cookie")
            .to_owned()
    }

    fn str(&self, pointer: &str) -> String {
        self.json
            .pointer(pointer)
            .and_then(Value::as_str)
            .unwrap_or_else(|| panic!("no {pointer} in {}", self.json))
            .to_owned()
    }
}

/// The document, and which operations answered what.
struct Contract {
    doc: Value,
    /// The document's components, made strict for validation: an object
    /// schema admits only the properties it declares.
    components: Value,
    /// `METHOD /path/{param}` of every operation in the document.
    operations: BTreeSet<String>,
    answered: BTreeMap<String, BTreeSet<u16>>,
}

const METHODS: [&str; 5] = ["get", "post", "put", "patch", "delete"];

impl Contract {
    fn new(doc: Value) -> Self {
        let mut operations = BTreeSet::new();
        for (path, item) in doc["paths"].as_object().expect("the document has paths") {
            for method in METHODS {
                if item.get(method).is_some() {
                    operations.insert(format!("{} {path}", method.to_uppercase()));
                }
            }
        }
        let mut components = doc["components"].clone();
        strict(&mut components);
        Self {
            doc,
            components,
            operations,
            answered: BTreeMap::new(),
        }
    }

    /// The document's operation for a concrete request: the path template
    /// whose segments match, literal segments preferred to parameters.
    fn operation(&self, method: &Method, path: &str) -> String {
        let segments: Vec<&str> = path.trim_end_matches('/').split('/').collect();
        let mut best: Option<(usize, &str)> = None;
        for template in self.doc["paths"].as_object().unwrap().keys() {
            let parts: Vec<&str> = template.trim_end_matches('/').split('/').collect();
            if parts.len() != segments.len()
                || self.doc["paths"][template]
                    .get(method.as_str().to_lowercase())
                    .is_none()
            {
                continue;
            }
            let mut literal = 0;
            let fits = parts.iter().zip(&segments).all(|(t, s)| {
                if t.starts_with('{') {
                    true
                } else {
                    literal += 1;
                    t == s
                }
            });
            if fits && best.is_none_or(|(n, _)| literal > n) {
                best = Some((literal, template));
            }
        }
        let (_, template) =
            best.unwrap_or_else(|| panic!("the document has no operation {method} {path}"));
        format!("{method} {template}")
    }

    /// Sends a request to `path` (below `/api`, in clinic `north` unless it
    /// is an operator's), checks the answer against the document, and
    /// records it.
    async fn send(
        &mut self,
        app: &TestApp,
        who: &As<'_>,
        method: Method,
        path: &str,
        body: impl Into<Body>,
    ) -> Answer {
        let url = if path.starts_with("/operator/") {
            app.url(&format!("/api{path}"))
        } else {
            app.tenant_url("north", &format!("/api{path}"))
        };
        let mut req = app.client.request(method.clone(), url);
        req = match who {
            As::Nobody => req,
            As::Operator => req.bearer_auth(&app.operator_token),
            As::Staff(s) => req.bearer_auth(&s.token),
            As::StaffCookie(cookie, csrf) => {
                req.header("cookie", *cookie).header("x-csrf-token", *csrf)
            }
            As::Patient(p) => req
                .header("cookie", &p.cookie)
                .header("x-csrf-token", &p.csrf),
        };
        req = match body.into() {
            Body::None => req,
            Body::Json(v) => req.json(&v),
            Body::Form(f) => req.multipart(f),
            Body::Bytes(b, content_type) => req.header("content-type", content_type).body(b),
        };
        let resp = req.send().await.unwrap();
        let status = resp.status();
        let headers = resp.headers().clone();
        let bytes = resp.bytes().await.unwrap();
        let route = path.split('?').next().unwrap();
        let operation = self.operation(&method, route);
        let json = self.check(&operation, status, &headers, &bytes);
        self.answered
            .entry(operation)
            .or_default()
            .insert(status.as_u16());
        Answer {
            status,
            headers,
            json,
            text: String::from_utf8_lossy(&bytes).into_owned(),
        }
    }

    /// [`send`](Self::send), expecting success.
    async fn ok(
        &mut self,
        app: &TestApp,
        who: &As<'_>,
        method: Method,
        path: &str,
        body: impl Into<Body>,
    ) -> Answer {
        let answer = self.send(app, who, method.clone(), path, body).await;
        assert!(
            answer.status.is_success(),
            "{method} {path}: expected success, got {}: {}",
            answer.status,
            answer.text
        );
        answer
    }

    /// Checks an answer against what the document declares for the
    /// operation and status; returns its JSON body.
    fn check(
        &self,
        operation: &str,
        status: StatusCode,
        headers: &HeaderMap,
        bytes: &[u8],
    ) -> Value {
        let (method, path) = operation.split_once(' ').unwrap();
        let responses = &self.doc["paths"][path][method.to_lowercase()]["responses"];
        let declared = [
            status.as_str().to_owned(),
            format!("{}XX", status.as_u16() / 100),
            "default".to_owned(),
        ]
        .iter()
        .find_map(|key| responses.get(key))
        .unwrap_or_else(|| {
            panic!(
                "{operation} answered {status}, which its document does not declare: {}",
                String::from_utf8_lossy(bytes)
            )
        });
        let Some(content) = declared.get("content").and_then(Value::as_object) else {
            assert!(
                bytes.is_empty(),
                "{operation} {status}: the document declares no body, the answer has one: {}",
                String::from_utf8_lossy(bytes)
            );
            return Value::Null;
        };
        let sent = headers
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default();
        let essence = |t: &str| t.split(';').next().unwrap().trim().to_lowercase();
        let (_, media) = content
            .iter()
            .find(|(declared, _)| essence(declared) == essence(sent))
            .unwrap_or_else(|| {
                panic!(
                    "{operation} {status} answered {sent:?}; the document declares {:?}",
                    content.keys().collect::<Vec<_>>()
                )
            });
        if !essence(sent).ends_with("json") {
            return Value::Null;
        }
        let body: Value = serde_json::from_slice(bytes).unwrap_or_else(|e| {
            panic!(
                "{operation} {status}: the body is not JSON ({e}): {}",
                String::from_utf8_lossy(bytes)
            )
        });
        let mut schema = json!({"allOf": [media["schema"]], "components": self.components});
        strict(&mut schema["allOf"]);
        let validator = jsonschema::options()
            .with_draft(jsonschema::Draft::Draft4)
            .should_validate_formats(false)
            .build(&schema)
            .unwrap_or_else(|e| panic!("{operation} {status}: the document's schema: {e}"));
        let errors: Vec<String> = validator
            .iter_errors(&body)
            .map(|e| format!("  at {:?}: {e}", e.instance_path().as_str()))
            .collect();
        assert!(
            errors.is_empty(),
            "{operation} answered {status} with a body its document does not allow:\n{}\nbody: {body}",
            errors.join("\n")
        );
        body
    }

    /// Every operation, called with no credentials and (where it takes one)
    /// an empty body: each refuses with a documented error in plain words.
    async fn refuse_everything_anonymously(&mut self, app: &TestApp) {
        let nobody_id = "0190f6a4-1c2b-7d3e-8f40-5a6b7c8d9e0f";
        for operation in self.operations.clone() {
            let (method, template) = operation.split_once(' ').unwrap();
            let path = template
                .split('/')
                .map(|s| if s.starts_with('{') { nobody_id } else { s })
                .collect::<Vec<_>>()
                .join("/");
            let method: Method = method.parse().unwrap();
            let body = if [Method::GET, Method::DELETE].contains(&method) {
                Body::None
            } else {
                Body::Json(json!({}))
            };
            let answer = self.send(app, &As::Nobody, method, &path, body).await;
            // A passkey sign-in starts with no name and no secret: anyone
            // may ask for a challenge (nothing is checked until its answer).
            if PUBLIC_WITHOUT_INPUT.contains(&operation.as_str()) {
                assert!(answer.status.is_success(), "{operation}: {}", answer.text);
                continue;
            }
            assert!(
                answer.status.is_client_error(),
                "{operation} with no credentials and no body: {} {}",
                answer.status,
                answer.text
            );
            assert_plain(&operation, &answer.json);
        }
    }

    /// Fails naming every operation that never succeeded or never refused.
    fn assert_every_operation_answered(&self) {
        let never = |wanted: fn(u16) -> bool| -> Vec<&String> {
            self.operations
                .iter()
                .filter(|op| {
                    !self
                        .answered
                        .get(*op)
                        .is_some_and(|s| s.iter().any(|c| wanted(*c)))
                })
                .collect()
        };
        assert!(
            !self.operations.is_empty(),
            "the document lists no operation"
        );
        let unsucceeded = never(|c| (200..300).contains(&c));
        let unrefused = never(|c| (400..500).contains(&c));
        assert!(
            unsucceeded.is_empty() && unrefused.is_empty(),
            "every operation in the document must be called here, succeeding and refused;\n\
             never succeeded: {unsucceeded:#?}\nnever refused: {unrefused:#?}"
        );
        eprintln!(
            "{} operations, each answered a success and a refusal that fit the document",
            self.operations.len()
        );
    }
}

/// Operations anyone may call with nothing at all.
const PUBLIC_WITHOUT_INPUT: &[&str] = &[
    "POST /v1/auth/passkey-login/options",
    "POST /v1/portal/passkey-login/options",
];

/// An error in plain words: no type names, no parser's text.
fn assert_plain(what: &str, error: &Value) {
    let message = error["message"].as_str().unwrap_or_default();
    for internal in [
        "failed to parse",
        "Expected input type",
        "Request\"",
        "verification failed",
        "occurred while",
    ] {
        assert!(!message.contains(internal), "{what}: {message}");
    }
}

/// Makes every object schema with declared properties admit only those, and
/// turns OpenAPI 3.0's `nullable` into JSON Schema's `null` type.
fn strict(schema: &mut Value) {
    match schema {
        Value::Object(map) => {
            if map.contains_key("properties") && !map.contains_key("additionalProperties") {
                map.insert("additionalProperties".into(), Value::Bool(false));
            }
            if map.remove("nullable") == Some(Value::Bool(true)) {
                match map.get("type").cloned() {
                    Some(Value::String(t)) => {
                        map.insert("type".into(), json!([t, "null"]));
                    }
                    _ => {
                        let inner = Value::Object(std::mem::take(map));
                        map.insert("anyOf".into(), json!([inner, {"type": "null"}]));
                    }
                }
            }
            map.values_mut().for_each(strict);
        }
        Value::Array(items) => items.iter_mut().for_each(strict),
        _ => {}
    }
}

fn staff_of(answer: &Answer, email: &str) -> Staff {
    Staff {
        slug: "north".into(),
        id: answer.str("/staff/id"),
        email: email.into(),
        token: answer.str("/token"),
    }
}

fn patient_of(answer: &Answer) -> Patient {
    Patient {
        slug: "north".into(),
        cookie: answer.cookie(),
        csrf: answer.str("/csrf_token"),
        body: answer.json.clone(),
    }
}

both_engines! {
    async fn every_operation_answers_as_its_document_says(app) {
        use Method as M;
        let engine = app.engine;
        drop(app);
        let sink = SmtpSink::start().await;
        let Some(app) = TestApp::spawn_with(engine, via_smtp(sink.port)).await else { return };
        let doc: Value = app.client.get(app.url("/api/openapi.json")).send().await.unwrap().json().await.unwrap();
        // A request field whose `null` clears a value says it takes null.
        for (schema, field) in [("UpdatePatientRequest", "email"), ("UpdatePatientRequest", "phone"), ("UpdatePatientRequest", "home_zip"),
                                ("SettingsRequest", "logo_url"), ("SettingsRequest", "reply_to")] {
            assert_eq!(doc["components"]["schemas"][schema]["properties"][field]["nullable"], true, "{schema}.{field}");
        }
        let mut c = Contract::new(doc);
        let (op, nobody) = (As::Operator, As::Nobody);

        // The platform's operator opens two clinics and hands one over.
        let north = c.ok(&app, &op, M::POST, "/operator/v1/tenants", json!({"slug": "north", "display_name": "North Clinic", "require_staff_second_factor": false})).await;
        assert!(north.json.get("custom_domain").is_none(), "none is left out, not null: {}", north.json);
        c.ok(&app, &op, M::POST, "/operator/v1/tenants", json!({"slug": "south", "display_name": "South Clinic"})).await;
        c.ok(&app, &op, M::GET, "/operator/v1/tenants", Body::None).await;
        c.ok(&app, &op, M::GET, "/operator/v1/tenants/north", Body::None).await;
        c.ok(&app, &op, M::POST, "/operator/v1/tenants/north/owners", json!({"email": "owner@north.example.org", "display_name": "Olivia Owner", "password": FIRST_PASSWORD})).await;
        c.ok(&app, &op, M::POST, "/operator/v1/tenants/south/suspend", json!({})).await;
        c.ok(&app, &op, M::POST, "/operator/v1/tenants/south/resume", json!({})).await;
        let connected = c.ok(&app, &op, M::PUT, "/operator/v1/tenants/south/custom-domain", json!({"custom_domain": "portal.south-clinic.example.org"})).await;
        assert_eq!(connected.json["custom_domain"], "portal.south-clinic.example.org");
        c.ok(&app, &op, M::PUT, "/operator/v1/tenants/south/custom-domain", json!({"custom_domain": null})).await;

        // Nobody gets anywhere without credentials, and is told so.
        c.refuse_everything_anonymously(&app).await;

        // Staff log in, with a token and with a cookie session. The owner
        // first replaces the password the operator chose.
        let first = staff_of(&c.ok(&app, &nobody, M::POST, "/v1/auth/tokens", json!({"email": "owner@north.example.org", "password": FIRST_PASSWORD})).await, "owner@north.example.org");
        c.ok(&app, &As::Staff(&first), M::POST, "/v1/auth/password", json!({"current_password": FIRST_PASSWORD, "new_password": PASSWORD})).await;
        let login = json!({"email": "owner@north.example.org", "password": PASSWORD});
        let owner = staff_of(&c.ok(&app, &nobody, M::POST, "/v1/auth/tokens", login.clone()).await, "owner@north.example.org");
        let cookie_login = c.ok(&app, &nobody, M::POST, "/v1/auth/login", login).await;
        let (cookie, csrf) = (cookie_login.cookie(), cookie_login.str("/csrf_token"));
        let by_cookie = As::StaffCookie(&cookie, &csrf);
        let me = c.ok(&app, &by_cookie, M::GET, "/v1/auth/me", Body::None).await;
        assert!(me.json.get("step_up_valid_until").is_none(), "{}", me.json);
        c.ok(&app, &by_cookie, M::POST, "/v1/auth/logout", Body::None).await;
        let o = As::Staff(&owner);
        c.ok(&app, &o, M::POST, "/v1/auth/step-up", json!({"password": PASSWORD})).await;
        let me = c.ok(&app, &o, M::GET, "/v1/auth/me", Body::None).await;
        assert!(me.json.get("csrf_token").is_none(), "a bearer session has no CSRF token: {}", me.json);

        // The clinic's settings.
        c.ok(&app, &o, M::GET, "/v1/clinic", Body::None).await;
        c.ok(&app, &o, M::GET, "/v1/clinic/settings", Body::None).await;
        c.ok(&app, &o, M::PATCH, "/v1/clinic/settings", json!({"reply_to": "desk@north.example.org", "self_registration": true})).await;
        c.ok(&app, &o, M::PUT, "/v1/clinic/portal-host", json!({"requested_host": "portal.north-clinic.example.org"})).await;
        c.ok(&app, &o, M::PUT, "/v1/clinic/portal-host", json!({"requested_host": null})).await;

        // Staff, roles and permission rules.
        let desk = c.ok(&app, &o, M::POST, "/v1/staff", json!({"email": "desk@north.example.org", "display_name": "Dana Desk", "password": PASSWORD, "roles": ["front_desk"]})).await;
        let desk_id = desk.str("/id");
        c.ok(&app, &o, M::GET, "/v1/staff", Body::None).await;
        c.ok(&app, &o, M::GET, &format!("/v1/staff/{desk_id}"), Body::None).await;
        c.ok(&app, &o, M::GET, "/v1/roles/assignments", Body::None).await;
        c.ok(&app, &o, M::PUT, &format!("/v1/roles/assignments/{desk_id}/auditor"), Body::None).await;
        c.ok(&app, &o, M::DELETE, &format!("/v1/roles/assignments/{desk_id}/auditor"), Body::None).await;
        c.ok(&app, &o, M::GET, "/v1/roles/policies", Body::None).await;
        c.ok(&app, &o, M::POST, "/v1/roles/policies", json!({"role": "front_desk", "resource": "audit", "action": "read"})).await;
        c.ok(&app, &o, M::DELETE, "/v1/roles/policies/front_desk/audit/read", Body::None).await;
        let desk = staff_of(&c.ok(&app, &nobody, M::POST, "/v1/auth/tokens", json!({"email": "desk@north.example.org", "password": PASSWORD})).await, "desk@north.example.org");
        c.ok(&app, &As::Staff(&desk), M::POST, "/v1/auth/password", json!({"current_password": PASSWORD, "new_password": "a desk's new passphrase"})).await;
        c.ok(&app, &o, M::POST, &format!("/v1/staff/{desk_id}/deactivate"), Body::None).await;
        c.ok(&app, &o, M::POST, &format!("/v1/staff/{desk_id}/reactivate"), Body::None).await;

        // Two-step sign-in: the desk sets up an authenticator app, and
        // signs in with it and with a recovery code.
        let desk_login = json!({"email": "desk@north.example.org", "password": "a desk's new passphrase"});
        let desk = staff_of(&c.ok(&app, &nobody, M::POST, "/v1/auth/tokens", desk_login.clone()).await, "desk@north.example.org");
        let d = As::Staff(&desk);
        portico_tests::clear_of_step_edge().await;
        let now = portico_tests::unix_now();
        let setup = c.ok(&app, &d, M::POST, "/v1/auth/factors/totp", json!({"name": "Phone"})).await;
        let (factor, secret) = (setup.str("/factor_id"), setup.str("/secret"));
        let added = c.ok(&app, &d, M::POST, &format!("/v1/auth/factors/totp/{factor}/confirm"), json!({"code": portico_tests::totp_code(&secret, now - 30)})).await;
        let recovery = added.str("/recovery_codes/0");
        let listed = c.ok(&app, &d, M::GET, "/v1/auth/factors", Body::None).await;
        assert!(listed.json["factors"][0].get("last_used_at").is_some(), "{}", listed.json);
        c.ok(&app, &d, M::POST, &format!("/v1/auth/factors/{factor}/name"), json!({"name": "Work phone"})).await;
        let pending = c.ok(&app, &nobody, M::POST, "/v1/auth/tokens", desk_login.clone()).await;
        assert_eq!(pending.status, StatusCode::ACCEPTED);
        let second = json!({"pending_token": pending.str("/pending_token"), "code": portico_tests::totp_code(&secret, now)});
        let desk = staff_of(&c.ok(&app, &nobody, M::POST, "/v1/auth/tokens/second-step", second).await, "desk@north.example.org");
        let d = As::Staff(&desk);
        let pending = c.ok(&app, &nobody, M::POST, "/v1/auth/login", desk_login).await;
        c.ok(&app, &nobody, M::POST, "/v1/auth/login/second-step", json!({"pending_token": pending.str("/pending_token"), "code": recovery})).await;
        c.ok(&app, &d, M::POST, "/v1/auth/step-up", json!({"code": portico_tests::totp_code(&secret, now + 30)})).await;
        c.ok(&app, &d, M::POST, "/v1/auth/recovery-codes", Body::None).await;
        c.ok(&app, &d, M::DELETE, &format!("/v1/auth/factors/{factor}"), Body::None).await;
        let setup = c.ok(&app, &d, M::POST, "/v1/auth/factors/totp", json!({"name": "Phone"})).await;
        let confirm = format!("/v1/auth/factors/totp/{}/confirm", setup.str("/factor_id"));
        c.ok(&app, &d, M::POST, &confirm, json!({"code": portico_tests::totp_code(&setup.str("/secret"), now)})).await;
        c.ok(&app, &o, M::POST, &format!("/v1/staff/{desk_id}/reset-second-factors"), Body::None).await;
        // Passkeys: added, then signing in alone and confirming a step-up.
        // The reset ended the desk's sessions: the password alone signs in.
        let desk = staff_of(&c.ok(&app, &nobody, M::POST, "/v1/auth/tokens", json!({"email": "desk@north.example.org", "password": "a desk's new passphrase"})).await, "desk@north.example.org");
        let d = As::Staff(&desk);
        let options = c.ok(&app, &d, M::POST, "/v1/auth/passkeys/options", Body::None).await;
        let (mut passkey, answer) = portico_tests::soft_passkey::SoftPasskey::register(&options.json["options"], &app.named_origin());
        c.ok(&app, &d, M::POST, "/v1/auth/passkeys", json!({"ceremony_id": options.json["ceremony_id"], "name": "Laptop", "credential": answer})).await;
        c.send(&app, &nobody, M::POST, "/v1/auth/passkey-login/options", json!({"pending_token": "no such login"})).await;
        let challenge = c.ok(&app, &nobody, M::POST, "/v1/auth/passkey-login/options", json!({})).await;
        let signed = passkey.sign(&challenge.json["options"]);
        let by_passkey = c.ok(&app, &nobody, M::POST, "/v1/auth/passkey-login", json!({"ceremony_id": challenge.json["ceremony_id"], "credential": signed})).await;
        let (cookie, csrf) = (by_passkey.cookie(), by_passkey.str("/csrf_token"));
        let desk_by_passkey = As::StaffCookie(&cookie, &csrf);
        let challenge = c.ok(&app, &desk_by_passkey, M::POST, "/v1/auth/step-up/passkey/options", Body::None).await;
        let signed = passkey.sign(&challenge.json["options"]);
        c.ok(&app, &desk_by_passkey, M::POST, "/v1/auth/step-up/passkey", json!({"ceremony_id": challenge.json["ceremony_id"], "credential": signed})).await;

        // Patients: one with every detail, one with few, one archived.
        let new_patient = |name: &str, email: Option<&str>| {
            let mut p = json!({"full_name": name, "date_of_birth": "1980-05-17"});
            if let Some(email) = email {
                p["email"] = email.into();
                p["home_zip"] = "90210".into();
            }
            p
        };
        let mia = c.ok(&app, &o, M::POST, "/v1/patients", new_patient("Mia Wong", Some("mia@example.org"))).await.str("/id");
        let leo = c.ok(&app, &o, M::POST, "/v1/patients", new_patient("Leo Wong", Some("leo@example.org"))).await.str("/id");
        let noor = c.ok(&app, &o, M::POST, "/v1/patients", new_patient("Noor Ali", None)).await;
        assert!(noor.json.get("email").is_none() && noor.json.get("phone").is_none(), "{}", noor.json);
        let noor = noor.str("/id");
        let gone = c.ok(&app, &o, M::POST, "/v1/patients", new_patient("Gus Gone", None)).await.str("/id");
        c.ok(&app, &o, M::DELETE, &format!("/v1/patients/{gone}"), Body::None).await;
        let page = c.ok(&app, &o, M::GET, "/v1/patients?limit=1", Body::None).await;
        assert!(page.json["next_after"].is_string(), "{}", page.json);
        c.ok(&app, &o, M::GET, &format!("/v1/patients/{mia}"), Body::None).await;
        c.ok(&app, &o, M::PATCH, &format!("/v1/patients/{mia}"), json!({"phone": "+1 555 010 0199"})).await;
        for id in [&mia, &leo] {
            c.ok(&app, &o, M::PUT, &format!("/v1/patients/{id}/portal-access"), json!({"enabled": true})).await;
        }

        // Access codes: printed and revoked, a handout, one sent by email.
        let printed = c.ok(&app, &o, M::POST, &format!("/v1/patients/{mia}/access-codes"), json!({"delivery": "print"})).await;
        assert!(printed.json.get("mail_id").is_none(), "{}", printed.json);
        c.ok(&app, &o, M::POST, &format!("/v1/access-codes/{}/revoke", printed.str("/access_code/id")), Body::None).await;
        c.ok(&app, &o, M::POST, &format!("/v1/patients/{mia}/access-codes/handout"), Body::None).await;
        let emailed = c.ok(&app, &o, M::POST, &format!("/v1/patients/{mia}/access-codes"), json!({"delivery": "email"})).await;
        c.ok(&app, &o, M::GET, &format!("/v1/patients/{mia}/access-codes"), Body::None).await;
        c.ok(&app, &o, M::GET, "/v1/access-codes/pending", Body::None).await;

        // The patient redeems it into a new account, then adds her son's
        // record with his code.
        let redeemed = c.ok(&app, &nobody, M::POST, "/v1/portal/redeem", json!({"code": emailed.str("/code"), "account": {"email": "mia@example.org", "password": PATIENT_PASSWORD}})).await;
        assert_eq!(redeemed.status, StatusCode::CREATED);
        assert!(redeemed.json.get("form").is_none(), "{}", redeemed.json);
        let mut patient = patient_of(&redeemed);
        let leo_code = c.ok(&app, &o, M::POST, &format!("/v1/patients/{leo}/access-codes"), json!({})).await.str("/code");
        let added = c.ok(&app, &As::Patient(&patient), M::POST, "/v1/portal/redeem", json!({"code": leo_code})).await;
        assert_eq!(added.status, StatusCode::OK);
        let p = As::Patient(&patient);
        c.ok(&app, &p, M::GET, "/v1/portal/me", Body::None).await;
        c.ok(&app, &p, M::GET, &format!("/v1/portal/records/{leo}"), Body::None).await;
        c.ok(&app, &p, M::POST, &format!("/v1/portal/records/{mia}/select"), Body::None).await;

        // A SmartForm: answered in the portal by an account, and opened by a
        // code handed over to a patient with no email.
        let form = c.ok(&app, &o, M::POST, "/v1/forms", json!({"title": "Intake", "questions": [{"label": "Allergies", "kind": "text", "required": true}]})).await;
        let (form_id, question) = (form.str("/id"), form.str("/questions/0/id"));
        c.ok(&app, &o, M::GET, "/v1/forms", Body::None).await;
        let assigned = c.ok(&app, &o, M::POST, &format!("/v1/patients/{mia}/forms"), json!({"form_id": form_id})).await;
        assert!(assigned.json.get("code").is_none(), "{}", assigned.json);
        let assignment = assigned.str("/assignment/id");
        let handed = c.ok(&app, &o, M::POST, &format!("/v1/patients/{noor}/forms"), json!({"form_id": form_id})).await;
        c.ok(&app, &o, M::GET, &format!("/v1/patients/{mia}/forms"), Body::None).await;
        c.ok(&app, &p, M::GET, "/v1/portal/forms", Body::None).await;
        c.ok(&app, &p, M::GET, &format!("/v1/portal/forms/{assignment}"), Body::None).await;
        c.ok(&app, &p, M::PUT, &format!("/v1/portal/forms/{assignment}"), json!({"answers": {question.clone(): "Pollen"}})).await;
        c.ok(&app, &p, M::POST, &format!("/v1/portal/forms/{assignment}/submit"), json!({"answers": {question: "Pollen"}})).await;
        let opened = c.ok(&app, &nobody, M::POST, "/v1/portal/redeem", json!({"code": handed.str("/code"), "account": {"email": "noor@example.org", "password": PATIENT_PASSWORD}})).await;
        assert!(opened.json.get("record").is_none(), "{}", opened.json);

        // What the clinic and the patient share on Mia's record.
        let pdf = || file_form(&[("title", "Lab results")], Some(("results.pdf", PDF.to_vec())));
        let document = c.ok(&app, &o, M::POST, &format!("/v1/patients/{mia}/documents"), Body::Form(pdf())).await.str("/id");
        c.ok(&app, &o, M::GET, &format!("/v1/patients/{mia}/documents/{document}/content"), Body::None).await;
        let note = c.ok(&app, &o, M::POST, &format!("/v1/patients/{mia}/notes"), json!({"body": "Your results are fine."})).await.str("/id");
        let appointment = c.ok(&app, &o, M::POST, &format!("/v1/patients/{mia}/appointments"), json!({"starts_at": "2030-01-15T09:30:00+01:00", "duration_minutes": 30, "with": "Dr. Hill", "location": "Room 2"})).await;
        assert!(appointment.json.get("reason").is_none(), "{}", appointment.json);
        c.ok(&app, &o, M::POST, &format!("/v1/patients/{mia}/appointments/{}/cancel", appointment.str("/id")), Body::None).await;
        c.ok(&app, &o, M::POST, &format!("/v1/patients/{mia}/messages"), Body::Form(file_form(&[("body", "Please call us.")], None))).await;
        c.ok(&app, &p, M::GET, &format!("/v1/portal/records/{mia}/shared"), Body::None).await;
        c.ok(&app, &p, M::GET, &format!("/v1/portal/records/{mia}/notes/{note}"), Body::None).await;
        c.ok(&app, &p, M::GET, &format!("/v1/portal/records/{mia}/documents/{document}/content"), Body::None).await;
        c.ok(&app, &p, M::POST, &format!("/v1/portal/records/{mia}/documents"), Body::Form(pdf())).await;
        c.ok(&app, &p, M::POST, &format!("/v1/portal/records/{mia}/messages"), Body::Form(file_form(&[("body", "Here it is.")], Some(("scan.pdf", PDF.to_vec()))))).await;

        // Mia shares her record with a caregiver, and stops.
        let invited = c.ok(&app, &p, M::POST, &format!("/v1/portal/records/{mia}/caregivers"), json!({"email": "carer@example.org"})).await;
        c.ok(&app, &p, M::POST, &format!("/v1/portal/records/{mia}/caregiver-invitations/{}/cancel", invited.str("/id")), Body::None).await;
        c.ok(&app, &p, M::POST, &format!("/v1/portal/records/{mia}/caregivers"), json!({"email": "helper@example.org", "sees_confidential": false})).await;
        let invitation = app.outbox("caregiver_invitation", "helper@example.org").await;
        let helper_code = invitation[0]["code"].as_str().unwrap().to_owned();
        c.ok(&app, &nobody, M::POST, "/v1/portal/redeem", json!({"code": helper_code, "account": {"email": "helper@example.org", "password": PATIENT_PASSWORD}})).await;
        let sharing = c.ok(&app, &p, M::GET, &format!("/v1/portal/records/{mia}/sharing"), Body::None).await;
        let proxy = sharing.str("/proxies/0/id");
        c.ok(&app, &p, M::PUT, &format!("/v1/portal/records/{mia}/proxies/{proxy}"), json!({"sees_confidential": true})).await;
        c.ok(&app, &p, M::POST, &format!("/v1/portal/records/{mia}/proxies/{proxy}/end"), Body::None).await;
        c.ok(&app, &o, M::GET, "/v1/messages/unread", Body::None).await;
        c.ok(&app, &o, M::POST, &format!("/v1/patients/{mia}/messages/read"), Body::None).await;
        c.ok(&app, &o, M::POST, &format!("/v1/patients/{mia}/documents/{document}/withdraw"), Body::None).await;
        c.ok(&app, &o, M::GET, &format!("/v1/patients/{mia}/shared"), Body::None).await;
        let grants = c.ok(&app, &o, M::GET, &format!("/v1/patients/{leo}/grants"), Body::None).await;
        c.ok(&app, &o, M::POST, &format!("/v1/grants/{}/revoke", grants.str("/0/id")), Body::None).await;

        // Mail: followed, refused by the relay, retried.
        c.ok(&app, &o, M::GET, &format!("/v1/patients/{mia}/mail"), Body::None).await;
        sink.set(Behaviour { reject_recipients: Some("mailbox unavailable".into()), ..Behaviour::default() });
        c.ok(&app, &nobody, M::POST, "/v1/portal/password-reset", json!({"login": "mia@example.org"})).await;
        let mut dead = Value::Null;
        for _ in 0..200 {
            dead = c.ok(&app, &o, M::GET, "/v1/mail/dead", Body::None).await.json;
            if dead.as_array().is_some_and(|d| !d.is_empty()) {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(25)).await;
        }
        let dead_id = dead[0]["id"].as_str().unwrap_or_else(|| panic!("no dead mail: {dead}")).to_owned();
        sink.set(Behaviour::default());
        c.ok(&app, &o, M::POST, &format!("/v1/mail/{dead_id}/retry"), Body::None).await;

        // The patient resets her password, logs in again, changes her
        // address and logs out.
        let reset = app.outbox("password_reset", "mia@example.org").await;
        let token = reset.last().unwrap()["token"].as_str().unwrap().to_owned();
        c.ok(&app, &nobody, M::POST, "/v1/portal/password-reset/confirm", json!({"token": token, "new_password": "a brand new passphrase"})).await;
        patient = patient_of(&c.ok(&app, &nobody, M::POST, "/v1/portal/login", json!({"login": "mia@example.org", "password": "a brand new passphrase"})).await);
        let p = As::Patient(&patient);
        c.ok(&app, &p, M::POST, "/v1/portal/email", json!({"new_email": "mia.wong@example.org", "password": "a brand new passphrase"})).await;
        c.ok(&app, &p, M::POST, "/v1/portal/password", json!({"current_password": "a brand new passphrase", "new_password": "her own newer passphrase"})).await;
        c.ok(&app, &p, M::POST, "/v1/portal/logout", Body::None).await;
        patient = patient_of(&c.ok(&app, &nobody, M::POST, "/v1/portal/login", json!({"login": "mia@example.org", "password": "her own newer passphrase"})).await);
        c.ok(&app, &As::Patient(&patient), M::POST, "/v1/portal/logout-everywhere", Body::None).await;

        // She turns on two-step sign-in: an app, recovery codes, codes by
        // email and a passkey; signs in with each; trusts this device.
        const NEWER: &str = "her own newer passphrase";
        patient = patient_of(&c.ok(&app, &nobody, M::POST, "/v1/portal/login", json!({"login": "mia@example.org", "password": NEWER})).await);
        let p = As::Patient(&patient);
        c.ok(&app, &p, M::GET, "/v1/portal/factors", Body::None).await;
        portico_tests::clear_of_step_edge().await;
        let setup = c.ok(&app, &p, M::POST, "/v1/portal/factors/totp", json!({"name": "Phone", "password": NEWER})).await;
        let secret = setup.str("/secret");
        let app_factor = setup.str("/factor_id");
        let now = portico_tests::unix_now();
        c.ok(&app, &p, M::POST, &format!("/v1/portal/factors/totp/{app_factor}/confirm"), json!({"code": portico_tests::totp_code(&secret, now - 30)})).await;
        c.ok(&app, &p, M::POST, "/v1/portal/recovery-codes", json!({"password": NEWER})).await;
        c.ok(&app, &p, M::POST, "/v1/portal/factors/email", json!({"enabled": true, "password": NEWER})).await;
        let options = c.ok(&app, &p, M::POST, "/v1/portal/factors/passkeys/options", json!({"password": NEWER})).await;
        let (mut her_passkey, answer) = portico_tests::soft_passkey::SoftPasskey::register(&options.json["options"], &app.named_origin());
        c.ok(&app, &p, M::POST, "/v1/portal/factors/passkeys", json!({"ceremony_id": options.json["ceremony_id"], "name": "Phone", "credential": answer})).await;
        let pending = c.ok(&app, &nobody, M::POST, "/v1/portal/login", json!({"login": "mia@example.org", "password": NEWER})).await;
        assert_eq!(pending.status, StatusCode::ACCEPTED, "{}", pending.json);
        c.ok(&app, &nobody, M::POST, "/v1/portal/login/email-code", json!({"pending_token": pending.str("/pending_token")})).await;
        let mailed = app.outbox("sign_in_code", "mia@example.org").await;
        let code = mailed.last().unwrap()["code"].as_str().unwrap().to_owned();
        let signed = c.ok(&app, &nobody, M::POST, "/v1/portal/login/second-step", json!({"pending_token": pending.str("/pending_token"), "code": code, "trust_device": true})).await;
        let device = signed.str("/trusted_device_token");
        patient = patient_of(&signed);
        let p = As::Patient(&patient);
        c.ok(&app, &nobody, M::POST, "/v1/portal/login", json!({"login": "mia@example.org", "password": NEWER, "trusted_device_token": device})).await;
        let pending = c.ok(&app, &nobody, M::POST, "/v1/portal/login", json!({"login": "mia@example.org", "password": NEWER})).await;
        c.send(&app, &nobody, M::POST, "/v1/portal/passkey-login/options", json!({"pending_token": "no such login"})).await;
        let challenge = c.ok(&app, &nobody, M::POST, "/v1/portal/passkey-login/options", json!({"pending_token": pending.str("/pending_token")})).await;
        let signed = her_passkey.sign(&challenge.json["options"]);
        c.ok(&app, &nobody, M::POST, "/v1/portal/passkey-login", json!({"ceremony_id": challenge.json["ceremony_id"], "credential": signed, "pending_token": pending.str("/pending_token")})).await;
        let mine = c.ok(&app, &p, M::GET, "/v1/portal/factors", Body::None).await;
        let device_id = mine.str("/trusted_devices/0/id");
        c.ok(&app, &p, M::DELETE, &format!("/v1/portal/trusted-devices/{device_id}"), Body::None).await;
        c.ok(&app, &p, M::POST, &format!("/v1/portal/factors/{app_factor}/remove"), json!({"password": NEWER})).await;
        // She loses her phone: the owner clears her two-step sign-in.
        let hers = c.ok(&app, &o, M::GET, &format!("/v1/patients/{mia}/grants"), Body::None).await;
        c.ok(&app, &o, M::POST, "/v1/auth/step-up", json!({"password": PASSWORD})).await;
        c.ok(&app, &o, M::POST, &format!("/v1/grants/{}/reset-second-factors", hers.str("/0/id")), Body::None).await;

        // Plugins: uploaded, run dry, activated, deactivated, deleted.
        let plugin = c.ok(&app, &o, M::POST, "/v1/plugins?name=dob-check", Body::Bytes(plugin_fixture("date-of-birth-check"), "application/octet-stream")).await.str("/id");
        let listed = c.ok(&app, &o, M::GET, "/v1/plugins", Body::None).await;
        assert!(listed.json[0].get("active").is_none(), "{}", listed.json);
        c.ok(&app, &o, M::POST, &format!("/v1/plugins/{plugin}/dry-run"), json!({"hook": "check-redemption", "input": {"answers": [], "facts": {"date_of_birth": "1990-03-07"}}})).await;
        c.ok(&app, &o, M::GET, &format!("/v1/plugins/{plugin}/calls"), Body::None).await;
        c.ok(&app, &o, M::POST, &format!("/v1/plugins/{plugin}/activate"), json!({})).await;
        c.ok(&app, &o, M::GET, "/v1/plugins", Body::None).await;
        c.ok(&app, &o, M::DELETE, "/v1/plugins/active/verification", Body::None).await;
        c.ok(&app, &o, M::DELETE, &format!("/v1/plugins/{plugin}"), Body::None).await;

        // A visitor registers online and confirms the address.
        c.ok(&app, &nobody, M::POST, "/v1/portal/register", json!({"email": "visitor@example.org", "password": PATIENT_PASSWORD})).await;
        let token = sink.link_secret("visitor@example.org", std::time::Duration::from_secs(30)).await["token"].as_str().unwrap().to_owned();
        c.ok(&app, &nobody, M::POST, "/v1/portal/verify-email", json!({"token": token})).await;

        // The trail of all of it, a page at a time.
        let audit = c.ok(&app, &o, M::GET, "/v1/audit?limit=5", Body::None).await;
        assert!(audit.json["next_before"].is_string(), "{}", audit.json);

        // Its ledger: a signed head, proofs against it, the export.
        let head = c.ok(&app, &o, M::POST, "/v1/audit/heads", Body::None).await.str("/id");
        c.ok(&app, &o, M::GET, "/v1/audit/heads", Body::None).await;
        c.ok(&app, &o, M::GET, &format!("/v1/audit/heads/{head}"), Body::None).await;
        let ledger = c.ok(&app, &o, M::GET, "/v1/audit/ledger?limit=3", Body::None).await;
        assert_eq!(ledger.json["next_from"], 4, "{}", ledger.json);
        c.ok(&app, &o, M::GET, &format!("/v1/audit/proofs/inclusion?seq=2&head={head}"), Body::None).await;
        c.ok(&app, &o, M::GET, &format!("/v1/audit/proofs/consistency?first={head}&second={head}"), Body::None).await;
        c.ok(&app, &o, M::GET, "/v1/audit/export", Body::None).await;
        let verdict = c.ok(&app, &o, M::GET, "/v1/audit/verify", Body::None).await;
        assert_eq!(verdict.json["verified"], true, "{}", verdict.json);

        c.assert_every_operation_answered();
    }
}

/// Absent means none, for answers the story above may not reach with a
/// field empty: every view (an `Object` that is not a request, which denies
/// unknown fields) with an optional field leaves it out when it is none.
#[test]
fn every_view_leaves_out_what_it_does_not_have() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let mut offenders = Vec::new();
    for dir in ["server/src/api", "server/web/src"] {
        for entry in std::fs::read_dir(root.join(dir)).unwrap() {
            let path = entry.unwrap().path();
            let source = std::fs::read_to_string(&path).unwrap();
            let mut lines = source.lines();
            while let Some(line) = lines.next() {
                if !(line.starts_with("#[derive(") && line.contains("Object)")) {
                    continue;
                }
                let mut attributes = String::new();
                let mut name = String::new();
                for next in lines.by_ref() {
                    if let Some(rest) = next.strip_prefix("pub struct ") {
                        name = rest.trim_end_matches(" {").to_owned();
                        break;
                    }
                    attributes.push_str(next);
                }
                let body: Vec<&str> = lines.by_ref().take_while(|l| *l != "}").collect();
                let optional = body.iter().any(|l| l.contains(": Option<"));
                if optional
                    && !attributes.contains("deny_unknown_fields")
                    && !attributes.contains("skip_serializing_if_is_none")
                {
                    offenders.push(format!("{} {name}", path.display()));
                }
            }
        }
    }
    assert!(
        offenders.is_empty(),
        "these views would send null for a missing value; add #[oai(skip_serializing_if_is_none)]: {offenders:#?}"
    );
}

/// The check itself refuses what a generated client would choke on.
#[test]
fn the_check_refuses_null_undeclared_fields_and_undeclared_statuses() {
    let doc = json!({
        "paths": {"/v1/things/{id}": {"get": {"responses": {
            "200": {"content": {"application/json; charset=utf-8": {"schema": {"$ref": "#/components/schemas/Thing"}}}},
        }}}},
        "components": {"schemas": {"Thing": {
            "type": "object", "required": ["id"],
            "properties": {"id": {"type": "string"}, "note": {"type": "string"}},
        }}},
    });
    let contract = Contract::new(doc);
    let operation = contract.operation(&Method::GET, "/v1/things/42");
    assert_eq!(operation, "GET /v1/things/{id}");
    let mut headers = HeaderMap::new();
    headers.insert("content-type", "application/json".parse().unwrap());
    let check = |status: u16, body: &str| {
        let (contract, operation, headers) = (&contract, &operation, &headers);
        let body = body.to_owned();
        std::panic::catch_unwind(move || {
            contract.check(
                operation,
                StatusCode::from_u16(status).unwrap(),
                headers,
                body.as_bytes(),
            );
        })
        .is_ok()
    };
    assert!(check(200, r#"{"id": "42"}"#));
    assert!(check(200, r#"{"id": "42", "note": "n"}"#));
    assert!(
        !check(200, r#"{"id": "42", "note": null}"#),
        "null for a plain type"
    );
    assert!(
        !check(200, r#"{"id": "42", "extra": 1}"#),
        "a field the document does not declare"
    );
    assert!(!check(200, r#"{}"#), "a required field missing");
    assert!(
        !check(404, r#"{"id": "42"}"#),
        "a status the document does not declare"
    );
}
