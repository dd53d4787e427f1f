//! Table-driven tests of the expression language: each case is text, the job status where it
//! matters, and the expected JSON value or the expected error.

use ferry_model::JobStatus;
use serde_json::json;

use super::value::{format_number, parse_number};
use super::*;

/// Contexts over a JSON object, with a `hashFiles` that echoes its patterns.
struct TestContext {
    contexts: serde_json::Map<String, Value>,
    status: JobStatus,
}

impl Context for TestContext {
    fn get(&self, name: &str) -> Option<&Value> {
        self.contexts.get(name)
    }

    fn job_status(&self) -> JobStatus {
        self.status
    }

    fn hash_files(&self, patterns: &[String]) -> Result<String, HashFilesError> {
        if patterns.iter().any(|pattern| pattern == "fail") {
            return Err(HashFilesError("hashFiles found no files matching `fail`".to_owned()));
        }
        Ok(format!("hash({})", patterns.join("|")))
    }
}

fn test_context(status: JobStatus) -> TestContext {
    let contexts = json!({
        "github": {
            "event_name": "push",
            "ref": "refs/heads/main",
            "sha": "abc123",
            "event": { "pull_request": { "head-ref": "feature", "number": 42,
                "labels": [{ "name": "bug" }, { "name": "Docs" }] } }
        },
        "env": { "NAME": "Mona", "EMPTY": "", "ZERO": "0", "NUM": "42" },
        "matrix": { "os": "ubuntu-latest", "node": [14, 16, 18] },
        "steps": {
            "my-step": { "outputs": { "x": "hello", "n": "3" }, "outcome": "success" },
            "build": { "outputs": {}, "outcome": "failure" }
        },
        "needs": {
            "a": { "result": "success", "outputs": { "v": "1" } },
            "b": { "result": "failure", "outputs": { "v": "2" } }
        },
        "jobs": { "x": { "n": 1.0 }, "y": { "n": 2.5 } },
        "vars": {
            "list": [1, "two", true, null, { "k": "v" }, [1]],
            "obj": { "A": 1, "b": { "c": "deep" } },
            "mixed": { "Key": "upper", "key": "lower" },
            "t": true, "f": false, "n": null, "zero": 0, "one": 1, "negzero": -0.0,
            "float": 1.5, "intf": 3.0, "null": "nullkey", "NaN": "nankey"
        },
        "secrets": { "TOKEN": "s3cr3t" }
    });
    let Value::Object(contexts) = contexts else { unreachable!("the literal is an object") };
    TestContext { contexts, status }
}

/// Expected outcomes: a JSON value, `!message` for a parse error or `?message` for an
/// evaluation error (substrings of the message).
fn check(what: &str, got: Result<Result<Value, EvalError>, ExprError>, want: &str) {
    match (got, want.chars().next()) {
        (Err(error), Some('!')) => {
            assert!(error.message.contains(&want[1..]), "{what}: parse error {:?}, want {want:?}", error.message);
        }
        (Ok(Err(error)), Some('?')) => {
            assert!(error.message.contains(&want[1..]), "{what}: eval error {:?}, want {want:?}", error.message);
        }
        (Ok(Ok(value)), _) if !want.starts_with(['!', '?']) => {
            let want: Value = serde_json::from_str(want).unwrap_or_else(|e| panic!("{what}: bad expectation: {e}"));
            assert_eq!(value, want, "{what}");
        }
        (got, _) => panic!("{what}: got {got:?}, want {want}"),
    }
}

fn eval_text(src: &str, ctx: &dyn Context) -> Result<Result<Value, EvalError>, ExprError> {
    parse(src).map(|expr| evaluate(&expr, ctx))
}

const LITERALS: &[(&str, &str)] = &[
    ("null", "null"),
    ("true", "true"),
    ("false", "false"),
    ("711", "711"),
    ("-9.2", "-9.2"),
    ("0xff", "255"),
    ("0xFF", "255"),
    ("0x0", "0"),
    ("0x7fffffff", "2147483647"),
    ("0o17", "15"),
    ("-2.99e-2", "-0.0299"),
    ("2.99e-2", "0.0299"),
    ("1e3", "1000"),
    ("1E+2", "100"),
    ("1e-1", "0.1"),
    (".5", "0.5"),
    ("-.5", "-0.5"),
    ("+1", "1"),
    ("1.", "1"),
    ("-0", "0"),
    ("0.0", "0"),
    ("1.5e300", "1.5e300"),
    ("NaN", r#""NaN""#),
    ("Infinity", r#""Infinity""#),
    ("-Infinity", r#""-Infinity""#),
    ("'It''s open source!'", r#""It's open source!""#),
    ("''", r#""""#),
    ("''''", r#""'""#),
    ("'a''''b'", r#""a''b""#),
    ("'  spaced  '", r#""  spaced  ""#),
    ("'multi\nline'", r#""multi\nline""#),
    ("'${{ not nested }}'", r#""${{ not nested }}""#),
    ("'ünïcødé'", r#""ünïcødé""#),
    ("  1  ==  1  ", "true"),
    ("\n1\n==\t1", "true"),
    ("(1)", "1"),
    ("((('x')))", r#""x""#),
];

const EQUALITY: &[(&str, &str)] = &[
    // null
    ("null == null", "true"),
    ("null == 0", "true"),
    ("null == ''", "true"),
    ("null == false", "true"),
    ("null == 'null'", "false"),
    ("null == 1", "false"),
    ("null == vars.list", "false"),
    ("null == vars.obj", "false"),
    ("null != 0", "false"),
    ("vars.n == vars.missing", "true"),
    // booleans
    ("true == true", "true"),
    ("true == false", "false"),
    ("true == 1", "true"),
    ("true == 2", "false"),
    ("false == 0", "true"),
    ("true == '1'", "true"),
    ("true == 'true'", "false"),
    ("false == 'false'", "false"),
    ("false == ''", "true"),
    ("false == '0'", "true"),
    ("false == ' '", "true"),
    ("true == vars.list", "false"),
    ("false == vars.obj", "false"),
    ("true != 1", "false"),
    // numbers
    ("1 == 1", "true"),
    ("1 == 1.0", "true"),
    ("0 == -0", "true"),
    ("1 == 2", "false"),
    ("1 == '1'", "true"),
    ("'1' == 1", "true"),
    ("1 == '1.0'", "true"),
    ("1 == ' 1 '", "true"),
    ("255 == '0xff'", "true"),
    ("255 == ' 0xFF '", "true"),
    ("8 == '0o10'", "true"),
    ("123456.789 == ' +123456.789 '", "true"),
    ("1 == 'one'", "false"),
    ("0 == 'abc'", "false"),
    ("0 == ''", "true"),
    ("0 == '  '", "true"),
    ("1000 == '1e3'", "true"),
    ("Infinity == 'Infinity'", "true"),
    ("-Infinity == ' -Infinity '", "true"),
    ("NaN == NaN", "false"),
    ("NaN != NaN", "true"),
    ("NaN == 'NaN'", "false"),
    ("'abc' == NaN", "false"),
    ("1 == vars.list", "false"),
    ("0 == vars.obj", "false"),
    ("env.NUM == 42", "true"),
    ("env.ZERO == false", "true"),
    ("env.EMPTY == 0", "true"),
    ("vars.negzero == 0", "true"),
    ("vars.intf == 3", "true"),
    // strings
    ("'abc' == 'abc'", "true"),
    ("'abc' == 'ABC'", "true"),
    ("'abc' != 'ABD'", "true"),
    ("'' == ''", "true"),
    ("'a' == ' a'", "false"),
    ("'1' == '1.0'", "false"),
    ("'Ärger' == 'äRGER'", "true"),
    ("github.event_name == 'PUSH'", "true"),
    ("'Array' == vars.list", "false"),
    ("'Object' == vars.obj", "false"),
    // arrays and objects: same instance only
    ("vars.list == vars.list", "true"),
    ("vars.obj == vars.obj", "true"),
    ("vars.obj.b == vars.obj['B']", "true"),
    ("vars.obj == vars.list", "false"),
    ("vars.obj.b == vars.obj", "false"),
    ("vars.list != vars.list", "false"),
    ("fromJSON('[]') == fromJSON('[]')", "false"),
    ("fromJSON('{}') != fromJSON('{}')", "true"),
    ("needs.*.result == needs.*.result", "false"),
    ("matrix.node == fromJSON('[14,16,18]')", "false"),
];

const ORDERING: &[(&str, &str)] = &[
    ("1 < 2", "true"),
    ("2 < 1", "false"),
    ("1 < 1", "false"),
    ("1 <= 1", "true"),
    ("2 <= 1", "false"),
    ("2 > 1", "true"),
    ("1 > 1", "false"),
    ("1 >= 1", "true"),
    ("0 >= 1", "false"),
    ("1.002 > 1.001", "true"),
    ("-1 < 0", "true"),
    ("-Infinity < -1e300", "true"),
    ("Infinity > 1e300", "true"),
    ("'a' < 'b'", "true"),
    ("'b' < 'a'", "false"),
    ("'a' < 'B'", "true"),
    ("'B' > 'a'", "true"),
    ("'abc' < 'ABD'", "true"),
    ("'abc' <= 'ABC'", "true"),
    ("'abc' >= 'ABC'", "true"),
    ("'abc' > 'ABC'", "false"),
    ("'_' > 'a'", "true"),
    ("'10' < '9'", "true"),
    ("'10' < 9", "false"),
    ("'' < 1", "true"),
    ("'x' < 1", "false"),
    ("'x' > 1", "false"),
    ("'x' >= 1", "false"),
    ("1 <= '1'", "true"),
    ("2 >= '10'", "false"),
    ("null < 1", "true"),
    ("null > -1", "true"),
    ("null > null", "false"),
    ("null < null", "false"),
    ("null >= null", "true"),
    ("null <= null", "true"),
    ("false < true", "true"),
    ("true > false", "true"),
    ("true > true", "false"),
    ("true >= true", "true"),
    ("true > 0", "true"),
    ("false < 1", "true"),
    ("true < '2'", "true"),
    ("NaN < 1", "false"),
    ("NaN > 1", "false"),
    ("NaN <= NaN", "false"),
    ("NaN >= NaN", "false"),
    ("'abc' < NaN", "false"),
    ("vars.list < 1", "false"),
    ("vars.list > 1", "false"),
    ("vars.list >= vars.list", "true"),
    ("vars.list > vars.list", "false"),
    ("vars.obj <= vars.obj", "true"),
    ("vars.obj < vars.obj", "false"),
    ("fromJSON('[]') >= fromJSON('[]')", "false"),
    ("env.NUM > 9", "true"),
    ("env.NUM > '9'", "false"),
];

const LOGIC: &[(&str, &str)] = &[
    ("!true", "false"),
    ("!false", "true"),
    ("!0", "true"),
    ("!1", "false"),
    ("!-0", "true"),
    ("!NaN", "true"),
    ("!''", "true"),
    ("!'a'", "false"),
    ("!'false'", "false"),
    ("!null", "true"),
    ("!vars.list", "false"),
    ("!fromJSON('{}')", "false"),
    ("!fromJSON('[]')", "false"),
    ("!vars.negzero", "true"),
    ("!!'x'", "true"),
    ("!!!0", "true"),
    ("!2 < 3", "true"),
    ("!(2 < 3)", "false"),
    ("!github.missing", "true"),
    ("1 == 1 && 2", "2"),
    ("0 && 2", "0"),
    ("'' && 'x'", r#""""#),
    ("null && true", "null"),
    ("NaN && true", r#""NaN""#),
    ("null || 'default'", r#""default""#),
    ("'a' || 'b'", r#""a""#),
    ("false || 0", "0"),
    ("0 || ''", r#""""#),
    ("1 && 'x' && null", "null"),
    ("1 && 'x' && 3", "3"),
    ("null || false || 'last'", r#""last""#),
    ("vars.list && 'y'", r#""y""#),
    ("vars.n || vars.obj.b", r#"{"c":"deep"}"#),
    ("env.EMPTY || 'fallback'", r#""fallback""#),
    ("github.event_name == 'push' && 'deploy' || 'skip'", r#""deploy""#),
    ("github.event_name == 'pull_request' && 'deploy' || 'skip'", r#""skip""#),
    ("true || false && false", "true"),
    ("(true || false) && false", "false"),
    ("false && true || true", "true"),
    ("1 == 1 && 2 == 2", "true"),
    ("1 < 2 == true", "true"),
    ("2 > 1 == 1 > 0", "true"),
    ("1 == 2 == false", "true"),
    ("!1 == 0", "true"),
    ("true || fromJSON('bad')", "true"),
    ("false && fromJSON('bad')", "false"),
    ("false || fromJSON('bad')", "?fromJSON"),
    ("true && fromJSON('bad')", "?fromJSON"),
];

const ACCESS: &[(&str, &str)] = &[
    ("github.event_name", r#""push""#),
    ("GITHUB.EVENT_NAME", r#""push""#),
    ("GitHub.Event_Name", r#""push""#),
    ("github['event_name']", r#""push""#),
    ("github['EVENT_NAME']", r#""push""#),
    ("github.event.pull_request.head-ref", r#""feature""#),
    ("github.event.pull_request.number", "42"),
    ("steps.my-step.outputs.x", r#""hello""#),
    ("steps['my-step'].outputs.X", r#""hello""#),
    ("steps.build.outputs", "{}"),
    ("secrets.token", r#""s3cr3t""#),
    ("github.missing", "null"),
    ("github.missing.deeper", "null"),
    ("nosuchcontext", "null"),
    ("nosuchcontext.x", "null"),
    ("inputs.anything", "null"),
    ("github.sha.length", "null"),
    ("github.sha[0]", "null"),
    ("matrix.node[0]", "14"),
    ("matrix.node[2]", "18"),
    ("matrix.node[3]", "null"),
    ("matrix.node[-1]", "null"),
    ("matrix.node[1.7]", "16"),
    ("matrix.node['0']", "null"),
    ("matrix.node[true]", "null"),
    ("matrix.node[null]", "null"),
    ("matrix.node[NaN]", "null"),
    ("matrix.node[1e300]", "null"),
    ("matrix.node[vars.one]", "16"),
    ("matrix.node[vars.obj.a]", "16"),
    ("matrix.node[(1)]", "16"),
    ("vars.obj[1]", "null"),
    ("vars.obj['a']", "1"),
    ("vars.mixed.key", r#""lower""#),
    ("vars.mixed.Key", r#""upper""#),
    ("vars.mixed.KEY", r#""upper""#),
    ("vars.list[4].k", r#""v""#),
    ("vars.list[4].K", r#""v""#),
    ("vars.list[5][0]", "1"),
    ("vars.list[1]", r#""two""#),
    ("vars['list'][1]", r#""two""#),
    ("vars.null", r#""nullkey""#),
    ("vars.NaN", r#""nankey""#),
    ("vars.t", "true"),
    ("vars.float", "1.5"),
    ("vars.intf", "3"),
    ("vars.negzero", "0"),
    ("(github).event_name", r#""push""#),
    ("(github.event).pull_request.number", "42"),
    ("fromJSON('{\"a\":{\"b\":1}}').a.b", "1"),
    ("fromJSON('{\"A\":1}').a", "1"),
    ("fromJSON('[10,20]')[1]", "20"),
    ("fromJSON('[10,20]')[2]", "null"),
    ("fromJSON('[[1,2],[3]]')[0][1]", "2"),
    ("toJSON(1).x", "null"),
    ("github[format('{0}_{1}', 'event', 'name')]", r#""push""#),
    ("matrix", r#"{"os":"ubuntu-latest","node":[14,16,18]}"#),
];

const FILTERS: &[(&str, &str)] = &[
    ("github.event.pull_request.labels.*.name", r#"["bug","Docs"]"#),
    ("github.event.pull_request.labels[*].name", r#"["bug","Docs"]"#),
    ("needs.*.result", r#"["success","failure"]"#),
    ("needs.*.outputs.v", r#"["1","2"]"#),
    ("needs.*.outputs.missing", "[]"),
    ("needs.*.RESULT", r#"["success","failure"]"#),
    ("vars.list.*", r#"[1,"two",true,null,{"k":"v"},[1]]"#),
    ("vars.obj.*", r#"[1,{"c":"deep"}]"#),
    ("vars.list.*.k", r#"["v"]"#),
    ("vars.list.*[0]", "[1]"),
    ("vars.obj.*.*", r#"["deep"]"#),
    ("needs.*.*", r#"["success",{"v":"1"},"failure",{"v":"2"}]"#),
    ("matrix.node[*]", "[14,16,18]"),
    ("matrix.node.*", "[14,16,18]"),
    ("needs.*.result[0]", "[]"),
    ("github.sha.*", "[]"),
    ("nosuch.*", "[]"),
    ("nosuch.*.x", "[]"),
    ("fromJSON('[{\"a\":1},{\"a\":2},{\"b\":3}]').*.a", "[1,2]"),
    ("fromJSON('{\"x\":[1,2],\"y\":[3]}').*.*", "[1,2,3]"),
    ("fromJSON('{\"x\":[1,2],\"y\":[3]}').*[1]", "[2]"),
    ("contains(needs.*.result, 'failure')", "true"),
    ("contains(needs.*.result, 'FAILURE')", "true"),
    ("contains(needs.*.result, 'cancelled')", "false"),
    ("join(needs.*.result, ', ')", r#""success, failure""#),
    ("toJSON(needs.*.result)", r#""[\n  \"success\",\n  \"failure\"\n]""#),
    ("format('{0}', needs.*.result)", r#""Array""#),
    ("toJSON(jobs.*.n)", r#""[\n  1,\n  2.5\n]""#),
    ("jobs.*.n", "[1,2.5]"),
    ("needs.*.result && 'yes'", r#""yes""#),
];

const FUNCTIONS: &[(&str, &str)] = &[
    // contains
    ("contains('Hello World', 'world')", "true"),
    ("contains('Hello World', 'xyz')", "false"),
    ("contains('abc', '')", "true"),
    ("contains('', 'a')", "false"),
    ("contains(123, 2)", "true"),
    ("contains(1.5, '.5')", "true"),
    ("contains(true, 'RU')", "true"),
    ("contains(null, '')", "true"),
    ("contains(vars.list, 'TWO')", "true"),
    ("contains(vars.list, 1)", "true"),
    ("contains(vars.list, '1')", "true"),
    ("contains(vars.list, true)", "true"),
    ("contains(vars.list, null)", "true"),
    ("contains(vars.list, 'three')", "false"),
    ("contains(vars.list, vars.list[4])", "true"),
    ("contains(vars.list, fromJSON('{\"k\":\"v\"}'))", "false"),
    ("contains(matrix.node, 16)", "true"),
    ("contains(matrix.node, '16')", "true"),
    ("contains(matrix.node, 17)", "false"),
    ("contains(vars.obj, 'A')", "false"),
    ("contains('abc', vars.list)", "false"),
    ("contains(fromJSON('[]'), 1)", "false"),
    ("contains(fromJSON('[\"a\"]'), 'A')", "true"),
    ("contains(github.ref, 'heads')", "true"),
    ("CONTAINS('abc', 'B')", "true"),
    ("Contains('abc', 'd')", "false"),
    // startsWith, endsWith
    ("startsWith('Hello', 'he')", "true"),
    ("startsWith('Hello', 'lo')", "false"),
    ("startsWith('Hello', '')", "true"),
    ("startsWith('', 'a')", "false"),
    ("startsWith('a', 'ab')", "false"),
    ("startsWith(github.ref, 'refs/heads/')", "true"),
    ("startsWith(github.ref, 'REFS/TAGS/')", "false"),
    ("startsWith(12345, 12)", "true"),
    ("startsWith(true, 't')", "true"),
    ("startsWith(vars.list, 'A')", "false"),
    ("startsWith('Array', vars.list)", "false"),
    ("startsWith('Ärger', 'ä')", "true"),
    ("STARTSWITH('abc', 'A')", "true"),
    ("endsWith('Hello', 'LLO')", "true"),
    ("endsWith('Hello', 'he')", "false"),
    ("endsWith('Hello', '')", "true"),
    ("endsWith('a', 'ba')", "false"),
    ("endsWith(true, 'E')", "true"),
    ("endsWith(null, '')", "true"),
    ("endsWith(2.5, '.5')", "true"),
    ("endsWith(vars.obj, 'ct')", "false"),
    ("endswith('file.TXT', '.txt')", "true"),
    // format
    ("format('Hello {0} {1} {2}', 'Mona', 'the', 'Octocat')", r#""Hello Mona the Octocat""#),
    ("format('{{Hello {0} {1} {2}!}}', 'Mona', 'the', 'Octocat')", r#""{Hello Mona the Octocat!}""#),
    ("format('{0}{0}', 'a')", r#""aa""#),
    ("format('{1}-{0}', 'a', 'b')", r#""b-a""#),
    ("format('no args')", r#""no args""#),
    ("format('')", r#""""#),
    ("format('{0}', null)", r#""""#),
    ("format('{0}', true)", r#""true""#),
    ("format('{0}', false)", r#""false""#),
    ("format('{0}', 1.0)", r#""1""#),
    ("format('{0}', 0.1)", r#""0.1""#),
    ("format('{0}', 2.5)", r#""2.5""#),
    ("format('{0}', 1e21)", r#""1e+21""#),
    ("format('{0}', 1e-7)", r#""1e-7""#),
    ("format('{0}', -0)", r#""0""#),
    ("format('{0}', 0xff)", r#""255""#),
    ("format('{0}', NaN)", r#""NaN""#),
    ("format('{0}', Infinity)", r#""Infinity""#),
    ("format('{0}', -Infinity)", r#""-Infinity""#),
    ("format('{0}', +Infinity)", r#""Infinity""#),
    ("format('{0}', vars.list)", r#""Array""#),
    ("format('{0}', vars.obj)", r#""Object""#),
    ("format('{{}}')", r#""{}""#),
    ("format('}}{{')", r#""}{""#),
    ("format('{{0}}', 1)", r#""{0}""#),
    ("format('{{{0}}}', 1)", r#""{1}""#),
    ("format('{00}', 'x')", r#""x""#),
    ("format('{0}', 'it''s')", r#""it's""#),
    ("format(1, 2)", r#""1""#),
    ("format('{0}', format('{0}', 'x'))", r#""x""#),
    ("format('{0}/{1}', github.event_name, github.ref)", r#""push/refs/heads/main""#),
    ("format('ünï{0}', 'cødé')", r#""ünïcødé""#),
    ("format('{10}', 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 'ten')", r#""ten""#),
    ("format('{0}')", "?refers to argument {0}, but only 0 arguments were given"),
    ("format('{1}', 'a')", "?refers to argument {1}, but only 1 argument was given"),
    ("format('{99999999999999999999999}', 'a')", "?refers to argument {99999999999999999999999}"),
    ("format('{', 'a')", "?is invalid"),
    ("format('}', 'a')", "?is invalid"),
    ("format('a}b', 'a')", "?is invalid"),
    ("format('{a}', 'a')", "?is invalid"),
    ("format('{0', 'a')", "?is invalid"),
    ("format('{ 0}', 'a')", "?is invalid"),
    ("format('{-1}', 'a')", "?is invalid"),
    ("format('{0:x}', 'a')", "?is invalid"),
    // join
    ("join(matrix.node)", r#""14,16,18""#),
    ("join(matrix.node, ' ')", r#""14 16 18""#),
    ("join(matrix.node, '')", r#""141618""#),
    ("join(matrix.node, 1)", r#""14116118""#),
    ("join(matrix.node, null)", r#""141618""#),
    ("join(matrix.node, vars.list)", r#""14,16,18""#),
    ("join(vars.list, '|')", r#""1|two|true||Object|Array""#),
    ("join('abc')", r#""abc""#),
    ("join('abc', '-')", r#""abc""#),
    ("join(1)", r#""1""#),
    ("join(true)", r#""true""#),
    ("join(null)", r#""""#),
    ("join(vars.obj)", r#""""#),
    ("join(fromJSON('[]'))", r#""""#),
    ("join(fromJSON('[\"a\",\"b\"]'), '')", r#""ab""#),
    ("join(fromJSON('[1.0,2.5,null,false]'))", r#""1,2.5,,false""#),
    // toJSON
    ("toJSON(1)", r#""1""#),
    ("toJSON(1.0)", r#""1""#),
    ("toJSON(2.5)", r#""2.5""#),
    ("toJSON('a')", r#""\"a\"""#),
    ("toJSON('quote\"d')", r#""\"quote\\\"d\"""#),
    ("toJSON(null)", r#""null""#),
    ("toJSON(true)", r#""true""#),
    ("toJSON(vars.intf)", r#""3""#),
    ("toJSON(vars.float)", r#""1.5""#),
    ("toJSON(matrix.node)", r#""[\n  14,\n  16,\n  18\n]""#),
    ("toJSON(vars.obj)", r#""{\n  \"A\": 1,\n  \"b\": {\n    \"c\": \"deep\"\n  }\n}""#),
    ("toJSON(fromJSON('{}'))", r#""{}""#),
    ("toJSON(fromJSON('[]'))", r#""[]""#),
    ("toJSON(fromJSON('{\"z\":1,\"a\":2}'))", r#""{\n  \"z\": 1,\n  \"a\": 2\n}""#),
    ("toJSON(NaN)", r#""NaN""#),
    ("TOJSON(1)", r#""1""#),
    // fromJSON
    ("fromJSON('1')", "1"),
    ("fromJSON('\"a\"')", r#""a""#),
    ("fromJSON('[1,2]')", "[1,2]"),
    ("fromJSON('{\"a\":1}')", r#"{"a":1}"#),
    ("fromJSON('true')", "true"),
    ("fromJSON('null')", "null"),
    ("fromJSON(' 2.5 ')", "2.5"),
    ("fromJSON(steps.my-step.outputs.n) == 3", "true"),
    ("fromJSON(steps.my-step.outputs.n) > 2", "true"),
    ("fromJSON(toJSON(vars.obj)).b.c", r#""deep""#),
    ("fromJSON(toJSON(vars.obj)) == vars.obj", "false"),
    ("fromJSON(1)", "1"),
    ("fromJSON(true)", "true"),
    ("fromjson('[]')", "[]"),
    ("fromJSON('bad')", "?fromJSON could not read its argument as JSON"),
    ("fromJSON('')", "?fromJSON was given an empty string"),
    ("fromJSON(' ')", "?fromJSON was given an empty string"),
    ("fromJSON(steps.build.outputs.missing)", "?check that the output or variable it reads is set"),
    ("fromJSON('{')", "?fromJSON"),
    ("fromJSON('[1,]')", "?fromJSON"),
    ("fromJSON(vars.list)", "?fromJSON"),
    ("fromJSON(null)", "?fromJSON"),
    ("fromJSON('1e400')", "?fromJSON"),
    // hashFiles
    ("hashFiles('**/Cargo.lock')", r#""hash(**/Cargo.lock)""#),
    ("hashFiles('a', 'b')", r#""hash(a|b)""#),
    ("hashFiles(1, true)", r#""hash(1|true)""#),
    ("hashFiles('fail')", "?hashFiles found no files matching `fail`"),
    ("HASHFILES('x')", r#""hash(x)""#),
    // case
    ("case(true, 'first', 'default')", r#""first""#),
    ("case(false, 'first', 'default')", r#""default""#),
    ("case(true, 'first', false, 'second', 'default')", r#""first""#),
    ("case(false, 'first', true, 'second', 'default')", r#""second""#),
    ("case(false, 'first', false, 'second', 'default')", r#""default""#),
    ("case(1 == 1, 'equal', 'not equal')", r#""equal""#),
    ("case(1 == 2, 'equal', 'not equal')", r#""not equal""#),
    ("case(github.ref == 'refs/heads/main', 'main', github.event_name == 'pull_request', 'pr', 'other')", r#""main""#),
    ("case(github.event_name == 'pull_request', 'pr', matrix.node)", "[14,16,18]"),
    ("case(!vars.t, 1, vars.t, 2, 3)", "2"),
    ("case(true, 'a', 'b') == 'A'", "true"),
    ("CASE(false, 1, 2)", "2"),
    ("case(1, 'a', 'b')", "?a `case` predicate must be true or false, but one is a number"),
    ("case('true', 'a', 'b')", "?but one is a string"),
    ("case(false, 'a', null, 'b', 'c')", "?but one is null"),
    ("case(vars.list, 'a', 'b')", "?but one is an array"),
    ("case(true, 'a', fromJSON('bad'))", "?fromJSON"),
    // status functions, job status Success
    ("success()", "true"),
    ("always()", "true"),
    ("failure()", "false"),
    ("cancelled()", "false"),
    ("Success()", "true"),
    ("!cancelled() && success()", "true"),
];

#[test]
fn expressions_evaluate_to_their_expected_values() {
    let ctx = test_context(JobStatus::Success);
    let tables = [LITERALS, EQUALITY, ORDERING, LOGIC, ACCESS, FILTERS, FUNCTIONS];
    for (src, want) in tables.into_iter().flatten() {
        check(src, eval_text(src, &ctx), want);
    }
}

/// Parse errors: the text, a substring of the message, and the byte range.
const PARSE_ERRORS: &[(&str, &str, Range<usize>)] = &[
    ("contain('a','b')", "unknown function `contain`; did you mean `contains`?", 0..7),
    ("startwith('a','b')", "did you mean `startsWith`?", 0..9),
    ("tojsn(1)", "did you mean `toJSON`?", 0..5),
    ("1 == foo()", "unknown function `foo`; the functions are `contains`, `startsWith`", 5..8),
    ("tojson(1, 2)", "`toJSON` takes 1 argument, but 2 were given", 0..6),
    ("contains('a')", "`contains` takes 2 arguments, but 1 was given", 0..8),
    ("contains('a', 'b', 'c')", "`contains` takes 2 arguments, but 3 were given", 0..8),
    ("success(1)", "`success` takes no arguments, but 1 was given", 0..7),
    ("always(true)", "`always` takes no arguments", 0..6),
    ("join()", "`join` takes 1 or 2 arguments, but 0 were given", 0..4),
    ("join(1, 2, 3)", "`join` takes 1 or 2 arguments, but 3 were given", 0..4),
    ("format()", "`format` takes 1 to 255 arguments, but 0 were given", 0..6),
    ("hashFiles()", "`hashFiles` takes 1 to 255 arguments", 0..9),
    ("fromJSON()", "`fromJSON` takes 1 argument, but 0 were given", 0..8),
    ("case(true, 'a')", "`case` takes at least 3 arguments, but 2 were given", 0..4),
    ("case()", "`case` takes at least 3 arguments, but 0 were given", 0..4),
    ("1 || case(true, 'a', false, 'b')", "so an odd number of arguments, but 4 were given", 5..9),
    ("cas(true, 1, 2)", "unknown function `cas`; did you mean `case`?", 0..3),
    (
        "1 == format('{0}', 1",
        "expected `)` to close the call to `format` opened at column 12, but the expression ends",
        20..20,
    ),
    ("contains('a' 'b')", "expected `)` to close the call to `contains` opened at column 9, found `'b'`", 13..16),
    ("format('{0}',)", "expected a value", 13..14),
    ("format(", "expected `)` to close the call to `format`", 7..7),
    ("(1 == 2", "expected `)` to close the `(` at column 1, but the expression ends", 7..7),
    ("(1 == 2]", "expected `)` to close the `(` at column 1, found `]`", 7..8),
    ("a[0", "expected `]` to close the `[` at column 2", 3..3),
    ("a[0)", "expected `]` to close the `[` at column 2, found `)`", 3..4),
    ("1 ==", "the expression ends after `==`", 4..4),
    ("github.event_name == 'push' &&", "the expression ends after `&&`", 30..30),
    ("!", "the expression ends after `!`", 1..1),
    ("", "the expression is empty", 0..0),
    ("   ", "the expression is empty", 0..3),
    ("\"a\"", "single quotes", 0..1),
    ("a = b", "`=` is not an operator; use `==`", 2..3),
    ("a & b", "use `&&`", 2..3),
    ("a | b", "use `||`", 2..3),
    ("'abc", "this string is never closed", 0..4),
    ("1 == 'it''s", "never closed", 5..11),
    ("1 2", "unexpected `2` after a complete expression", 2..3),
    ("a.b c", "unexpected `c` after a complete expression", 4..5),
    ("(1))", "unmatched `)`; remove it or add the `(` it should close", 3..4),
    ("a[0]]", "unmatched `]`", 4..5),
    ("1[0]", "unexpected `[` after a complete expression", 1..2),
    ("'a'[0]", "unexpected `[`", 3..4),
    ("true.x", "a literal value has no properties", 4..6),
    ("1.5.x", "not a number", 0..5),
    ("null.*", "a literal value has no properties", 4..6),
    ("github.", "expected a property name or `*` after `.`", 7..7),
    ("github.0", "expected a property name or `*` after `.`, such as `github.ref`", 7..8),
    ("github.'x'", "expected a property name", 7..10),
    ("github..x", "is not a number", 7..9),
    ("0x", "`0x` is not a number", 0..2),
    ("0xFZ", "not a number", 0..4),
    ("0x01p2", "not a number", 0..6),
    ("-0xff", "not a number", 0..5),
    ("0x80000000", "not a number", 0..10),
    ("1.2.3", "not a number", 0..5),
    ("-Inf", "not a number", 0..4),
    ("1 -1", "unexpected `-1`", 2..4),
    ("'a'.length", "a literal value has no properties; only contexts, function calls", 3..10),
    ("a*", "unexpected `a*`", 0..2),
    ("a{b", "unexpected `a{b`", 0..3),
    ("é", "unexpected `é`", 0..2),
    (")", "expected a value", 0..1),
    (",", "expected a value", 0..1),
    ("== 1", "expected a value", 0..2),
    ("a[]", "expected a value", 2..3),
    ("*", "expected a value", 0..1),
    ("a.*.", "expected a property name", 4..4),
];

#[test]
fn parse_errors_say_what_is_wrong_and_where() {
    for (src, want, range) in PARSE_ERRORS {
        let Err(error) = parse(src) else { panic!("{src:?}: parsed, want error {want:?}") };
        assert!(error.message.contains(want), "{src:?}: {:?}, want {want:?}", error.message);
        assert_eq!(error.range, *range, "{src:?}: {}", error.message);
    }
}

#[test]
fn nesting_is_limited_to_github_depth_of_50() {
    let nested = |n: usize| format!("{}1{}", "(".repeat(n), ")".repeat(n));
    let ctx = test_context(JobStatus::Success);
    assert_eq!(eval_text(&nested(49), &ctx), Ok(Ok(json!(1))));
    // The deepest expressions the limit allows evaluate without exhausting the stack.
    let deepest = [
        (format!("{}true", "!".repeat(48)), json!(true)),
        (format!("{}'x'{}", "format('{0}', ".repeat(49), ")".repeat(49)), json!("x")),
        (format!("{}1{}", "fromJSON(toJSON(".repeat(24), "))".repeat(24)), json!(1)),
        (format!("vars{}", ".obj.b".repeat(24)), json!(null)),
        (format!("{}1", "1 == ".repeat(49)), json!(true)),
        (format!("{}matrix.node[0]{}", "matrix.node[".repeat(16), "]".repeat(16)), json!(null)),
    ];
    for (src, want) in deepest {
        assert_eq!(eval_text(&src, &ctx), Ok(Ok(want)), "{src}");
    }
    let error = parse(&nested(50)).err().map(|error| error.message).unwrap_or_default();
    assert!(error.contains("nests deeper than GitHub's limit of 50"), "{error}");
    let cases = [
        format!("{}true", "!".repeat(60)),
        format!("a{}", ".b".repeat(60)),
        format!("a{}", ".*".repeat(60)),
        format!("a{}", "[0]".repeat(60)),
        format!("{}1{}", "format('{0}', ".repeat(60), ")".repeat(60)),
        format!("{}1", "1 == ".repeat(60)),
        format!("{}1", "1 < ".repeat(60)),
        format!("{}1{}", "(".repeat(100_000), ")".repeat(100_000)),
        "!".repeat(20_000),
        format!("{}1{}", "a[".repeat(10_000), "]".repeat(10_000)),
    ];
    for src in &cases {
        let error = parse(src).err().map(|error| error.message).unwrap_or_default();
        assert!(error.contains("nests deeper") || error.contains("longer than"), "{}: {error}", &src[..20]);
    }
    // Flat chains do not nest.
    let chain = format!("{}1", "1 && ".repeat(1000));
    assert_eq!(eval_text(&chain, &test_context(JobStatus::Success)), Ok(Ok(json!(1))));
    let chain = format!("{}'x'", "null || ".repeat(1000));
    assert_eq!(eval_text(&chain, &test_context(JobStatus::Success)), Ok(Ok(json!("x"))));
}

#[test]
fn expressions_longer_than_21000_characters_are_rejected() {
    let long = format!("'{}'", "a".repeat(20_998));
    assert!(parse(&long).is_ok());
    let too_long = format!("'{}'", "a".repeat(20_999));
    let error = parse(&too_long).err().map(|error| error.message).unwrap_or_default();
    assert!(error.contains("longer than GitHub's limit of 21000 characters"), "{error}");
}

#[test]
fn strings_that_grow_without_bound_are_an_error() {
    let ctx = test_context(JobStatus::Success);
    let nested = |levels: usize, open: &str, close: &str, seed: &str| {
        format!("{}{seed}{}", open.repeat(levels), close.repeat(levels))
    };
    // 10 characters × 4^9 is 2.5 MiB, under the 4 MiB limit; one level more is over it.
    let big = nested(9, "format('{0}{0}{0}{0}', ", ")", "'0123456789'");
    assert!(matches!(eval_text(&big, &ctx), Ok(Ok(Value::String(s))) if s.len() == 10 << 18));
    let cases = [
        nested(10, "format('{0}{0}{0}{0}', ", ")", "'0123456789'"),
        nested(40, "format('{0}{0}', ", ")", "'x'"),
        nested(45, "toJSON(", ")", "'\"'"),
        format!("join(fromJSON('[1,2,3]'), {big})"),
    ];
    for src in &cases {
        check(&src[..30], eval_text(src, &ctx), "?more than 4 MiB of text");
    }
    let template = Template::parse(&format!("${{{{ {big} }}}}${{{{ {big} }}}}")).unwrap_or_else(|e| panic!("{e}"));
    let error = template.render(&ctx).err().unwrap_or_else(|| panic!("rendered"));
    assert!(error.message.contains("more than 4 MiB"), "{}", error.message);
    assert_eq!(error.range.start, big.len() + 10);
}

#[test]
fn deep_json_from_fromjson_is_an_error_not_a_crash() {
    let ctx = test_context(JobStatus::Success);
    let deep = format!("fromJSON('{}{}')", "[".repeat(10_000), "]".repeat(10_000));
    check("deep fromJSON", eval_text(&deep, &ctx), "?fromJSON");
    let fine = format!("toJSON(fromJSON('{}{}'))", "[".repeat(100), "]".repeat(100));
    assert!(matches!(eval_text(&fine, &ctx), Ok(Ok(Value::String(_)))));
}

/// Templates: the text and its value (JSON), or `!` parse / `?` evaluation errors.
const TEMPLATES: &[(&str, &str)] = &[
    ("plain text", r#""plain text""#),
    ("", r#""""#),
    ("${{ 1 }}", "1"),
    ("  ${{ 1 }}  ", "1"),
    ("\n${{ true }}\n", "true"),
    ("${{1}}", "1"),
    ("${{ fromJSON('[1,2]') }}", "[1,2]"),
    ("${{ vars.obj }}", r#"{"A":1,"b":{"c":"deep"}}"#),
    ("${{ matrix.node }} ", "[14,16,18]"),
    ("${{ null }}", "null"),
    ("${{ NaN }}", r#""NaN""#),
    ("a ${{ 1 }} b", r#""a 1 b""#),
    ("a${{1}}b", r#""a1b""#),
    ("${{ 1 }}${{ 2 }}", r#""12""#),
    ("${{ 1 }} ${{ 2 }}", r#""1 2""#),
    ("${{ 'a' }}-${{ 'b' }}", r#""a-b""#),
    ("${{ '}}' }}", r#""}}""#),
    ("${{ 'x}}y' }} z", r#""x}}y z""#),
    ("${{ 'it''s }}' }}", r#""it's }}""#),
    ("${{ '${{' }}", r#""${{""#),
    ("v${{ null }}v", r#""vv""#),
    ("${{ true }}!", r#""true!""#),
    ("n=${{ 2.50 }}", r#""n=2.5""#),
    ("n=${{ 1e21 }}", r#""n=1e+21""#),
    ("x ${{ vars.obj.b }}", r#""x {\n  \"c\": \"deep\"\n}""#),
    ("x ${{ matrix.node }}", r#""x [\n  14,\n  16,\n  18\n]""#),
    ("}} alone", r#""}} alone""#),
    ("$ {{ 1 }}", r#""$ {{ 1 }}""#),
    ("${ 1 }", r#""${ 1 }""#),
    ("${{ github.event_name }}/${{ github.ref }}", r#""push/refs/heads/main""#),
    ("echo ${{ format('{{0}}') }}", r#""echo {0}""#),
    ("${{ 1 ", "!this `${{` is never closed"),
    ("a ${{ 1 }} ${{", "!this `${{` is never closed"),
    ("${{ 'unclosed }}", "!this string is never closed, so it swallows the `}}`"),
    ("${{ 'unclosed ", "!this `${{` is never closed"),
    ("${{ }}", "!the expression is empty"),
    ("${{ foo( }}", "!unknown function `foo`"),
    ("x ${{ 1 == }}", "!the expression ends after `==`"),
    ("ok ${{ fromJSON('bad') }}", "?fromJSON"),
    ("${{ fromJSON('bad') }}", "?fromJSON"),
];

#[test]
fn templates_interpolate_or_yield_the_single_value() {
    let ctx = test_context(JobStatus::Success);
    for (text, want) in TEMPLATES {
        check(text, Template::parse(text).map(|template| template.evaluate(&ctx)), want);
        if let (Ok(template), false) = (Template::parse(text), want.starts_with(['!', '?'])) {
            let rendered = template.render(&ctx).unwrap_or_else(|error| panic!("{text}: {error}"));
            let value = template.evaluate(&ctx).unwrap_or_else(|error| panic!("{text}: {error}"));
            let trimmed = text.trim();
            if template.expressions().len() == 1 && trimmed.starts_with("${{") && trimmed.ends_with("}}") {
                assert_eq!(rendered.trim(), to_display_string(&value).trim(), "{text}");
            } else {
                assert_eq!(Value::String(rendered), value, "{text}");
            }
        }
    }
}

#[test]
fn template_errors_point_into_the_template_text() {
    let cases: &[(&str, Range<usize>)] = &[
        ("${{ 1 ", 0..3),
        ("a ${{ 1 }} ${{", 11..14),
        ("x ${{ 1 == }}", 11..11),
        ("ab ${{ contain('a', 'b') }}", 7..14),
        ("${{ 1 }} ${{ 'x' 'y' }}", 17..20),
        ("a ${{ 'it's' }}", 11..12),
    ];
    for (text, range) in cases {
        let error = Template::parse(text).err().unwrap_or_else(|| panic!("{text}: parsed"));
        assert_eq!(error.range, *range, "{text}: {}", error.message);
    }
    let ctx = test_context(JobStatus::Success);
    let template = Template::parse("x ${{ fromJSON('bad') }}").unwrap_or_else(|error| panic!("{error}"));
    let error = template.render(&ctx).err().unwrap_or_else(|| panic!("rendered"));
    assert_eq!(error.range, 6..21);
}

#[test]
fn templates_list_their_expressions_with_offsets() {
    let template = Template::parse("a ${{ x }} b ${{y}}").unwrap_or_else(|error| panic!("{error}"));
    assert!(!template.is_literal());
    let offsets: Vec<usize> = template.expressions().iter().map(|(_, offset)| *offset).collect();
    assert_eq!(offsets, [5, 16]);
    let (second, offset) = template.expressions()[1];
    assert_eq!(second.contexts(), [("y".to_owned(), 0..1)]);
    assert_eq!(offset, 16);
    for literal in ["", "plain", "$ {{ x }}", "}}", "${ x }"] {
        let template = Template::parse(literal).unwrap_or_else(|error| panic!("{error}"));
        assert!(template.is_literal(), "{literal}");
        assert!(template.expressions().is_empty(), "{literal}");
    }
}

const S: JobStatus = JobStatus::Success;
const F: JobStatus = JobStatus::Failure;
const C: JobStatus = JobStatus::Cancelled;

/// Conditions: the text, the job status, and `true`/`false` or `!` / `?` errors.
const CONDITIONS: &[(&str, JobStatus, &str)] = &[
    ("", S, "true"),
    ("  ", F, "false"),
    ("true", S, "true"),
    ("true", F, "false"),
    ("true", C, "false"),
    ("false", S, "false"),
    ("always()", S, "true"),
    ("always()", F, "true"),
    ("always()", C, "true"),
    ("success()", S, "true"),
    ("success()", F, "false"),
    ("success()", C, "false"),
    ("failure()", S, "false"),
    ("failure()", F, "true"),
    ("failure()", C, "false"),
    ("cancelled()", S, "false"),
    ("cancelled()", F, "false"),
    ("cancelled()", C, "true"),
    ("!cancelled()", S, "true"),
    ("!cancelled()", F, "true"),
    ("!cancelled()", C, "false"),
    ("failure() || success()", F, "true"),
    ("failure() || success()", C, "false"),
    ("SUCCESS()", S, "true"),
    ("Always()", F, "true"),
    ("${{ failure() }}", F, "true"),
    ("${{ failure() }}", S, "false"),
    ("  ${{ always() }}  ", C, "true"),
    ("github.event_name == 'push'", S, "true"),
    ("github.event_name == 'push'", F, "false"),
    ("github.event_name == 'push'", C, "false"),
    ("${{ github.event_name == 'pull_request' }}", S, "false"),
    ("${{ github.event_name == 'push' }}", S, "true"),
    ("always() && github.event_name == 'push'", F, "true"),
    ("always() && vars.f", F, "false"),
    ("failure() && steps.build.outcome == 'failure'", F, "true"),
    ("contains(needs.*.result, 'failure')", S, "true"),
    ("contains(needs.*.result, 'failure')", F, "false"),
    ("vars.n", S, "false"),
    ("vars.list", S, "true"),
    ("'false'", S, "true"),
    ("0", S, "false"),
    ("env.EMPTY", S, "false"),
    ("env.NAME", S, "true"),
    ("'success()'", F, "false"),
    // Text mixed with ${{ }} is a string: true when non-empty.
    ("${{ false }} && false", S, "true"),
    ("${{ false }} && false", F, "false"),
    ("${{ failure() }} && false", S, "true"),
    ("${{ 1 }} ${{ 2 }}", S, "true"),
    ("${{ '' }}${{ '' }}", S, "false"),
    ("${{ '' }}${{ null }}", F, "false"),
    ("x${{ always() }}", C, "true"),
    ("github.ref == 'refs/heads/${{ env.NAME }}'", S, "true"),
    ("github.ref == 'refs/heads/${{ env.NAME }}'", F, "false"),
    ("false && '${{ env.EMPTY }}'", S, "true"),
    // Errors.
    ("${{ 1 ", S, "!never closed"),
    ("success( ", S, "!expected `)` to close the call to `success`"),
    ("==", S, "!expected a value"),
    ("a ${{ b ", S, "!never closed"),
    ("${{ contain(1, 2) }}", S, "!did you mean `contains`?"),
    ("fromJSON('x')", S, "?fromJSON"),
    ("always() && fromJSON('x')", F, "?fromJSON"),
    // Not evaluated when the implicit success() is false.
    ("fromJSON('x')", F, "false"),
];

#[test]
fn conditions_add_success_unless_they_call_a_status_function() {
    for (text, status, want) in CONDITIONS {
        let ctx = test_context(*status);
        let got = Condition::parse(text).map(|condition| condition.evaluate(&ctx).map(Value::Bool));
        check(&format!("{text} ({status:?})"), got, want);
    }
}

#[test]
fn condition_expressions_and_error_ranges_are_in_the_condition_text() {
    let offsets = |text: &str| -> Vec<usize> {
        let condition = Condition::parse(text).unwrap_or_else(|error| panic!("{text}: {error}"));
        condition.expressions().iter().map(|(_, offset)| *offset).collect()
    };
    assert_eq!(offsets("a == b"), [0]);
    assert_eq!(offsets("  ${{ a }}  "), [5]);
    assert_eq!(offsets("${{ a }} && ${{ b }}"), [3, 15]);
    assert!(offsets("").is_empty());
    let error = Condition::parse("  ${{ contain('a', 'b') }}").err().unwrap_or_else(|| panic!("parsed"));
    assert_eq!(error.range, 6..13);
    let condition = Condition::parse("${{ fromJSON('x') }}").unwrap_or_else(|error| panic!("{error}"));
    let error = condition.evaluate(&test_context(S)).err().unwrap_or_else(|| panic!("evaluated"));
    assert_eq!(error.range, 4..17);
}

#[test]
fn conditions_that_mix_text_and_expressions_are_flagged() {
    let cases = [
        ("${{ a }} && b", true),
        ("github.ref == 'refs/heads/${{ env.NAME }}'", true),
        ("${{ a }}${{ b }}", true),
        ("${{ a }}", false),
        ("  ${{ a }}\n", false),
        ("a && b", false),
        ("", false),
    ];
    for (text, want) in cases {
        let condition = Condition::parse(text).unwrap_or_else(|error| panic!("{text}: {error}"));
        assert_eq!(condition.is_interpolated_text(), want, "{text}");
    }
}

#[test]
fn contexts_lists_every_top_level_context_with_its_range() {
    let expr = parse("github.ref == env.X && contains(matrix.*, steps.a.outputs.b) || GITHUB.sha || unknown.x")
        .unwrap_or_else(|error| panic!("{error}"));
    let contexts = expr.contexts();
    let want = [
        ("github", 0..6),
        ("env", 14..17),
        ("matrix", 32..38),
        ("steps", 42..47),
        ("github", 64..70),
        ("unknown", 78..85),
    ];
    let want: Vec<(String, Range<usize>)> = want.into_iter().map(|(name, range)| (name.to_owned(), range)).collect();
    assert_eq!(contexts, want);
    let none = parse("success() && 'github' == format('{0}', 1) && fromJSON('{}').github")
        .unwrap_or_else(|error| panic!("{error}"));
    assert!(none.contexts().is_empty());
    let indexed = parse("vars[github.ref]").unwrap_or_else(|error| panic!("{error}"));
    assert_eq!(indexed.contexts(), [("vars".to_owned(), 0..4), ("github".to_owned(), 5..11)]);
}

#[test]
fn status_functions_are_found_anywhere_in_the_expression() {
    let cases = [
        ("success()", true),
        ("always() && x", true),
        ("x || FAILURE()", true),
        ("format('{0}', cancelled())", true),
        ("!(a && contains(b, always()))", true),
        ("x", false),
        ("'success()'", false),
        ("success", false),
        ("contains('a', 'b')", false),
    ];
    for (src, want) in cases {
        let expr = parse(src).unwrap_or_else(|error| panic!("{src}: {error}"));
        assert_eq!(expr.uses_status_function(), want, "{src}");
    }
}

#[test]
fn numbers_are_written_as_github_writes_them() {
    let cases: &[(f64, &str)] = &[
        (1.0, "1"),
        (-1.0, "-1"),
        (0.0, "0"),
        (-0.0, "0"),
        (2.5, "2.5"),
        (0.1, "0.1"),
        (0.1 + 0.2, "0.3"),
        (100.0, "100"),
        (123.456, "123.456"),
        (-2.99e-2, "-0.0299"),
        (1e15, "1000000000000000"),
        (9_007_199_254_740_992.0, "9007199254740992"),
        (1e20, "100000000000000000000"),
        (123_456_789_012_345_680_000.0, "123456789012345680000"),
        (1e21, "1e+21"),
        (1.5e300, "1.5e+300"),
        (f64::MAX, "1.7976931348623157e+308"),
        (-1e21, "-1e+21"),
        (0.000_001, "0.000001"),
        (0.000_001_234, "0.000001234"),
        (1e-7, "1e-7"),
        (1.5e-7, "1.5e-7"),
        (-1e-7, "-1e-7"),
        (1e-15, "1e-15"),
        (1e-16, "0"),
        (5e-324, "0"),
        (1.000_000_000_000_000_2, "1"),
        (1.234_567_890_123_456_7, "1.234567890123457"),
        (f64::NAN, "NaN"),
        (f64::INFINITY, "Infinity"),
        (f64::NEG_INFINITY, "-Infinity"),
    ];
    for (number, want) in cases {
        assert_eq!(format_number(*number), *want, "{number:e}");
    }
}

#[test]
fn strings_become_numbers_as_github_reads_them() {
    let cases: &[(&str, f64)] = &[
        ("", 0.0),
        ("  ", 0.0),
        (" 42 ", 42.0),
        ("\t7\n", 7.0),
        ("+1", 1.0),
        ("-1.5", -1.5),
        ("1.", 1.0),
        (".5", 0.5),
        ("1e3", 1000.0),
        ("1E-1", 0.1),
        ("0xff", 255.0),
        ("0xFF", 255.0),
        ("0o10", 8.0),
        ("0x7fffffff", 2_147_483_647.0),
        ("Infinity", f64::INFINITY),
        ("+Infinity", f64::INFINITY),
        ("-Infinity", f64::NEG_INFINITY),
    ];
    for (text, want) in cases {
        assert_eq!(parse_number(text), *want, "{text:?}");
    }
    let nan = [
        "abc",
        "1,000",
        "0x",
        "-0x1",
        "0x80000000",
        "0o8",
        "NaN",
        "inf",
        "infinity",
        "1e",
        "e5",
        "..5",
        "1_000",
        "1 2",
        "true",
        "null",
        "0b1",
    ];
    for text in nan {
        assert!(parse_number(text).is_nan(), "{text:?}");
    }
}

/// A context with only what the trait requires.
struct BareContext;

impl Context for BareContext {
    fn get(&self, name: &str) -> Option<&Value> {
        let _ = name;
        None
    }
}

#[test]
fn the_context_defaults_are_a_successful_job_without_hashfiles() {
    check("success()", eval_text("success()", &BareContext), "true");
    check("failure()", eval_text("failure()", &BareContext), "false");
    check("github", eval_text("github.ref", &BareContext), "null");
    check("hashFiles", eval_text("hashFiles('*')", &BareContext), "?hashFiles is not available here");
    let error = eval_text("1 == hashFiles('*')", &BareContext).ok().and_then(Result::err);
    assert_eq!(error.map(|error| error.range), Some(5..19));
}

#[test]
fn public_value_helpers_follow_github() {
    let truthy = [json!(true), json!(1), json!(-1), json!("a"), json!("false"), json!("0"), json!([]), json!({})];
    let falsy = [json!(false), json!(0), json!(-0.0), json!(0.0), json!(""), json!(null)];
    for value in &truthy {
        assert!(is_truthy(value), "{value}");
    }
    for value in &falsy {
        assert!(!is_truthy(value), "{value}");
    }
    let display = [
        (json!(null), ""),
        (json!(true), "true"),
        (json!(false), "false"),
        (json!(1), "1"),
        (json!(1.0), "1"),
        (json!(-0.0), "0"),
        (json!(2.5), "2.5"),
        (json!(1e21), "1e+21"),
        (json!("text"), "text"),
        (json!([1, "a"]), "[\n  1,\n  \"a\"\n]"),
        (json!({"a": 1.0}), "{\n  \"a\": 1\n}"),
        (json!({}), "{}"),
    ];
    for (value, want) in display {
        assert_eq!(to_display_string(&value), want, "{value}");
    }
}

#[test]
fn every_table_has_many_cases() {
    let n_cases = LITERALS.len()
        + EQUALITY.len()
        + ORDERING.len()
        + LOGIC.len()
        + ACCESS.len()
        + FILTERS.len()
        + FUNCTIONS.len()
        + PARSE_ERRORS.len()
        + TEMPLATES.len()
        + CONDITIONS.len();
    assert!(n_cases >= 300, "{n_cases} cases");
}

/// Every text the tables hold, to seed the no-panic loop.
fn corpus() -> Vec<String> {
    let tables = [LITERALS, EQUALITY, ORDERING, LOGIC, ACCESS, FILTERS, FUNCTIONS, TEMPLATES];
    let mut texts: Vec<String> = tables.into_iter().flatten().map(|(src, _)| (*src).to_owned()).collect();
    texts.extend(PARSE_ERRORS.iter().map(|(src, _, _)| (*src).to_owned()));
    texts.extend(CONDITIONS.iter().map(|(src, _, _)| (*src).to_owned()));
    texts
}

/// Parses and evaluates `text` every way the API allows; only a panic fails.
fn exercise(text: &str, ctx: &dyn Context) {
    if let Ok(expr) = parse(text) {
        let _ = evaluate(&expr, ctx);
        let _ = expr.contexts();
        let _ = expr.uses_status_function();
    }
    if let Ok(template) = Template::parse(text) {
        let _ = template.evaluate(ctx);
        let _ = template.render(ctx);
    }
    if let Ok(condition) = Condition::parse(text) {
        let _ = condition.evaluate(ctx);
    }
}

#[test]
fn no_input_makes_parsing_or_evaluation_panic() {
    let contexts = [test_context(S), test_context(F), test_context(C)];
    let replacements = [
        "(", ")", "'", "[", "]", ".", "*", "!", "=", "&", "|", "$", "{", "}", ",", " ", "0", "a", "-", "é", "${{",
        "}}", "''", "\"", "0x", "e", "\u{0}",
    ];
    let mut n_inputs = 0;
    for (text_idx, text) in corpus().iter().enumerate() {
        let ctx = &contexts[text_idx % contexts.len()];
        let boundaries: Vec<usize> = text.char_indices().map(|(idx, _)| idx).chain([text.len()]).collect();
        for &cut in &boundaries {
            exercise(&text[..cut], ctx);
            exercise(&text[cut..], ctx);
            n_inputs += 2;
        }
        for pair in boundaries.windows(2) {
            let (start, end) = (pair[0], pair[1]);
            exercise(&format!("{}{}", &text[..start], &text[end..]), ctx);
            exercise(&format!("{}{}", &text[..end], &text[start..]), ctx);
            for replacement in replacements {
                exercise(&format!("{}{replacement}{}", &text[..start], &text[end..]), ctx);
                n_inputs += 1;
            }
            n_inputs += 2;
        }
        exercise(&format!("${{{{ {text} }}}}"), ctx);
        exercise(&format!("{text} && {text}"), ctx);
        exercise(&format!("!({text})"), ctx);
        n_inputs += 3;
    }
    assert!(n_inputs > 50_000, "{n_inputs}");
}

#[test]
fn random_token_soups_do_not_panic() {
    let pieces = [
        "(",
        ")",
        "[",
        "]",
        ".",
        "*",
        "!",
        "==",
        "!=",
        "<",
        "<=",
        ">",
        ">=",
        "&&",
        "||",
        ",",
        "'a'",
        "''",
        "'{0}'",
        "'{'",
        "1",
        "-1.5",
        "0xff",
        "1e400",
        "null",
        "true",
        "NaN",
        "Infinity",
        "github",
        "vars",
        "list",
        "obj",
        "needs",
        "result",
        "format",
        "contains",
        "join",
        "toJSON",
        "fromJSON",
        "hashFiles",
        "success",
        "always",
        "'[1,{}]'",
        "${{",
        "}}",
        " ",
        "é",
        "\"",
    ];
    let contexts = [test_context(S), test_context(F), test_context(C)];
    // xorshift64: deterministic, so a failure reproduces.
    let mut state: u64 = 0x9E37_79B9_7F4A_7C15;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        usize::try_from(state % 1_000_003).unwrap_or(0)
    };
    for round in 0..30_000 {
        let n_pieces = 1 + next() % 40;
        let text: String = (0..n_pieces).map(|_| pieces[next() % pieces.len()]).collect();
        exercise(&text, &contexts[round % contexts.len()]);
    }
}

/// Checks over the real-world corpus, run by `scripts/corpus` where the corpus is (tests under
/// `corpus::` are left out of `scripts/test`, so a clone without it passes).
mod corpus {
    use std::path::{Path, PathBuf};

    use super::*;

    /// `.yml` and `.yaml` files under `dir`, sorted.
    fn yaml_files(dir: &Path) -> Vec<PathBuf> {
        let mut files = Vec::new();
        let mut dirs = vec![dir.to_path_buf()];
        while let Some(dir) = dirs.pop() {
            let entries = std::fs::read_dir(&dir).unwrap_or_else(|error| panic!("{}: {error}", dir.display()));
            for path in entries.flatten().map(|entry| entry.path()) {
                if path.is_dir() {
                    dirs.push(path);
                } else if path.extension().is_some_and(|ext| ext == "yml" || ext == "yaml") {
                    files.push(path);
                }
            }
        }
        files.sort();
        files
    }

    /// The `if:` values written on one line, unquoted as YAML would: `(line index, condition)`.
    /// Block scalars (`|`, `>`) span lines and are left out.
    fn one_line_conditions(text: &str) -> Vec<(usize, String)> {
        let mut conditions = Vec::new();
        for (line_idx, line) in text.lines().enumerate() {
            let Some(value) = line.trim_start().trim_start_matches("- ").strip_prefix("if:") else { continue };
            let value = value.trim();
            let value = value.split_once(" #").map_or(value, |(before, _)| before).trim();
            if value.is_empty() || value.starts_with(['|', '>']) {
                continue;
            }
            let condition = if let Some(quoted) = value.strip_prefix('\'').and_then(|v| v.strip_suffix('\'')) {
                quoted.replace("''", "'")
            } else if let Some(quoted) = value.strip_prefix('"').and_then(|v| v.strip_suffix('"')) {
                quoted.replace("\\\"", "\"")
            } else {
                value.to_owned()
            };
            conditions.push((line_idx, condition));
        }
        conditions
    }

    /// GitHub runs every workflow in the real-world corpus, so every `${{ }}` and `if:` in it must
    /// parse, and read only contexts GitHub defines. Each file is read as one template, which finds the
    /// expressions that span lines too.
    #[test]
    fn every_expression_in_the_corpus_parses() {
        let corpus = std::env::var("FERRY_CORPUS")
            .map(PathBuf::from)
            .unwrap_or_else(|_| Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/corpus"));
        let files: Vec<PathBuf> =
            ["workflows", "actions"].iter().flat_map(|dir| yaml_files(&corpus.join(dir))).collect();
        let (mut n_expressions, mut n_conditions) = (0, 0);
        for file in &files {
            let text = std::fs::read_to_string(file).unwrap_or_else(|error| panic!("{}: {error}", file.display()));
            let template = Template::parse(&text).unwrap_or_else(|error| {
                let pos = crate::Pos::at(&text, error.range.start);
                panic!("{}:{}:{}: {}", file.display(), pos.line, pos.col, error.message)
            });
            for (expr, offset) in template.expressions() {
                n_expressions += 1;
                for (name, range) in expr.contexts() {
                    let pos = crate::Pos::at(&text, offset + range.start);
                    assert!(
                        CONTEXTS.contains(&name.as_str()),
                        "{}:{}: unknown context {name}",
                        file.display(),
                        pos.line
                    );
                }
            }
            // Evaluating without contexts may fail (fromJSON of a missing output), never panic.
            let _ = template.render(&BareContext);
            for (line_idx, condition) in one_line_conditions(&text) {
                n_conditions += 1;
                if let Err(error) = Condition::parse(&condition) {
                    panic!("{}:{}: {} in `{condition}`", file.display(), line_idx + 1, error.message);
                }
            }
        }
        assert!(files.len() >= 80, "{} files in {}", files.len(), corpus.display());
        assert!(n_expressions >= 2000, "{n_expressions} expressions");
        assert!(n_conditions >= 400, "{n_conditions} conditions");
    }
}
