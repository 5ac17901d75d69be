//! Portico's server: it composes the JSON API (`api/`), the clinic console
//! (the `admin` crate), the patient portal's pages (`portal_pages/`) and
//! the mail worker (`mail/`) on the shared web toolkit (`portico-web`),
//! from configuration (`config`), in `startup`, the composition root.

pub mod api;
pub mod api_document;
pub mod cli;
pub mod config;
pub mod demo;
pub mod exporter;
pub mod mail;
pub mod portal_pages;
mod schedule;
pub mod startup;
pub mod synthetic;
pub mod telemetry;
