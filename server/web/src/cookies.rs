//! The session cookies, written and read, and the CSRF token's one
//! comparison. Below everything that authenticates, so the API's
//! extractors and the pages' sessions share them.

use poem::Request;
use portico_tenants::auth::SecretToken;
use subtle::ConstantTimeEq;

/// The staff session's cookie (console pages, and the API from a browser).
pub const SESSION_COOKIE: &str = "portico_session";
/// The patient portal's cookie, apart from the staff one so a person who is
/// both never mixes the two.
pub const PORTAL_COOKIE: &str = "portico_portal";
pub const CSRF_HEADER: &str = "x-csrf-token";

pub fn session_cookie(req: &Request) -> Option<SecretToken> {
    named_cookie(req, SESSION_COOKIE)
}

pub fn named_cookie(req: &Request, cookie_name: &str) -> Option<SecretToken> {
    req.headers()
        .get_all("cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(name, _)| *name == cookie_name)
        .and_then(|(_, value)| SecretToken::presented(value))
}

/// A `Set-Cookie` value for `name`, scoped to the clinic's path.
pub fn cookie_header(
    name: &str,
    token: &str,
    path: &str,
    max_age_secs: u64,
    secure: bool,
) -> String {
    let mut cookie =
        format!("{name}={token}; Path={path}; Max-Age={max_age_secs}; HttpOnly; SameSite=Lax");
    if secure {
        cookie.push_str("; Secure");
    }
    cookie
}

/// The one comparison of a presented CSRF token with the session's, in
/// constant time.
pub fn csrf_matches(presented: &str, expected: &str) -> bool {
    !expected.is_empty() && bool::from(presented.as_bytes().ct_eq(expected.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_csrf_token_matches_only_itself_and_never_an_empty_one() {
        assert!(csrf_matches("abc", "abc"));
        assert!(!csrf_matches("abd", "abc"));
        assert!(!csrf_matches("ab", "abc"));
        assert!(!csrf_matches("", ""));
    }

    #[test]
    fn cookies_are_http_only_same_site_and_secure_behind_tls() {
        let plain = cookie_header("c", "t", "/t/north", 60, false);
        assert_eq!(
            plain,
            "c=t; Path=/t/north; Max-Age=60; HttpOnly; SameSite=Lax"
        );
        assert!(cookie_header("c", "t", "/", 60, true).ends_with("; Secure"));
    }
}
