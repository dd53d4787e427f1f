//! promtool's rule unit tests (`promtool test rules`): a test file names rule files and holds
//! test groups of input series in the expanding notation, alert checks at times and PromQL
//! checks at times. Groups are evaluated every `evaluation_interval` from the start up to the
//! last time a check names; alert checks compare the firing alerts at that time; PromQL checks
//! run afterwards. The report is promtool's, word for word: what it writes to standard output
//! and to standard error, and the verdict.
//!
//! Reading files is the caller's: [`run_test_file`] gets the test file's text and a function
//! that reads the rule files it names (globs resolved).

mod series;
#[cfg(test)]
mod tests;

use crate::duration::{format_duration, format_go_duration, parse_duration};
use crate::eval::{AlertState, EvalOptions, GroupState, MemoryStorage, eval_group};
use crate::file::{Group, RuleKind, load_rule_file};
use crate::gofmt;
use ferry_promql::{Labels, QueryOptions, QueryValue};
use ferry_workflow::yaml::{self, Node};
use std::collections::BTreeMap;

/// What a test file gave: promtool's two output streams and whether it passed.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct TestReport {
    pub stdout: String,
    pub stderr: String,
    pub passed: bool,
    /// Each failure as the report writes it.
    pub errors: Vec<String>,
}

/// A rule file a test names, as the caller found it.
pub struct RuleSource {
    /// The path as the report names it.
    pub path: String,
    /// The file's text, or why it could not be read.
    pub text: std::io::Result<String>,
}

/// Runs one test file. `name` is how the report names it; `rule_files` resolves an entry of
/// `rule_files` (relative to the test file, globs allowed) to the files it matches.
pub fn run_test_file(name: &str, src: &str, rule_files: &dyn Fn(&str) -> Vec<RuleSource>) -> TestReport {
    let mut report = TestReport { stdout: format!("Unit Testing:  {name}\n"), ..TestReport::default() };
    let errors = match read_test_file(src) {
        Ok(file) => run_tests(&file, rule_files, &mut report.stderr),
        Err(error) => vec![error.to_string()],
    };
    if errors.is_empty() {
        report.stdout.push_str("  SUCCESS\n");
        report.passed = true;
    } else {
        report.stderr.push_str("  FAILED:\n");
        for error in &errors {
            report.stderr.push_str(error);
            report.stderr.push('\n');
            report.stdout.push('\n');
        }
        report.errors = errors;
    }
    report.stdout.push('\n');
    report
}

/// A test file that does not read, in yaml.v2's words.
#[derive(Debug, thiserror::Error)]
enum TestFileError {
    #[error("yaml: line {line}: {message}")]
    Syntax { line: usize, message: String },
    /// Every field that is unknown or does not read, in that order, each as a line.
    #[error("yaml: unmarshal errors:\n{}", .0.join("\n"))]
    Unmarshal(Vec<String>),
}

struct TestFile {
    rule_files: Vec<String>,
    evaluation_interval_ms: i64,
    group_eval_order: Vec<String>,
    tests: Vec<TestGroup>,
}

struct TestGroup {
    name: String,
    interval_ms: Option<i64>,
    start_ms: i64,
    input_series: Vec<(String, String)>,
    alert_tests: Vec<AlertTest>,
    promql_tests: Vec<PromqlTest>,
    external_labels: Labels,
    external_url: String,
}

struct AlertTest {
    eval_time_ms: i64,
    alertname: String,
    exp_alerts: Vec<(BTreeMap<String, String>, BTreeMap<String, String>)>,
}

struct PromqlTest {
    expr: String,
    eval_time_ms: i64,
    exp_samples: Vec<(String, f64)>,
}

/// Collects yaml.v2-style "field x not found in type y" errors and wrong values.
struct Reader {
    unknown: Vec<String>,
    bad: Vec<String>,
}

impl Reader {
    fn fields<'n>(&mut self, node: &'n Node, type_name: &str, known: &[&str]) -> Vec<(&'n str, &'n Node)> {
        let mut out = Vec::new();
        let Some(entries) = node.as_map() else {
            if !node.is_null() {
                self.bad.push(format!(
                    "  line {}: cannot unmarshal {} into main.{type_name}",
                    node.span.start.line,
                    node.describe()
                ));
            }
            return out;
        };
        for entry in entries {
            let Some(key) = entry.key.as_str() else { continue };
            if known.contains(&key) {
                out.push((key, &entry.value));
            } else {
                self.unknown.push(format!(
                    "  line {}: field {key} not found in type main.{type_name}",
                    entry.key.span.start.line
                ));
            }
        }
        out
    }

    fn items<'n>(&mut self, node: &'n Node) -> &'n [Node] {
        match node.as_seq() {
            Some(items) => items,
            None => {
                if !node.is_null() {
                    self.bad.push(format!(
                        "  line {}: cannot unmarshal {} into a list",
                        node.span.start.line,
                        node.describe()
                    ));
                }
                &[]
            }
        }
    }

    fn text(&mut self, node: &Node) -> String {
        if node.is_null() {
            return String::new();
        }
        match node.as_str() {
            Some(text) => text.to_owned(),
            None => {
                self.bad.push(format!(
                    "  line {}: cannot unmarshal {} into string",
                    node.span.start.line,
                    node.describe()
                ));
                String::new()
            }
        }
    }

    fn duration(&mut self, node: &Node) -> i64 {
        let text = self.text(node);
        if text.is_empty() {
            return 0;
        }
        match parse_duration(&text) {
            Ok(ms) => ms,
            Err(message) => {
                self.bad.push(format!("  line {}: {message}", node.span.start.line));
                0
            }
        }
    }

    fn string_map(&mut self, node: &Node) -> BTreeMap<String, String> {
        let mut out = BTreeMap::new();
        if let Some(entries) = node.as_map() {
            for entry in entries {
                let key = self.text(&entry.key);
                out.insert(key, self.text(&entry.value));
            }
        } else if !node.is_null() {
            self.bad.push(format!(
                "  line {}: cannot unmarshal {} into map[string]string",
                node.span.start.line,
                node.describe()
            ));
        }
        out
    }
}

fn read_test_file(src: &str) -> Result<TestFile, TestFileError> {
    let (tree, diagnostics) = yaml::parse(src);
    if let Some(error) = diagnostics.iter().find(|d| d.is_error()) {
        return Err(TestFileError::Syntax { line: error.span.start.line, message: error.message.clone() });
    }
    let mut reader = Reader { unknown: Vec::new(), bad: Vec::new() };
    let mut file =
        TestFile { rule_files: Vec::new(), evaluation_interval_ms: 0, group_eval_order: Vec::new(), tests: Vec::new() };
    let Some(root) = tree else { return Ok(file) };
    let top = reader.fields(&root, "unitTestFile", &["rule_files", "evaluation_interval", "group_eval_order", "tests"]);
    for (key, value) in top {
        match key {
            "rule_files" => file.rule_files = reader.items(value).iter().map(|n| reader.text(n)).collect(),
            "evaluation_interval" => file.evaluation_interval_ms = reader.duration(value),
            "group_eval_order" => file.group_eval_order = reader.items(value).iter().map(|n| reader.text(n)).collect(),
            _ => {
                for test in reader.items(value) {
                    file.tests.push(read_test_group(&mut reader, test));
                }
            }
        }
    }
    if !reader.unknown.is_empty() || !reader.bad.is_empty() {
        let mut lines = reader.unknown;
        lines.extend(reader.bad);
        return Err(TestFileError::Unmarshal(lines));
    }
    Ok(file)
}

fn read_test_group(reader: &mut Reader, node: &Node) -> TestGroup {
    let mut group = TestGroup {
        name: String::new(),
        interval_ms: None,
        start_ms: 0,
        input_series: Vec::new(),
        alert_tests: Vec::new(),
        promql_tests: Vec::new(),
        external_labels: Labels::default(),
        external_url: String::new(),
    };
    let known = [
        "interval",
        "input_series",
        "alert_rule_test",
        "promql_expr_test",
        "external_labels",
        "external_url",
        "name",
        "start_timestamp",
    ];
    for (key, value) in reader.fields(node, "testGroup", &known) {
        match key {
            "interval" => group.interval_ms = Some(reader.duration(value)),
            "name" => group.name = reader.text(value),
            "external_url" => group.external_url = reader.text(value),
            "external_labels" => group.external_labels = Labels::new(reader.string_map(value)),
            "start_timestamp" => match start_timestamp(value) {
                Some(ms) => group.start_ms = ms,
                None => reader.bad.push(format!(
                    "  line {}: start_timestamp must be Unix seconds or an RFC 3339 time",
                    value.span.start.line
                )),
            },
            "input_series" => {
                for item in reader.items(value) {
                    let mut series = (String::new(), String::new());
                    for (key, value) in reader.fields(item, "series", &["series", "values"]) {
                        if key == "series" {
                            series.0 = reader.text(value);
                        } else {
                            series.1 = reader.text(value);
                        }
                    }
                    group.input_series.push(series);
                }
            }
            "alert_rule_test" => {
                for item in reader.items(value) {
                    let mut test = AlertTest { eval_time_ms: 0, alertname: String::new(), exp_alerts: Vec::new() };
                    for (key, value) in reader.fields(item, "alertTestCase", &["eval_time", "alertname", "exp_alerts"])
                    {
                        match key {
                            "eval_time" => test.eval_time_ms = reader.duration(value),
                            "alertname" => test.alertname = reader.text(value),
                            _ => {
                                for alert in reader.items(value) {
                                    let mut exp = (BTreeMap::new(), BTreeMap::new());
                                    for (key, value) in
                                        reader.fields(alert, "alert", &["exp_labels", "exp_annotations"])
                                    {
                                        if key == "exp_labels" {
                                            exp.0 = reader.string_map(value);
                                        } else {
                                            exp.1 = reader.string_map(value);
                                        }
                                    }
                                    test.exp_alerts.push(exp);
                                }
                            }
                        }
                    }
                    group.alert_tests.push(test);
                }
            }
            "promql_expr_test" => {
                for item in reader.items(value) {
                    let mut test = PromqlTest { expr: String::new(), eval_time_ms: 0, exp_samples: Vec::new() };
                    for (key, value) in reader.fields(item, "promqlTestCase", &["expr", "eval_time", "exp_samples"]) {
                        match key {
                            "expr" => test.expr = reader.text(value),
                            "eval_time" => test.eval_time_ms = reader.duration(value),
                            _ => {
                                for sample in reader.items(value) {
                                    let mut exp = (String::new(), 0.0);
                                    for (key, value) in reader.fields(sample, "sample", &["labels", "value"]) {
                                        if key == "labels" {
                                            exp.0 = reader.text(value);
                                        } else {
                                            match value.as_f64().or_else(|| yaml_float(value)) {
                                                Some(v) => exp.1 = v,
                                                None => reader.bad.push(format!(
                                                    "  line {}: cannot unmarshal {} into float64",
                                                    value.span.start.line,
                                                    value.describe()
                                                )),
                                            }
                                        }
                                    }
                                    test.exp_samples.push(exp);
                                }
                            }
                        }
                    }
                    group.promql_tests.push(test);
                }
            }
            _ => {}
        }
    }
    group
}

/// yaml.v2 reads a quoted number into a float64 field too.
fn yaml_float(node: &Node) -> Option<f64> {
    node.as_str().and_then(|text| text.parse().ok())
}

fn start_timestamp(node: &Node) -> Option<i64> {
    let text = node.as_str()?;
    if let Ok(seconds) = text.parse::<i64>() {
        return seconds.checked_mul(1000);
    }
    chrono::DateTime::parse_from_rfc3339(text).ok().map(|time| time.timestamp_millis())
}

fn run_tests(file: &TestFile, rule_files: &dyn Fn(&str) -> Vec<RuleSource>, stderr: &mut String) -> Vec<String> {
    let evaluation_interval_ms = if file.evaluation_interval_ms == 0 { 60_000 } else { file.evaluation_interval_ms };
    let mut order: BTreeMap<&str, usize> = BTreeMap::new();
    for (idx, name) in file.group_eval_order.iter().enumerate() {
        if order.insert(name, idx).is_some() {
            return vec![format!("group name repeated in evaluation order: {name}")];
        }
    }
    let mut sources = Vec::new();
    for pattern in &file.rule_files {
        let matched = rule_files(pattern);
        if matched.is_empty() {
            stderr.push_str(&format!("  WARNING: no file match pattern {pattern}\n"));
        }
        sources.extend(matched);
    }
    let mut groups: Vec<Group> = Vec::new();
    let mut errors = Vec::new();
    for source in &sources {
        match &source.text {
            Ok(text) => match load_rule_file(&source.path, text) {
                Ok(rule_file) => groups.extend(rule_file.groups),
                Err(error) => errors.push(error.to_string()),
            },
            Err(error) => errors.push(format!("{path}: open {path}: {error}", path = source.path)),
        }
    }
    if !errors.is_empty() {
        return errors;
    }
    groups.sort_by_key(|group| order.get(group.name.as_str()).copied().unwrap_or(0));
    let mut errors = Vec::new();
    for test in &file.tests {
        errors.extend(run_test_group(test, &groups, evaluation_interval_ms));
    }
    errors
}

fn run_test_group(test: &TestGroup, groups: &[Group], evaluation_interval_ms: i64) -> Vec<String> {
    let interval_ms = match test.interval_ms {
        Some(ms) if ms != 0 => ms,
        _ => evaluation_interval_ms,
    };
    let mut inputs: Vec<(Labels, i64, f64)> = Vec::new();
    for (series, values) in &test.input_series {
        match series::expand(series, values, test.start_ms, interval_ms) {
            Ok(samples) => inputs.extend(samples),
            Err(error) => return vec![error.to_string()],
        }
    }
    inputs.sort_by_key(|(_, t, _)| *t);
    let storage = MemoryStorage::default();
    let options = EvalOptions {
        external_labels: test.external_labels.clone(),
        external_url: test.external_url.clone(),
        query: QueryOptions { default_subquery_step_ms: evaluation_interval_ms, ..QueryOptions::default() },
    };
    let test_name = if test.name.is_empty() { String::new() } else { format!("    name: {},\n", test.name) };
    for alert_test in &test.alert_tests {
        if alert_test.alertname.is_empty() {
            let in_group = if test.name.is_empty() { String::new() } else { format!(" (in TestGroup {})", test.name) };
            return vec![format!(
                "an item under alert_rule_test misses required attribute alertname at eval_time {}{in_group}",
                format_duration(alert_test.eval_time_ms)
            )];
        }
    }
    let max_eval_ms = test
        .alert_tests
        .iter()
        .map(|a| a.eval_time_ms)
        .chain(test.promql_tests.iter().map(|p| p.eval_time_ms))
        .max()
        .unwrap_or(0);
    let mut alert_times: Vec<i64> = test.alert_tests.iter().map(|a| a.eval_time_ms).collect();
    alert_times.sort_unstable();
    alert_times.dedup();
    let mut next_alert_time = 0;
    let mut states: Vec<GroupState> = groups.iter().map(|_| GroupState::default()).collect();
    let mut errors = Vec::new();
    let mut loaded = 0;
    let mut offset = 0;
    while offset <= max_eval_ms {
        let ts = test.start_ms + offset;
        while loaded < inputs.len() && inputs[loaded].1 <= ts {
            let (labels, t, v) = &inputs[loaded];
            storage.add(labels.clone(), *t, *v);
            loaded += 1;
        }
        let mut eval_errors = Vec::new();
        for (group, state) in groups.iter().zip(states.iter_mut()) {
            if let Err(error) = eval_group(group, state, &storage, ts, &options) {
                eval_errors.push(format!("    {error}"));
            }
            for (rule, rule_state) in group.rules.iter().zip(&state.rules) {
                if let Some(error) = &rule_state.last_error {
                    eval_errors.push(format!(
                        "    rule: {}, time: {}, err: {error}",
                        rule.name,
                        format_go_duration(offset)
                    ));
                }
            }
        }
        if !eval_errors.is_empty() {
            errors.extend(eval_errors);
            return errors;
        }
        while next_alert_time < alert_times.len()
            && offset <= alert_times[next_alert_time]
            && alert_times[next_alert_time] < offset + evaluation_interval_ms
        {
            let at = alert_times[next_alert_time];
            for alert_test in test.alert_tests.iter().filter(|a| a.eval_time_ms == at) {
                let mut got: Vec<(Labels, Labels)> = Vec::new();
                for (group, state) in groups.iter().zip(&states) {
                    for (rule, rule_state) in group.rules.iter().zip(&state.rules) {
                        if rule.kind != RuleKind::Alerting || rule.name != alert_test.alertname {
                            continue;
                        }
                        for alert in rule_state.active.values().filter(|a| a.state == AlertState::Firing) {
                            got.push((alert.labels.clone(), pairs_labels(&alert.annotations)));
                        }
                    }
                }
                let mut exp: Vec<(Labels, Labels)> = alert_test
                    .exp_alerts
                    .iter()
                    .map(|(labels, annotations)| {
                        let mut labels = labels.clone();
                        labels.insert("alertname".to_owned(), alert_test.alertname.clone());
                        (Labels::new(labels), Labels::new(annotations.clone()))
                    })
                    .collect();
                got.sort();
                exp.sort();
                if got != exp {
                    errors.push(format!(
                        "{test_name}    alertname: {}, time: {}, \n        exp:{}, \n        got:{}",
                        alert_test.alertname,
                        format_duration(alert_test.eval_time_ms),
                        indent_lines(&alerts_string(&exp), "            "),
                        indent_lines(&alerts_string(&got), "            ")
                    ));
                }
            }
            next_alert_time += 1;
        }
        offset += evaluation_interval_ms;
    }
    'tests: for promql_test in &test.promql_tests {
        let at = format_duration(promql_test.eval_time_ms);
        let expr_q = gofmt::quote(&promql_test.expr);
        let got = match ferry_promql::instant_query(
            &storage,
            &promql_test.expr,
            test.start_ms + promql_test.eval_time_ms,
            &options.query,
        ) {
            Ok(QueryValue::Vector(samples)) => samples.into_iter().map(|s| (s.labels, s.v)).collect::<Vec<_>>(),
            Ok(QueryValue::Scalar { v, .. }) => vec![(Labels::default(), v)],
            Ok(_) => {
                errors.push(format!("    expr: {expr_q}, time: {at}, err: rule result is not a vector or scalar"));
                continue;
            }
            Err(error) => {
                errors.push(format!("    expr: {expr_q}, time: {at}, err: {error}"));
                continue;
            }
        };
        let mut exp = Vec::new();
        for (labels, value) in &promql_test.exp_samples {
            match series::parse_metric(labels) {
                Ok(labels) => exp.push((labels, *value)),
                Err(error) => {
                    errors
                        .push(format!("    expr: {expr_q}, time: {at}, err: labels {}: {error}", gofmt::quote(labels)));
                    continue 'tests;
                }
            }
        }
        let mut got = got;
        got.sort_by(|a, b| a.0.cmp(&b.0));
        exp.sort_by(|a, b| a.0.cmp(&b.0));
        // reflect.DeepEqual: NaN equals nothing; a nil and an empty list are different, but both
        // print as nil and promtool makes both nil here.
        let equal = got.len() == exp.len() && got.iter().zip(&exp).all(|(g, e)| g.0 == e.0 && g.1 == e.1);
        if !equal {
            errors.push(format!(
                "    expr: {expr_q}, time: {at},\n        exp: {}\n        got: {}",
                samples_string(&exp),
                samples_string(&got)
            ));
        }
    }
    errors
}

fn pairs_labels(pairs: &[(String, String)]) -> Labels {
    Labels::new(pairs.iter().map(|(k, v)| (k.as_str(), v.as_str())))
}

/// Go's `labels.Labels.String`: `{a="1", b="2"}`, `__name__` among the others.
pub fn go_labels(labels: &Labels) -> String {
    let parts: Vec<String> = labels.iter().map(|(name, value)| format!("{name}={}", gofmt::quote(value))).collect();
    format!("{{{}}}", parts.join(", "))
}

fn samples_string(samples: &[(Labels, f64)]) -> String {
    if samples.is_empty() {
        return "nil".to_owned();
    }
    let parts: Vec<String> =
        samples.iter().map(|(labels, v)| format!("{} {}", go_labels(labels), gofmt::float_upper_e(*v))).collect();
    parts.join(", ")
}

fn alerts_string(alerts: &[(Labels, Labels)]) -> String {
    if alerts.is_empty() {
        return "[]".to_owned();
    }
    let mut out = String::from("[\n");
    for (idx, (labels, annotations)) in alerts.iter().enumerate() {
        if idx > 0 {
            out.push_str(",\n");
        }
        let body = format!("\nLabels:{}\nAnnotations:{}", go_labels(labels), go_labels(annotations));
        out.push_str(&format!("{idx}:{}", indent_lines(&body, "  ")));
    }
    out.push_str("\n]");
    out
}

fn indent_lines(text: &str, indent: &str) -> String {
    let lines: Vec<&str> = text.split('\n').collect();
    let mut out = String::new();
    for (idx, line) in lines.iter().enumerate() {
        if idx > 0 {
            out.push_str(indent);
        }
        out.push_str(line);
        if idx != lines.len() - 1 {
            out.push('\n');
        }
    }
    out
}
