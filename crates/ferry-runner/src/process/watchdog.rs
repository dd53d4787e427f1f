//! Steps die with the process that runs them, even when it is killed with SIGKILL and has no
//! chance to stop them.
//!
//! The first step a process starts also starts its watchdog: a small `sh` process, in its own
//! process group, reading the step process groups to guard from a pipe (`+PGID` when a step
//! starts, `-PGID` once its group is gone). The kernel closes the pipe when this process dies,
//! however it dies; the watchdog then reads the end of its input and kills every group it
//! still guards with SIGKILL, grandchildren of the step included (`sleep 1000 &`). A process
//! that leaves its group (`setsid`) escapes it, as it escapes the runner's own cleanup.
//!
//! The alternatives were weighed: `PR_SET_PDEATHSIG` needs `pre_exec` (unsafe) and kills only
//! the direct child; a PID namespace or a cgroup needs privileges or a helper per step. The
//! watchdog costs one process per runner and a write per step.

use std::io::Write as _;
use std::os::unix::process::CommandExt as _;
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::Mutex;

/// Guards the groups named on its input; kills those left when the input ends.
const SCRIPT: &str = r#"groups=' '
while read -r op group; do
  case $op in
    +) groups="$groups$group " ;;
    -) case $groups in *" $group "*) groups="${groups%% $group *} ${groups#* $group }" ;; esac ;;
  esac
done
for group in $groups; do kill -KILL -"$group" 2>/dev/null; done
"#;

/// The watchdog's input, once started; `None` inside when it could not be started (or
/// stopped taking input), so that is logged once and not tried again.
static WATCHDOG: Mutex<Option<Option<Watchdog>>> = Mutex::new(None);

#[derive(Debug)]
struct Watchdog {
    input: ChildStdin,
    /// Kept so the watchdog is not taken for gone; it is never waited for (it outlives us).
    _child: Child,
}

fn start() -> Option<Watchdog> {
    let started = Command::new("/bin/sh")
        .args(["-c", SCRIPT])
        .env_clear()
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        // Out of reach of a terminal's Ctrl-C, which is for this process.
        .process_group(0)
        .spawn();
    match started {
        Ok(mut child) => {
            let input = child.stdin.take()?;
            Some(Watchdog { input, _child: child })
        }
        Err(error) => {
            tracing::warn!(%error, "cannot start the step watchdog (/bin/sh): steps outlive this process if it is killed");
            None
        }
    }
}

fn tell(line: &str) {
    let mut watchdog = WATCHDOG.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
    let Some(running) = watchdog.get_or_insert_with(start) else { return };
    // A few bytes to a pipe the watchdog keeps reading: atomic, and it does not block.
    if let Err(error) = running.input.write_all(line.as_bytes()) {
        tracing::warn!(%error, "the step watchdog is gone: steps outlive this process if it is killed");
        *watchdog = Some(None);
    }
}

/// The step's process group `pgid` is killed should this process die before [`release`].
pub(crate) fn guard(pgid: i32) {
    tell(&format!("+ {pgid}\n"));
}

/// The group `pgid` is gone; no longer guarded.
pub(crate) fn release(pgid: i32) {
    tell(&format!("- {pgid}\n"));
}
