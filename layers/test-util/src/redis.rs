//! A real `redis-server` on a free loopback port, for tests of the Redis spend store.
//!
//! [`RedisServer::start`] runs the OS package's `redis-server` as a child process in a fresh
//! temporary directory, with the append-only file on and fsynced at every write, so that
//! [`RedisServer::kill`] (SIGKILL) followed by [`RedisServer::restart`] on the same port comes
//! back with every acknowledged write, the way a production Redis with AOF does. Dropping the
//! server kills it and removes the directory.
//!
//! Tests that need Redis panic with an installation hint when `redis-server` is missing, so a
//! machine without it fails loudly instead of passing silently.

use std::{
    net::{Ipv4Addr, SocketAddr, TcpListener},
    path::PathBuf,
    process::{Child, Command, Stdio},
    sync::atomic::{AtomicU32, Ordering},
    time::{Duration, Instant},
};

use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    net::TcpStream,
};

/// How long a starting `redis-server` may take to answer.
const READY_DEADLINE: Duration = Duration::from_secs(10);

/// How many free ports `start` tries.
const START_ATTEMPTS: usize = 5;

/// Distinguishes the directories of servers started by one test process.
static NEXT_DIR: AtomicU32 = AtomicU32::new(0);

/// A `redis-server` child process on `127.0.0.1`; dropping it kills the process.
#[derive(Debug)]
pub struct RedisServer {
    port: u16,
    dir: PathBuf,
    child: Option<Child>,
}

impl RedisServer {
    /// Starts `redis-server` on a free loopback port and waits until it answers.
    ///
    /// # Panics
    ///
    /// When `redis-server` is not installed (the message says how to install it) or does not
    /// come up within 10 s on any of 5 free ports.
    pub async fn start() -> Self {
        let dir = std::env::temp_dir().join(format!(
            "infermux-redis-{}-{}",
            std::process::id(),
            NEXT_DIR.fetch_add(1, Ordering::Relaxed)
        ));
        std::fs::create_dir_all(&dir).expect("create the redis-server directory");
        let mut server = Self {
            port: 0,
            dir,
            child: None,
        };
        // Another process may take the free port before redis-server binds it: try another.
        let mut failures = Vec::new();
        for _ in 0..START_ATTEMPTS {
            server.port = free_port();
            match server.spawn().await {
                Ok(()) => return server,
                Err(failure) => failures.push(failure),
            }
        }
        panic!("redis-server did not start: {failures:?}");
    }

    /// The server's URL: `redis://127.0.0.1:PORT/0`.
    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}/0", self.port)
    }

    /// The server's port.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// Kills the server with SIGKILL, as a crash would, and waits for it to exit.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            // Already exited is fine: the point is that it is gone.
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Starts the server again on the same port and directory (it reloads its append-only
    /// file) and waits until it answers.
    ///
    /// # Panics
    ///
    /// When it does not come back within 10 s.
    pub async fn restart(&mut self) {
        self.kill();
        if let Err(failure) = self.spawn().await {
            panic!("redis-server did not restart: {failure}");
        }
    }

    /// Runs `redis-server` on `self.port` and waits until it answers.
    async fn spawn(&mut self) -> Result<(), String> {
        let child = Command::new("redis-server")
            .args(["--port", &self.port.to_string()])
            .args(["--bind", "127.0.0.1"])
            .arg("--dir")
            .arg(&self.dir)
            .args(["--save", ""])
            .args(["--appendonly", "yes", "--appendfsync", "always"])
            .args(["--daemonize", "no", "--protected-mode", "yes"])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| {
                panic!(
                    "cannot run redis-server ({e}); the Redis tests need it: \
                     install it with `apt-get install -y redis-server`"
                )
            });
        let pid = child.id();
        self.child = Some(child);
        let deadline = Instant::now() + READY_DEADLINE;
        loop {
            // Ask for the process id too: another test's server may hold the port.
            if serves_as(self.port, pid).await {
                return Ok(());
            }
            if let Some(child) = self.child.as_mut()
                && let Ok(Some(status)) = child.try_wait()
            {
                self.child = None;
                return Err(format!("port {}: exited at start ({status})", self.port));
            }
            if Instant::now() >= deadline {
                self.kill();
                return Err(format!(
                    "port {}: no answer within {READY_DEADLINE:?}",
                    self.port
                ));
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        self.kill();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// A loopback port that was free a moment ago.
fn free_port() -> u16 {
    TcpListener::bind(SocketAddr::from((Ipv4Addr::LOCALHOST, 0)))
        .and_then(|listener| listener.local_addr())
        .map(|addr| addr.port())
        .expect("a free loopback port")
}

/// Whether the Redis on `port` is up (not loading its data) and is process `pid`.
async fn serves_as(port: u16, pid: u32) -> bool {
    let Ok(mut stream) = TcpStream::connect((Ipv4Addr::LOCALHOST, port)).await else {
        return false;
    };
    if stream.write_all(b"INFO server\r\n").await.is_err() {
        return false;
    }
    // A bulk string: `$<length>\r\n<text>\r\n`; an error (`-LOADING …`) while it loads.
    let mut reply = Vec::new();
    let mut chunk = [0u8; 4096];
    loop {
        let whole = reply.iter().position(|&b| b == b'\n').and_then(|end| {
            let length: usize = std::str::from_utf8(reply.get(1..end.saturating_sub(1))?)
                .ok()?
                .parse()
                .ok()?;
            (reply.len() >= end + 1 + length).then_some(end)
        });
        if let Some(end) = whole {
            let text = String::from_utf8_lossy(&reply[end + 1..]);
            return text.contains(&format!("process_id:{pid}\r\n"));
        }
        if reply.first().is_some_and(|&b| b != b'$') {
            return false;
        }
        match stream.read(&mut chunk).await {
            Ok(0) | Err(_) => return false,
            Ok(n) => reply.extend_from_slice(&chunk[..n]),
        }
    }
}
