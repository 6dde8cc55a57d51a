//! `lock-node`: run one lock-service node. Parses the command line (see
//! `lock_service::config`), runs the server, and maps failures to a clear message and exit
//! code 1 (2 for bad flags, with the list of bugs for an unknown `--bug`).

use clap::Parser;
use lock_service::config::NodeArgs;

fn main() {
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_ansi(false)
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .init();
    let cfg = match NodeArgs::parse().into_config() {
        Ok(c) => c,
        Err(e) => {
            eprintln!("lock-node: {e}");
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
            eprintln!("lock-node: cannot start the runtime: {e}");
            std::process::exit(1);
        }
    };
    if let Err(e) = rt.block_on(lock_service::server::serve(cfg)) {
        eprintln!("lock-node: {e}");
        std::process::exit(1);
    }
}
