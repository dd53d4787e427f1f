//! How a step's `shell:` becomes a command line, the way GitHub's runner does it on Linux.
//!
//! A step's `run:` text is written to a script file whose name ends in [`Shell::extension`];
//! [`Shell::command`] then gives the program and arguments that run that file. Known shell names
//! are case-insensitive, as in GitHub's runner. Anything with a space is a custom shell: it is
//! split into words (single and double quotes group words) and must contain `{0}`, which becomes
//! the script path.

use std::borrow::Cow;

/// A resolved shell: what to run and what to call the script file.
///
/// `args` may contain the placeholder `{0}` (possibly inside a longer word, as in
/// pwsh's `. '{0}'`); [`Shell::command`] replaces it with the script's path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Shell {
    pub program: String,
    pub args: Vec<String>,
    /// The script file's extension including the dot (`.sh`), or empty for custom shells.
    pub extension: &'static str,
    kind: Kind,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    /// No `shell:` anywhere: `bash -e {0}`, falling back to `sh -e {0}` without bash.
    Default,
    Bash,
    Sh,
    Python,
    PowerShell,
    Custom,
}

/// Why a `shell:` value cannot run here.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ShellError {
    #[error("shell `cmd` only exists on Windows; this runner runs steps on Linux (use bash, sh, pwsh or python)")]
    WindowsOnly,
    #[error(
        "unknown shell `{0}`: use one of bash, sh, python, pwsh or powershell, \
         or a custom command line containing `{{0}}` for the script path (for example `perl {{0}}`)"
    )]
    Unknown(String),
    #[error("custom shell `{0}` must contain `{{0}}`, which is replaced by the script path (for example `perl {{0}}`)")]
    MissingPlaceholder(String),
    #[error("custom shell `{0}` has an unclosed quote")]
    UnclosedQuote(String),
    #[error("`shell:` is empty")]
    Empty,
}

/// Resolves a step's `shell:` (`None` when neither the step nor any `defaults.run.shell` sets one).
///
/// # Errors
/// [`ShellError`] for `cmd`, for an unknown bare name, and for a custom command line without `{0}`
/// or with an unclosed quote.
pub fn parse_shell(shell: Option<&str>) -> Result<Shell, ShellError> {
    let Some(shell) = shell else {
        return Ok(builtin("bash", &["-e", "{0}"], ".sh", Kind::Default));
    };
    let shell = shell.trim();
    if shell.is_empty() {
        return Err(ShellError::Empty);
    }
    if !shell.contains(char::is_whitespace) {
        return match shell.to_ascii_lowercase().as_str() {
            "bash" => Ok(builtin("bash", &["--noprofile", "--norc", "-eo", "pipefail", "{0}"], ".sh", Kind::Bash)),
            "sh" => Ok(builtin("sh", &["-e", "{0}"], ".sh", Kind::Sh)),
            "python" => Ok(builtin("python", &["{0}"], ".py", Kind::Python)),
            "pwsh" => Ok(builtin("pwsh", &["-command", ". '{0}'"], ".ps1", Kind::PowerShell)),
            // Windows PowerShell does not exist on Linux; GitHub's runner runs pwsh for it there too.
            "powershell" => Ok(builtin("pwsh", &["-command", ". '{0}'"], ".ps1", Kind::PowerShell)),
            "cmd" => Err(ShellError::WindowsOnly),
            _ if shell.contains("{0}") => custom(shell),
            _ => Err(ShellError::Unknown(shell.to_owned())),
        };
    }
    custom(shell)
}

fn builtin(program: &str, args: &[&str], extension: &'static str, kind: Kind) -> Shell {
    Shell { program: program.to_owned(), args: args.iter().map(|&arg| arg.to_owned()).collect(), extension, kind }
}

fn custom(shell: &str) -> Result<Shell, ShellError> {
    if !shell.contains("{0}") {
        return Err(ShellError::MissingPlaceholder(shell.to_owned()));
    }
    let mut words = split_words(shell).ok_or_else(|| ShellError::UnclosedQuote(shell.to_owned()))?.into_iter();
    let program = words.next().ok_or(ShellError::Empty)?;
    Ok(Shell { program, args: words.collect(), extension: "", kind: Kind::Custom })
}

/// Splits a command line into words: whitespace separates, `'…'` and `"…"` group (quotes removed,
/// no escapes inside). `None` when a quote is not closed.
pub(crate) fn split_words(line: &str) -> Option<Vec<String>> {
    let mut words = Vec::new();
    let mut word = String::new();
    let mut in_word = false;
    let mut quote = None;
    for ch in line.chars() {
        match quote {
            Some(q) if ch == q => quote = None,
            Some(_) => word.push(ch),
            None if ch == '\'' || ch == '"' => {
                quote = Some(ch);
                in_word = true;
            }
            None if ch.is_whitespace() => {
                if in_word {
                    words.push(std::mem::take(&mut word));
                    in_word = false;
                }
            }
            None => {
                word.push(ch);
                in_word = true;
            }
        }
    }
    if quote.is_some() {
        return None;
    }
    if in_word {
        words.push(word);
    }
    Some(words)
}

impl Shell {
    /// Applies GitHub's fallbacks for programs missing on this host: the default shell uses
    /// `sh -e {0}` when there is no `bash`, and `python` runs `python3` when there is no `python`
    /// (Debian and Ubuntu ship only `python3`; GitHub's images have both).
    ///
    /// `on_path` tells whether a program can be found on the step's `PATH` (see
    /// [`crate::process::on_path`]); it is passed in so this module stays pure.
    #[must_use]
    pub fn with_fallbacks(mut self, on_path: impl Fn(&str) -> bool) -> Self {
        match self.kind {
            Kind::Default if !on_path("bash") && on_path("sh") => self.program = "sh".to_owned(),
            Kind::Python if !on_path("python") && on_path("python3") => self.program = "python3".to_owned(),
            _ => {}
        }
        self
    }

    /// The program and arguments that run the script at `script_path`.
    #[must_use]
    pub fn command(&self, script_path: &str) -> (String, Vec<String>) {
        let args = self.args.iter().map(|arg| arg.replace("{0}", script_path)).collect();
        (self.program.clone(), args)
    }

    /// The script file's text for `run`: GitHub's runner makes PowerShell stop on the first error
    /// and exit with the last native command's exit code; other shells get `run` unchanged.
    #[must_use]
    pub fn script_contents<'a>(&self, run: &'a str) -> Cow<'a, str> {
        match self.kind {
            Kind::PowerShell => Cow::Owned(format!(
                "$ErrorActionPreference = 'stop'\n{run}\nif ((Test-Path -LiteralPath variable:\\LASTEXITCODE)) {{ exit $LASTEXITCODE }}"
            )),
            _ => Cow::Borrowed(run),
        }
    }
}

#[cfg(test)]
mod tests;
