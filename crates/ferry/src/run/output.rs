//! What `ferry run` shows while it runs: every step's output prefixed by its job, step
//! starts and ends with timings, and on a terminal a live status line of the running jobs.
//! Colours go through `anstream`, so they disappear without a terminal or with `NO_COLOR`.

use std::collections::HashMap;
use std::io::{IsTerminal, Write};
use std::time::{Duration, Instant};

use anstyle::{AnsiColor, Style};
use ferry_model::Conclusion;
use ferry_runner::commands::Level;
use ferry_runner::job::{JobEvent, JobOutcome};

use super::Report;
use crate::render::{BOLD, CYAN, DIM, GREEN, RED, YELLOW};

const PALETTE: [AnsiColor; 6] =
    [AnsiColor::Cyan, AnsiColor::Magenta, AnsiColor::Blue, AnsiColor::Yellow, AnsiColor::Green, AnsiColor::BrightBlue];

struct JobView {
    name: String,
    style: Style,
    started: Instant,
    steps: HashMap<usize, String>,
    current_step: Option<String>,
    finished: bool,
}

pub struct Printer {
    out: Box<dyn Write>,
    /// A live status line is drawn (stdout or stderr is a terminal we own).
    live: bool,
    status_drawn: bool,
    jobs: HashMap<usize, JobView>,
    started: Instant,
}

impl Printer {
    /// With `to_stderr` the log goes to standard error (standard output carries JSON).
    pub fn new(to_stderr: bool) -> Printer {
        let (out, is_terminal): (Box<dyn Write>, bool) = if to_stderr {
            let choice = anstream::AutoStream::choice(&std::io::stderr());
            (Box::new(anstream::AutoStream::new(std::io::stderr(), choice)), std::io::stderr().is_terminal())
        } else {
            let choice = anstream::AutoStream::choice(&std::io::stdout());
            (Box::new(anstream::AutoStream::new(std::io::stdout(), choice)), std::io::stdout().is_terminal())
        };
        let live = is_terminal && std::env::var_os("TERM").is_none_or(|term| term != "dumb");
        Printer { out, live, status_drawn: false, jobs: HashMap::new(), started: Instant::now() }
    }

    fn clear_status(&mut self) {
        if self.status_drawn {
            let _ = write!(self.out, "\r\x1b[2K");
            self.status_drawn = false;
        }
    }

    fn line(&mut self, tag: usize, text: &str) {
        self.clear_status();
        let (name, style) = match self.jobs.get(&tag) {
            Some(job) => (job.name.as_str(), job.style),
            None => ("?", Style::new()),
        };
        let _ = writeln!(self.out, "{style}{name}{style:#} {DIM}|{DIM:#} {text}");
    }

    pub fn note(&mut self, text: &str) {
        self.clear_status();
        let _ = writeln!(self.out, "{YELLOW}ferry{YELLOW:#}: {text}");
    }

    pub fn job_started(&mut self, tag: usize, name: &str) {
        let style = PALETTE[tag % PALETTE.len()].on_default();
        self.jobs.insert(
            tag,
            JobView {
                name: name.to_owned(),
                style,
                started: Instant::now(),
                steps: HashMap::new(),
                current_step: None,
                finished: false,
            },
        );
        self.line(tag, &format!("{BOLD}job started{BOLD:#}"));
    }

    pub fn job_skipped(&mut self, name: &str) {
        self.clear_status();
        let _ = writeln!(self.out, "{DIM}{name} | job skipped{DIM:#}");
    }

    pub fn job_error(&mut self, name: &str, error: &anyhow::Error) {
        self.clear_status();
        let _ = writeln!(self.out, "{RED}{name} | error{RED:#}: {error:#}");
    }

    pub fn job_finished(&mut self, tag: usize, outcome: &JobOutcome) {
        if let Some(error) = &outcome.error {
            self.line(tag, &format!("{RED}error{RED:#}: {error}"));
        }
        let elapsed = self.jobs.get(&tag).map_or(Duration::ZERO, |job| job.started.elapsed());
        let (style, icon) = conclusion_style(outcome.conclusion);
        self.line(tag, &format!("{style}{icon} job {}{style:#} in {}", outcome.conclusion, seconds(elapsed)));
        if let Some(job) = self.jobs.get_mut(&tag) {
            job.finished = true;
        }
    }

    pub fn event(&mut self, tag: usize, event: &JobEvent) {
        match event {
            JobEvent::StepStarted { step_idx, name } => {
                if let Some(job) = self.jobs.get_mut(&tag) {
                    job.steps.insert(*step_idx, name.clone());
                    job.current_step = Some(name.clone());
                }
                self.line(tag, &format!("{CYAN}▸ {name}{CYAN:#}"));
            }
            JobEvent::Line { text, .. } => self.line(tag, text),
            JobEvent::Lines { text, .. } => {
                for text in text.split_terminator('\n') {
                    self.line(tag, text);
                }
            }
            JobEvent::Group { title, .. } => self.line(tag, &format!("{BOLD}▾ {title}{BOLD:#}")),
            JobEvent::EndGroup { .. } => {}
            JobEvent::Annotation { annotation, .. } => {
                let (style, word) = match annotation.level {
                    Level::Error => (RED, "error"),
                    Level::Warning => (YELLOW, "warning"),
                    Level::Notice => (CYAN, "notice"),
                };
                let place = match (&annotation.file, annotation.line) {
                    (Some(file), Some(line)) => format!(" ({file}:{line})"),
                    (Some(file), None) => format!(" ({file})"),
                    _ => String::new(),
                };
                let title = annotation.title.as_deref().map(|title| format!("{title}: ")).unwrap_or_default();
                self.line(tag, &format!("{style}{word}{style:#}: {title}{}{place}", annotation.message));
            }
            JobEvent::StepFinished { step_idx, outcome, conclusion, elapsed } => {
                let name = self.jobs.get(&tag).and_then(|job| job.steps.get(step_idx)).cloned().unwrap_or_default();
                let (style, icon) = conclusion_style(*conclusion);
                let note =
                    if outcome != conclusion { format!(" ({outcome}, continue-on-error)") } else { String::new() };
                let text = match outcome {
                    Conclusion::Skipped => format!("{DIM}- {name} skipped{DIM:#}"),
                    _ => format!("{style}{icon} {name}{style:#} {DIM}{}{DIM:#}{note}", seconds(*elapsed)),
                };
                self.line(tag, &text);
            }
        }
    }

    /// Redraws the live status line.
    pub fn tick(&mut self) {
        if !self.live {
            return;
        }
        let mut running: Vec<(&usize, &JobView)> = self.jobs.iter().filter(|(_, job)| !job.finished).collect();
        if running.is_empty() {
            return;
        }
        running.sort_by_key(|(tag, _)| **tag);
        let parts: Vec<String> = running
            .iter()
            .map(|(_, job)| {
                let step = job.current_step.as_deref().unwrap_or("starting");
                format!("{}{}{:#} {step} {}", job.style, job.name, job.style, seconds(job.started.elapsed()))
            })
            .collect();
        let line =
            format!("{BOLD}running{BOLD:#} {}  {DIM}{}{DIM:#}", parts.join(" · "), seconds(self.started.elapsed()));
        let _ = write!(self.out, "\r\x1b[2K{line}");
        let _ = self.out.flush();
        self.status_drawn = true;
    }

    pub fn summary(&mut self, report: &Report) {
        self.clear_status();
        let _ = writeln!(self.out);
        for (name, job) in &report.jobs {
            let (style, icon) = conclusion_style(job.conclusion);
            let n_steps = job.steps.iter().filter(|step| step.outcome != Conclusion::Skipped).count();
            let _ = writeln!(
                self.out,
                "{style}{icon}{style:#} {name} {DIM}{} · {n_steps} step{} run · {}{DIM:#}",
                job.conclusion,
                if n_steps == 1 { "" } else { "s" },
                seconds(job.elapsed)
            );
        }
        let conclusion = report.conclusion();
        let (style, _) = conclusion_style(conclusion);
        let _ = writeln!(
            self.out,
            "\n{style}{conclusion}{style:#}: {} job{} in {}",
            report.jobs.len(),
            if report.jobs.len() == 1 { "" } else { "s" },
            seconds(self.started.elapsed())
        );
        let _ = self.out.flush();
    }
}

fn conclusion_style(conclusion: Conclusion) -> (Style, &'static str) {
    match conclusion {
        Conclusion::Success => (GREEN, "✓"),
        Conclusion::Failure => (RED, "✗"),
        Conclusion::Cancelled => (YELLOW, "⊘"),
        Conclusion::Skipped => (DIM, "-"),
        Conclusion::Neutral => (YELLOW, "◇"),
    }
}

fn seconds(elapsed: Duration) -> String {
    let secs = elapsed.as_secs_f64();
    if secs < 60.0 {
        format!("{secs:.1}s")
    } else {
        format!("{}m{:02}s", elapsed.as_secs() / 60, elapsed.as_secs() % 60)
    }
}
