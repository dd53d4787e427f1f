//! The log of the commands that keep running (`ferry server`, `ferry runner`): `tracing` to
//! stderr, coloured only on a terminal without `NO_COLOR`, at the levels `FERRY_LOG` asks for
//! (`info` when unset).

use std::io::IsTerminal;

use anyhow::anyhow;
use tracing::Level;
use tracing_subscriber::filter::Targets;
use tracing_subscriber::prelude::*;

/// Starts the log.
///
/// # Errors
/// `FERRY_LOG` is set but is not a filter.
pub fn init() -> anyhow::Result<()> {
    let filter = filter(std::env::var("FERRY_LOG").ok().as_deref())?;
    let colour = std::io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none_or(|value| value.is_empty());
    tracing_subscriber::registry()
        .with(tracing_subscriber::fmt::layer().with_writer(std::io::stderr).with_ansi(colour))
        .with(filter)
        .init();
    Ok(())
}

/// The filter `spec` (a `FERRY_LOG` value) names: a level for everything, targets with their
/// levels, or both (`info,ferry_runner=debug`); `info` for everything when unset or blank.
fn filter(spec: Option<&str>) -> anyhow::Result<Targets> {
    match spec.map(str::trim) {
        None | Some("") => Ok(Targets::new().with_default(Level::INFO)),
        Some(spec) => spec.parse().map_err(|error| {
            anyhow!(
                "FERRY_LOG={spec:?} is not a log filter ({error}); give a level (`debug`), or targets \
                 with levels after a default (`info,ferry_runner=debug`); levels are error, warn, \
                 info, debug, trace and off"
            )
        }),
    }
}

#[cfg(test)]
mod tests;
