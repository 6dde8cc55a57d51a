//! `raft-node` (skeleton: issue 3).

fn main() {
    eprintln!("raft-node is not built yet");
    std::process::exit(1);
}
