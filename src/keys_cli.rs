//! `infermux keys`: make, list, rotate and revoke client API keys on a running infermux (over
//! its management API, with its `management_token`), and hash a key for the config file.
//!
//! ```text
//! infermux keys create --name acme-prod --caller acme --monthly-usd 50 --models gpt-4o-mini,auto
//! infermux keys list
//! infermux keys rotate key_... --grace 1h
//! infermux keys revoke key_...
//! printf %s "$ACME_KEY" | infermux keys hash
//! ```
//! The management API is found at `--url`, else at the config's `management_listen`
//! (`--config`, default `./infermux.yml`), else at `http://127.0.0.1:8081`; the token is
//! `--token`, else `$INFERMUX_ADMIN_TOKEN`, else the config's `management_token`.

use std::{
    io::Read,
    path::{Path, PathBuf},
    process::ExitCode,
    time::Duration,
};

use bytes::Bytes;
use clap::{Args, Subcommand};
use http::{Method, Request, header};
use http_body_util::{BodyExt, Full};

/// Where the management API is, and how to be let in.
#[derive(Debug, Args)]
pub(crate) struct Target {
    /// The management API's base URL, such as `http://127.0.0.1:8081`.
    #[arg(long, global = true)]
    url: Option<String>,
    /// The management token (default: `$INFERMUX_ADMIN_TOKEN`, else the config's).
    #[arg(
        long,
        global = true,
        env = "INFERMUX_ADMIN_TOKEN",
        hide_env_values = true
    )]
    token: Option<String>,
    /// The config whose `management_listen` and `management_token` to use.
    #[arg(long, short, global = true)]
    config: Option<PathBuf>,
}

/// What `infermux keys` does.
#[derive(Debug, Subcommand)]
pub(crate) enum KeysCommand {
    /// Make a key; prints it once (it is never shown again).
    Create {
        /// Its name (`acme-prod`).
        #[arg(long)]
        name: String,
        /// The caller its spend is charged to (default: its name).
        #[arg(long)]
        caller: Option<String>,
        /// Monthly cap in USD.
        #[arg(long)]
        monthly_usd: Option<f64>,
        /// Daily (UTC) cap in USD.
        #[arg(long)]
        daily_usd: Option<f64>,
        /// The model names it may request, comma-separated.
        #[arg(long, value_delimiter = ',')]
        models: Option<Vec<String>>,
        /// Requests per minute.
        #[arg(long)]
        rpm: Option<u32>,
        /// When it stops working (RFC 3339, such as 2027-01-01T00:00:00Z).
        #[arg(long)]
        expires: Option<String>,
    },
    /// List every key with its spend this month.
    List,
    /// Show one key.
    Show {
        /// The key's id (`key_...`).
        id: String,
    },
    /// Give a key a new secret; the old one works for `--grace` more.
    Rotate {
        /// The key's id (`key_...`).
        id: String,
        /// How long the old secret keeps working (default 1h).
        #[arg(long)]
        grace: Option<String>,
    },
    /// Revoke a key at once (on every replica within seconds).
    Revoke {
        /// The key's id (`key_...`).
        id: String,
    },
    /// Print the SHA-256 of a key (read from stdin) for `keys.list[].sha256`.
    Hash,
}

/// Runs `infermux keys`.
#[allow(clippy::print_stdout)] // Prints the API's answers for people and scripts.
pub(crate) fn run(command: KeysCommand, target: &Target) -> ExitCode {
    if let KeysCommand::Hash = command {
        let mut key = String::new();
        if let Err(error) = std::io::stdin().read_to_string(&mut key) {
            eprintln!("error: cannot read the key from stdin: {error}");
            return ExitCode::from(1);
        }
        let key = key.trim_end_matches(['\n', '\r']);
        if key.is_empty() {
            eprintln!("error: no key on stdin; run `printf %s \"$KEY\" | infermux keys hash`");
            return ExitCode::from(1);
        }
        println!("{}", infermux_keys::KeyHash::of(key).to_hex());
        return ExitCode::SUCCESS;
    }
    let (method, path, body) = match request_of(command) {
        Ok(request) => request,
        Err(message) => {
            eprintln!("error: {message}");
            return ExitCode::from(2);
        }
    };
    let (base, token) = match locate(target) {
        Ok(found) => found,
        Err(message) => {
            eprintln!("error: {message}");
            return ExitCode::from(1);
        }
    };
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("error: cannot start the async runtime: {error}");
            return ExitCode::from(1);
        }
    };
    let url = format!("{}{path}", base.trim_end_matches('/'));
    match runtime.block_on(call(method, &url, token.as_deref(), body)) {
        Ok((status, text)) if status.is_success() => {
            println!("{text}");
            ExitCode::SUCCESS
        }
        Ok((status, text)) => {
            eprintln!("error: {status}: {text}");
            ExitCode::from(1)
        }
        Err(message) => {
            eprintln!("error: {url}: {message}");
            ExitCode::from(1)
        }
    }
}

fn request_of(command: KeysCommand) -> Result<(Method, String, Bytes), String> {
    Ok(match command {
        KeysCommand::Create {
            name,
            caller,
            monthly_usd,
            daily_usd,
            models,
            rpm,
            expires,
        } => {
            let mut body = serde_json::json!({"name": name});
            let fields = [
                ("caller", caller.map(serde_json::Value::from)),
                ("monthly_usd", monthly_usd.map(serde_json::Value::from)),
                ("daily_usd", daily_usd.map(serde_json::Value::from)),
                ("models", models.map(serde_json::Value::from)),
                ("rpm", rpm.map(serde_json::Value::from)),
                ("expires", expires.map(serde_json::Value::from)),
            ];
            for (field, value) in fields {
                if let Some(value) = value {
                    body[field] = value;
                }
            }
            (
                Method::POST,
                "/_infermux/keys".into(),
                Bytes::from(body.to_string()),
            )
        }
        KeysCommand::List => (Method::GET, "/_infermux/keys".into(), Bytes::new()),
        KeysCommand::Show { id } => (
            Method::GET,
            format!("/_infermux/keys/{}", path_safe(&id)?),
            Bytes::new(),
        ),
        KeysCommand::Rotate { id, grace } => {
            let body = grace.map_or_else(
                || "{}".to_owned(),
                |g| serde_json::json!({"grace": g}).to_string(),
            );
            (
                Method::POST,
                format!("/_infermux/keys/{}/rotate", path_safe(&id)?),
                Bytes::from(body),
            )
        }
        KeysCommand::Revoke { id } => (
            Method::DELETE,
            format!("/_infermux/keys/{}", path_safe(&id)?),
            Bytes::new(),
        ),
        KeysCommand::Hash => unreachable!("handled before"),
    })
}

fn path_safe(id: &str) -> Result<&str, String> {
    if !id.is_empty()
        && id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "_-.".contains(c))
    {
        Ok(id)
    } else {
        Err(format!("`{id}` is not a key id (key_...)"))
    }
}

/// The management API's base URL and token.
fn locate(target: &Target) -> Result<(String, Option<String>), String> {
    let default = Path::new("infermux.yml");
    let config = match (&target.config, default.exists()) {
        (Some(path), _) => Some(crate::config::load(path).map_err(|e| e.to_string())?),
        (None, true) if target.url.is_none() || target.token.is_none() => {
            crate::config::load(default).ok()
        }
        _ => None,
    };
    let url = target.url.clone().unwrap_or_else(|| {
        config.as_ref().map_or_else(
            || "http://127.0.0.1:8081".to_owned(),
            |c| {
                let addr = c.management_listen;
                let host = if addr.ip().is_unspecified() {
                    "127.0.0.1".to_owned()
                } else {
                    addr.ip().to_string()
                };
                format!("http://{host}:{}", addr.port())
            },
        )
    });
    let token = target.token.clone().filter(|t| !t.is_empty()).or_else(|| {
        config
            .as_ref()
            .and_then(|c| c.management_token.as_ref().map(|t| t.expose().to_owned()))
    });
    Ok((url, token))
}

async fn call(
    method: Method,
    url: &str,
    token: Option<&str>,
    body: Bytes,
) -> Result<(http::StatusCode, String), String> {
    let client = crate::provider::http_client(Duration::from_secs(5));
    let mut request = Request::builder()
        .method(method)
        .uri(url)
        .header(header::CONTENT_TYPE, "application/json");
    if let Some(token) = token {
        request = request.header(header::AUTHORIZATION, format!("Bearer {token}"));
    }
    let request = request.body(Full::new(body)).map_err(|e| e.to_string())?;
    let response = tokio::time::timeout(Duration::from_secs(30), client.request(request))
        .await
        .map_err(|_| "no answer within 30 s".to_owned())?
        .map_err(|e| e.to_string())?;
    let status = response.status();
    let bytes = response
        .into_body()
        .collect()
        .await
        .map_err(|e| e.to_string())?
        .to_bytes();
    Ok((status, String::from_utf8_lossy(&bytes).into_owned()))
}
