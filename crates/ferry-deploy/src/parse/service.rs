//! `services:`: how each service runs (`run` or `image`, `env`), is checked (`health`), gets
//! its releases (`release`), and is deployed to each environment (`deploy`, with its strategy
//! and analysis), and what it promises (`slos`, read in `slo.rs`).

use ferry_proto::agent::{
    AnalysisQuery, AnalysisSpec, CanaryStep, HealthSpec, MetricsSpec, Probe, ProcessSpec, StrategySpec, TlsFiles,
};
use ferry_workflow::Span;
use ferry_workflow::yaml::Reader as _;
use ferry_workflow::yaml::{Entry, Node, NodeKind};

use super::Cx;
use crate::queries::{self, DEFAULT_INTERVAL_MS, MIN_INTERVAL_MS, PLACEHOLDERS, QueryCheckError};
use crate::spec::{
    DEFAULT_DRAIN_TIMEOUT_MS, DEFAULT_KEEP_OLD_MS, DEFAULT_MAX_SURGE, DEFAULT_MAX_UNAVAILABLE,
    DEFAULT_METRICS_INTERVAL_MS, DEFAULT_METRICS_TIMEOUT_MS, DEFAULT_MIN_REQUESTS, DEFAULT_REPLICAS,
    DEFAULT_RESPONSE_TIMEOUT_MS, DEFAULT_STOP_GRACE_MS, MAX_REPLICAS, ReleaseRule, Service, ServiceDeploy,
    default_health,
};

const KEYS: &[&str] = &["run", "image", "env", "health", "release", "deploy", "metrics", "owner", "slos"];
const METRICS_KEYS: &[&str] = &["path", "interval", "timeout"];
const IMAGE_KEYS: &[&str] = &["archive"];
const HEALTH_KEYS: &[&str] =
    &["http", "tcp", "command", "interval", "timeout", "healthy-after", "unhealthy-after", "start-timeout"];
const RELEASE_KEYS: &[&str] = &["workflow", "job", "artifact", "branch"];
const DEPLOY_KEYS: &[&str] = &[
    "port",
    "replicas",
    "strategy",
    "max-surge",
    "max-unavailable",
    "keep-old",
    "canary",
    "analysis",
    "drain-timeout",
    "response-timeout",
    "stop-grace",
    "tls",
];
const TLS_KEYS: &[&str] = &["cert", "key"];
const STRATEGIES: &[&str] = &["recreate", "rolling", "blue-green", "canary"];
const ANALYSIS_KEYS: &[&str] = &["max-error-rate", "max-p99-latency", "min-requests", "queries"];
const QUERY_KEYS: &[&str] =
    &["name", "query", "interval", "success", "failure", "failure-limit", "inconclusive-limit", "count"];
/// The most a `failure-limit`, `inconclusive-limit` or `count` may be.
const MAX_MEASURE_COUNT: u64 = 10_000;

pub(super) fn read_all(cx: &mut Cx, node: &Node) -> Vec<Service> {
    let mut services: Vec<Service> = Vec::new();
    for entry in cx.map(node, "services") {
        let Some(name) = cx.key(entry) else { continue };
        if services.iter().any(|service| service.name == name) {
            continue;
        }
        cx.name(entry, name, "service");
        services.push(read(cx, entry, name));
    }
    services
}

/// The entries of a mapping, each key once (the YAML reader reported duplicates already).
pub(super) fn fields<'n>(cx: &mut Cx, node: &'n Node, context: &str) -> Vec<(&'n str, &'n Entry)> {
    let mut fields: Vec<(&str, &Entry)> = Vec::new();
    for entry in cx.map(node, context) {
        if let Some(key) = cx.key(entry)
            && !fields.iter().any(|(seen, _)| *seen == key)
        {
            fields.push((key, entry));
        }
    }
    fields
}

fn read(cx: &mut Cx, service_entry: &Entry, name: &str) -> Service {
    let context = format!("service `{name}`");
    let mut run: Option<(String, Span)> = None;
    let mut image: Option<(ProcessSpec, Span)> = None;
    let mut service = Service {
        name: name.to_owned(),
        process: ProcessSpec::Run { command: String::new() },
        env: Default::default(),
        health: default_health(),
        release: None,
        deploy: Vec::new(),
        metrics: None,
        owner: None,
        slos: Vec::new(),
    };
    for (key, entry) in fields(cx, &service_entry.value, &context) {
        let value = &entry.value;
        match key {
            "run" => run = cx.text(value, "run").map(|text| (text, entry.key.span)),
            "image" => image = image_spec(cx, value, name).map(|spec| (spec, entry.key.span)),
            "env" => service.env = cx.text_map(value, "env"),
            "health" => service.health = health(cx, value, name),
            "release" => service.release = release(cx, value, name),
            "deploy" => service.deploy = deploys(cx, value, name),
            "metrics" => service.metrics = metrics(cx, value, name),
            "owner" => service.owner = cx.text(value, "owner"),
            "slos" => service.slos = super::slo::read_all(cx, value, name),
            _ => cx.unknown_key(entry, key, KEYS, &context),
        }
    }
    service.process = match (run, image) {
        (Some((command, _)), None) => ProcessSpec::Run { command },
        (None, Some((image, _))) => image,
        (Some((command, _)), Some((_, image_span))) => {
            cx.error(
                "run-or-image",
                image_span,
                format!("service `{name}` gives both `run:` and `image:`"),
                "keep one: `run:` starts a command in the release's folder, `image:` runs a Docker image",
            );
            ProcessSpec::Run { command }
        }
        (None, None) => {
            cx.error(
                "run-or-image",
                service_entry.key.span,
                format!("service `{name}` gives neither `run:` nor `image:`"),
                "add `run: COMMAND` (started in the release's folder, listening on $PORT), `image: NAME:TAG` \
                 or `image: { archive: FILE }` (a `docker save` archive in the release's files)",
            );
            ProcessSpec::Run { command: String::new() }
        }
    };
    if !cx.sites.deploys.iter().any(|(service, _, _)| service == name) {
        cx.warning(
            "not-deployed",
            service_entry.key.span,
            format!("service `{name}` is not deployed anywhere"),
            "add `deploy:` with an environment, e.g. `deploy: { staging: { port: 8001 } }`",
        );
    }
    service
}

/// `image:`: a reference the engine has (`name:tag`, `name@sha256:…`), or `{ archive: FILE }`,
/// a `docker save` archive among the release's files, loaded by the agent. A mistake is
/// reported and still gives an image (the best model), so `run-or-image` does not follow.
fn image_spec(cx: &mut Cx, node: &Node, service: &str) -> Option<ProcessSpec> {
    if node.as_map().is_none() {
        let reference = cx.text(node, "image")?;
        image_reference(cx, node.span, &reference, service);
        return Some(ProcessSpec::Image { image: reference, archive: None });
    }
    let context = format!("the image of `{service}`");
    let mut archive = None;
    for (key, entry) in fields(cx, node, &context) {
        match key {
            "archive" => archive = cx.text(&entry.value, "archive").map(|path| (path, entry.value.span)),
            _ => cx.unknown_key(entry, key, IMAGE_KEYS, &context),
        }
    }
    let Some((path, span)) = archive else {
        cx.error(
            "image-archive",
            node.span,
            format!("{context} gives no `archive:`"),
            "name the release's file that holds the image, e.g. `image: { archive: web.tar }` \
             (made with `docker save -o web.tar IMAGE`), or give a reference: `image: web:1`",
        );
        return Some(ProcessSpec::Image { image: String::new(), archive: None });
    };
    let escapes = path.split('/').any(|part| part == "..");
    if path.is_empty() || path.starts_with('/') || escapes {
        cx.error(
            "image-archive",
            span,
            format!("the archive of `{service}` must be a path inside the release's files, found `{path}`"),
            "give the file's path relative to the release's folder, e.g. `web.tar` or `dist/web.tar`",
        );
    }
    Some(ProcessSpec::Image { image: path.clone(), archive: Some(path) })
}

/// Checks what can be told of a reference without a registry: no spaces or upper case in the
/// name, and a tag or digest (an untagged reference runs whatever `latest` is on the host).
fn image_reference(cx: &mut Cx, span: Span, reference: &str, service: &str) {
    let (name, pinned) = match reference.split_once('@') {
        Some((name, _)) => (name, true),
        None => match reference.rsplit_once(':') {
            // `host:5000/name` has a colon before a slash: that is a port, not a tag.
            Some((name, tag)) if !tag.contains('/') => (name, true),
            _ => (reference, false),
        },
    };
    let bad = name.is_empty()
        || reference.chars().any(char::is_whitespace)
        || name
            .split('/')
            .skip(usize::from(name.contains('/')))
            .any(|part| part.chars().any(|c| c.is_ascii_uppercase()));
    if bad {
        cx.error(
            "image-reference",
            span,
            format!("`{reference}` is not an image reference (service `{service}`)"),
            "write `name:tag` in lower case without spaces, e.g. `web:1` or `registry.example.com/team/web:1.2`; \
             for an image saved into the release's files, write `image: { archive: web.tar }`",
        );
    } else if !pinned {
        cx.warning(
            "image-tag",
            span,
            format!(
                "image `{reference}` of `{service}` has no tag: every release runs whatever `latest` is on the host"
            ),
            format!("pin the image, e.g. `{reference}:1.2`, or `{reference}@sha256:…`"),
        );
    }
}

fn health(cx: &mut Cx, node: &Node, service: &str) -> HealthSpec {
    let mut health = default_health();
    let context = format!("the health check of `{service}`");
    let mut probes: Vec<(Probe, Span)> = Vec::new();
    for (key, entry) in fields(cx, node, &context) {
        let value = &entry.value;
        match key {
            "http" => {
                if let Some(path) = cx.text(value, "http") {
                    if !path.starts_with('/') {
                        cx.error(
                            "bad-health",
                            value.span,
                            format!("`http` must be a path starting with `/`, found `{path}`"),
                            "write the path the check requests on the replica, e.g. `/healthz`",
                        );
                    }
                    probes.push((Probe::Http { path }, entry.key.span));
                }
            }
            "tcp" => {
                if cx.bool(value, "tcp") == Some(true) {
                    probes.push((Probe::Tcp, entry.key.span));
                }
            }
            "command" => {
                if let Some(command) = cx.text(value, "command") {
                    probes.push((Probe::Command { command }, entry.key.span));
                }
            }
            "interval" => health.interval_ms = cx.duration(value, "interval").unwrap_or(health.interval_ms),
            "timeout" => health.timeout_ms = cx.duration(value, "timeout").unwrap_or(health.timeout_ms),
            "healthy-after" => {
                health.healthy_after =
                    cx.number(value, "healthy-after", 1, 1_000).map_or(health.healthy_after, |n| n as u32);
            }
            "unhealthy-after" => {
                health.unhealthy_after =
                    cx.number(value, "unhealthy-after", 1, 1_000).map_or(health.unhealthy_after, |n| n as u32);
            }
            "start-timeout" => {
                health.start_timeout_ms = cx.duration(value, "start-timeout").unwrap_or(health.start_timeout_ms);
            }
            _ => cx.unknown_key(entry, key, HEALTH_KEYS, &context),
        }
    }
    if health.interval_ms == 0 {
        cx.error(
            "bad-health",
            node.span,
            format!("the health check of `{service}` has an interval of 0"),
            "give `interval:` a duration of at least 1ms, e.g. `1s`",
        );
        health.interval_ms = 1;
    }
    let mut probes = probes.into_iter();
    if let Some((probe, _)) = probes.next() {
        health.probe = probe;
    }
    for (_, span) in probes {
        cx.error(
            "bad-health",
            span,
            format!("the health check of `{service}` gives more than one of `http`, `tcp` and `command`"),
            "keep one kind of check",
        );
    }
    health
}

/// `metrics:`: the path the agents scrape on each replica (`metrics: /metrics`), or
/// `{ path, interval, timeout }`; a timeout longer than the interval is cut to it, as
/// Prometheus refuses one.
fn metrics(cx: &mut Cx, node: &Node, service: &str) -> Option<MetricsSpec> {
    let mut spec = MetricsSpec {
        path: "/metrics".to_owned(),
        interval_ms: DEFAULT_METRICS_INTERVAL_MS,
        timeout_ms: DEFAULT_METRICS_TIMEOUT_MS,
    };
    let mut path_node = node;
    let mut timeout_node = None;
    if node.as_map().is_some() {
        let context = format!("the metrics of `{service}`");
        for (key, entry) in fields(cx, node, &context) {
            let value = &entry.value;
            match key {
                "path" => {
                    path_node = value;
                    spec.path = cx.text(value, "path")?;
                }
                "interval" => spec.interval_ms = cx.duration(value, "interval").unwrap_or(spec.interval_ms),
                "timeout" => {
                    timeout_node = Some(value);
                    spec.timeout_ms = cx.duration(value, "timeout").unwrap_or(spec.timeout_ms);
                }
                _ => cx.unknown_key(entry, key, METRICS_KEYS, &context),
            }
        }
    } else {
        spec.path = cx.text(node, "metrics")?;
    }
    if !spec.path.starts_with('/') {
        cx.error(
            "bad-metrics",
            path_node.span,
            format!("the metrics path of `{service}` must start with `/`, found `{}`", spec.path),
            "write the path the agent requests on each replica, e.g. `metrics: /metrics`",
        );
        return None;
    }
    if spec.interval_ms < 1_000 {
        cx.error(
            "bad-metrics",
            node.span,
            format!(
                "the metrics of `{service}` are scraped every {} ms; the shortest interval is 1s",
                spec.interval_ms
            ),
            "give `interval:` a duration of at least 1s, e.g. `15s`",
        );
        spec.interval_ms = 1_000;
    }
    if spec.timeout_ms == 0 || spec.timeout_ms > spec.interval_ms {
        let timeout_given = timeout_node.is_some();
        if timeout_given || spec.timeout_ms == 0 {
            cx.error(
                "bad-metrics",
                timeout_node.map_or(node.span, |value| value.span),
                format!(
                    "the metrics timeout of `{service}` must be longer than 0 and at most its interval ({} ms)",
                    spec.interval_ms
                ),
                "give `timeout:` a duration no longer than `interval:`, e.g. `interval: 15s, timeout: 10s`",
            );
        }
        spec.timeout_ms = spec.interval_ms;
    }
    Some(spec)
}

fn release(cx: &mut Cx, node: &Node, service: &str) -> Option<ReleaseRule> {
    let context = format!("the release of `{service}`");
    let (mut workflow, mut job, mut artifact, mut branch) = (None, None, None, None);
    for (key, entry) in fields(cx, node, &context) {
        let value = &entry.value;
        match key {
            "workflow" => workflow = cx.text(value, "workflow"),
            "job" => job = cx.text(value, "job"),
            "artifact" => artifact = cx.text(value, "artifact"),
            "branch" => branch = cx.text(value, "branch"),
            _ => cx.unknown_key(entry, key, RELEASE_KEYS, &context),
        }
    }
    let Some(workflow) = workflow else {
        cx.error(
            "missing-key",
            node.span,
            format!("the release of `{service}` names no `workflow:`"),
            "name the workflow file whose successful runs make releases, e.g. `workflow: ci.yml`",
        );
        return None;
    };
    Some(ReleaseRule { workflow, job, artifact: artifact.unwrap_or_else(|| service.to_owned()), branch })
}

fn deploys(cx: &mut Cx, node: &Node, service: &str) -> Vec<ServiceDeploy> {
    let mut deploys: Vec<ServiceDeploy> = Vec::new();
    for (environment, entry) in fields(cx, node, &format!("the deploy of `{service}`")) {
        cx.sites.deploys.push((service.to_owned(), environment.to_owned(), entry.key.span));
        if let Some(deploy) = deploy(cx, entry, service, environment) {
            deploys.push(deploy);
        }
    }
    deploys
}

/// A strategy's own keys, as written, before we know which strategy it is.
#[derive(Default)]
struct StrategyFields<'n> {
    max_surge: Option<&'n Entry>,
    max_unavailable: Option<&'n Entry>,
    keep_old: Option<&'n Entry>,
    canary: Option<&'n Entry>,
}

fn deploy(cx: &mut Cx, deploy_entry: &Entry, service: &str, environment: &str) -> Option<ServiceDeploy> {
    let context = format!("the deploy of `{service}` to `{environment}`");
    let mut port = None;
    let mut replicas = DEFAULT_REPLICAS;
    let mut strategy_name: Option<(String, &Node)> = None;
    let mut strategy_fields = StrategyFields::default();
    let mut analysis_spec = None;
    let mut drain_timeout_ms = DEFAULT_DRAIN_TIMEOUT_MS;
    let mut stop_grace_ms = DEFAULT_STOP_GRACE_MS;
    let mut response_timeout_ms = DEFAULT_RESPONSE_TIMEOUT_MS;
    let mut tls_files = Vec::new();
    for (key, entry) in fields(cx, &deploy_entry.value, &context) {
        let value = &entry.value;
        match key {
            "port" => {
                cx.sites.ports.push((service.to_owned(), environment.to_owned(), value.span));
                port = port_number(cx, value);
            }
            "replicas" => {
                replicas = cx.number(value, "replicas", 1, u64::from(MAX_REPLICAS)).map_or(replicas, |n| n as u32);
            }
            "strategy" => strategy_name = cx.text(value, "strategy").map(|name| (name, value)),
            "max-surge" => strategy_fields.max_surge = Some(entry),
            "max-unavailable" => strategy_fields.max_unavailable = Some(entry),
            "keep-old" => strategy_fields.keep_old = Some(entry),
            "canary" => strategy_fields.canary = Some(entry),
            "analysis" => analysis_spec = analysis(cx, value, service, environment),
            "drain-timeout" => drain_timeout_ms = cx.duration(value, "drain-timeout").unwrap_or(drain_timeout_ms),
            "response-timeout" => {
                response_timeout_ms = match cx.duration(value, "response-timeout") {
                    Some(0) => {
                        cx.error(
                            "bad-duration",
                            value.span,
                            "`response-timeout` must be longer than 0 s",
                            "give the longest a replica may take to begin an answer, such as `60s`",
                        );
                        response_timeout_ms
                    }
                    Some(ms) => ms,
                    None => response_timeout_ms,
                }
            }
            "stop-grace" => stop_grace_ms = cx.duration(value, "stop-grace").unwrap_or(stop_grace_ms),
            "tls" => tls_files = tls(cx, value, &context),
            _ => cx.unknown_key(entry, key, DEPLOY_KEYS, &context),
        }
    }
    let strategy = strategy(cx, strategy_name, &strategy_fields, replicas, &context);
    let Some(port) = port else {
        if !deploy_entry.value.as_map().is_some_and(|entries| entries.iter().any(|e| e.key.as_str() == Some("port"))) {
            cx.error(
                "missing-key",
                deploy_entry.key.span,
                format!("{context} gives no `port:`"),
                "add `port: N`, the public port Ferry's proxy serves the service on in this environment",
            );
        }
        return None;
    };
    Some(ServiceDeploy {
        environment: environment.to_owned(),
        port,
        replicas,
        strategy,
        analysis: analysis_spec,
        drain_timeout_ms,
        stop_grace_ms,
        response_timeout_ms,
        tls: tls_files,
    })
}

/// `tls:`: one `{ cert: FILE, key: FILE }` or a list of them, absolute paths on the agent's
/// host.
fn tls(cx: &mut Cx, node: &Node, context: &str) -> Vec<TlsFiles> {
    let items: Vec<&Node> = match &node.kind {
        NodeKind::Seq(items) => items.iter().collect(),
        NodeKind::Map(_) => vec![node],
        _ => {
            cx.wrong_type(node, "tls", "`{ cert: FILE, key: FILE }` or a list of them");
            return Vec::new();
        }
    };
    let context = format!("`tls` of {context}");
    let mut files = Vec::new();
    for item in items {
        let (mut cert, mut key) = (None, None);
        for (name, entry) in fields(cx, item, &context) {
            let slot = match name {
                "cert" => &mut cert,
                "key" => &mut key,
                _ => {
                    cx.unknown_key(entry, name, TLS_KEYS, &context);
                    continue;
                }
            };
            let Some(path) = cx.text(&entry.value, name) else { continue };
            if !path.starts_with('/') {
                cx.error(
                    "tls-path",
                    entry.value.span,
                    format!("`{name}` must be an absolute path on the agent's host, found `{path}`"),
                    "give the PEM file's full path, such as `/etc/ferry/tls/example.com/fullchain.pem`",
                );
                continue;
            }
            *slot = Some(path);
        }
        for (name, given) in [("cert", cert.is_some()), ("key", key.is_some())] {
            let written = item.as_map().is_some_and(|entries| entries.iter().any(|e| e.key.as_str() == Some(name)));
            if !given && !written {
                cx.error(
                    "missing-key",
                    item.span,
                    format!("{context} gives no `{name}:`"),
                    "give both files: `tls: { cert: /path/fullchain.pem, key: /path/privkey.pem }`",
                );
            }
        }
        if let (Some(cert), Some(key)) = (cert, key) {
            files.push(TlsFiles { cert, key });
        }
    }
    files
}

fn port_number(cx: &mut Cx, node: &Node) -> Option<u16> {
    match node.as_f64() {
        Some(value) if value.fract() == 0.0 && (1.0..=65535.0).contains(&value) => Some(value as u16),
        Some(_) => {
            cx.error(
                "port-range",
                node.span,
                format!("port {} is outside 1–65535", node.as_str().unwrap_or_default()),
                "give a TCP port from 1 to 65535 (above 1023 needs no privileges)",
            );
            None
        }
        None => {
            cx.error(
                "port-range",
                node.span,
                format!("`port` must be a number, found {}", node.describe()),
                "give a TCP port from 1 to 65535, without quotes",
            );
            None
        }
    }
}

fn strategy(
    cx: &mut Cx,
    name: Option<(String, &Node)>,
    fields: &StrategyFields,
    replicas: u32,
    context: &str,
) -> StrategySpec {
    let (name, name_span) = match &name {
        Some((name, node)) => (name.as_str(), Some(node.span)),
        None => ("rolling", None),
    };
    let allowed: &[&str] = match name {
        "recreate" => &[],
        "rolling" => &["max-surge", "max-unavailable"],
        "blue-green" => &["keep-old"],
        "canary" => &["canary"],
        _ => {
            let help = match ferry_workflow::suggest::closest(name, STRATEGIES) {
                Some(candidate) => format!("did you mean `{candidate}`?"),
                None => format!("the strategies are: {}", STRATEGIES.join(", ")),
            };
            if let Some(span) = name_span {
                cx.error("unknown-strategy", span, format!("unknown strategy `{name}` in {context}"), help);
            }
            return StrategySpec::Rolling { max_surge: DEFAULT_MAX_SURGE, max_unavailable: DEFAULT_MAX_UNAVAILABLE };
        }
    };
    let owner = |key: &str| match key {
        "max-surge" | "max-unavailable" => "rolling",
        "keep-old" => "blue-green",
        _ => "canary",
    };
    for (key, entry) in [
        ("max-surge", fields.max_surge),
        ("max-unavailable", fields.max_unavailable),
        ("keep-old", fields.keep_old),
        ("canary", fields.canary),
    ] {
        if let Some(entry) = entry
            && !allowed.contains(&key)
        {
            cx.error(
                "misplaced-key",
                entry.key.span,
                format!("`{key}` belongs to the {} strategy, but {context} uses {name}", owner(key)),
                format!("remove `{key}`, or set `strategy: {}`", owner(key)),
            );
        }
    }
    match name {
        "recreate" => StrategySpec::Recreate,
        "rolling" => {
            let max_surge = fields
                .max_surge
                .and_then(|entry| cx.number(&entry.value, "max-surge", 0, u64::from(MAX_REPLICAS)))
                .map_or(DEFAULT_MAX_SURGE, |n| n as u32);
            let max_unavailable = fields
                .max_unavailable
                .and_then(|entry| cx.number(&entry.value, "max-unavailable", 0, u64::from(MAX_REPLICAS)))
                .map_or(DEFAULT_MAX_UNAVAILABLE, |n| n as u32);
            if max_surge == 0 && max_unavailable == 0 {
                let span = fields.max_surge.or(fields.max_unavailable).map(|entry| entry.value.span);
                if let Some(span) = span {
                    cx.error(
                        "bad-number",
                        span,
                        format!(
                            "{context} has `max-surge: 0` and `max-unavailable: 0`, so no replica can ever be replaced"
                        ),
                        "allow at least one: `max-surge: 1` starts a new replica before stopping an old one",
                    );
                }
                return StrategySpec::Rolling { max_surge: 1, max_unavailable: 0 };
            }
            if max_unavailable > replicas
                && let Some(entry) = fields.max_unavailable
            {
                cx.warning(
                    "bad-number",
                    entry.value.span,
                    format!("`max-unavailable: {max_unavailable}` is more than the {replicas} replicas of {context}"),
                    "at most every replica can be unavailable; lower it, or use `strategy: recreate`",
                );
            }
            StrategySpec::Rolling { max_surge, max_unavailable }
        }
        "blue-green" => {
            let keep_old_ms =
                fields.keep_old.and_then(|entry| cx.duration(&entry.value, "keep-old")).unwrap_or(DEFAULT_KEEP_OLD_MS);
            StrategySpec::BlueGreen { keep_old_ms }
        }
        _ => StrategySpec::Canary { steps: canary(cx, fields.canary, name_span, context) },
    }
}

fn canary(cx: &mut Cx, entry: Option<&Entry>, strategy_span: Option<Span>, context: &str) -> Vec<CanaryStep> {
    let help = "add `canary: { steps: [ { weight: 20, pause: 1m }, { weight: 50, pause: 1m } ] }`";
    let Some(entry) = entry else {
        if let Some(span) = strategy_span {
            cx.error(
                "canary-steps",
                span,
                format!("{context} uses the canary strategy but gives no `canary:` steps"),
                help,
            );
        }
        return Vec::new();
    };
    let mut steps_node = None;
    for (key, field) in fields(cx, &entry.value, "canary") {
        match key {
            "steps" => steps_node = Some(&field.value),
            _ => cx.unknown_key(field, key, &["steps"], "canary"),
        }
    }
    let items = match steps_node {
        Some(node) => match node.as_seq() {
            Some(items) => items,
            None => {
                if !node.is_null() {
                    cx.wrong_type(node, "steps", "a list of steps");
                }
                &[]
            }
        },
        None => &[],
    };
    if items.is_empty() {
        cx.error("canary-steps", entry.key.span, format!("the canary of {context} has no steps"), help);
        return Vec::new();
    }
    let mut steps = Vec::new();
    let mut previous = 0;
    for item in items {
        let mut weight = None;
        let mut pause_ms = 0;
        let mut weight_node = None;
        for (key, field) in fields(cx, item, "a canary step") {
            match key {
                "weight" => {
                    weight_node = Some(&field.value);
                    weight = field.value.as_f64().filter(|value| value.fract() == 0.0);
                }
                "pause" => pause_ms = cx.duration(&field.value, "pause").unwrap_or(0),
                _ => cx.unknown_key(field, key, &["weight", "pause"], "a canary step"),
            }
        }
        let Some(weight_node) = weight_node else {
            if item.as_map().is_some() || item.is_null() {
                cx.error(
                    "canary-weight",
                    item.span,
                    "a canary step gives no `weight:`",
                    "give the percent of requests the new release gets at this step, e.g. `weight: 20`",
                );
            }
            continue;
        };
        match weight {
            Some(weight) if (1.0..=100.0).contains(&weight) && weight as u32 > previous => {
                previous = weight as u32;
                steps.push(CanaryStep { weight: previous, pause_ms });
            }
            Some(weight) if (1.0..=100.0).contains(&weight) => cx.error(
                "canary-weight",
                weight_node.span,
                format!("canary weights must increase, but {weight} follows {previous}"),
                "give each step a larger weight than the step before it",
            ),
            _ => cx.error(
                "canary-weight",
                weight_node.span,
                format!(
                    "a canary weight must be a whole percent from 1 to 100, found {}",
                    super::describe_value(weight_node)
                ),
                "write the percent of requests the new release gets, e.g. `weight: 20`",
            ),
        }
    }
    steps
}

fn analysis(cx: &mut Cx, node: &Node, service: &str, environment: &str) -> Option<AnalysisSpec> {
    let context = format!("the analysis of `{service}` in `{environment}`");
    let mut spec = AnalysisSpec {
        max_error_rate: None,
        max_p99_latency_ms: None,
        min_requests: DEFAULT_MIN_REQUESTS,
        queries: Vec::new(),
    };
    let fields = fields(cx, node, &context);
    let has_limit = fields.iter().any(|(key, _)| matches!(*key, "max-error-rate" | "max-p99-latency" | "queries"));
    for (key, entry) in fields {
        let value = &entry.value;
        match key {
            "max-error-rate" => spec.max_error_rate = cx.fraction(value, "max-error-rate", 0.0, 1.0),
            "max-p99-latency" => {
                spec.max_p99_latency_ms = cx.duration(value, "max-p99-latency").map(|ms| ms as f64);
            }
            "min-requests" => {
                spec.min_requests = cx.number(value, "min-requests", 1, 1_000_000_000).unwrap_or(DEFAULT_MIN_REQUESTS);
            }
            "queries" => spec.queries = analysis_queries(cx, value, &context),
            _ => cx.unknown_key(entry, key, ANALYSIS_KEYS, &context),
        }
    }
    if !has_limit {
        cx.warning(
            "empty-analysis",
            node.span,
            format!("{context} sets no limit"),
            "add `max-error-rate:` (e.g. 0.05), `max-p99-latency:` (e.g. 500ms) or `queries:`",
        );
    }
    (spec.max_error_rate.is_some() || spec.max_p99_latency_ms.is_some() || !spec.queries.is_empty()).then_some(spec)
}

/// `queries:`: PromQL queries with conditions on their result (see [`crate::queries`]).
fn analysis_queries(cx: &mut Cx, node: &Node, context: &str) -> Vec<AnalysisQuery> {
    let Some(items) = node.as_seq() else {
        if !node.is_null() {
            cx.wrong_type(node, "queries", "a list of queries, each `{ name, query, success, failure }`");
        }
        return Vec::new();
    };
    let mut queries: Vec<AnalysisQuery> = Vec::new();
    for item in items {
        let Some(query) = analysis_query(cx, item, context) else { continue };
        if queries.iter().any(|seen| seen.name == query.name) {
            cx.error(
                "duplicate-query",
                item.span,
                format!("{context} has two queries named `{}`", query.name),
                "give each query its own name: it names the query's measurements and the reason of a rollback",
            );
            continue;
        }
        queries.push(query);
    }
    queries
}

fn analysis_query(cx: &mut Cx, item: &Node, context: &str) -> Option<AnalysisQuery> {
    if item.as_map().is_none() {
        cx.wrong_type(item, "a query", "a mapping `{ name, query, success, failure }`");
        return None;
    }
    let mut query = AnalysisQuery {
        name: String::new(),
        query: String::new(),
        interval_ms: DEFAULT_INTERVAL_MS,
        success: None,
        failure: None,
        failure_limit: 0,
        inconclusive_limit: 0,
        count: 0,
    };
    let (mut name, mut text) = (None, None);
    let what = format!("a query of {context}");
    for (key, entry) in fields(cx, item, &what) {
        let value = &entry.value;
        match key {
            "name" => {
                name = cx.text(value, "name");
                if let Some(name) = &name {
                    let valid = !name.is_empty()
                        && name.len() <= 100
                        && name.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'));
                    if !valid {
                        cx.error(
                            "bad-name",
                            value.span,
                            format!("`{name}` is not a valid query name"),
                            "use 1 to 100 letters, digits, `.`, `_` or `-`, such as `error-ratio`",
                        );
                    }
                }
            }
            "query" => {
                text = cx.text(value, "query");
                if let Some(text) = &text {
                    check_promql(cx, value.span, text);
                }
            }
            "interval" => {
                query.interval_ms = match cx.duration(value, "interval") {
                    Some(ms) if ms < MIN_INTERVAL_MS => {
                        cx.error(
                            "bad-duration",
                            value.span,
                            format!(
                                "a query's `interval` must be at least 1s, found {}",
                                crate::duration::format_duration(ms)
                            ),
                            "the server measures due queries once a second; write `interval: 1s` or longer",
                        );
                        MIN_INTERVAL_MS
                    }
                    Some(ms) => ms,
                    None => DEFAULT_INTERVAL_MS,
                }
            }
            "success" => query.success = condition(cx, value, "success"),
            "failure" => query.failure = condition(cx, value, "failure"),
            "failure-limit" => {
                query.failure_limit = cx.number(value, "failure-limit", 0, MAX_MEASURE_COUNT).map_or(0, |n| n as u32);
            }
            "inconclusive-limit" => {
                query.inconclusive_limit =
                    cx.number(value, "inconclusive-limit", 0, MAX_MEASURE_COUNT).map_or(0, |n| n as u32);
            }
            "count" => query.count = cx.number(value, "count", 0, MAX_MEASURE_COUNT).map_or(0, |n| n as u32),
            _ => cx.unknown_key(entry, key, QUERY_KEYS, &what),
        }
    }
    for (key, given) in [("name", name.is_some()), ("query", text.is_some())] {
        let written = item.as_map().is_some_and(|entries| entries.iter().any(|e| e.key.as_str() == Some(key)));
        if !given && !written {
            let help = match key {
                "name" => "name it, e.g. `name: error-ratio`",
                _ => {
                    "give the PromQL to measure, e.g. `query: sum(rate(http_requests_total{release=\"{{release}}\",code=~\"5..\"}[1m]))`"
                }
            };
            cx.error("missing-key", item.span, format!("{what} gives no `{key}:`"), help);
        }
    }
    query.name = name?;
    query.query = text?;
    Some(query)
}

/// Checks a query's placeholders and PromQL.
fn check_promql(cx: &mut Cx, span: Span, text: &str) {
    match queries::check_query(text) {
        Ok(()) => {}
        Err(QueryCheckError::Placeholder(error)) => cx.error(
            "unknown-placeholder",
            span,
            format!("the query has {error}"),
            format!(
                "the placeholders are {}",
                PLACEHOLDERS.iter().map(|name| format!("`{{{{{name}}}}}`")).collect::<Vec<_>>().join(", ")
            ),
        ),
        Err(QueryCheckError::Promql(message)) => cx.error(
            "bad-query",
            span,
            format!("the query is not PromQL: {message}"),
            "check it at /prometheus/api/v1/query (placeholders filled) or in the metrics explorer",
        ),
    }
}

/// A `success:` or `failure:` condition, kept as written once it parses.
fn condition(cx: &mut Cx, node: &Node, what: &str) -> Option<String> {
    let text = cx.text(node, what)?;
    match queries::parse_condition(&text) {
        Ok(_) => Some(text),
        Err(error) => {
            cx.error(
                "bad-condition",
                node.span,
                format!("`{what}: {text}` is not a condition: {error}"),
                "compare `result` with numbers (<, <=, >, >=, ==, !=), joined by `and` / `or`, e.g. `result < 0.01`",
            );
            None
        }
    }
}
