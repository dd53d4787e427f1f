//! Measures what running a step costs over running its shell directly, and masking throughput.
//!
//! `cargo run --release -p ferry-runner --example step_overhead [N_STEPS]` runs a trivial
//! `true` script N times through `run_process` and N times as a plain `bash` child, and pushes
//! 50 MB of output lines through a `Masker` with no, one and a few secrets.

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
    let ferry = runtime.block_on(async {
        let (_cancel, mut cancelled) = tokio::sync::watch::channel(false);
        let start = Instant::now();
        for _ in 0..n_steps {
            run_process(&spec, &mut cancelled, &mut |_, _: &str| {}, None).await?;
        }
        std::io::Result::Ok(start.elapsed())
    })?;
    // The measurements are this program's output, not log events.
    let mut out = std::io::stdout().lock();
    writeln!(
        out,
        "{n_steps} steps: plain bash {:?}/step, run_process {:?}/step, ratio {:.2}",
        plain / n_steps,
        ferry / n_steps,
        ferry.as_secs_f64() / plain.as_secs_f64()
    )?;

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
