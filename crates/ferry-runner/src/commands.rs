//! GitHub's workflow commands in a step's output: `::name key=value,…::data`.
//!
//! Parsing follows GitHub's runner: leading whitespace before `::` is allowed, command and
//! property names are case-insensitive, properties are split on `,` and then on the first `=`
//! (a property with an empty name or value is dropped), and the data and property values are
//! unescaped (`%25 %0D %0A`, plus `%3A %2C` in properties). A line naming no known command is
//! plain output. `::stop-commands::TOKEN` turns command processing off until a line `::TOKEN::`.
//! The legacy `##[command]` syntax is not supported.

/// One processed workflow command; what the job does with it is up to the caller.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    /// Mask this value in all later output (never empty or only whitespace).
    AddMask(String),
    /// `::error`, `::warning` or `::notice`.
    Annotation(Annotation),
    Debug(String),
    /// Start a collapsible group with this title.
    Group(String),
    EndGroup,
    /// Deprecated `::set-output name=…::value`; still honoured.
    SetOutput {
        name: String,
        value: String,
    },
    SaveState {
        name: String,
        value: String,
    },
    /// Command processing is now off, until the token comes back as a command.
    StopCommands,
    ResumeCommands,
    /// Whether later commands are echoed (see [`Commands::echoes`]).
    Echo(bool),
    /// The command could not be processed. GitHub's runner reports the message as an error
    /// annotation and fails the step; the disabled `set-env` and `add-path` end up here.
    Failed(String),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Level {
    Error,
    Warning,
    Notice,
}

/// An annotation; positions that are not numbers are dropped.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Annotation {
    pub level: Level,
    pub message: String,
    pub title: Option<String>,
    pub file: Option<String>,
    pub line: Option<u32>,
    pub end_line: Option<u32>,
    pub col: Option<u32>,
    pub end_column: Option<u32>,
}

/// A command line's syntax before its meaning: name, properties in order, data (unescaped).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RawCommand<'a> {
    pub name: &'a str,
    pub properties: Vec<(&'a str, String)>,
    pub data: String,
}

impl RawCommand<'_> {
    /// The last value of property `key` (case-insensitive), as GitHub's dictionary keeps it.
    #[must_use]
    pub fn property(&self, key: &str) -> Option<&str> {
        self.properties.iter().rev().find(|(name, _)| name.eq_ignore_ascii_case(key)).map(|(_, value)| value.as_str())
    }
}

/// Parses the syntax of a command line, without deciding whether the name is a known command.
#[must_use]
pub fn parse_command(line: &str) -> Option<RawCommand<'_>> {
    let rest = line.trim_start().strip_prefix("::")?;
    let end = memchr::memmem::find(rest.as_bytes(), b"::")?;
    let info = &rest[..end];
    let (name, properties) = match info.split_once(' ') {
        Some((name, properties)) => (name, properties.trim()),
        None => (info, ""),
    };
    if name.is_empty() {
        return None;
    }
    let properties = properties
        .split(',')
        .filter_map(|pair| pair.split_once('='))
        .filter(|(key, value)| !key.is_empty() && !value.is_empty())
        .map(|(key, value)| (key, unescape(value, PROPERTY_ESCAPES)))
        .collect();
    Some(RawCommand { name, properties, data: unescape(&rest[end + 2..], DATA_ESCAPES) })
}

const DATA_ESCAPES: &[(&str, &str)] = &[("%0D", "\r"), ("%0A", "\n"), ("%25", "%")];
const PROPERTY_ESCAPES: &[(&str, &str)] = &[("%0D", "\r"), ("%0A", "\n"), ("%3A", ":"), ("%2C", ","), ("%25", "%")];

/// Undoes GitHub's escaping with its own sequence of replacements, so odd inputs decode the same.
fn unescape(text: &str, escapes: &[(&str, &str)]) -> String {
    if !text.contains('%') {
        return text.to_owned();
    }
    escapes.iter().fold(text.to_owned(), |text, (escaped, plain)| text.replace(escaped, plain))
}

/// The command state of one job's output: whether commands are stopped, and echoing.
///
/// GitHub's runner keeps the stop-commands state in a job-wide service, so a token given in
/// one step still stops commands in the next: keep one `Commands` per job.
#[derive(Debug, Default)]
pub struct Commands {
    stop_token: Option<String>,
    echo: bool,
}

/// Whether `line` may be a workflow command (`::name::…`, after blanks); every other line is
/// output and nothing else.
#[must_use]
pub fn may_be_command(line: &str) -> bool {
    line.trim_start().starts_with("::")
}

impl Commands {
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// The command on this output line, or `None` when the line is plain output (including
    /// every line while commands are stopped, except the resume token).
    pub fn process(&mut self, line: &str) -> Option<Command> {
        // Cheap rejection first: this runs on every line of output.
        if !may_be_command(line) {
            return None;
        }
        let raw = parse_command(line)?;
        if let Some(token) = &self.stop_token {
            if !token.is_empty() && raw.name.eq_ignore_ascii_case(token) {
                self.stop_token = None;
                return Some(Command::ResumeCommands);
            }
            return None;
        }
        let name = raw.name.to_ascii_lowercase();
        let command = match name.as_str() {
            "add-mask" if raw.data.trim().is_empty() => Command::Annotation(Annotation::plain(
                Level::Warning,
                "Can't add secret mask for empty string in ::add-mask:: command.",
            )),
            "add-mask" => Command::AddMask(raw.data),
            "error" => Command::Annotation(Annotation::from_raw(Level::Error, raw)),
            "warning" => Command::Annotation(Annotation::from_raw(Level::Warning, raw)),
            "notice" => Command::Annotation(Annotation::from_raw(Level::Notice, raw)),
            "debug" => Command::Debug(raw.data),
            "group" => Command::Group(raw.data),
            "endgroup" => Command::EndGroup,
            "set-output" | "save-state" => match raw.property("name").map(str::to_owned) {
                Some(key) if name == "set-output" => Command::SetOutput { name: key, value: raw.data },
                Some(key) => Command::SaveState { name: key, value: raw.data },
                None => Command::Failed(format!("Required field 'name' is missing in ::{name}:: command.")),
            },
            "stop-commands" => {
                self.stop_token = Some(raw.data);
                Command::StopCommands
            }
            "echo" => match raw.data.to_ascii_lowercase().as_str() {
                "on" => {
                    self.echo = true;
                    Command::Echo(true)
                }
                "off" => {
                    self.echo = false;
                    Command::Echo(false)
                }
                _ => Command::Failed(format!(
                    "Invalid echo command value. Possible values can be: 'on', 'off'. Current value is: '{}'.",
                    raw.data
                )),
            },
            "set-env" => Command::Failed(
                "The `set-env` command is disabled. Append `NAME=value` lines to the file named by $GITHUB_ENV instead \
                 (echo \"NAME=value\" >> \"$GITHUB_ENV\")."
                    .to_owned(),
            ),
            "add-path" => Command::Failed(
                "The `add-path` command is disabled. Append the directory to the file named by $GITHUB_PATH instead \
                 (echo \"$HOME/bin\" >> \"$GITHUB_PATH\")."
                    .to_owned(),
            ),
            _ => return None,
        };
        Some(command)
    }

    /// Whether `::echo::on` is in force.
    #[must_use]
    pub fn echo_enabled(&self) -> bool {
        self.echo
    }

    /// Whether the line that produced `command` should also be shown in the log, as GitHub's
    /// runner shows it: stopping and resuming and failed commands always, `set-output`,
    /// `save-state` and `echo` while echoing is on. Masks, annotations, debug messages and groups
    /// are rendered in their own way and never echoed verbatim.
    #[must_use]
    pub fn echoes(&self, command: &Command) -> bool {
        match command {
            Command::StopCommands | Command::ResumeCommands | Command::Failed(_) => true,
            Command::SetOutput { .. } | Command::SaveState { .. } | Command::Echo(_) => self.echo,
            Command::AddMask(_)
            | Command::Annotation(_)
            | Command::Debug(_)
            | Command::Group(_)
            | Command::EndGroup => false,
        }
    }
}

impl Annotation {
    fn plain(level: Level, message: &str) -> Self {
        Self {
            level,
            message: message.to_owned(),
            title: None,
            file: None,
            line: None,
            end_line: None,
            col: None,
            end_column: None,
        }
    }

    fn from_raw(level: Level, raw: RawCommand<'_>) -> Self {
        let number = |key: &str| raw.property(key).and_then(|value| value.trim().parse().ok());
        Self {
            level,
            title: raw.property("title").map(str::to_owned),
            file: raw.property("file").map(str::to_owned),
            line: number("line"),
            end_line: number("endLine"),
            col: number("col"),
            end_column: number("endColumn"),
            message: raw.data,
        }
    }
}

#[cfg(test)]
mod tests;
