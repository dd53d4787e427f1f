//! Measures what running a step costs over running its shell directly, and masking throughput.
//!
//! `cargo run --release -p ferry-runner --example step_overhead [N_STEPS]` runs a trivial
//! `true` script N times through `run_process` and N times as a plain `bash` child, then N times
//! through `run_process` confined as the embedded runner confines steps (Landlock: out of a
//! data directory beside the script, and, like `/var/lib/ferry`, a few levels below `/`), and
//! pushes 50 MB of output lines through a `Masker` with no, one and a few secrets.

use std::io::Write;
use std::time::{Duration, Instant};

use ferry_runner::mask::Masker;
use ferry_runner::process::{ProcessSpec, run_process};
use ferry_runner::shell::parse_shell;

fn main() -> std::io::Result<()> {
    let n_steps: u32 = std::env::args().nth(1).and_then(|arg| arg.parse().ok()).unwrap_or(200);
    let dir = std::env::temp_dir().join(format!("ferry-step-overhead-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    let script = dir.join("step.sh");
    std::fs::File::create(&script)?.write_all(b"true\n")?;
    let shell = parse_shell(Some("bash")).map_err(std::io::Error::other)?;
    let (program, args) = shell.command(&script.to_string_lossy());

    let plain = {
        let start = Instant::now();
        for _ in 0..n_steps {
            std::process::Command::new(&program).args(&args).status()?;
        }
        start.elapsed()
    };

    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    let spec = ProcessSpec {
        program,
        args,
        working_dir: dir.clone(),
        env: vec![("GITHUB_OUTPUT".into(), dir.join("out").to_string_lossy().into_owned())],
        timeout: Some(Duration::from_secs(360 * 60)),
        kill_grace: Duration::from_secs(5),
        keep_background: false,
        confinement: None,
    };
    let time_steps = |spec: &ProcessSpec| {
        runtime.block_on(async {
            let (_cancel, mut cancelled) = tokio::sync::watch::channel(false);
            let start = Instant::now();
            for _ in 0..n_steps {
                run_process(spec, &mut cancelled, &mut |_, _: &str| {}, None).await?;
            }
            std::io::Result::Ok(start.elapsed())
        })
    };
    let ferry = time_steps(&spec)?;
    let data = dir.join("data");
    std::fs::create_dir_all(data.join("runner"))?;
    let confinement =
        ferry_runner::isolation::Confinement::new(&data, &[data.join("runner")]).map_err(std::io::Error::other)?;
    // What confining adds, without the process: a fresh thread that reads the rules and
    // restricts itself.
    let restrict = {
        let start = Instant::now();
        for _ in 0..n_steps {
            let confinement = confinement.clone();
            std::thread::spawn(move || confinement.restrict_current_thread())
                .join()
                .map_err(|_| std::io::Error::other("the confining thread panicked"))??;
        }
        start.elapsed()
    };
    let confined_spec = ProcessSpec { confinement: Some(std::sync::Arc::new(confinement)), ..spec.clone() };
    let confined = time_steps(&confined_spec)?;
    // The measurements are this program's output, not log events.
    let mut out = std::io::stdout().lock();
    writeln!(
        out,
        "{n_steps} steps: plain bash {:?}/step, run_process {:?}/step, ratio {:.2}",
        plain / n_steps,
        ferry / n_steps,
        ferry.as_secs_f64() / plain.as_secs_f64()
    )?;
    writeln!(
        out,
        "{n_steps} steps confined with Landlock: {:?}/step, ratio {:.2} to plain bash",
        confined / n_steps,
        confined.as_secs_f64() / plain.as_secs_f64()
    )?;
    writeln!(out, "confining alone (thread, rules, Landlock): {:?}/step", restrict / n_steps)?;

    let line = "2026-11-22T04:25:00Z compiling ferry-runner v0.1.0 (/work/ferry/crates/ferry-runner) ok\n";
    let text = line.repeat(50_000_000 / line.len());
    for secrets in [&[][..], &["hunter2-s3cret"][..], &["hunter2-s3cret", "ghp_abcdef123456", "AKIA0000", "p@ss"][..]] {
        let mut masker = Masker::new();
        for secret in secrets {
            masker.add(secret);
        }
        let start = Instant::now();
        let n_masked = text.lines().filter(|line| masker.mask(line).len() != line.len()).count();
        let elapsed = start.elapsed();
        writeln!(
            out,
            "mask 50 MB with {} secrets: {elapsed:?} ({:.0} MB/s, {n_masked} lines changed)",
            secrets.len(),
            50.0 / elapsed.as_secs_f64()
        )?;
    }
    std::fs::remove_dir_all(&dir)
}
