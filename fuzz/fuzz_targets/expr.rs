//! Fuzzes the expression language: parsing and evaluating any text never panics.
#![no_main]

use ferry_workflow::expr::{self, Condition, Context, Template, Value};
use libfuzzer_sys::fuzz_target;

struct Fixed(serde_json::Map<String, Value>);

impl Context for Fixed {
    fn get(&self, name: &str) -> Option<&Value> {
        self.0.get(name)
    }
}

fuzz_target!(|data: &[u8]| {
    let Ok(src) = std::str::from_utf8(data) else { return };
    let contexts = serde_json::json!({
        "github": {"event": {"commits": [{"id": "a"}, {"id": "b"}]}, "ref": "refs/heads/main"},
        "matrix": {"os": "linux", "n": 3},
        "env": {"A": "1"},
    });
    let Value::Object(contexts) = contexts else { return };
    let ctx = Fixed(contexts);
    if let Ok(parsed) = expr::parse(src) {
        let _ = expr::evaluate(&parsed, &ctx);
        let _ = parsed.contexts();
    }
    if let Ok(template) = Template::parse(src) {
        let _ = template.render(&ctx);
    }
    if let Ok(condition) = Condition::parse(src) {
        let _ = condition.evaluate(&ctx);
    }
});
