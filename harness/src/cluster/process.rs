//! Node processes: spawning one node (inside its network namespace if any, in its own process
//! group, with PR_SET_PDEATHSIG(SIGKILL), stdout/stderr appended to its log files, marked with
//! `HARNESS_RUN=<prefix>`), signalling it (pause, resume, terminate, kill), reaping it, and
//! reading the tail of its stderr log for error messages.

use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, SeekFrom};
use std::os::fd::{AsRawFd, OwnedFd};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use nix::sys::signal::{killpg, Signal};
use nix::unistd::Pid;

/// Environment variable every node process carries: the run prefix (`harness clean` scans
/// `/proc/*/environ` for it).
pub const RUN_ENV: &str = "HARNESS_RUN";
/// Environment variable every node process carries: the pid of the harness that started it
/// (`harness clean` leaves nodes of a live harness alone).
pub const OWNER_ENV: &str = "HARNESS_OWNER_PID";

/// A spawned node process (the leader of its own process group).
#[derive(Debug)]
pub struct NodeProcess {
    child: Child,
    pid: i32,
}

/// Paths of a node's log files.
pub fn stdout_log(log_dir: &Path) -> PathBuf {
    log_dir.join("stdout.log")
}

/// Paths of a node's log files.
pub fn stderr_log(log_dir: &Path) -> PathBuf {
    log_dir.join("stderr.log")
}

fn open_append(path: &Path) -> std::io::Result<File> {
    OpenOptions::new().create(true).append(true).open(path)
}

/// Spawns `cmd` as a node: own process group, PR_SET_PDEATHSIG(SIGKILL), optionally entering
/// the network namespace `netns_fd` (an open `/var/run/netns/<ns>`), stdio appended to
/// `log_dir/{stdout,stderr}.log`, stdin null, environment marked with the run prefix.
pub fn spawn(
    mut cmd: Command,
    log_dir: &Path,
    run_prefix: &str,
    netns_fd: Option<OwnedFd>,
) -> std::io::Result<NodeProcess> {
    std::fs::create_dir_all(log_dir)?;
    let out = open_append(&stdout_log(log_dir))?;
    let err = open_append(&stderr_log(log_dir))?;
    cmd.stdin(Stdio::null())
        .stdout(Stdio::from(out))
        .stderr(Stdio::from(err))
        .env(RUN_ENV, run_prefix)
        .env(OWNER_ENV, std::process::id().to_string())
        .process_group(0);
    let ns_raw = netns_fd.as_ref().map(|fd| fd.as_raw_fd());
    let parent = std::process::id() as libc::pid_t;
    // SAFETY: the closure runs in the forked child before exec and only makes
    // async-signal-safe system calls (prctl, getppid, setns, kill); it allocates nothing.
    unsafe {
        cmd.pre_exec(move || {
            if libc::prctl(
                libc::PR_SET_PDEATHSIG,
                libc::SIGKILL as libc::c_ulong,
                0,
                0,
                0,
            ) != 0
            {
                return Err(std::io::Error::last_os_error());
            }
            // The parent may have died between fork and prctl.
            if libc::getppid() != parent {
                libc::kill(libc::getpid(), libc::SIGKILL);
            }
            if let Some(fd) = ns_raw {
                if libc::setns(fd, libc::CLONE_NEWNET) != 0 {
                    return Err(std::io::Error::last_os_error());
                }
            }
            Ok(())
        });
    }
    let child = cmd.spawn()?;
    drop(netns_fd);
    let pid = child.id() as i32;
    Ok(NodeProcess { child, pid })
}

impl NodeProcess {
    pub fn pid(&self) -> i32 {
        self.pid
    }

    /// Sends `sig` to the node's process group.
    pub fn signal(&self, sig: Signal) -> nix::Result<()> {
        match killpg(Pid::from_raw(self.pid), sig) {
            Err(nix::errno::Errno::ESRCH) => Ok(()),
            other => other,
        }
    }

    /// The exit status if the process has exited (reaps it), else `None`.
    pub fn try_wait(&mut self) -> std::io::Result<Option<ExitStatus>> {
        self.child.try_wait()
    }

    /// SIGKILL the group (after SIGCONT, so a paused node dies too) and reap the process.
    pub fn kill_and_reap(&mut self) -> std::io::Result<ExitStatus> {
        let _ = self.signal(Signal::SIGKILL);
        let _ = self.signal(Signal::SIGCONT);
        self.child.wait()
    }

    /// SIGCONT + SIGTERM, wait up to `grace`, then SIGKILL; reaps the process.
    pub fn terminate(&mut self, grace: Duration) -> std::io::Result<ExitStatus> {
        let _ = self.signal(Signal::SIGCONT);
        let _ = self.signal(Signal::SIGTERM);
        let deadline = Instant::now() + grace;
        while Instant::now() < deadline {
            if let Some(st) = self.child.try_wait()? {
                // Take down anything else left in the group.
                let _ = self.signal(Signal::SIGKILL);
                return Ok(st);
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        self.kill_and_reap()
    }
}

/// The scheduler state letter of process `pid` (`R`, `S`, `T` stopped, `Z` zombie, ...), or
/// `None` if there is no such process.
pub fn proc_state(pid: i32) -> Option<char> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    stat.get(stat.rfind(')')? + 2..)?.chars().next()
}

/// The last `lines` lines of a log file (empty if unreadable), for error messages.
pub fn log_tail(path: &Path, lines: usize) -> String {
    let Ok(mut f) = File::open(path) else {
        return String::new();
    };
    let len = f.metadata().map(|m| m.len()).unwrap_or(0);
    let start = len.saturating_sub(8192);
    if f.seek(SeekFrom::Start(start)).is_err() {
        return String::new();
    }
    let mut buf = Vec::new();
    if f.read_to_end(&mut buf).is_err() {
        return String::new();
    }
    let text = String::from_utf8_lossy(&buf);
    let all: Vec<&str> = text.lines().collect();
    all[all.len().saturating_sub(lines)..].join("\n")
}
