//! `paxos-node`: run one paxos-kv node. Parses the command line (see `paxos_kv::config`),
//! runs the server, and maps failures to exit codes in one place: 2 for bad flags (an
//! unknown `--bug` included, listing the bugs), 1 for everything else.

use clap::Parser;
use paxos_kv::config::NodeArgs;

fn main() {
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_ansi(false)
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .init();
    let args = NodeArgs::parse();
    let cfg = match args.into_config() {
        Ok(c) => c,
        Err(e) => {
            eprintln!("paxos-node: {e}");
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
            eprintln!("paxos-node: cannot start the runtime: {e}");
            std::process::exit(1);
        }
    };
    if let Err(e) = rt.block_on(paxos_kv::server::serve(cfg)) {
        eprintln!("paxos-node: {e}");
        std::process::exit(1);
    }
}
