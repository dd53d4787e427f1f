//! `environments:`: each environment's gates (`after`, `approvals`, `branches`), where it runs
//! (`hosts`, `bind`), how long a deployment is verified (`verify`) and whether a spent error
//! budget holds it (`error-budget`).

use ferry_workflow::yaml::Node;
use ferry_workflow::yaml::Reader as _;

use super::Cx;
use crate::spec::{DEFAULT_BIND, DEFAULT_VERIFY_MS, Environment, ErrorBudgetPolicy};

const KEYS: &[&str] =
    &["auto-deploy", "after", "approvals", "branches", "hosts", "bind", "verify", "trusted-proxies", "error-budget"];

/// Most approvals an environment may ask for.
const MAX_APPROVALS: u64 = 100;

pub(super) fn read_all(cx: &mut Cx, node: &Node) -> Vec<Environment> {
    let mut environments: Vec<Environment> = Vec::new();
    for entry in cx.map(node, "environments") {
        let Some(name) = cx.key(entry) else { continue };
        if environments.iter().any(|environment| environment.name == name) {
            continue;
        }
        cx.name(entry, name, "environment");
        cx.sites.environments.push((name.to_owned(), entry.key.span));
        environments.push(read(cx, name, &entry.value));
    }
    environments
}

fn read(cx: &mut Cx, name: &str, node: &Node) -> Environment {
    let mut environment = Environment {
        name: name.to_owned(),
        auto_deploy: false,
        after: Vec::new(),
        approvals: 0,
        branches: Vec::new(),
        hosts: Vec::new(),
        bind: DEFAULT_BIND.to_owned(),
        verify_ms: DEFAULT_VERIFY_MS,
        trusted_proxies: Vec::new(),
        error_budget: ErrorBudgetPolicy::None,
    };
    let context = format!("environment `{name}`");
    let mut seen = Vec::new();
    for entry in cx.map(node, &context) {
        let Some(key) = cx.key(entry) else { continue };
        if seen.contains(&key) {
            continue;
        }
        seen.push(key);
        let value = &entry.value;
        match key {
            "auto-deploy" => environment.auto_deploy = cx.bool(value, "auto-deploy").unwrap_or(false),
            "after" => {
                for (after, span) in cx.spanned_texts(value, "after") {
                    cx.sites.after.push((name.to_owned(), after.clone(), span));
                    if !environment.after.contains(&after) {
                        environment.after.push(after);
                    }
                }
            }
            "approvals" => {
                environment.approvals = cx.number(value, "approvals", 0, MAX_APPROVALS).unwrap_or(0) as u32;
            }
            "branches" => {
                for (pattern, span) in cx.spanned_texts(value, "branches") {
                    if let Err(error) = ferry_workflow::filter::validate_pattern(&pattern) {
                        cx.error(
                            "bad-pattern",
                            span,
                            format!("the branch pattern `{pattern}` is not valid: {error}"),
                            "write a branch name or a pattern such as `release/*`",
                        );
                    }
                    environment.branches.push(pattern);
                }
            }
            "hosts" => environment.hosts = cx.texts(value, "hosts"),
            "bind" => {
                if let Some(bind) = cx.text(value, "bind") {
                    if bind.parse::<core::net::IpAddr>().is_err() {
                        cx.error(
                            "bad-address",
                            value.span,
                            format!("`bind` must be an IP address, found `{bind}`"),
                            "write `127.0.0.1` (this host only), `0.0.0.0` (every interface) or another address of the host",
                        );
                    } else {
                        environment.bind = bind;
                    }
                }
            }
            "trusted-proxies" => {
                for (address, span) in cx.spanned_texts(value, "trusted-proxies") {
                    if address.parse::<core::net::IpAddr>().is_err() {
                        cx.error(
                            "bad-address",
                            span,
                            format!("`trusted-proxies` lists IP addresses, found `{address}`"),
                            "write the address a load balancer in front of this host connects from, such as `10.0.0.5`",
                        );
                    } else if !environment.trusted_proxies.contains(&address) {
                        environment.trusted_proxies.push(address);
                    }
                }
            }
            "error-budget" => {
                environment.error_budget = match cx.text(value, "error-budget").as_deref() {
                    Some("hold") => ErrorBudgetPolicy::Hold,
                    Some("approval") => ErrorBudgetPolicy::Approval,
                    Some("none") | None => ErrorBudgetPolicy::None,
                    Some(other) => {
                        cx.error(
                            "unknown-error-budget",
                            value.span,
                            format!("unknown `error-budget` `{other}` in environment `{name}`"),
                            "write `hold` (a deployment waits while an SLO of its service has spent its budget \
                             here), `approval` (it waits for one approval instead) or `none`",
                        );
                        ErrorBudgetPolicy::None
                    }
                };
            }
            "verify" => environment.verify_ms = cx.duration(value, "verify").unwrap_or(DEFAULT_VERIFY_MS),
            _ => cx.unknown_key(entry, key, KEYS, &context),
        }
    }
    environment
}
