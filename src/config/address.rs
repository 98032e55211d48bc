//! Listen addresses: `":8080"`, `"127.0.0.1:8080"`, `"[::1]:8080"`, `"localhost:8080"`.
//!
//! No name is resolved: config parsing must not depend on DNS. `localhost` is taken to be
//! `127.0.0.1`; any other host must be an IP address. Errors quote no part of the address
//! (the caller quotes it whole, as written), since it may come from a `${VAR}`.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};

/// The advice given with every bad address.
pub(super) const EXAMPLE: &str =
    "write \":8080\" (all interfaces), \"127.0.0.1:8080\" or \"[::1]:8080\"";

/// Parses a listen address; on failure, says what is wrong.
pub(super) fn parse(text: &str) -> Result<SocketAddr, String> {
    let text = text.trim();
    if let Ok(addr) = text.parse::<SocketAddr>() {
        return Ok(addr);
    }
    let Some((host, port)) = text.rsplit_once(':') else {
        return Err("a listen address needs a port".to_owned());
    };
    let port: u16 = port
        .parse()
        .map_err(|_| "the port is not a number from 0 to 65535".to_owned())?;
    let ip = match host {
        "" | "*" => IpAddr::V4(Ipv4Addr::UNSPECIFIED),
        "localhost" => IpAddr::V4(Ipv4Addr::LOCALHOST),
        _ if host.contains(':') => {
            return Err(
                "an IPv6 address must be written in brackets, as in \"[::1]:8080\"".to_owned(),
            );
        }
        _ => host
            .parse::<IpAddr>()
            .map_err(|_| "the host is not an IP address or \"localhost\"".to_owned())?,
    };
    Ok(SocketAddr::new(ip, port))
}

#[cfg(test)]
mod tests {
    use super::parse;

    #[test]
    fn accepted_forms() {
        let ok = |s: &str| parse(s).map(|a| a.to_string());
        assert_eq!(ok(":8080"), Ok("0.0.0.0:8080".to_owned()));
        assert_eq!(ok("127.0.0.1:8080"), Ok("127.0.0.1:8080".to_owned()));
        assert_eq!(ok("[::1]:8080"), Ok("[::1]:8080".to_owned()));
        assert_eq!(ok("localhost:9000"), Ok("127.0.0.1:9000".to_owned()));
        assert_eq!(ok("0.0.0.0:0"), Ok("0.0.0.0:0".to_owned()));
    }

    #[test]
    fn refused_forms_say_why() {
        assert!(parse("8080").expect_err("an error").contains("port"));
        assert!(
            parse(":http")
                .expect_err("an error")
                .contains("port is not a number")
        );
        assert!(parse(":70000").is_err());
        assert!(
            parse("example.com:80")
                .expect_err("an error")
                .contains("not an IP address")
        );
        assert!(parse("::1:80").expect_err("an error").contains("brackets"));
    }
}
