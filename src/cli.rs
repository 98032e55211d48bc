//! The command line: `serve`, `validate`, `pricing`, `keys`, `--version`.

use std::{
    path::{Path, PathBuf},
    process::ExitCode,
};

use clap::{Parser, Subcommand};
use tokio_util::sync::CancellationToken;

use crate::config::{self, Config};

/// The config file `serve` and `validate` use when `--config` is not given.
const DEFAULT_CONFIG_PATH: &str = "infermux.yml";

/// infermux: an OpenAI-compatible inference router.
#[derive(Debug, Parser)]
#[command(name = "infermux", version, about, propagate_version = true)]
pub struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the proxy and the management API.
    Serve {
        /// Config file; default `./infermux.yml`, else the embedded default config.
        #[arg(long, short)]
        config: Option<PathBuf>,
    },
    /// Parse and validate a config file, print a summary, exit 0 (valid) or 1 (invalid).
    Validate {
        /// Config file; default `./infermux.yml`.
        #[arg(long, short)]
        config: Option<PathBuf>,
    },
    /// Print the effective pricing table (USD per 1M tokens) and the unpriced models.
    Pricing {
        /// Config file; default `./infermux.yml`, else the embedded default config.
        #[arg(long, short)]
        config: Option<PathBuf>,
    },
    /// Make, list, rotate and revoke client API keys on a running infermux; hash a key.
    Keys {
        #[command(subcommand)]
        command: crate::keys_cli::KeysCommand,
        #[command(flatten)]
        target: crate::keys_cli::Target,
    },
}

/// Runs the command line; the exit code is 0 on success, 1 on a config or start-up error
/// (clap itself exits 2 on usage errors).
pub fn run(cli: Cli) -> ExitCode {
    match cli.command {
        Command::Validate { config } => validate(config.as_deref()),
        Command::Serve { config } => serve(config.as_deref()),
        Command::Pricing { config } => pricing(config.as_deref()),
        Command::Keys { command, target } => crate::keys_cli::run(command, &target),
    }
}

#[allow(clippy::print_stdout)] // `validate` prints its summary for people.
fn validate(path: Option<&Path>) -> ExitCode {
    let default = Path::new(DEFAULT_CONFIG_PATH);
    if path.is_none() && !default.exists() {
        eprintln!(
            "error: no --config given and no ./{DEFAULT_CONFIG_PATH} here; run `infermux validate --config FILE`"
        );
        return ExitCode::from(1);
    }
    let path = path.unwrap_or(default);
    match config::load(path) {
        Ok(config) => {
            println!("{}: valid\n{}", path.display(), config.summary());
            for warning in crate::pricing::pricing_warnings(&config) {
                println!("warning: {warning}");
            }
            for (provider, model) in crate::pricing::unpriced_pairs(&config) {
                println!(
                    "unpriced model: {provider} {model} (no built-in or configured price; add a `pricing:` entry)"
                );
            }
            ExitCode::SUCCESS
        }
        Err(error) => {
            eprintln!("error: {error}");
            ExitCode::from(1)
        }
    }
}

/// The config `serve` runs on, and whether it is the embedded default.
fn load_for_serve(path: Option<&Path>) -> Result<(Config, bool), config::ConfigError> {
    let default = Path::new(DEFAULT_CONFIG_PATH);
    match path {
        Some(path) => config::load(path).map(|c| (c, false)),
        None if default.exists() => config::load(default).map(|c| (c, false)),
        None => config::default_config().map(|c| (c, true)),
    }
}

#[allow(clippy::print_stdout)] // `pricing` prints its table for people.
fn pricing(path: Option<&Path>) -> ExitCode {
    match load_for_serve(path) {
        Ok((config, _)) => {
            print!("{}", crate::pricing::render_table(&config));
            ExitCode::SUCCESS
        }
        Err(error) => {
            eprintln!("error: {error}");
            ExitCode::from(1)
        }
    }
}

/// The runtime `serve` runs on: one thread when it would have one worker (the process may use
/// one CPU, or `TOKIO_WORKER_THREADS=1`), else tokio's multi-thread runtime, one worker per CPU.
///
/// With one worker the multi-thread scheduler has nothing to steal from, and its worker's
/// local queue holds 256 tasks: a few hundred busy connections overflow it into a queue it
/// visits once every few dozen polls, and some requests waited ten times longer than the
/// median (`docs/PERFORMANCE.md`, "Tail latency"). The current-thread scheduler runs every task
/// from one queue, in the order it became ready.
fn serving_runtime() -> std::io::Result<tokio::runtime::Runtime> {
    let workers = std::env::var("TOKIO_WORKER_THREADS")
        .ok()
        .and_then(|v| v.trim().parse::<usize>().ok())
        .or_else(|| std::thread::available_parallelism().ok().map(usize::from));
    let mut builder = if workers == Some(1) {
        tokio::runtime::Builder::new_current_thread()
    } else {
        tokio::runtime::Builder::new_multi_thread()
    };
    builder.enable_all().build()
}

fn serve(path: Option<&Path>) -> ExitCode {
    let (mut config, embedded) = match load_for_serve(path) {
        Ok(loaded) => loaded,
        Err(error) => {
            eprintln!("error: {error}");
            return ExitCode::from(1);
        }
    };
    let runtime = match serving_runtime() {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("error: cannot start the async runtime: {error}");
            return ExitCode::from(1);
        }
    };
    runtime.block_on(async move {
        let _log_writer = crate::telemetry::init_logging(&config.log);
        for warning in crate::pricing::pricing_warnings(&config) {
            tracing::warn!("{warning}");
        }
        for (provider, model) in crate::pricing::unpriced_pairs(&config) {
            tracing::warn!(
                provider,
                model,
                unpriced = config.unpriced.as_str(),
                "unpriced model: no built-in or configured price; add a `pricing:` entry"
            );
        }
        if embedded {
            tracing::info!(
                "no infermux.yml found; serving the embedded default config (mock provider)"
            );
            let client = crate::provider::http_client(std::time::Duration::from_secs(1));
            let url = crate::local_ollama::OLLAMA_URL;
            crate::local_ollama::prefer_local_ollama(&mut config, &client, url).await;
        }
        let server = match crate::server::Server::bind(config).await {
            Ok(server) => server,
            Err(error) => {
                tracing::error!(%error, "cannot start");
                eprintln!("error: {error}");
                return ExitCode::from(1);
            }
        };
        let shutdown = CancellationToken::new();
        tokio::spawn(stop_on_signal(shutdown.clone()));
        server.run(shutdown).await;
        ExitCode::SUCCESS
    })
}

/// Cancels `shutdown` on SIGTERM or SIGINT.
async fn stop_on_signal(shutdown: CancellationToken) {
    let interrupt = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::terminate()) {
            Ok(mut terminate) => {
                tokio::select! {
                    _ = interrupt => {}
                    _ = terminate.recv() => {}
                }
            }
            Err(_) => {
                let _ = interrupt.await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = interrupt.await;
    }
    tracing::info!("shutdown signal received; draining in-flight requests");
    shutdown.cancel();
}
