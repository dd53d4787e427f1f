//! Whole `run:` steps the way a job puts the parts together: shell, script file, process,
//! workflow commands, masking and the env files, with real interpreters.

use std::time::Duration;

use ferry_runner::commands::{Command, Commands};
use ferry_runner::env_file::{EnvFileErrorKind, parse_env_file};
use ferry_runner::mask::Masker;
use ferry_runner::process::{ProcessSpec, on_path, run_process};
use ferry_runner::shell::parse_shell;
use tokio::sync::watch;

struct Step {
    success: bool,
    /// The log as a reader sees it: masked, commands applied.
    log: Vec<String>,
    commands: Vec<Command>,
    github_output: String,
}

async fn run_step(shell: Option<&str>, script: &str, secrets: &[&str]) -> Step {
    let dir = tempfile::tempdir().expect("temporary directory");
    let path = std::env::var_os("PATH");
    let shell = parse_shell(shell).expect("a known shell").with_fallbacks(|program| on_path(program, path.as_deref()));
    let script_path = dir.path().join(format!("step{}", shell.extension));
    std::fs::write(&script_path, shell.script_contents(script).as_bytes()).expect("write script");
    let output_path = dir.path().join("github_output");
    std::fs::write(&output_path, "").expect("create GITHUB_OUTPUT");
    let (program, args) = shell.command(script_path.to_str().expect("utf-8 path"));
    let spec = ProcessSpec {
        program,
        args,
        working_dir: dir.path().to_path_buf(),
        // A step's environment is all it gets, as a job's steps get PATH from the host.
        env: vec![
            ("GITHUB_OUTPUT".into(), output_path.to_string_lossy().into_owned()),
            ("PATH".into(), path.as_deref().and_then(|path| path.to_str()).unwrap_or_default().to_owned()),
        ],
        timeout: Some(Duration::from_secs(60)),
        kill_grace: Duration::from_secs(5),
        keep_background: false,
        confinement: None,
    };
    let mut masker = Masker::new();
    for secret in secrets {
        masker.add(secret);
    }
    let mut workflow_commands = Commands::new();
    let (mut log, mut commands) = (Vec::new(), Vec::new());
    let (_cancel, mut cancelled) = watch::channel(false);
    let exit = run_process(
        &spec,
        &mut cancelled,
        &mut |_, line: &str| match workflow_commands.process(line) {
            Some(command) => {
                if let Command::AddMask(value) = &command {
                    masker.add(value);
                }
                if workflow_commands.echoes(&command) {
                    log.push(masker.mask(line).into_owned());
                }
                commands.push(command);
            }
            None => log.push(masker.mask(line).into_owned()),
        },
        None,
    )
    .await
    .expect("the step runs");
    let github_output = std::fs::read_to_string(&output_path).expect("read GITHUB_OUTPUT");
    Step { success: exit.success(), log, commands, github_output }
}

#[tokio::test]
async fn bash_step_with_outputs_masks_and_commands() {
    let script = r#"
echo "token is s3cr3t"
echo "::add-mask::dyn-$((40 + 2))"
echo "dynamic dyn-42 value"
printf 'xy%s' a-much-longer-secret | base64
echo "::warning file=a.sh,line=3::look out"
{
  echo "single=one"
  echo "multi<<EOF"
  printf 'line 1\nline 2\n'
  echo "EOF"
} >> "$GITHUB_OUTPUT"
echo done
"#;
    let step = run_step(Some("bash"), script, &["s3cr3t", "a-much-longer-secret"]).await;
    assert!(step.success);
    assert_eq!(step.log, ["token is ***", "dynamic *** value", "eHl***A==", "done"]);
    assert!(matches!(&step.commands[..], [Command::AddMask(mask), Command::Annotation(_)] if mask == "dyn-42"));
    let (outputs, error) = parse_env_file(&step.github_output);
    assert_eq!(error, None);
    assert_eq!(outputs, [("single".into(), "one".into()), ("multi".into(), "line 1\nline 2".into())]);
}

#[tokio::test]
async fn a_failing_command_fails_a_bash_step_under_pipefail() {
    let step = run_step(Some("bash"), "false | cat\necho unreachable", &[]).await;
    assert!(!step.success);
    assert!(step.log.is_empty(), "{:?}", step.log);
    // The default shell has no pipefail: the pipeline's last command decides.
    let step = run_step(None, "false | cat\necho reached", &[]).await;
    assert!(step.success);
    assert_eq!(step.log, ["reached"]);
}

#[tokio::test]
async fn a_bad_heredoc_is_reported_with_its_line() {
    let step = run_step(Some("sh"), "echo 'a=1' >> \"$GITHUB_OUTPUT\"\necho 'b<<END' >> \"$GITHUB_OUTPUT\"", &[]).await;
    assert!(step.success);
    let (outputs, error) = parse_env_file(&step.github_output);
    assert_eq!(outputs, [("a".to_owned(), "1".to_owned())]);
    let error = error.expect("an error");
    assert_eq!((error.line, error.kind), (2, EnvFileErrorKind::MissingDelimiter("END".into())));
}

#[tokio::test]
async fn python_and_custom_shells_run_their_scripts() {
    let step = run_step(Some("python"), "import sys\nprint('py', sys.version_info[0])", &[]).await;
    assert!(step.success);
    assert_eq!(step.log, ["py 3"]);
    let step = run_step(Some("perl {0}"), "print \"perl says hi\\n\";", &[]).await;
    assert!(step.success);
    assert_eq!(step.log, ["perl says hi"]);
}
