//! Network backends: [`NetMode`] (the `--net` choice) and the two implementations, network
//! namespaces on a bridge with iptables partitions ([`netns`]) and user-space TCP proxies per
//! directed link ([`proxy`]).

pub mod netns;
pub mod proxy;

use std::fmt;
use std::str::FromStr;

/// The `--net` choice.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum NetMode {
    /// netns when the harness can create namespaces (root and `ip netns` works), else proxy.
    #[default]
    Auto,
    Netns,
    Proxy,
}

impl FromStr for NetMode {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "auto" => Ok(NetMode::Auto),
            "netns" => Ok(NetMode::Netns),
            "proxy" => Ok(NetMode::Proxy),
            other => Err(format!("unknown net mode `{other}` (auto, netns, proxy)")),
        }
    }
}

impl fmt::Display for NetMode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            NetMode::Auto => "auto",
            NetMode::Netns => "netns",
            NetMode::Proxy => "proxy",
        })
    }
}
