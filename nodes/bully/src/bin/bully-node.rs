//! `bully-node`: run one node of the bully election. Parses the command line (see
//! `bully::config`), serves, and maps failures to a message and an exit code: 2 for bad
//! flags, 1 when the node cannot start or stops.

use bully::config::NodeArgs;
use clap::Parser;

fn main() {
    let args = NodeArgs::parse();
    let cfg = match args.into_config() {
        Ok(c) => c,
        Err(e) => {
            eprintln!("bully-node: {e}");
            std::process::exit(2);
        }
    };
    let rt = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("bully-node: cannot start the runtime: {e}");
            std::process::exit(1);
        }
    };
    if let Err(e) = rt.block_on(bully::server::serve(cfg)) {
        eprintln!("bully-node: {e}");
        std::process::exit(1);
    }
}
