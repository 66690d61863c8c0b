//! IP addresses and `cidr` blocks, with EventBridge's parsing rules and messages.
//!
//! An IP literal is what EventBridge recognises as one: dotted decimal with four parts
//! (IPv4), or hex digits and colons with at least one colon (IPv6, no embedded IPv4).
//! Event strings that are IP literals compare by address, so an exact pattern
//! `"2001:db8::1"` also matches `"2001:0db8:0:0:0:0:0:1"`.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// A `cidr` block: the addresses whose first `bits` bits equal the network's.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cidr {
    network: IpAddr,
    bits: u8,
}

impl Cidr {
    pub fn parse(text: &str) -> Result<Cidr, String> {
        // Java's `split("/")` drops trailing empty parts: "10.0.0.0/" has one part.
        let mut parts: Vec<&str> = text.split('/').collect();
        while parts.len() > 1 && parts.last() == Some(&"") {
            parts.pop();
        }
        let [ip, bits] = parts.as_slice() else {
            return Err("Malformed CIDR, one '/' required".into());
        };
        let bits: i32 = bits
            .parse()
            .map_err(|_| "Malformed CIDR, mask bits must be an integer".to_string())?;
        if bits < 0 {
            return Err("Malformed CIDR, mask bits must not be negative".into());
        }
        let network = parse_ip(ip)?;
        // EventBridge's limits: a full-length mask is rejected (use the address itself).
        let bits = match network {
            IpAddr::V4(_) if bits > 31 => return Err("IPv4 mask bits must be < 32".into()),
            IpAddr::V6(_) if bits > 127 => return Err("IPv6 mask bits must be < 128".into()),
            _ => u8::try_from(bits).map_err(|_| "Malformed CIDR".to_string())?,
        };
        Ok(Cidr { network, bits })
    }

    pub fn contains(&self, address: IpAddr) -> bool {
        match (self.network, address) {
            (IpAddr::V4(net), IpAddr::V4(ip)) => prefix_eq(
                u128::from(net.to_bits()),
                u128::from(ip.to_bits()),
                32,
                self.bits,
            ),
            (IpAddr::V6(net), IpAddr::V6(ip)) => {
                prefix_eq(net.to_bits(), ip.to_bits(), 128, self.bits)
            }
            _ => false,
        }
    }
}

fn prefix_eq(a: u128, b: u128, width: u32, bits: u8) -> bool {
    let ignored = width.saturating_sub(u32::from(bits));
    a.checked_shr(ignored).unwrap_or(0) == b.checked_shr(ignored).unwrap_or(0)
}

/// Parses an IP literal as EventBridge does, with its error messages.
fn parse_ip(text: &str) -> Result<IpAddr, String> {
    if looks_like_ipv4(text) {
        text.parse::<Ipv4Addr>()
            .map(IpAddr::V4)
            .map_err(|_| format!("Invalid IP address: {text}"))
    } else if looks_like_ipv6(text) {
        text.parse::<Ipv6Addr>()
            .map(IpAddr::V6)
            .map_err(|_| format!("Invalid IP address: {text}"))
    } else {
        Err(format!("Nonstandard IP address: {text}"))
    }
}

/// `Some` when `text` is an IP literal; used for event values and exact patterns.
pub fn ip_literal(text: &str) -> Option<IpAddr> {
    parse_ip(text).ok()
}

/// `[0-9]+\.[0-9]+\.[0-9]+\.[0-9]+`
fn looks_like_ipv4(text: &str) -> bool {
    let parts: Vec<&str> = text.split('.').collect();
    parts.len() == 4
        && parts
            .iter()
            .all(|part| !part.is_empty() && part.bytes().all(|b| b.is_ascii_digit()))
}

/// `[0-9a-fA-F:]*:[0-9a-fA-F:]*`
fn looks_like_ipv6(text: &str) -> bool {
    text.contains(':') && text.bytes().all(|b| b == b':' || b.is_ascii_hexdigit())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(text: &str) -> IpAddr {
        text.parse().unwrap()
    }

    #[test]
    fn ipv4_blocks() {
        let cidr = Cidr::parse("10.0.0.0/24").unwrap();
        assert!(cidr.contains(ip("10.0.0.255")));
        assert!(!cidr.contains(ip("10.0.1.0")));
        assert!(Cidr::parse("0.0.0.0/0").unwrap().contains(ip("8.8.8.8")));
        assert!(!cidr.contains(ip("::1")));
    }

    #[test]
    fn ipv6_blocks() {
        let cidr = Cidr::parse("2001:db8:1234:1a00::/64").unwrap();
        assert!(cidr.contains(ip("2001:db8:1234:1a00::dead:beef")));
        assert!(!cidr.contains(ip("2001:db8:1234:1a01::1")));
    }

    #[test]
    fn messages() {
        let err = |text: &str| Cidr::parse(text).unwrap_err();
        assert_eq!(err("10.0.0.0"), "Malformed CIDR, one '/' required");
        assert_eq!(err("10.0.0.0/"), "Malformed CIDR, one '/' required");
        assert_eq!(err("1/2/3"), "Malformed CIDR, one '/' required");
        assert_eq!(
            err("10.0.0.0/x"),
            "Malformed CIDR, mask bits must be an integer"
        );
        assert_eq!(
            err("10.0.0.0/-1"),
            "Malformed CIDR, mask bits must not be negative"
        );
        assert_eq!(err("10.0.0.0/32"), "IPv4 mask bits must be < 32");
        assert_eq!(err("::/128"), "IPv6 mask bits must be < 128");
        assert_eq!(err("xx.11.xx/24"), "Nonstandard IP address: xx.11.xx");
        assert_eq!(err("300.1.1.1/8"), "Invalid IP address: 300.1.1.1");
    }

    #[test]
    fn literals() {
        assert_eq!(ip_literal("10.1.2.3"), Some(ip("10.1.2.3")));
        assert_eq!(ip_literal("2001:0db8::1"), Some(ip("2001:db8::1")));
        assert_eq!(ip_literal("hello"), None);
        assert_eq!(ip_literal("1.2.3"), None);
    }
}
