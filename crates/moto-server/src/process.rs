//! Spawning `moto_server` so that it can never outlive the test process.
//!
//! `moto_server` is started by a small `/bin/sh` supervisor in its own process group
//! (so a Ctrl-C aimed at `cargo test` does not hit it half-way). The supervisor
//! holds the read end of a pipe whose write end is our child's stdin: when the test
//! process drops the [`Supervised`] handle *or dies for any reason, even SIGKILL*,
//! the kernel closes the write end, the supervisor reads EOF and stops moto
//! (SIGTERM, then SIGKILL after 5 s). Unsafe `pre_exec`/`prctl` tricks are not
//! needed (and `unsafe_code` is forbidden in this workspace).

use std::io::{BufRead, BufReader};
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Child, ChildStdin, Command, Stdio};
use std::time::{Duration, Instant};

/// The supervisor. `$1` = moto_server, `$2` = port, `$3` = log file.
///
/// Background jobs of a non-interactive shell get stdin from /dev/null, so the pipe
/// is saved as fd 3 before the watcher is started and read from there. The main shell waits for moto, so its exit
/// tells the harness that moto died (e.g. the port was taken).
const SUPERVISOR: &str = r#"
exec 3<&0
"$1" -H 127.0.0.1 -p "$2" >"$3" 2>&1 </dev/null 3<&- &
pid=$!
echo "$pid"
(
  while read -r _line <&3; do :; done
  kill -TERM "$pid" 2>/dev/null
  i=0
  while kill -0 "$pid" 2>/dev/null && [ "$i" -lt 50 ]; do sleep 0.1; i=$((i + 1)); done
  kill -KILL "$pid" 2>/dev/null
) &
exec 3<&-
wait "$pid"
"#;

/// A running supervisor and the pid of the `moto_server` it started.
pub struct Supervised {
    child: Child,
    /// Dropping this closes the pipe, which tells the supervisor to stop moto.
    lifeline: Option<ChildStdin>,
    moto_pid: u32,
}

impl Supervised {
    pub fn spawn(moto_server: &Path, port: u16, log: &Path) -> std::io::Result<Supervised> {
        let mut child = Command::new("/bin/sh")
            .arg("-c")
            .arg(SUPERVISOR)
            .arg("approvalc-moto-supervisor")
            .arg(moto_server)
            .arg(port.to_string())
            .arg(log)
            .env("MOTO_PORT", port.to_string())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .process_group(0)
            .spawn()?;
        let lifeline = child.stdin.take();
        let moto_pid = match read_pid(&mut child) {
            Ok(pid) => pid,
            Err(err) => {
                // Best effort: the supervisor is unusable, do not leave it behind.
                let _ = child.kill();
                let _ = child.wait();
                return Err(err);
            }
        };
        Ok(Supervised {
            child,
            lifeline,
            moto_pid,
        })
    }

    pub fn moto_pid(&self) -> u32 {
        self.moto_pid
    }

    /// `Some(how)` once moto (and with it the supervisor's main shell) has exited.
    pub fn exit_status(&mut self) -> Option<String> {
        match self.child.try_wait() {
            Ok(None) => None,
            Ok(Some(status)) => Some(status.to_string()),
            Err(err) => Some(format!("unknown ({err})")),
        }
    }

    /// Stops moto and waits for it, escalating to SIGKILL on the whole process group
    /// when the supervisor does not finish in time.
    pub fn stop(&mut self) {
        drop(self.lifeline.take());
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if self.exit_status().is_some() {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let group = format!("-{}", self.child.id());
        let _ = Command::new("kill")
            .args(["-KILL", "--", &group])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Supervised {
    fn drop(&mut self) {
        self.stop();
    }
}

fn read_pid(child: &mut Child) -> std::io::Result<u32> {
    let stdout = child
        .stdout
        .take()
        .ok_or_else(|| std::io::Error::other("supervisor stdout was not captured"))?;
    let mut line = String::new();
    BufReader::new(stdout).read_line(&mut line)?;
    line.trim().parse::<u32>().map_err(|_| {
        std::io::Error::other(format!(
            "supervisor did not report moto's pid (got {line:?})"
        ))
    })
}
