//! Misbehaving plugins for the sandbox tests, one per example target:
//!
//! - `minimal`: allows everything at once; the fixed cost of a call.
//! - `spin`: loops forever.
//! - `hog`: grows its memory without end.
//! - `flood`: renders a mail far over the output limit.
//! - `snoop`: reads a file and opens a socket (refused at upload).
//! - `crash`: logs, then panics.
//! - `counter`: counts its calls in a global; a fresh instance always says 1.
//! - `portal_link`: a renderer built against interface 2.0.0, beside the
//!   others built against 1.0.0.
//! - `family_mail`: a renderer built against interface 3.0.0, for the mail
//!   of a family's sharing and its details.
//!
//! `plugins/build-fixtures.sh` builds them for `wasm32-wasip2`.
