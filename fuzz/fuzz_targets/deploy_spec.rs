//! Fuzzes the deploy.yml compiler: any text must give a spec and diagnostics, never a panic,
//! and every diagnostic must point inside the text.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(src) = std::str::from_utf8(data) else { return };
    let (spec, diagnostics) = ferry_deploy::compile(src);
    for diagnostic in &diagnostics {
        assert!(diagnostic.span.start.offset <= src.len() && diagnostic.span.end.offset <= src.len());
    }
    // What the server does next with a spec must not panic either.
    if let Some(spec) = spec {
        for environment in &spec.environments {
            let _ = spec.environments_after(&environment.name);
            for (service, _) in spec.services_in(&environment.name) {
                let _ = spec.unit("p", &service.name, &environment.name, None);
            }
        }
    }
});
