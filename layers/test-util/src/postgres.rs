//! A throwaway PostgreSQL cluster on a free loopback port, for tests of the fleet request log.
//!
//! [`PostgresServer::start`] runs the OS package's `initdb` and `pg_ctl` (from
//! `/usr/lib/postgresql/<version>/bin`, the newest, or `$INFERMUX_TEST_POSTGRES_BIN`) in a
//! fresh temporary directory: trust authentication on loopback, `fsync=off`, the Unix socket
//! in that directory. PostgreSQL refuses to run as root, so when the tests run as root the
//! programs run as the `postgres` OS user (`runuser -u postgres --`) and the directory is
//! theirs. Dropping the server stops it and removes the directory.
//!
//! Tests that need PostgreSQL panic with an installation hint when it is missing, so a
//! machine without it fails loudly instead of passing silently.

use std::{
    net::{Ipv4Addr, SocketAddr, TcpListener},
    path::PathBuf,
    process::{Command, Output, Stdio},
    sync::atomic::{AtomicU32, Ordering},
};

/// How many free ports `start` tries.
const START_ATTEMPTS: usize = 5;

/// Distinguishes the directories of clusters started by one test process.
static NEXT_DIR: AtomicU32 = AtomicU32::new(0);

/// A running PostgreSQL cluster on `127.0.0.1`; dropping it stops the server.
#[derive(Debug)]
pub struct PostgresServer {
    bin: PathBuf,
    dir: PathBuf,
    port: u16,
    as_postgres: bool,
    running: bool,
}

impl PostgresServer {
    /// Creates a cluster in a temporary directory, starts it on a free loopback port and
    /// waits until it accepts connections (`pg_ctl -w`). Blocks for about a second.
    ///
    /// # Panics
    ///
    /// When PostgreSQL is not installed (the message says how to install it), or the
    /// cluster cannot be created or started on any of 5 free ports.
    pub fn start() -> Self {
        Self::start_with(false)
    }

    /// Like [`start`](Self::start), with TLS on: a fresh test CA ([`ca_file`](Self::ca_file))
    /// signs the server's certificate for `localhost` and `127.0.0.1`. Needs `openssl`.
    ///
    /// # Panics
    ///
    /// As [`start`](Self::start), and when `openssl` cannot make the certificates.
    pub fn start_tls() -> Self {
        Self::start_with(true)
    }

    /// The test CA's certificate (PEM) of a server started by [`start_tls`](Self::start_tls).
    pub fn ca_file(&self) -> PathBuf {
        self.dir.join("ca.crt")
    }

    fn start_with(tls: bool) -> Self {
        let bin = bin_dir();
        let as_postgres = is_root();
        let dir = std::env::temp_dir().join(format!(
            "infermux-pg-{}-{}",
            std::process::id(),
            NEXT_DIR.fetch_add(1, Ordering::Relaxed)
        ));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("create the PostgreSQL directory");
        let mut server = Self {
            bin,
            dir,
            port: 0,
            as_postgres,
            running: false,
        };
        if as_postgres {
            server.must(
                Command::new("chown")
                    .arg("postgres:postgres")
                    .arg(&server.dir),
            );
        }
        if tls {
            server.make_certificates();
        }
        let data = server.dir.join("data");
        let mut initdb = server.program("initdb");
        initdb
            .arg("-D")
            .arg(&data)
            .args(["-U", "postgres", "--auth=trust", "--no-sync", "-E", "UTF8"])
            .arg("--locale=C");
        server.must(&mut initdb);
        // Another process may take the free port before the server binds it: try another.
        let mut failures = Vec::new();
        for _ in 0..START_ATTEMPTS {
            server.port = free_port();
            let mut options = format!(
                "-p {} -k {} -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off -c full_page_writes=off",
                server.port,
                server.dir.display()
            );
            if tls {
                options.push_str(&format!(
                    " -c ssl=on -c ssl_cert_file={0}/server.crt -c ssl_key_file={0}/server.key",
                    server.dir.display()
                ));
            }
            let mut start = server.program("pg_ctl");
            start
                .arg("-D")
                .arg(&data)
                .arg("-l")
                .arg(server.dir.join("log"))
                .args(["-w", "-t", "30", "-o", &options, "start"]);
            let output = run(&mut start);
            if output.status.success() {
                server.running = true;
                return server;
            }
            let log = std::fs::read_to_string(server.dir.join("log")).unwrap_or_default();
            failures.push(format!(
                "port {}: {}{log}",
                server.port,
                String::from_utf8_lossy(&output.stderr)
            ));
        }
        panic!("PostgreSQL did not start: {failures:#?}");
    }

    /// The server's port.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The URL of database `db` as the `postgres` superuser (no password: trust on
    /// loopback).
    pub fn url(&self, db: &str) -> String {
        format!("postgres://postgres@127.0.0.1:{}/{db}", self.port)
    }

    /// Creates database `name` and returns its URL.
    ///
    /// # Panics
    ///
    /// When `psql` fails (the name is taken, the server is gone).
    pub fn create_database(&self, name: &str) -> String {
        let mut psql = self.program("psql");
        psql.args(["-h"])
            .arg(&self.dir)
            .args(["-p", &self.port.to_string(), "-U", "postgres", "-qAtc"])
            .arg(format!("CREATE DATABASE \"{name}\""));
        self.must(&mut psql);
        self.url(name)
    }

    /// A test CA and a server certificate it signs, for `localhost` and `127.0.0.1`; the
    /// key readable by the server only.
    fn make_certificates(&self) {
        let openssl = |args: &[&str]| {
            let mut command = Command::new("openssl");
            command.args(args).current_dir(&self.dir);
            self.must(&mut command);
        };
        let ec = [
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
            "-nodes",
        ];
        openssl(
            &[
                &["req", "-x509"][..],
                &ec,
                &["-days", "2", "-subj", "/CN=infermux-test-ca"],
                &["-keyout", "ca.key", "-out", "ca.crt"],
            ]
            .concat(),
        );
        openssl(
            &[
                &["req"][..],
                &ec,
                &[
                    "-subj",
                    "/CN=localhost",
                    "-keyout",
                    "server.key",
                    "-out",
                    "server.csr",
                ],
            ]
            .concat(),
        );
        std::fs::write(
            self.dir.join("san.ext"),
            "subjectAltName=DNS:localhost,IP:127.0.0.1\n",
        )
        .expect("write the SAN extension");
        openssl(&[
            "x509",
            "-req",
            "-in",
            "server.csr",
            "-CA",
            "ca.crt",
            "-CAkey",
            "ca.key",
            "-CAcreateserial",
            "-days",
            "2",
            "-extfile",
            "san.ext",
            "-out",
            "server.crt",
        ]);
        let key = self.dir.join("server.key");
        if self.as_postgres {
            self.must(
                Command::new("chown")
                    .arg("postgres:postgres")
                    .arg(&key)
                    .arg(self.dir.join("server.crt")),
            );
        }
        self.must(Command::new("chmod").arg("600").arg(&key));
    }

    /// Runs `program` from the PostgreSQL bin directory, as `postgres` when we are root.
    fn program(&self, program: &str) -> Command {
        let path = self.bin.join(program);
        let mut command = if self.as_postgres {
            let mut c = Command::new("runuser");
            c.args(["-u", "postgres", "--"]).arg(path);
            c
        } else {
            Command::new(path)
        };
        // The programs change into the working directory: one `postgres` may enter.
        command.current_dir(&self.dir);
        command
    }

    /// Runs `command`; panics with its output when it fails.
    fn must(&self, command: &mut Command) {
        let output = run(command);
        assert!(
            output.status.success(),
            "{command:?} failed ({}): {}{}",
            output.status,
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
    }
}

impl Drop for PostgresServer {
    fn drop(&mut self) {
        if self.running {
            let mut stop = self.program("pg_ctl");
            stop.arg("-D")
                .arg(self.dir.join("data"))
                .args(["-m", "immediate", "-w", "stop"]);
            let _ = stop.stdout(Stdio::null()).stderr(Stdio::null()).status();
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// Runs `command` to completion.
fn run(command: &mut Command) -> Output {
    command
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|e| panic!("cannot run {command:?}: {e}"))
}

/// The PostgreSQL bin directory: `$INFERMUX_TEST_POSTGRES_BIN`, else the newest
/// `/usr/lib/postgresql/*/bin` holding `initdb`.
fn bin_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("INFERMUX_TEST_POSTGRES_BIN") {
        return PathBuf::from(dir);
    }
    let mut found: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|entry| {
            let version = entry.file_name().to_str()?.parse::<u32>().ok()?;
            let bin = entry.path().join("bin");
            bin.join("initdb").is_file().then_some((version, bin))
        })
        .collect();
    found.sort();
    match found.pop() {
        Some((_, bin)) => bin,
        None => panic!(
            "PostgreSQL is not installed (no /usr/lib/postgresql/*/bin/initdb); the PostgreSQL \
             request-log tests need it: install it with `apt-get install -y postgresql`"
        ),
    }
}

/// Whether this process runs as root (PostgreSQL will not).
fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
        .unwrap_or(false)
}

/// A loopback port that was free a moment ago.
fn free_port() -> u16 {
    TcpListener::bind(SocketAddr::from((Ipv4Addr::LOCALHOST, 0)))
        .and_then(|listener| listener.local_addr())
        .map(|addr| addr.port())
        .expect("a free loopback port")
}
