//! The guard against server-side request forgery: an endpoint URL may name
//! only a public address. Checked when an endpoint is registered or changed,
//! and again at every delivery on the addresses the name resolves to then
//! (the delivery client connects only to addresses this guard passed, so a
//! name that changes its answer between the two cannot slip through).

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::time::Duration;

use url::{Host, Url};

/// Longest endpoint URL accepted.
pub const MAX_URL_LEN: usize = 2048;

/// How long resolving an endpoint's name may take.
const RESOLVE_TIMEOUT: Duration = Duration::from_secs(5);

/// Why a URL or an address is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refused {
    #[error("not a URL: {0}")]
    Malformed(String),
    #[error("only https and http URLs are accepted")]
    Scheme,
    #[error("a URL with a user name or password is not accepted")]
    Credentials,
    #[error("at most {MAX_URL_LEN} characters")]
    TooLong,
    #[error("{host} is a {class} address; only public addresses are accepted")]
    Address { host: String, class: &'static str },
    #[error("{host} resolves to {address}, a {class} address; only public addresses are accepted")]
    Resolved {
        host: String,
        address: IpAddr,
        class: &'static str,
    },
    #[error("{0} does not resolve to any address")]
    Unresolvable(String),
}

/// The class of a non-public address, or `None` for a public one.
pub fn check_address(ip: IpAddr) -> Option<&'static str> {
    match ip {
        IpAddr::V4(v4) => v4_class(v4),
        IpAddr::V6(v6) => {
            // IPv4 carried in IPv6 (mapped, NAT64, 6to4) is judged as IPv4.
            if let Some(v4) = embedded_v4(v6) {
                return v4_class(v4);
            }
            let first = v6.segments()[0];
            if v6.is_unspecified() {
                Some("unspecified")
            } else if v6.is_loopback() {
                Some("loopback")
            } else if v6.is_multicast() {
                Some("multicast")
            } else if v6.is_unicast_link_local() {
                Some("link-local")
            } else if v6.is_unique_local() {
                // fd00:ec2::254, the EC2 metadata service over IPv6, is one.
                Some("private")
            } else if first & 0xffc0 == 0xfec0 {
                Some("site-local")
            } else if first == 0x2001 && v6.segments()[1] == 0x0db8 {
                Some("documentation")
            } else {
                None
            }
        }
    }
}

fn v4_class(v4: Ipv4Addr) -> Option<&'static str> {
    let [a, b, ..] = v4.octets();
    if v4 == Ipv4Addr::new(169, 254, 169, 254) || v4 == Ipv4Addr::new(100, 100, 100, 200) {
        // AWS, GCP, Azure; Alibaba Cloud.
        Some("cloud metadata")
    } else if v4.is_unspecified() || a == 0 {
        Some("unspecified")
    } else if v4.is_loopback() {
        Some("loopback")
    } else if v4.is_private() || (a == 100 && (64..128).contains(&b)) {
        // RFC 1918, and the shared address space of carrier-grade NAT.
        Some("private")
    } else if v4.is_link_local() {
        Some("link-local")
    } else if v4.is_multicast() {
        Some("multicast")
    } else if v4.is_broadcast() || a >= 240 {
        Some("reserved")
    } else if v4.is_documentation() || (a == 198 && (b == 18 || b == 19)) {
        Some("documentation or benchmarking")
    } else {
        None
    }
}

fn embedded_v4(v6: Ipv6Addr) -> Option<Ipv4Addr> {
    let s = v6.segments();
    let tail = || Ipv4Addr::new((s[6] >> 8) as u8, s[6] as u8, (s[7] >> 8) as u8, s[7] as u8);
    if let Some(v4) = v6.to_ipv4_mapped() {
        Some(v4)
    } else if s[..6] == [0x64, 0xff9b, 0, 0, 0, 0] || s[..6] == [0; 6] && s[6] != 0 {
        // NAT64 (64:ff9b::/96), and the deprecated IPv4-compatible form.
        Some(tail())
    } else if s[0] == 0x2002 {
        Some(Ipv4Addr::new(
            (s[1] >> 8) as u8,
            s[1] as u8,
            (s[2] >> 8) as u8,
            s[2] as u8,
        ))
    } else {
        None
    }
}

/// Parses an endpoint URL and checks it: http or https, no credentials, and
/// (unless `allow_private`) a host that is, or resolves only to, public
/// addresses. Returns the parsed URL.
pub async fn check_url(url: &str, allow_private: bool) -> Result<Url, Refused> {
    if url.len() > MAX_URL_LEN {
        return Err(Refused::TooLong);
    }
    let parsed = Url::parse(url).map_err(|e| Refused::Malformed(e.to_string()))?;
    if !matches!(parsed.scheme(), "https" | "http") {
        return Err(Refused::Scheme);
    }
    if !parsed.username().is_empty() || parsed.password().is_some() {
        return Err(Refused::Credentials);
    }
    let host = parsed
        .host()
        .ok_or_else(|| Refused::Malformed("no host".to_owned()))?;
    if allow_private {
        return Ok(parsed);
    }
    match host {
        Host::Ipv4(v4) => literal(IpAddr::V4(v4))?,
        Host::Ipv6(v6) => literal(IpAddr::V6(v6))?,
        Host::Domain(name) => {
            resolve(name, parsed.port_or_known_default().unwrap_or(443), false).await?;
        }
    }
    Ok(parsed)
}

fn literal(ip: IpAddr) -> Result<(), Refused> {
    match check_address(ip) {
        Some(class) => Err(Refused::Address {
            host: ip.to_string(),
            class,
        }),
        None => Ok(()),
    }
}

/// Resolves `name` and refuses it if any address it gives is not public
/// (unless `allow_private`): one internal answer among public ones is
/// enough to refuse, since the connection could go to any of them.
pub(super) async fn resolve(
    name: &str,
    port: u16,
    allow_private: bool,
) -> Result<Vec<SocketAddr>, Refused> {
    let unresolvable = || Refused::Unresolvable(name.to_owned());
    let found = tokio::time::timeout(RESOLVE_TIMEOUT, tokio::net::lookup_host((name, port)))
        .await
        .map_err(|_| unresolvable())?
        .map_err(|_| unresolvable())?;
    let addresses: Vec<SocketAddr> = found.collect();
    if addresses.is_empty() {
        return Err(unresolvable());
    }
    if !allow_private
        && let Some((address, class)) = addresses
            .iter()
            .find_map(|a| check_address(a.ip()).map(|class| (a.ip(), class)))
    {
        return Err(Refused::Resolved {
            host: name.to_owned(),
            address,
            class,
        });
    }
    Ok(addresses)
}

/// The delivery client's resolver: [`resolve`], so the client connects only
/// to addresses the guard passed.
pub(super) struct GuardedResolver {
    pub allow_private: bool,
}

impl reqwest::dns::Resolve for GuardedResolver {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        let allow_private = self.allow_private;
        Box::pin(async move {
            let addresses = resolve(name.as_str(), 0, allow_private).await?;
            Ok(Box::new(addresses.into_iter()) as reqwest::dns::Addrs)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_internal_class_is_refused_and_public_addresses_pass() {
        let refused = [
            ("127.0.0.1", "loopback"),
            ("127.8.9.10", "loopback"),
            ("::1", "loopback"),
            ("10.1.2.3", "private"),
            ("172.16.0.1", "private"),
            ("192.168.1.1", "private"),
            ("100.64.0.1", "private"),
            ("fc00::1", "private"),
            ("fd00:ec2::254", "private"),
            ("169.254.1.1", "link-local"),
            ("fe80::1", "link-local"),
            ("224.0.0.1", "multicast"),
            ("ff02::1", "multicast"),
            ("169.254.169.254", "cloud metadata"),
            ("100.100.100.200", "cloud metadata"),
            ("0.0.0.0", "unspecified"),
            ("::", "unspecified"),
            ("255.255.255.255", "reserved"),
            ("::ffff:127.0.0.1", "loopback"),
            ("::ffff:169.254.169.254", "cloud metadata"),
            ("64:ff9b::a00:1", "private"),
            ("2002:c0a8:101::1", "private"),
        ];
        for (ip, class) in refused {
            assert_eq!(check_address(ip.parse().unwrap()), Some(class), "{ip}");
        }
        for ip in [
            "93.184.215.14",
            "1.1.1.1",
            "2606:4700:4700::1111",
            "8.8.8.8",
        ] {
            assert_eq!(check_address(ip.parse().unwrap()), None, "{ip}");
        }
    }

    #[tokio::test]
    async fn urls_are_checked_for_scheme_credentials_and_address() {
        let refused = |url: &'static str| async move { check_url(url, false).await.unwrap_err() };
        assert_eq!(refused("ftp://example.com/").await, Refused::Scheme);
        assert_eq!(
            refused("https://u:p@93.184.215.14/").await,
            Refused::Credentials
        );
        assert!(matches!(refused("not a url").await, Refused::Malformed(_)));
        assert!(matches!(
            refused("http://[::1]:8080/hook").await,
            Refused::Address {
                class: "loopback",
                ..
            }
        ));
        // A name that resolves to loopback.
        assert!(matches!(
            refused("http://localhost:9/hook").await,
            Refused::Resolved {
                class: "loopback",
                ..
            }
        ));
        assert!(check_url("https://93.184.215.14/hook", false).await.is_ok());
        assert!(check_url("http://localhost:9/hook", true).await.is_ok());
    }
}
