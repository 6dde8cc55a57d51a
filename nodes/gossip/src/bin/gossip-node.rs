//! `gossip-node`: run one gossip node, or `keygen`, `post`, `read`. Parses the command line
//! (see `gossip::config`) and maps failures to a message and an exit code in one place:
//! 2 for bad flags, 1 when the node cannot start or stops, or a client request fails.

use clap::Parser;
use gossip::config::{Cli, Command};

fn fail(code: i32, message: impl std::fmt::Display) -> ! {
    eprintln!("gossip-node: {message}");
    std::process::exit(code);
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap_or_else(|e| fail(1, format!("cannot start the runtime: {e}")))
}

fn main() {
    let cli = Cli::parse();
    match cli.command {
        Some(Command::Keygen { n, out }) => {
            if n == 0 {
                fail(2, "--n must be >= 1");
            }
            match gossip::crypto::keygen(&out, n, &mut rand::rngs::OsRng) {
                Ok(files) => files.iter().for_each(|f| println!("wrote {}", f.display())),
                Err(e) => fail(1, e),
            }
        }
        Some(Command::Post { node, body }) => {
            match runtime().block_on(gossip::client::post(&node, &body)) {
                Ok(v) => println!("{v}"),
                Err(e) => fail(1, e),
            }
        }
        Some(Command::Read { node }) => match runtime().block_on(gossip::client::read(&node)) {
            Ok(list) => list.iter().for_each(|m| println!("{m}")),
            Err(e) => fail(1, e),
        },
        None => {
            let cfg = cli.node.into_config().unwrap_or_else(|e| fail(2, e));
            if let Err(e) = runtime().block_on(gossip::server::serve(cfg)) {
                fail(1, e);
            }
        }
    }
}
