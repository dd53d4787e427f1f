//! The frame every page shares: head (stylesheet, scripts), the top bar with breadcrumbs and
//! who is logged in, and the flash line scripts write errors into.

use maud::{DOCTYPE, Markup, html};

use super::{Session, assets};

/// A page titled `title`, with breadcrumbs (label, link) after "Projects".
pub(super) fn page(title: &str, session: Option<&Session>, crumbs: &[(&str, &str)], body: Markup) -> Markup {
    html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { (title) " · Ferry" }
                link rel="icon" href="data:,";
                link rel="stylesheet" href=(assets::url("ferry.css"));
                script src=(assets::url("log.js")) defer {}
                script src=(assets::url("app.js")) defer {}
            }
            body {
                header.top {
                    a.brand href="/" { "Ferry" }
                    @if let Some(session) = session {
                        nav.crumbs {
                            a href="/" { "Projects" }
                            @for (label, href) in crumbs {
                                span.sep { "/" }
                                a href=(href) { (label) }
                            }
                        }
                        a.nav-metrics #alerts-link href="/ui/alerts" { "Alerts" }
                        a.nav-metrics #metrics-link href="/ui/metrics" { "Metrics" }
                        span.who title=(format!("token {:?}", session.0.name)) {
                            (session.0.name) " · " (session.0.role.as_str())
                        }
                        form.logout method="post" action="/logout" {
                            button.link type="submit" { "Log out" }
                        }
                    }
                }
                main {
                    div #flash .flash role="alert" hidden {}
                    (body)
                }
            }
        }
    }
}
