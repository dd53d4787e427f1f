//! Workflow commands, table-driven: one output line in, what the runner makes of it out.

use super::{Annotation, Command, Commands, Level, parse_command};

fn annotation(level: Level, message: &str) -> Annotation {
    Annotation::plain(level, message)
}

fn failed(line: &str) -> String {
    match Commands::new().process(line) {
        Some(Command::Failed(message)) => message,
        other => panic!("expected a failed command for {line:?}, got {other:?}"),
    }
}

#[test]
fn single_lines() {
    let full = Annotation {
        title: Some("A title: yes, really".into()),
        file: Some("src/app.js".into()),
        line: Some(1),
        end_line: Some(3),
        col: Some(2),
        end_column: Some(7),
        ..annotation(Level::Error, "Missing semicolon")
    };
    let cases: Vec<(&str, Option<Command>)> = vec![
        ("hello world", None),
        ("", None),
        (":: not a command", None),
        ("::unknown-command::data", None),
        ("::add-mask", None),
        ("::add-mask::s3cret", Some(Command::AddMask("s3cret".into()))),
        ("   ::add-mask::indented", Some(Command::AddMask("indented".into()))),
        ("::ADD-MASK::upper", Some(Command::AddMask("upper".into()))),
        ("::add-mask::a%0Ab%25c%0Dd", Some(Command::AddMask("a\nb%c\rd".into()))),
        ("::add-mask::%250A", Some(Command::AddMask("%0A".into()))),
        ("::add-mask::a::b", Some(Command::AddMask("a::b".into()))),
        (
            "::add-mask::  ",
            Some(Command::Annotation(annotation(
                Level::Warning,
                "Can't add secret mask for empty string in ::add-mask:: command.",
            ))),
        ),
        (
            "::error file=src/app.js,line=1,col=2,endLine=3,endColumn=7,title=A title%3A yes%2C really::Missing semicolon",
            Some(Command::Annotation(full)),
        ),
        ("::warning::careful", Some(Command::Annotation(annotation(Level::Warning, "careful")))),
        ("::notice::fyi", Some(Command::Annotation(annotation(Level::Notice, "fyi")))),
        ("::error::", Some(Command::Annotation(annotation(Level::Error, "")))),
        (
            "::warning FILE=a.rs, LINE=x ,=bad,empty=::two%0Alines",
            Some(Command::Annotation(Annotation {
                file: Some("a.rs".into()),
                ..annotation(Level::Warning, "two\nlines")
            })),
        ),
        (
            "::error line= 4 ::m",
            Some(Command::Annotation(Annotation { line: Some(4), ..annotation(Level::Error, "m") })),
        ),
        ("::debug::details", Some(Command::Debug("details".into()))),
        ("::group::Build %25 stuff", Some(Command::Group("Build % stuff".into()))),
        ("::endgroup::", Some(Command::EndGroup)),
        ("::set-output name=color::green", Some(Command::SetOutput { name: "color".into(), value: "green".into() })),
        ("::set-output name=a%3Ab::x%0Ay", Some(Command::SetOutput { name: "a:b".into(), value: "x\ny".into() })),
        ("::save-state name=pid::42", Some(Command::SaveState { name: "pid".into(), value: "42".into() })),
        ("::echo::on", Some(Command::Echo(true))),
        ("::echo::OFF", Some(Command::Echo(false))),
    ];
    for (line, expected) in cases {
        assert_eq!(Commands::new().process(line), expected, "line: {line:?}");
    }
}

#[test]
fn unusable_commands_fail_with_an_explanation() {
    assert!(failed("::set-env name=A::1").contains("$GITHUB_ENV"));
    assert!(failed("::add-path::/opt/bin").contains("$GITHUB_PATH"));
    assert_eq!(failed("::set-output::v"), "Required field 'name' is missing in ::set-output:: command.");
    assert_eq!(failed("::save-state name=::v"), "Required field 'name' is missing in ::save-state:: command.");
    assert!(failed("::echo::maybe").contains("'maybe'"));
}

#[test]
fn stop_commands_ignores_commands_until_the_token() {
    let mut commands = Commands::new();
    let lines = [
        ("::warning::before", true),
        ("::stop-commands::tok3n", true),
        ("::warning::ignored", false),
        ("::add-mask::ignored", false),
        ("::stop-commands::other", false),
        ("::tok3n-not::", false),
        ("  ::TOK3N::", true),
        ("::warning::after", true),
        ("::tok3n::", false),
    ];
    for (line, is_command) in lines {
        assert_eq!(commands.process(line).is_some(), is_command, "line: {line:?}");
    }
}

#[test]
fn echo_state_decides_what_is_echoed() {
    let mut commands = Commands::new();
    let output = Command::SetOutput { name: "a".into(), value: "b".into() };
    assert!(!commands.echo_enabled());
    assert!(!commands.echoes(&output));
    assert!(commands.echoes(&Command::StopCommands));
    assert_eq!(commands.process("::echo::on"), Some(Command::Echo(true)));
    assert!(commands.echo_enabled());
    assert!(commands.echoes(&output));
    assert!(!commands.echoes(&Command::AddMask("x".into())));
    assert!(!commands.echoes(&Command::Debug("x".into())));
}

#[test]
fn raw_properties_keep_order_and_last_wins() {
    let raw = parse_command("::x b=1,a=2,B=3::d").expect("a command");
    assert_eq!(raw.name, "x");
    assert_eq!(raw.properties, [("b", "1".to_owned()), ("a", "2".to_owned()), ("B", "3".to_owned())]);
    assert_eq!(raw.property("b"), Some("3"));
    assert_eq!(raw.data, "d");
}
