//! Where a vendor's webhook may make the gateway connect. A webhook URL is chosen by a
//! vendor, and the gateway sits on the municipality's network beside its core systems: left
//! open, a webhook is a request-forgery channel into that network (a probe drove a core
//! system through one). So:
//!
//! - an address that is not on the public internet — loopback, unspecified, private
//!   (RFC 1918, unique local `fc00::/7`), link-local (`169.254.0.0/16` with the cloud
//!   metadata address, `fe80::/10`), shared (CGNAT `100.64.0.0/10`), multicast, reserved and
//!   documentation ranges, and IPv4 hidden in IPv6 (`::ffff:a.b.c.d`, NAT64, 6to4) — is
//!   refused, unless it is in `link.webhooks.allow_networks` (a municipality whose receivers
//!   are internal names them there);
//! - at registration the URL's host is resolved and every address it gives must pass;
//! - at each connection the name is resolved again by [`GuardedResolver`] and only passing
//!   addresses are dialled (a name that re-binds to an internal address after registration
//!   gets nowhere), a literal address is checked before the request, no proxy is used, and no
//!   redirect is followed (a 3xx is a failed delivery).
//!
//! Written by hand over `ipnet`: no maintained crate classifies addresses for this purpose
//! (std's `is_global` is still unstable), and the list is short and tested.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use ipnet::IpNet;

/// How long a registration waits for the URL's name to resolve.
const RESOLVE_TIMEOUT: Duration = Duration::from_secs(3);

/// Why an address is not one a webhook may reach, or `None` for a public one.
pub fn non_public(ip: IpAddr) -> Option<&'static str> {
    match ip {
        IpAddr::V4(v4) => non_public_v4(v4),
        IpAddr::V6(v6) => non_public_v6(v6),
    }
}

fn non_public_v4(ip: Ipv4Addr) -> Option<&'static str> {
    let [a, b, c, _] = ip.octets();
    if ip.is_loopback() {
        Some("loopback")
    } else if ip.is_unspecified() || a == 0 {
        Some("unspecified (this host)")
    } else if ip.is_private() {
        Some("private (RFC 1918)")
    } else if ip.is_link_local() {
        Some("link-local (cloud metadata lives here)")
    } else if a == 100 && (64..128).contains(&b) {
        Some("shared address space (CGNAT)")
    } else if a == 192 && b == 0 && c == 0 {
        Some("IETF protocol assignments")
    } else if (a == 192 && b == 0 && c == 2)
        || (a == 198 && b == 51 && c == 100)
        || (a == 203 && b == 0 && c == 113)
    {
        Some("documentation")
    } else if a == 198 && (b == 18 || b == 19) {
        Some("benchmarking")
    } else if ip.is_multicast() {
        Some("multicast")
    } else if a >= 240 {
        Some("reserved or broadcast")
    } else {
        None
    }
}

fn non_public_v6(ip: Ipv6Addr) -> Option<&'static str> {
    if let Some(v4) = ip.to_ipv4_mapped() {
        return non_public_v4(v4).or(Some("IPv4-mapped IPv6"));
    }
    let s = ip.segments();
    if ip.is_loopback() {
        Some("loopback")
    } else if ip.is_unspecified() {
        Some("unspecified (this host)")
    } else if s[0] & 0xfe00 == 0xfc00 {
        Some("unique local (fc00::/7)")
    } else if s[0] & 0xffc0 == 0xfe80 || s[0] & 0xffc0 == 0xfec0 {
        Some("link-local or site-local")
    } else if ip.is_multicast() {
        Some("multicast")
    } else if s[0] == 0x64 && s[1] == 0xff9b {
        Some("NAT64 (an IPv4 address in IPv6)")
    } else if s[0] == 0x2002 {
        Some("6to4 (an IPv4 address in IPv6)")
    } else if s[0] == 0x2001 && s[1] == 0x0db8 {
        Some("documentation")
    } else if s[0] == 0x2001 && s[1] < 0x0200 {
        Some("IETF protocol assignments (Teredo, ORCHID …)")
    } else if s[..6] == [0, 0, 0, 0, 0, 0] {
        Some("IPv4-compatible IPv6")
    } else {
        None
    }
}

/// The rule, with the municipality's exceptions.
#[derive(Debug, Clone, Default)]
pub struct Egress {
    allow: Vec<IpNet>,
}

/// Why a webhook URL cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EgressError {
    #[error("{host} is {address}, a {reason} address, which webhooks may not reach")]
    Refused {
        host: String,
        address: IpAddr,
        reason: &'static str,
    },
    #[error("{0} does not resolve to any address")]
    Unresolvable(String),
}

impl Egress {
    pub fn new(allow: Vec<IpNet>) -> Self {
        Self { allow }
    }

    /// `Err` naming why, when `ip` may not be reached.
    pub fn check(&self, host: &str, ip: IpAddr) -> Result<(), EgressError> {
        let ip = match ip {
            IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
            v4 => v4,
        };
        match non_public(ip) {
            Some(_) if self.allow.iter().any(|n| n.contains(&ip)) => Ok(()),
            Some(reason) => Err(EgressError::Refused {
                host: host.to_owned(),
                address: ip,
                reason,
            }),
            None => Ok(()),
        }
    }

    /// Resolves a URL's host (a literal address as it is) and checks every address.
    pub async fn check_url(&self, url: &reqwest::Url) -> Result<(), EgressError> {
        let Some(host) = url.host_str() else {
            return Err(EgressError::Unresolvable(String::new()));
        };
        if let Some(ip) = literal_address(url) {
            return self.check(&ip.to_string(), ip);
        }
        let host = host.to_owned();
        let port = url.port_or_known_default().unwrap_or(443);
        let addresses = resolve(&host, port).await?;
        for a in &addresses {
            self.check(&host, a.ip())?;
        }
        Ok(())
    }

    /// The HTTP client webhooks are sent with: names resolved through [`GuardedResolver`],
    /// no proxy, no redirect.
    pub fn client(self: &Arc<Self>, timeout: Duration) -> reqwest::Client {
        reqwest::Client::builder()
            .timeout(timeout)
            .connect_timeout(timeout)
            .redirect(reqwest::redirect::Policy::none())
            .no_proxy()
            .dns_resolver(Arc::new(GuardedResolver(self.clone())))
            .build()
            .unwrap_or_default()
    }
}

/// The URL's host when it is an address rather than a name (reqwest dials it without asking
/// a resolver, so it is checked apart).
pub fn literal_address(url: &reqwest::Url) -> Option<IpAddr> {
    url.host_str()?
        .trim_start_matches('[')
        .trim_end_matches(']')
        .parse()
        .ok()
}

async fn resolve(host: &str, port: u16) -> Result<Vec<SocketAddr>, EgressError> {
    let found = tokio::time::timeout(RESOLVE_TIMEOUT, tokio::net::lookup_host((host, port)))
        .await
        .map_err(|_| EgressError::Unresolvable(host.to_owned()))?
        .map_err(|_| EgressError::Unresolvable(host.to_owned()))?
        .collect::<Vec<_>>();
    if found.is_empty() {
        return Err(EgressError::Unresolvable(host.to_owned()));
    }
    Ok(found)
}

/// Resolves a webhook's name at connection time and hands reqwest only the addresses the
/// rule lets through.
pub struct GuardedResolver(Arc<Egress>);

impl reqwest::dns::Resolve for GuardedResolver {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        let egress = self.0.clone();
        let host = name.as_str().to_owned();
        Box::pin(async move {
            let found = resolve(&host, 0).await?;
            let mut refused = None;
            let passing: Vec<SocketAddr> = found
                .into_iter()
                .filter(|a| match egress.check(&host, a.ip()) {
                    Ok(()) => true,
                    Err(e) => {
                        refused = Some(e);
                        false
                    }
                })
                .collect();
            match (passing.is_empty(), refused) {
                (true, Some(e)) => Err(Box::new(e) as Box<dyn std::error::Error + Send + Sync>),
                (true, None) => Err(Box::new(EgressError::Unresolvable(host)) as _),
                (false, _) => Ok(Box::new(passing.into_iter()) as reqwest::dns::Addrs),
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn refused(text: &str) -> bool {
        non_public(text.parse().expect("an address")).is_some()
    }

    #[test]
    fn the_addresses_of_the_probe_and_their_disguises_are_refused() {
        for a in [
            "127.0.0.1",
            "127.8.9.10",
            "0.0.0.0",
            "169.254.169.254",
            "10.0.0.5",
            "172.16.0.1",
            "172.31.255.255",
            "192.168.1.1",
            "100.100.100.200",
            "224.0.0.1",
            "255.255.255.255",
            "::1",
            "::",
            "fd00::1",
            "fd00:ec2::254",
            "fe80::1",
            "::ffff:127.0.0.1",
            "::ffff:169.254.169.254",
            "64:ff9b::a9fe:a9fe",
            "2002:7f00:1::",
            "::127.0.0.1",
        ] {
            assert!(refused(a), "{a} was let through");
        }
    }

    #[test]
    fn public_addresses_pass() {
        for a in [
            "8.8.8.8",
            "172.32.0.1",
            "192.169.0.1",
            "100.128.0.1",
            "2404:6800:4004:80a::200e",
            "2001:4860:4860::8888",
        ] {
            assert!(!refused(a), "{a} was refused");
        }
    }

    #[test]
    fn an_allowed_network_lets_its_internal_receivers_through_and_no_others() {
        let egress = Egress::new(vec!["10.20.0.0/16".parse().expect("net")]);
        assert!(egress.check("h", "10.20.3.4".parse().expect("ip")).is_ok());
        assert!(
            egress
                .check("h", "::ffff:10.20.3.4".parse().expect("ip"))
                .is_ok()
        );
        assert!(egress.check("h", "10.21.3.4".parse().expect("ip")).is_err());
        assert!(egress.check("h", "127.0.0.1".parse().expect("ip")).is_err());
    }

    #[tokio::test]
    async fn a_name_is_judged_by_what_it_resolves_to() {
        let egress = Egress::default();
        let url = reqwest::Url::parse("http://localhost:8080/hooks").expect("url");
        let e = egress.check_url(&url).await.expect_err("localhost");
        assert!(
            matches!(
                e,
                EgressError::Refused {
                    reason: "loopback",
                    ..
                }
            ),
            "{e}"
        );
        let url = reqwest::Url::parse("http://[::ffff:7f00:1]/").expect("url");
        assert!(egress.check_url(&url).await.is_err());
    }
}
