//! The clinic console: the pages staff use to run their clinic, whole.
//!
//! - `pages/`: the routes and their handlers. Each asks the domain for an
//!   act with the staff member's caller; the door guards it. A page asks
//!   the door only whether to draw a control (`Signed::may`).
//! - `views/`: what each page shows, and the renderer.
//! - `templates/` and `assets/`: the HTML (minijinja, escaping on) and the
//!   stylesheet. Pages work without JavaScript.
//!
//! Built on the shared web toolkit (`portico-web`) and the domain
//! (`portico-tenants`); the server mounts [`routes`] under `/console`.

mod pages;
pub mod views;

pub use pages::{errors_as_pages, routes};
pub use views::Console;

/// The console's stylesheet, served from the console's own address so
/// pages load nothing from third parties.
pub const STYLESHEET: &str = include_str!("../assets/console.css");
/// The handout's Print button (the handout allows no inline script).
pub const PRINT_SCRIPT: &str = include_str!("../assets/print.js");
/// The settings page's preview and time-zone suggestion.
pub const SETTINGS_SCRIPT: &str = include_str!("../assets/settings.js");
/// Passkeys: signing in, adding one, confirming with one.
pub use portico_web::two_step::PASSKEYS_SCRIPT;
