//! How Ferry talks to people in a terminal: diagnostics with the offending source shown,
//! errors, and the colours we use. Colours go through `anstream`, which drops them when the
//! output is not a terminal or `NO_COLOR` is set.

use std::io::Write;

use annotate_snippets::{AnnotationKind, Level, Renderer, Snippet};
use anstyle::{AnsiColor, Style};
use ferry_workflow::{Diagnostic, Severity};

pub const BOLD: Style = Style::new().bold();
pub const DIM: Style = Style::new().dimmed();
pub const RED: Style = AnsiColor::Red.on_default().bold();
pub const GREEN: Style = AnsiColor::Green.on_default().bold();
pub const YELLOW: Style = AnsiColor::Yellow.on_default().bold();
pub const CYAN: Style = AnsiColor::Cyan.on_default();

/// Prints a top-level error with its chain of causes.
pub fn error(error: &anyhow::Error) {
    let mut stderr = anstream::stderr();
    let _ = writeln!(stderr, "{RED}error{RED:#}: {error}");
    for cause in error.chain().skip(1) {
        let _ = writeln!(stderr, "  {DIM}caused by:{DIM:#} {cause}");
    }
}

/// Renders one diagnostic of `path` (whose text is `src`) the way rustc does.
pub fn diagnostic(path: &str, src: &str, diagnostic: &Diagnostic) -> String {
    let level = match diagnostic.severity {
        Severity::Error => Level::ERROR,
        Severity::Warning => Level::WARNING,
    };
    let start = diagnostic.span.start.offset.min(src.len());
    let end = diagnostic.span.end.offset.clamp(start, src.len());
    let title = format!("{} [{}]", diagnostic.message, diagnostic.code);
    let mut group = level
        .primary_title(title)
        .element(Snippet::source(src).path(path).annotation(AnnotationKind::Primary.span(start..end)));
    if let Some(help) = &diagnostic.help {
        group = group.element(Level::HELP.message(help.as_str()));
    }
    Renderer::styled().render(&[group])
}
