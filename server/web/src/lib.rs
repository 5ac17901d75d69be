//! Portico's web toolkit, shared by every surface the server composes (the
//! JSON API, the clinic console in `admin/`, the portal pages): how a
//! request finds its clinic ([`tenancy`]) and becomes a caller ([`auth`],
//! [`page_session`]), how a domain refusal becomes an answer ([`error`]),
//! the strict JSON body and its text type, file answers, body limits, the
//! same-origin check for forms, the access log, the addresses the product
//! hands out ([`links`]), the one template environment ([`templates`]) and
//! what both sets of pages share for two-step sign-in ([`two_step`]).
//! It knows no feature: nothing here imports the API, the console or the
//! pages.

pub mod auth;
pub mod body_limit;
pub mod client_info;
pub mod cookies;
pub mod error;
pub mod error_pages;
pub mod files;
pub mod handout;
pub mod input_errors;
pub mod json_body;
pub mod links;
pub mod observability;
pub mod page_session;
pub mod refusals;
pub mod same_origin;
mod state;
pub mod templates;
pub mod tenancy;
pub mod text;
pub mod two_step;
pub mod wording;

pub use links::Links;
pub use state::{AppState, WebSettings};
