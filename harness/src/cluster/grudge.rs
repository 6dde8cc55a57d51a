//! [`Grudge`]: a partition as data, node name → the node names it cannot hear from. A leaf
//! module: the pure nemesis planner plans grudges, the network backends apply them, the
//! cluster checks their node names.

use std::collections::{BTreeMap, BTreeSet};

/// A partition: node name → the node names it cannot hear from.
pub type Grudge = BTreeMap<String, BTreeSet<String>>;
