//! A `redis-server` of the test's own on a free loopback port, stopped when dropped.
//!
//! The binary is `LOGI_REDIS_SERVER` if set, else `/usr/bin/redis-server`, else `redis-server`
//! on PATH. Without it, [`RedisServer::start`] reports the skip (`super::skip`) and returns
//! `None`, unless `LOGI_E2E_REQUIRED` is set (CI sets it), in which case it fails.

use std::io::{Read as _, Write as _};
use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub struct RedisServer {
    child: Child,
    binary: PathBuf,
    port: u16,
    pub url: String,
}

impl RedisServer {
    /// A fresh, empty Redis without persistence, or `None` (after a loud note) when
    /// `redis-server` is not installed.
    pub fn start(test: &str) -> Option<Self> {
        let Some(binary) = find() else {
            super::skip::skipped(
                test,
                "redis-server is not installed (apt-get install redis-server, or run tests/setup)",
            );
            return None;
        };
        // A port just seen free may be taken before redis-server binds it: try a few.
        for _ in 0..5 {
            let port = TcpListener::bind("127.0.0.1:0")
                .and_then(|l| l.local_addr())
                .unwrap()
                .port();
            if let Some(child) = spawn(&binary, port) {
                return Some(Self {
                    child,
                    binary,
                    port,
                    url: format!("redis://127.0.0.1:{port}/"),
                });
            }
        }
        panic!("redis-server did not start");
    }
}

/// A `redis-server` on `port`, once it answers; `None` when it did not start.
fn spawn(binary: &std::path::Path, port: u16) -> Option<Child> {
    let mut child = Command::new(binary)
        .args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
        .args(["--save", "", "--appendonly", "no"])
        .arg("--dir")
        .arg(std::env::temp_dir())
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("redis-server starts");
    if wait_for_pong(port, &mut child) {
        return Some(child);
    }
    let _ = child.kill();
    let _ = child.wait();
    None
}

impl RedisServer {
    /// Starts a stopped server again on the same port (empty: nothing is persisted).
    pub fn restart(&mut self) {
        self.stop();
        self.child = spawn(&self.binary, self.port).expect("redis-server restarts on its port");
    }

    /// Stops the server (it is also stopped when dropped).
    pub fn stop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        self.stop();
    }
}

fn find() -> Option<PathBuf> {
    if let Some(chosen) = std::env::var_os("LOGI_REDIS_SERVER") {
        return Some(PathBuf::from(chosen)).filter(|p| p.is_file());
    }
    let default = PathBuf::from("/usr/bin/redis-server");
    if default.is_file() {
        return Some(default);
    }
    std::env::split_paths(&std::env::var_os("PATH")?)
        .map(|dir| dir.join("redis-server"))
        .find(|p| p.is_file())
}

/// Whether Redis answers `PING` on `port` within 5 seconds (false at once if it exited).
fn wait_for_pong(port: u16, child: &mut Child) -> bool {
    let deadline = Instant::now() + Duration::from_secs(5);
    while Instant::now() < deadline {
        if child.try_wait().ok().flatten().is_some() {
            return false;
        }
        if let Ok(mut stream) = TcpStream::connect(("127.0.0.1", port)) {
            let _ = stream.set_read_timeout(Some(Duration::from_secs(1)));
            let mut reply = [0_u8; 7];
            if stream.write_all(b"PING\r\n").is_ok()
                && stream.read_exact(&mut reply).is_ok()
                && &reply == b"+PONG\r\n"
            {
                return true;
            }
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    false
}
