//! Who is on the other end: the client's address and user agent, for the
//! audit trail and the login throttle.

use poem::{FromRequest, Request, RequestBody};
use portico_tenants::audit::ClientInfo;

use crate::AppState;

/// The request's [`ClientInfo`], as an extractor.
pub struct Client(pub ClientInfo);

impl<'a> FromRequest<'a> for Client {
    async fn from_request(req: &'a Request, _body: &mut RequestBody) -> poem::Result<Self> {
        Ok(Client(client_info(req)))
    }
}

pub fn client_info(req: &Request) -> ClientInfo {
    let hops = req
        .data::<AppState>()
        .filter(|s| s.settings.trust_proxy)
        .map(|s| s.settings.trusted_proxy_hops);
    let forwarded = hops.and_then(|hops| {
        let chain: Vec<&str> = req
            .headers()
            .get_all("x-forwarded-for")
            .iter()
            .filter_map(|v| v.to_str().ok())
            .collect();
        address_seen_by_our_proxies(&chain, hops)
    });
    let ip = forwarded.or_else(|| {
        req.remote_addr()
            .as_socket_addr()
            .map(|a| a.ip().to_string())
    });
    ClientInfo::new(ip, req.header("user-agent").map(str::to_owned))
}

/// The client's address in an `X-Forwarded-For` chain behind `hops`
/// proxies of our own: each appends the address it saw, so the last `hops`
/// entries are theirs to vouch for and the one they name first, counting
/// from the right, is the client. Entries further left were written by the
/// client and are never believed (a guesser would pick a fresh one for
/// every try). `None` when the chain is shorter than our proxies or the
/// entry is not an address.
pub fn address_seen_by_our_proxies(headers: &[&str], hops: u32) -> Option<String> {
    let entries: Vec<&str> = headers
        .iter()
        .flat_map(|h| h.split(','))
        .map(str::trim)
        .filter(|e| !e.is_empty())
        .collect();
    let hops = usize::try_from(hops).ok().filter(|h| *h > 0)?;
    let entry = entries.len().checked_sub(hops).map(|i| entries[i])?;
    entry
        .parse::<std::net::IpAddr>()
        .ok()
        .map(|ip| ip.to_string())
}

/// True when the client reached us over TLS (directly or via a trusted
/// proxy), so cookies get the `Secure` attribute.
pub fn is_secure(req: &Request) -> bool {
    let Some(state) = req.data::<AppState>() else {
        return false;
    };
    state.settings.tls
        || (state.settings.trust_proxy && req.header("x-forwarded-proto") == Some("https"))
        || req.uri().scheme_str() == Some("https")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_client_is_the_entry_our_proxies_appended_not_what_it_wrote() {
        // The client wrote 6.6.6.6; our one proxy appended what it saw.
        assert_eq!(
            address_seen_by_our_proxies(&["6.6.6.6, 203.0.113.7"], 1).as_deref(),
            Some("203.0.113.7")
        );
        // Two proxies of ours: a CDN appended the client, our balancer the CDN.
        assert_eq!(
            address_seen_by_our_proxies(&["6.6.6.6, 203.0.113.7, 198.51.100.2"], 2).as_deref(),
            Some("203.0.113.7")
        );
        // Several headers count as one list, in order.
        assert_eq!(
            address_seen_by_our_proxies(&["6.6.6.6", "203.0.113.7"], 1).as_deref(),
            Some("203.0.113.7")
        );
        // A chain shorter than our proxies, or not an address: no answer.
        assert_eq!(address_seen_by_our_proxies(&["203.0.113.7"], 2), None);
        assert_eq!(address_seen_by_our_proxies(&["6.6.6.6, unknown"], 1), None);
        assert_eq!(address_seen_by_our_proxies(&[], 1), None);
        assert_eq!(address_seen_by_our_proxies(&["203.0.113.7"], 0), None);
    }
}
