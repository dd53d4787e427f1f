//! Running a parsed template: text is copied, pipelines evaluated left to right with each
//! command's result passed as the next one's last argument, control structures and variable
//! scopes as Go's `text/template` executes them.

use super::parse::{Node, Operand, Pipeline};
use super::{Context, Value, functions};

type ExecResult<T> = Result<T, (usize, String)>;

pub(super) fn run(nodes: &[Node], dot: &Value, cx: &mut Context<'_>, out: &mut String) -> ExecResult<()> {
    for node in nodes {
        match node {
            Node::Text(text) => out.push_str(text),
            Node::Action(pipe, line) => {
                let value = pipeline(pipe, dot, cx, *line)?;
                if pipe.decl.is_empty() {
                    out.push_str(&value.to_text());
                }
            }
            Node::If { branches, otherwise, line } | Node::With { branches, otherwise, line } => {
                let is_with = matches!(node, Node::With { .. });
                let depth = cx.vars.len();
                let mut done = false;
                for (cond, body) in branches {
                    let value = pipeline(cond, dot, cx, *line)?;
                    if value.truthy() {
                        let inner_dot = if is_with { value } else { dot.clone() };
                        run(body, &inner_dot, cx, out)?;
                        done = true;
                        break;
                    }
                }
                if !done {
                    run(otherwise, dot, cx, out)?;
                }
                cx.vars.truncate(depth);
            }
            Node::Range { pipe, body, otherwise, line } => {
                let depth = cx.vars.len();
                let mut inner = pipe.clone();
                inner.decl.clear();
                let value = pipeline(&inner, dot, cx, *line)?;
                let items: Vec<(Value, Value)> = match &value {
                    Value::List(items) => {
                        items.iter().enumerate().map(|(idx, item)| (Value::Int(idx as i64), item.clone())).collect()
                    }
                    Value::Map(map) => {
                        map.iter().map(|(k, v)| (Value::Str(k.clone()), Value::Str(v.clone()))).collect()
                    }
                    Value::Int(n) => (0..*n).map(|i| (Value::Int(i), Value::Int(i))).collect(),
                    Value::Nil => Vec::new(),
                    other => return Err((*line, format!("range can't iterate over {}", other.to_text()))),
                };
                if items.is_empty() {
                    run(otherwise, dot, cx, out)?;
                }
                for (key, item) in items {
                    let scope = cx.vars.len();
                    match pipe.decl.as_slice() {
                        [] => {}
                        [elem] => cx.vars.push((elem.clone(), item.clone())),
                        [idx, elem, ..] => {
                            cx.vars.push((idx.clone(), key));
                            cx.vars.push((elem.clone(), item.clone()));
                        }
                    }
                    run(body, &item, cx, out)?;
                    cx.vars.truncate(scope);
                }
                cx.vars.truncate(depth);
            }
        }
    }
    Ok(())
}

fn pipeline(pipe: &Pipeline, dot: &Value, cx: &mut Context<'_>, line: usize) -> ExecResult<Value> {
    let mut piped: Option<Value> = None;
    for cmd in &pipe.cmds {
        piped = Some(command(cmd, dot, cx, piped, line)?);
    }
    let value = piped.unwrap_or(Value::Nil);
    for name in &pipe.decl {
        if pipe.assign {
            if let Some(slot) = cx.vars.iter_mut().rev().find(|(n, _)| n == name) {
                slot.1 = value.clone();
            }
        } else {
            cx.vars.push((name.clone(), value.clone()));
        }
    }
    Ok(value)
}

fn command(cmd: &[Operand], dot: &Value, cx: &mut Context<'_>, piped: Option<Value>, line: usize) -> ExecResult<Value> {
    match &cmd[0] {
        Operand::Func(name) => {
            // `and` and `or` stop at the first argument that decides them, as Go's do.
            if name == "and" || name == "or" {
                let mut last = Value::Nil;
                let n_args = cmd.len() - 1 + usize::from(piped.is_some());
                if n_args == 0 {
                    return Err((line, format!("wrong number of args for {name}: want at least 1 got 0")));
                }
                for operand in &cmd[1..] {
                    last = operand_value(operand, dot, cx, line)?;
                    if last.truthy() != (name == "and") {
                        return Ok(last);
                    }
                }
                return Ok(piped.unwrap_or(last));
            }
            let mut args = Vec::with_capacity(cmd.len());
            for operand in &cmd[1..] {
                args.push(operand_value(operand, dot, cx, line)?);
            }
            args.extend(piped);
            functions::call(name, &args, cx).map_err(|message| (line, format!("error calling {name}: {message}")))
        }
        operand => {
            if cmd.len() > 1 || piped.is_some() {
                return Err((line, "can't give argument to non-function".to_owned()));
            }
            operand_value(operand, dot, cx, line)
        }
    }
}

fn operand_value(operand: &Operand, dot: &Value, cx: &mut Context<'_>, line: usize) -> ExecResult<Value> {
    let (base, fields) = match operand {
        Operand::Func(name) => return functions::call(name, &[], cx).map_err(|error| (line, error.to_string())),
        Operand::Lit(value) => return Ok(value.clone()),
        Operand::Dot(fields) => (dot.clone(), fields),
        Operand::Var(name, fields) => {
            let value = if name.is_empty() {
                cx.data.clone()
            } else {
                cx.vars
                    .iter()
                    .rev()
                    .find(|(n, _)| n == name)
                    .map(|(_, v)| v.clone())
                    .ok_or((line, format!("undefined variable \"${name}\"")))?
            };
            (value, fields)
        }
        Operand::Sub(pipe, fields) => (pipeline(pipe, dot, cx, line)?, fields),
    };
    let mut value = base;
    for field in fields {
        value = match &value {
            Value::Map(map) => Value::Str(map.get(field).cloned().unwrap_or_default()),
            Value::Struct(fields) => match fields.iter().find(|(name, _)| name == field) {
                Some((_, v)) => v.clone(),
                None => return Err((line, format!("can't evaluate field {field} in type {}", value.go_type()))),
            },
            Value::Nil => return Err((line, format!("nil pointer evaluating interface {{}}.{field}"))),
            other => return Err((line, format!("can't evaluate field {field} in type {}", other.go_type()))),
        };
    }
    Ok(value)
}
