//! `QIOChannelCommand`: a channel to a child process's stdin and stdout (QEMU's
//! `io/channel-command.c`). `close` reaps the child; dropping the last reference kills
//! it (SIGTERM, then SIGKILL) if it is still running. Unlike QEMU's, it can be shut
//! down one direction at a time: closing the child's stdin is how a relay passes on
//! end-of-file while it still reads the child's last output.

use std::io::{IoSlice, IoSliceMut};
use std::os::fd::{BorrowedFd, OwnedFd};
use std::process::{Child, Stdio};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use crate::io::channel::{Base, Channel, ChannelImpl, RecvFds};
use crate::io::fd::{self, FdSlot};
use crate::io::watch::{Condition, Readiness};
use crate::io::{Feature, Shutdown};
use crate::{Error, ErrorKind, Result};

/// The command channel's state: the pipes and the child, until it is reaped.
pub struct Command {
    /// The child's stdout (none when opened write-only).
    read: FdSlot,
    /// The child's stdin (none when opened read-only).
    write: FdSlot,
    child: Mutex<Option<Child>>,
}

impl Command {
    /// Runs `argv` (the program is searched in `PATH`) with its stdin and stdout on
    /// pipes (`qio_channel_command_new_spawn`): `access` is `O_RDONLY` (stdin from
    /// /dev/null), `O_WRONLY` (stdout to /dev/null) or `O_RDWR`; stderr is inherited.
    pub fn spawn(argv: &[&std::ffi::OsStr], access: i32) -> Result<Arc<Channel<Command>>> {
        let Some((program, args)) = argv.split_first() else {
            return Err(Error::new(ErrorKind::InvalidArgument, "No command to run"));
        };
        let failed = |errno: i32| {
            Error::new(
                ErrorKind::Failed,
                format!(
                    "Failed to execute child process \"{}\" ({})",
                    program.to_string_lossy(),
                    crate::error::strerror(errno)
                ),
            )
        };
        // Found before spawning, so that a missing program is reported the same way
        // whatever the spawner does with exec failures (posix_spawn under valgrind
        // turns them into an exit status).
        if !in_path(program) {
            return Err(failed(libc::ENOENT));
        }
        let access = access & libc::O_ACCMODE;
        let pipe_or_null = |piped| if piped { Stdio::piped() } else { Stdio::null() };
        let mut child = std::process::Command::new(program)
            .args(args)
            .stdin(pipe_or_null(access != libc::O_RDONLY))
            .stdout(pipe_or_null(access != libc::O_WRONLY))
            .stderr(Stdio::inherit())
            .spawn()
            .map_err(|e| failed(e.raw_os_error().unwrap_or(0)))?;
        let read = child.stdout.take().map(OwnedFd::from);
        let write = child.stdin.take().map(OwnedFd::from);
        let command = Command {
            read: FdSlot::new(read),
            write: FdSlot::new(write),
            child: Mutex::new(Some(child)),
        };
        Ok(Channel::with_features(command, &[Feature::Shutdown]))
    }

    fn child(&self) -> std::sync::MutexGuard<'_, Option<Child>> {
        self.child.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// Whether `program` names an executable file, directly when it has a slash, else in
/// one of `PATH`'s directories, as `execvp` looks it up.
fn in_path(program: &std::ffi::OsStr) -> bool {
    use std::os::unix::ffi::OsStrExt;
    use std::os::unix::fs::PermissionsExt;
    let executable = |path: &std::path::Path| {
        std::fs::metadata(path).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
    };
    if program.as_bytes().contains(&b'/') {
        return executable(std::path::Path::new(program));
    }
    let path = std::env::var_os("PATH").unwrap_or_else(|| "/usr/bin:/bin".into());
    std::env::split_paths(&path).any(|dir| executable(&dir.join(program)))
}

impl ChannelImpl for Command {
    fn readv(&self, iov: &mut [IoSliceMut<'_>], _: RecvFds<'_>, _: u32) -> Result<usize> {
        self.read.readv(iov, "Unable to read from command")
    }

    fn writev(&self, iov: &[IoSlice<'_>], _: &[BorrowedFd<'_>], _: u32) -> Result<usize> {
        self.write.writev(iov, "Unable to write to command")
    }

    fn set_blocking(&self, enabled: bool) -> Result<()> {
        for slot in [&self.read, &self.write] {
            slot.with(|fd| {
                if fd < 0 {
                    Ok(())
                } else {
                    fd::set_blocking(fd, enabled)
                }
            })?;
        }
        Ok(())
    }

    /// Closes the pipes first, which lets the child see end-of-file and exit cleanly,
    /// then waits for it.
    fn close(&self, _: &Base) -> Result<()> {
        let read = fd::close(self.read.take(), "Unable to close command");
        let write = fd::close(self.write.take(), "Unable to close command");
        if let Some(mut child) = self.child().take() {
            child.wait().map_err(|e| {
                Error::os(
                    &format!("Failed to wait for pid {}", child.id()),
                    e.raw_os_error().unwrap_or(0),
                )
            })?;
        }
        read.and(write)
    }

    /// Closes the child's stdout (`Read`), its stdin (`Write`: it sees end-of-file), or
    /// both; I/O that way then fails as after `close`.
    fn shutdown(&self, how: Shutdown) -> Result<()> {
        let close = |side: Shutdown, slot: &FdSlot| match how as i32 & side as i32 {
            0 => Ok(()),
            _ => fd::close(slot.take(), "Unable to shut down command"),
        };
        close(Shutdown::Read, &self.read).and(close(Shutdown::Write, &self.write))
    }

    fn readiness(&self, _: Condition) -> Readiness {
        Readiness::FdPair {
            read: self.read.raw(),
            write: self.write.raw(),
        }
    }

    /// Kills a child that is still running: SIGTERM, then SIGKILL 10 ms later, then
    /// gives up (logging nothing: there is nobody to report to) after another 10 ms.
    fn finalize(&self, _: &Base) {
        drop((self.read.take(), self.write.take()));
        let Some(mut child) = self.child().take() else {
            return;
        };
        for step in 0..3 {
            if !matches!(child.try_wait(), Ok(None)) {
                return;
            }
            match step {
                // SAFETY: the child is ours and not yet reaped, so its pid is not reused.
                0 => unsafe {
                    libc::kill(child.id() as libc::pid_t, libc::SIGTERM);
                },
                1 => drop(child.kill()),
                _ => return,
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }
}
