//! Host resolution for the model endpoints: an IP literal (`127.0.0.1`, `[::1]`) is its own
//! address; any other host goes to ureq's resolver. That one looks a host up in a thread of its
//! own whenever a timeout is set (ours always is), so without this every request to a local
//! server at a literal address started and ended a thread.

use std::net::{IpAddr, SocketAddr};

use ureq::config::{Config, IpFamily};
use ureq::http::Uri;
use ureq::unversioned::resolver::{DefaultResolver, ResolvedSocketAddrs, Resolver};
use ureq::unversioned::transport::NextTimeout;

#[derive(Debug, Default)]
pub(super) struct LiteralFirst(DefaultResolver);

impl Resolver for LiteralFirst {
    fn resolve(&self, uri: &Uri, config: &Config, timeout: NextTimeout) -> Result<ResolvedSocketAddrs, ureq::Error> {
        match literal(uri) {
            Some(addr) if config.ip_family() == IpFamily::Any => {
                let mut found = self.empty();
                found.push(addr);
                Ok(found)
            }
            _ => self.0.resolve(uri, config, timeout),
        }
    }
}

/// The socket address `uri` names when its host is an IP literal.
fn literal(uri: &Uri) -> Option<SocketAddr> {
    let host = uri.host()?;
    let ip: IpAddr = host.strip_prefix('[').and_then(|h| h.strip_suffix(']')).unwrap_or(host).parse().ok()?;
    let port = uri.port_u16().or_else(|| match uri.scheme_str()? {
        "http" => Some(80),
        "https" => Some(443),
        _ => None,
    })?;
    Some(SocketAddr::new(ip, port))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn addr(uri: &str) -> Option<SocketAddr> {
        literal(&uri.parse().unwrap())
    }

    #[test]
    fn ip_literals_are_their_own_address_and_names_are_looked_up() {
        assert_eq!(addr("http://127.0.0.1:8000/v1"), Some("127.0.0.1:8000".parse().unwrap()));
        assert_eq!(addr("http://[::1]:9/v1/chat"), Some("[::1]:9".parse().unwrap()));
        assert_eq!(addr("https://10.0.0.2/v1"), Some("10.0.0.2:443".parse().unwrap()));
        assert_eq!(addr("http://10.0.0.2/v1"), Some("10.0.0.2:80".parse().unwrap()));
        assert_eq!(addr("http://localhost:8000/v1"), None);
        assert_eq!(addr("https://api.example.com/v1"), None);

        let config = Config::default();
        let uri: Uri = "http://127.0.0.1:8000/v1".parse().unwrap();
        let found = LiteralFirst::default().resolve(&uri, &config, NextTimeout::default()).unwrap();
        assert_eq!(&found[..], ["127.0.0.1:8000".parse::<SocketAddr>().unwrap()]);
        let uri: Uri = "http://localhost:8000/v1".parse().unwrap();
        let found = LiteralFirst::default().resolve(&uri, &config, NextTimeout::default()).unwrap();
        assert!(found.iter().all(|a| a.ip().is_loopback() && a.port() == 8000) && !found.is_empty());
    }
}
