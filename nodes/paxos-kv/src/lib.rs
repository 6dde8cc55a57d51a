pub mod paxos;
pub mod sim;
