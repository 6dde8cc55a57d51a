//! The nemesis: its vocabulary ([`kinds`]: fault kinds, targets, partition shapes, triggers,
//! the config and the events it reports), the pure seeded [`planner`] and the [`executor`]
//! that applies the plan to a running [`Cluster`](crate::cluster::Cluster) on a schedule; or,
//! instead of a plan, a [`script`] of steps on roles that [`scripted`] applies in order.

pub mod executor;
pub mod kinds;
pub mod planner;
pub mod script;
pub mod scripted;

pub use executor::{run, NemesisSummary};
pub use kinds::{parse_clock_faults, parse_clock_rates, ClockFault, ClockOptions};
pub use kinds::{
    parse_faults, parse_targets, ByzantineConfig, FaultKind, NemesisConfig, NemesisEvent,
    PartitionShape, Target, Trigger, DEFAULT_TARGETS,
};
pub use planner::{isolate, plan_grudge, PlannedFault, Planner, Victims};
