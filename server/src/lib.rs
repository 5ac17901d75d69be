//! Portico's server: configuration, the HTTP layer (tenant resolution,
//! authentication, errors, the JSON API), and start-up.

pub mod api;
pub mod cli;
pub mod config;
pub mod console;
pub mod demo;
pub mod http;
pub mod mail;
pub mod portal_pages;
pub mod startup;
pub mod telemetry;
