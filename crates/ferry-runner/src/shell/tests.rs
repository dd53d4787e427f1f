//! The shells table: each `shell:` value and the command line it becomes.

use super::{ShellError, parse_shell};

fn command_line(shell: Option<&str>) -> String {
    let shell = parse_shell(shell).expect("shell parses");
    let (program, args) = shell.command("/tmp/s");
    format!("{program} {} ({})", args.join(" | "), shell.extension)
}

#[test]
fn known_shells_match_githubs_runner() {
    let cases = [
        (None, "bash -e | /tmp/s (.sh)"),
        (Some("bash"), "bash --noprofile | --norc | -eo | pipefail | /tmp/s (.sh)"),
        (Some("BASH"), "bash --noprofile | --norc | -eo | pipefail | /tmp/s (.sh)"),
        (Some("sh"), "sh -e | /tmp/s (.sh)"),
        (Some("python"), "python /tmp/s (.py)"),
        (Some("pwsh"), "pwsh -command | . '/tmp/s' (.ps1)"),
        (Some("powershell"), "pwsh -command | . '/tmp/s' (.ps1)"),
        (Some("perl {0}"), "perl /tmp/s ()"),
        (Some("node {0}"), "node /tmp/s ()"),
        (Some("bash -x {0}"), "bash -x | /tmp/s ()"),
        (Some("  perl   -w {0}  "), "perl -w | /tmp/s ()"),
        (Some("sh -c 'cat {0}; echo done'"), "sh -c | cat /tmp/s; echo done ()"),
        (Some("python3 \"-u\" {0}"), "python3 -u | /tmp/s ()"),
        (Some("ruby {0}.rb"), "ruby /tmp/s.rb ()"),
    ];
    for (shell, expected) in cases {
        assert_eq!(command_line(shell), expected, "shell: {shell:?}");
    }
}

#[test]
fn bad_shells_are_explained() {
    let cases = [
        ("cmd", ShellError::WindowsOnly),
        ("fish", ShellError::Unknown("fish".into())),
        ("perl -w", ShellError::MissingPlaceholder("perl -w".into())),
        ("perl 'x {0}", ShellError::UnclosedQuote("perl 'x {0}".into())),
        ("   ", ShellError::Empty),
    ];
    for (shell, expected) in cases {
        assert_eq!(parse_shell(Some(shell)), Err(expected), "shell: {shell:?}");
    }
    let message = ShellError::Unknown("fish".into()).to_string();
    assert!(message.contains("bash, sh, python, pwsh") && message.contains("{0}"), "{message}");
}

#[test]
fn fallbacks_apply_only_when_the_program_is_missing() {
    let only = |present: &'static [&'static str]| move |program: &str| present.contains(&program);
    let default = parse_shell(None).expect("default shell");
    assert_eq!(default.clone().with_fallbacks(only(&["bash", "sh"])).program, "bash");
    assert_eq!(default.with_fallbacks(only(&["sh"])).program, "sh");
    let python = parse_shell(Some("python")).expect("python shell");
    assert_eq!(python.clone().with_fallbacks(only(&["python", "python3"])).program, "python");
    assert_eq!(python.clone().with_fallbacks(only(&["python3"])).program, "python3");
    assert_eq!(python.with_fallbacks(only(&[])).program, "python");
    // An explicit `bash` never silently becomes sh.
    assert_eq!(parse_shell(Some("bash")).expect("bash").with_fallbacks(only(&["sh"])).program, "bash");
}

#[test]
fn powershell_scripts_stop_on_errors() {
    let pwsh = parse_shell(Some("pwsh")).expect("pwsh");
    let script = pwsh.script_contents("Write-Host hi");
    assert!(script.starts_with("$ErrorActionPreference = 'stop'\nWrite-Host hi\n"), "{script}");
    let bash = parse_shell(Some("bash")).expect("bash");
    assert_eq!(bash.script_contents("echo hi"), "echo hi");
}
