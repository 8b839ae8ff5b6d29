//! The address a request comes from: the connection's peer, or — when the peer is a trusted
//! reverse proxy (`http.trusted_proxies`) — the rightmost `X-Forwarded-For` entry that is not
//! itself a trusted proxy. Entries further left were written by the client and prove nothing.

use std::net::{IpAddr, Ipv4Addr};

use actix_web::HttpRequest;
use ipnet::IpNet;

/// Where a request without a peer address (never over a real socket) is counted.
const UNKNOWN: IpAddr = IpAddr::V4(Ipv4Addr::UNSPECIFIED);

fn trusted(address: IpAddr, proxies: &[IpNet]) -> bool {
    proxies.iter().any(|net| net.contains(&address))
}

pub fn client_address(req: &HttpRequest, proxies: &[IpNet]) -> IpAddr {
    let Some(peer) = req.peer_addr().map(|a| a.ip()) else {
        return UNKNOWN;
    };
    if !trusted(peer, proxies) {
        return peer;
    }
    let entries: Vec<&str> = req
        .headers()
        .get_all("x-forwarded-for")
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(str::trim)
        .collect();
    for entry in entries.into_iter().rev() {
        match entry.parse::<IpAddr>() {
            Ok(address) if trusted(address, proxies) => continue,
            Ok(address) => return address,
            // A hop we cannot read: nothing to its left can be trusted either.
            Err(_) => break,
        }
    }
    peer
}

#[cfg(test)]
mod tests {
    use super::*;
    use actix_web::test::TestRequest;

    fn request(peer: &str, forwarded: Option<&str>) -> HttpRequest {
        let mut req = TestRequest::default().peer_addr(format!("{peer}:4000").parse().unwrap());
        if let Some(f) = forwarded {
            req = req.insert_header(("x-forwarded-for", f));
        }
        req.to_http_request()
    }

    #[test]
    fn forwarded_addresses_count_only_behind_a_trusted_proxy() {
        let proxies: Vec<IpNet> = vec!["10.0.0.0/8".parse().unwrap()];
        let ip = |s: &str| s.parse::<IpAddr>().unwrap();
        assert_eq!(
            client_address(&request("192.0.2.9", Some("198.51.100.1")), &proxies),
            ip("192.0.2.9"),
            "an untrusted peer cannot claim another address"
        );
        assert_eq!(
            client_address(
                &request("10.1.2.3", Some("198.51.100.1, 10.9.9.9")),
                &proxies
            ),
            ip("198.51.100.1")
        );
        assert_eq!(
            client_address(
                &request("10.1.2.3", Some("203.0.113.5, 198.51.100.1")),
                &proxies
            ),
            ip("198.51.100.1"),
            "entries left of the first untrusted one are the client's own words"
        );
        assert_eq!(
            client_address(&request("10.1.2.3", None), &proxies),
            ip("10.1.2.3")
        );
        assert_eq!(
            client_address(&request("10.1.2.3", Some("198.51.100.1")), &[]),
            ip("10.1.2.3")
        );
    }
}
