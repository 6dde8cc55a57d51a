//! The `--net` choice ([`NetMode`]): which network backend a cluster uses. A leaf module:
//! the cluster runtime, the systems (whose capabilities depend on the backend) and the
//! runner's config all use it, and it uses none of them.

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
