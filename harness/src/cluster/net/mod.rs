//! Network backends, the two implementations of the [`NetMode`](crate::netmode::NetMode)
//! choice: network namespaces on a bridge with iptables partitions ([`netns`]) and user-space
//! TCP proxies per directed link ([`proxy`]).

pub mod netns;
pub mod proxy;
