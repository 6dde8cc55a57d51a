//! `pbft-node`: run one PBFT chat replica, or `pbft-node keygen --n 4 --out DIR`. Exit
//! codes: 0 never (a node runs until killed), 1 the node failed (message names what and
//! where), 2 bad flags (unknown bug or mode lists the known ones).

use clap::Parser;
use pbft_chat::config::{KeygenArgs, NodeArgs};

fn main() {
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_ansi(false)
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .init();
    let args: Vec<String> = std::env::args().collect();
    if args.get(1).map(String::as_str) == Some("keygen") {
        let k = KeygenArgs::parse_from(args.iter().skip(1));
        if let Err(e) = pbft_chat::keys::generate(k.n, &k.out) {
            eprintln!("pbft-node keygen: {e}");
            std::process::exit(1);
        }
        println!(
            "wrote {} secret keys and public.json to {}",
            k.n,
            k.out.display()
        );
        return;
    }
    let cfg = match NodeArgs::parse().into_config() {
        Ok(c) => c,
        Err(e) => {
            eprintln!("pbft-node: {e}");
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
            eprintln!("pbft-node: cannot start the runtime: {e}");
            std::process::exit(1);
        }
    };
    if let Err(e) = rt.block_on(pbft_chat::server::serve(cfg)) {
        eprintln!("pbft-node: {e}");
        std::process::exit(1);
    }
}
