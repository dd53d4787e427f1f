//! Commands run inside a running container (`docker exec`): started attached with their
//! output as a stream, asked later whether they still run and how they ended, and signalled.
//!
//! The engine's API cannot signal an exec'd process, so a command that may need a signal is
//! started through `sh -c`, which writes its pid to [`ExecRequest::pid_file`] before it `exec`s
//! the command; [`Engine::signal_exec`] then sends the signal to that pid through a second exec.

use bollard::exec::{CreateExecOptions, StartExecOptions, StartExecResults};
use futures_util::StreamExt as _;

use crate::{DockerError, Engine, LogStream};

/// A command to run in a container.
#[derive(Debug, Clone, Default)]
pub struct ExecRequest {
    /// The command and its arguments (a program on the container's `PATH`, or a path in it).
    pub cmd: Vec<String>,
    /// `NAME=value`, on top of the container's own environment.
    pub env: Vec<String>,
    /// A directory in the container; `None`: the container's.
    pub working_dir: Option<String>,
    pub user: Option<String>,
    /// A file in the container the command's pid is written to, for [`Engine::signal_exec`];
    /// `None`: the command is started as it is.
    pub pid_file: Option<String>,
}

/// A command started attached: its exec id and its output.
pub struct ExecStarted {
    pub id: String,
    pub output: LogStream,
}

/// Where a started command stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ExecStatus {
    pub running: bool,
    /// `None` while it runs.
    pub exit_code: Option<i64>,
}

impl Engine {
    /// Starts `request` in `container` with its stdout and stderr attached; `output_capacity`
    /// bounds the bytes of one chunk of output.
    ///
    /// # Errors
    /// The engine refused to create or start the command.
    pub async fn exec_attached(
        &self,
        container: &str,
        request: &ExecRequest,
        output_capacity: usize,
    ) -> Result<ExecStarted, DockerError> {
        let id = self.create_exec(container, request, true).await?;
        let started = self
            .docker
            .start_exec(
                &id,
                Some(StartExecOptions { detach: false, tty: false, output_capacity: Some(output_capacity) }),
            )
            .await
            .map_err(crate::api(starting(container, request)))?;
        let StartExecResults::Attached { output, input: _ } = started else {
            return Err(DockerError::ExecDetached { cmd: request.cmd.join(" ") });
        };
        let action = format!("reading the output of `{}`", request.cmd.join(" "));
        let output: LogStream = Box::pin(
            output.map(move |chunk| chunk.map_err(|source| DockerError::Api { action: action.clone(), source })),
        );
        Ok(ExecStarted { id, output })
    }

    /// Sends `signal` (`TERM`, `KILL`, …) to the command started with `pid_file` in
    /// `container`, without waiting for it to act.
    ///
    /// # Errors
    /// The engine refused to run the `kill`.
    pub async fn signal_exec(&self, container: &str, pid_file: &str, signal: &str) -> Result<(), DockerError> {
        let script = format!("kill -{signal} \"$(cat \"$0\")\" 2>/dev/null; true");
        let request = ExecRequest {
            cmd: vec!["sh".to_owned(), "-c".to_owned(), script, pid_file.to_owned()],
            ..ExecRequest::default()
        };
        let id = self.create_exec(container, &request, false).await?;
        self.docker
            .start_exec(&id, Some(StartExecOptions { detach: true, ..StartExecOptions::default() }))
            .await
            .map_err(crate::api(starting(container, &request)))?;
        Ok(())
    }

    /// Whether the command `exec_id` still runs, and its exit code once it ended.
    ///
    /// # Errors
    /// The engine failed to answer.
    pub async fn exec_status(&self, exec_id: &str) -> Result<ExecStatus, DockerError> {
        let inspect =
            self.docker.inspect_exec(exec_id).await.map_err(crate::api(format!("asking how exec {exec_id} stands")))?;
        Ok(ExecStatus { running: inspect.running.unwrap_or(false), exit_code: inspect.exit_code })
    }

    async fn create_exec(&self, container: &str, request: &ExecRequest, attach: bool) -> Result<String, DockerError> {
        let created = self
            .docker
            .create_exec(
                container,
                CreateExecOptions {
                    attach_stdout: Some(attach),
                    attach_stderr: Some(attach),
                    env: Some(request.env.clone()),
                    cmd: Some(match &request.pid_file {
                        Some(pid_file) => {
                            let mut cmd = vec![
                                "sh".to_owned(),
                                "-c".to_owned(),
                                "echo $$ > \"$0\" && exec \"$@\"".to_owned(),
                                pid_file.clone(),
                            ];
                            cmd.extend(request.cmd.iter().cloned());
                            cmd
                        }
                        None => request.cmd.clone(),
                    }),
                    working_dir: request.working_dir.clone(),
                    user: request.user.clone(),
                    ..CreateExecOptions::default()
                },
            )
            .await
            .map_err(crate::api(starting(container, request)))?;
        Ok(created.id)
    }
}

fn starting(container: &str, request: &ExecRequest) -> String {
    format!("starting `{}` in container {}", request.cmd.join(" "), container.get(..12).unwrap_or(container))
}
