//! The client's IP address: from the peer, or from `X-Forwarded-For` behind trusted proxies.
//!
//! `X-Forwarded-For` is read only when the peer itself is a trusted proxy, and then from right to left:
//! each hop appends the address it received the request from, so the first address (from the right) that
//! is not a trusted proxy is the client. Anything left of it was written by the client and is ignored.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use ipnet::IpNet;

/// Whether `ip` is one of the `trusted` proxies, whose forwarding headers are believed.
pub fn is_trusted_proxy(ip: &IpAddr, trusted: &[IpNet]) -> bool {
    trusted.iter().any(|net| net.contains(ip))
}

/// Resolves the client address of a request.
///
/// * `peer`: the TCP peer.
/// * `forwarded_for`: the `X-Forwarded-For` values, joined with commas if the header was repeated.
/// * `trusted`: the proxies whose `X-Forwarded-For` is believed.
pub fn client_ip(peer: IpAddr, forwarded_for: Option<&str>, trusted: &[IpNet]) -> IpAddr {
    let is_trusted = |ip: &IpAddr| is_trusted_proxy(ip, trusted);
    if !is_trusted(&peer) {
        return peer;
    }
    let Some(header) = forwarded_for else {
        return peer;
    };
    let mut client = peer;
    for hop in header.rsplit(',') {
        match parse_hop(hop) {
            Some(ip) => {
                client = ip;
                if !is_trusted(&ip) {
                    return ip;
                }
            }
            // A garbled hop cannot be believed, nor anything to its left.
            None => return client,
        }
    }
    client
}

/// Parses one `X-Forwarded-For` entry, tolerating `[v6]:port` and `v4:port` forms.
fn parse_hop(hop: &str) -> Option<IpAddr> {
    let hop = hop.trim();
    if let Ok(ip) = hop.parse() {
        return Some(ip);
    }
    if let Some(rest) = hop.strip_prefix('[') {
        return rest.split_once(']')?.0.parse().ok();
    }
    let (host, _port) = hop.rsplit_once(':')?;
    host.parse::<Ipv4Addr>().ok().map(IpAddr::V4)
}

/// Anonymizes an address: zeroes the last octet of IPv4, the last 80 bits of IPv6.
pub fn anonymize(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V4(v4) => {
            let [a, b, c, _] = v4.octets();
            IpAddr::V4(Ipv4Addr::new(a, b, c, 0))
        }
        IpAddr::V6(v6) => {
            let mut segments = v6.segments();
            for s in &mut segments[3..] {
                *s = 0;
            }
            IpAddr::V6(Ipv6Addr::from(segments))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn nets(list: &[&str]) -> Vec<IpNet> {
        list.iter().map(|n| n.parse().unwrap()).collect()
    }

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn ignores_forwarded_for_from_an_untrusted_peer() {
        let trusted = nets(&["10.0.0.0/8"]);
        assert_eq!(
            client_ip(ip("203.0.113.9"), Some("1.2.3.4"), &trusted),
            ip("203.0.113.9")
        );
    }

    #[test]
    fn walks_forwarded_for_right_to_left_past_trusted_hops() {
        let trusted = nets(&["10.0.0.0/8", "192.168.0.0/16"]);
        let header = "6.6.6.6, 198.51.100.7, 192.168.1.1";
        assert_eq!(
            client_ip(ip("10.1.2.3"), Some(header), &trusted),
            ip("198.51.100.7")
        );
        assert_eq!(
            client_ip(ip("10.1.2.3"), Some("10.0.0.5,10.0.0.6"), &trusted),
            ip("10.0.0.5")
        );
        assert_eq!(client_ip(ip("10.1.2.3"), None, &trusted), ip("10.1.2.3"));
        assert_eq!(
            client_ip(ip("10.1.2.3"), Some("junk, 10.0.0.7"), &trusted),
            ip("10.0.0.7")
        );
        assert_eq!(
            client_ip(ip("10.1.2.3"), Some("[2001:db8::1]:443"), &trusted),
            ip("2001:db8::1")
        );
    }

    #[test]
    fn anonymizes_the_host_part() {
        assert_eq!(anonymize(ip("198.51.100.77")), ip("198.51.100.0"));
        assert_eq!(
            anonymize(ip("2001:db8:abcd:1234:5678:9abc:def0:1234")),
            ip("2001:db8:abcd::")
        );
    }
}
