//! `raft-client` (skeleton: issue 3).

fn main() {
    eprintln!("raft-client is not built yet");
    std::process::exit(1);
}
