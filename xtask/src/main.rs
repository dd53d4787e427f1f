//! `cargo xtask tidy`: checks the rules that keep the code base navigable (ARCHITECTURE.md);
//! `cargo xtask corpus-report [CORPUS]`: which real-world jobs Ferry can run (`corpus.rs`).
//!
//! - every Rust file opens with a `//!` comment saying what it is for;
//! - no `mod.rs` files (`foo.rs` + `foo/` instead);
//! - logic crates do no IO: no tokio, sqlx, axum, `std::fs`, `std::process` or `std::net`;
//! - crates depend only on crates in lower layers;
//! - errors are types: no `Result<…, String>` outside tests (`string_errors`).

use std::path::{Path, PathBuf};
use std::process::ExitCode;

/// Crates that hold pure logic and must not do IO.
const LOGIC_CRATES: &[&str] = &[
    "ferry-model",
    "ferry-workflow",
    "ferry-engine",
    "ferry-hooks",
    "ferry-proto",
    "ferry-deploy",
    "ferry-dora",
    "ferry-promql",
    "ferry-rules",
    "ferry-alerting",
];
/// Text that betrays IO in a logic crate.
const IO_MARKERS: &[&str] =
    &["tokio", "sqlx", "axum", "std::fs", "std::process", "std::net", "std::env", "SystemTime::now", "Instant::now"];
/// Layers, bottom first: a crate may depend only on crates in strictly lower layers.
const LAYERS: &[&[&str]] = &[
    // 0 vocabulary
    &["ferry-model"],
    // 1 language and wire types (the pure domain logic above builds on both)
    &["ferry-workflow", "ferry-proto"],
    // 2 pure domain logic
    &["ferry-engine", "ferry-hooks", "ferry-deploy", "ferry-dora", "ferry-promql", "ferry-alerting"],
    // 2b pure logic built on PromQL
    &["ferry-rules"],
    // 3 adapters
    &["ferry-store", "ferry-client", "ferry-proxy", "ferry-tsdb", "ferry-docker"],
    // 4 IO edge (and the test kit, which may start any of them)
    &["ferry-runner", "ferry-server", "ferry-agent", "ferry-testkit"],
    // 5 the binary
    &["ferry"],
];

mod corpus;

fn main() -> ExitCode {
    let task = std::env::args().nth(1);
    if task.as_deref() == Some("corpus-report") {
        return corpus::main(std::env::args().nth(2));
    }
    if task.as_deref() != Some("tidy") {
        eprintln!("usage: cargo xtask tidy | cargo xtask corpus-report [CORPUS]");
        return ExitCode::from(2);
    }
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).parent().expect("xtask lives in the workspace root").to_path_buf();
    let problems = tidy(&root);
    for problem in &problems {
        eprintln!("tidy: {problem}");
    }
    if problems.is_empty() {
        println!("tidy: ok");
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}

fn tidy(root: &Path) -> Vec<String> {
    let mut problems = Vec::new();
    let mut files = Vec::new();
    for dir in ["crates", "xtask", "fuzz/fuzz_targets", "bench"] {
        rust_files(&root.join(dir), &mut files);
    }
    for file in &files {
        let rel = file.strip_prefix(root).unwrap_or(file).display().to_string();
        let Ok(text) = std::fs::read_to_string(file) else {
            problems.push(format!("{rel}: cannot be read as UTF-8"));
            continue;
        };
        if file.file_name().is_some_and(|name| name == "mod.rs") {
            problems.push(format!("{rel}: use `name.rs` beside `name/` instead of `mod.rs`"));
        }
        let first = text.lines().find(|line| !line.trim().is_empty()).unwrap_or("");
        if !first.starts_with("//!") {
            problems.push(format!("{rel}: open the file with a `//!` comment saying what it is for"));
        }
        let crate_name = rel.strip_prefix("crates/").and_then(|rest| rest.split('/').next());
        let in_test = rel.contains("/tests") || rel.ends_with("tests.rs");
        if crate_name.is_some() && !in_test {
            problems.extend(string_error_lines(&text).iter().map(|line| {
                format!(
                    "{rel}:{line}: `Result<_, String>`: return a typed error instead (a thiserror enum whose \
                     variants carry the data, or a newtype when the message is the domain)"
                )
            }));
        }
        if let Some(name) = crate_name
            && LOGIC_CRATES.contains(&name)
            && !in_test
        {
            for (line_idx, line) in text.lines().enumerate() {
                let code = line.split("//").next().unwrap_or("");
                for marker in IO_MARKERS {
                    if code.contains(marker) {
                        problems.push(format!("{rel}:{}: logic crate {name} must not use `{marker}`", line_idx + 1));
                    }
                }
            }
        }
    }
    problems.extend(layer_problems(root));
    problems
}

/// The lines (1-based) of `text`, Rust source, where a `Result<…, String>` type is written,
/// outside comments and before a trailing `#[cfg(test)] mod tests { … }`.
fn string_error_lines(text: &str) -> Vec<usize> {
    let lines: Vec<&str> = text.lines().collect();
    let end = lines
        .windows(2)
        .position(|pair| {
            pair[0].trim() == "#[cfg(test)]"
                && pair[1].trim_start().starts_with("mod ")
                && pair[1].trim_end().ends_with('{')
        })
        .unwrap_or(lines.len());
    let code: Vec<&str> = lines[..end].iter().map(|line| line.split("//").next().unwrap_or("")).collect();
    let code = code.join("\n");
    let mut found = Vec::new();
    let mut from = 0;
    while let Some(idx) = code[from..].find("Result<") {
        let start = from + idx;
        from = start + "Result<".len();
        let is_word_start = code[..start].chars().next_back().is_none_or(|c| !(c.is_alphanumeric() || c == '_'));
        if is_word_start
            && last_type_argument(&code[from..]).is_some_and(|last| last == "String" || last.ends_with("::String"))
        {
            let line = code[..start].matches('\n').count() + 1;
            if found.last() != Some(&line) {
                found.push(line);
            }
        }
    }
    found
}

/// The last of the generic arguments that `rest` (what follows a `<`) holds up to its
/// matching `>`, trimmed (a trailing comma allowed); `None` when there is a single argument or
/// no matching `>`.
fn last_type_argument(rest: &str) -> Option<&str> {
    let mut depth = 0usize;
    let mut commas = Vec::new();
    let mut prev = ' ';
    for (idx, c) in rest.char_indices() {
        match c {
            '<' | '(' | '[' => depth += 1,
            // `->` in a function type is no bracket.
            '>' if prev == '-' => {}
            '>' | ')' | ']' if depth == 0 => {
                let mut end = idx;
                while let Some(comma) = commas.pop() {
                    let argument = rest[comma + 1..end].trim();
                    if !argument.is_empty() {
                        return Some(argument);
                    }
                    end = comma;
                }
                return None;
            }
            '>' | ')' | ']' => depth -= 1,
            ',' if depth == 0 => commas.push(idx),
            ';' | '{' => return None,
            _ => {}
        }
        prev = c;
    }
    None
}

fn layer_of(name: &str) -> Option<usize> {
    LAYERS.iter().position(|layer| layer.contains(&name))
}

fn layer_problems(root: &Path) -> Vec<String> {
    let mut problems = Vec::new();
    let Ok(entries) = std::fs::read_dir(root.join("crates")) else {
        return vec!["crates/ is missing".to_owned()];
    };
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        let Some(layer) = layer_of(&name) else {
            problems.push(format!(
                "crates/{name}: not placed in a layer; add it to LAYERS in xtask and to ARCHITECTURE.md"
            ));
            continue;
        };
        let Ok(manifest) = std::fs::read_to_string(entry.path().join("Cargo.toml")) else { continue };
        let mut section = String::new();
        for line in manifest.lines() {
            let line = line.trim();
            if line.starts_with('[') {
                section = line.to_owned();
                continue;
            }
            if section != "[dependencies]" {
                continue;
            }
            let dep = line.split(['=', '.', ' ']).next().unwrap_or("");
            if let Some(dep_layer) = layer_of(dep)
                && dep_layer >= layer
            {
                problems
                    .push(format!("crates/{name}/Cargo.toml: {name} must not depend on {dep} (same or higher layer)"));
            }
        }
    }
    problems
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else { return };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            if path.file_name().is_some_and(|name| name == "target") {
                continue;
            }
            rust_files(&path, out);
        } else if path.extension().is_some_and(|ext| ext == "rs") {
            out.push(path);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn string_errors_are_found_in_signatures_types_and_closures() {
        let text = "//! A file.\n\
            fn a() -> Result<u8, String> {}\n\
            fn b() -> Result<Option<(String, Vec<u8>)>, String> {}\n\
            type C = BoxFuture<'a, Result<(), String>>;\n\
            fn d(\n) -> Result<\n    u8,\n    String,\n> {}\n\
            let e = |key: &str| -> Result<Option<Vec<String>>, std::string::String> { todo };\n";
        assert_eq!(string_error_lines(text), vec![2, 3, 4, 6, 10]);
    }

    #[test]
    fn typed_errors_comments_and_tests_are_left_alone() {
        let text = "//! A file.\n\
            fn a() -> Result<(BTreeMap<String, String>, Vec<String>), StoreError> {}\n\
            fn b() -> io::Result<String> {}\n\
            fn c() -> Result<Box<dyn Fn(u8) -> String>, Error> {}\n\
            // fn d() -> Result<u8, String>\n\
            fn e() -> MyResult<u8, String> {}\n\
            #[cfg(test)]\n\
            mod tests {\n\
                fn f() -> Result<u8, String> {}\n\
            }\n";
        assert_eq!(string_error_lines(text), Vec::<usize>::new());
    }
}
