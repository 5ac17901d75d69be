//! Portico's end-to-end tests: the real server on a random port, spoken to
//! over HTTP (and through a real browser), on SQLite and PostgreSQL.
//!
//! One test binary with a module per capability rather than a binary per
//! file: every binary links the whole server, wasmtime included, and on a
//! two-core machine seventeen such links cost minutes and gigabytes. Pick a
//! capability with a filter, e.g. `cargo test -p portico-tests plugins::`.

mod access_codes;
mod api_contract;
mod architecture;
mod audit_ledger;
mod audit_trail;
mod auth;
mod bad_input;
mod browser_access_link;
mod browser_accessibility;
mod browser_clicks;
mod browser_families;
mod browser_journey;
mod browser_passkeys;
mod browser_patient_two_step;
mod browser_two_step;
mod console;
mod console_pages;
mod door;
mod families;
mod isolation;
mod mail_delivery;
mod mail_transport;
mod migrations;
mod nodes;
mod operator_metrics;
mod patient_two_step;
mod patients;
mod platform;
mod plugins;
mod portal;
mod portal_links;
mod portal_pages;
mod records;
mod registration;
mod second_factors;
mod secrets_at_rest;
mod smartforms;
mod staff_and_roles;
