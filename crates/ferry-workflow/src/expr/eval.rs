//! Evaluates a syntax tree against a [`Context`]. Recursion follows the tree, whose depth the
//! parser bounds.

use std::cmp::Ordering;

use super::parser::{CompareOp, Index, Node};
use super::value::{Val, find_key, get_property, loose_cmp, loose_eq};
use super::{Context, EvalError, Value};

pub(crate) fn eval<'a>(node: &'a Node, ctx: &'a dyn Context) -> Result<Val<'a>, EvalError> {
    let res = match node {
        Node::Null => Val::Null,
        Node::Bool(b) => Val::Bool(*b),
        Node::Number(n) => Val::Number(*n),
        Node::Str(s) => Val::Str(s.as_str().into()),
        Node::Context { name, .. } => ctx.get(name).map_or(Val::Null, Val::from_ref),
        Node::Index { target, index } => {
            let key = match index {
                Index::Star => None,
                Index::Expr(index) => Some(eval(index, ctx)?),
            };
            let target = eval(target, ctx)?;
            match key {
                None => star(target),
                Some(key) => index_by(target, &key),
            }
        }
        Node::Not(inner) => Val::Bool(!eval(inner, ctx)?.is_truthy()),
        Node::Compare { op, left, right } => {
            let (left, right) = (eval(left, ctx)?, eval(right, ctx)?);
            let order = || loose_cmp(&left, &right);
            Val::Bool(match op {
                CompareOp::Eq => loose_eq(&left, &right),
                CompareOp::Ne => !loose_eq(&left, &right),
                CompareOp::Lt => order() == Some(Ordering::Less),
                CompareOp::Gt => order() == Some(Ordering::Greater),
                CompareOp::Le => loose_eq(&left, &right) || order() == Some(Ordering::Less),
                CompareOp::Ge => loose_eq(&left, &right) || order() == Some(Ordering::Greater),
            })
        }
        Node::And(operands) => logical(operands, ctx, false)?,
        Node::Or(operands) => logical(operands, ctx, true)?,
        Node::Call { function, args, range } => {
            let args = args.iter().map(|arg| eval(arg, ctx)).collect::<Result<Vec<_>, _>>()?;
            function.call(args, ctx).map_err(|error| EvalError { message: error.to_string(), range: range.clone() })?
        }
    };
    Ok(res)
}

/// `&&` (`stop_when` false) and `||` (true): the first operand whose truthiness is
/// `stop_when`, else the last; later operands are not evaluated.
fn logical<'a>(operands: &'a [Node], ctx: &'a dyn Context, stop_when: bool) -> Result<Val<'a>, EvalError> {
    let mut res = Val::Null;
    for operand in operands {
        res = eval(operand, ctx)?;
        if res.is_truthy() == stop_when {
            break;
        }
    }
    Ok(res)
}

/// What an index selects: a non-negative number (truncated) in arrays, a string in objects.
enum Key<'k> {
    Position(usize),
    Name(&'k str),
    Nothing,
}

fn key_of<'k>(key: &'k Val<'_>) -> Key<'k> {
    match key {
        Val::Str(s) => Key::Name(s),
        Val::Number(n) if *n >= 0.0 => {
            // Saturating: an index past any array's length selects nothing either way.
            #[expect(clippy::cast_possible_truncation, clippy::cast_sign_loss, reason = "non-negative, saturating")]
            Key::Position(n.floor() as usize)
        }
        _ => Key::Nothing,
    }
}

/// `target[key]` and `target.key`; a `.*` result applies the access to each element.
fn index_by<'a>(target: Val<'a>, key: &Val<'_>) -> Val<'a> {
    let key = key_of(key);
    match target {
        Val::Borrowed(value) => select_ref(value, &key).map_or(Val::Null, Val::from_ref),
        Val::Owned(value) => select_owned(value, &key).map_or(Val::Null, Val::from_owned),
        Val::Filtered(items) => Val::Filtered(
            items
                .into_iter()
                .filter_map(|item| match item {
                    Val::Borrowed(value) => select_ref(value, &key).map(Val::from_ref),
                    Val::Owned(value) => select_owned(value, &key).map(Val::from_owned),
                    _ => None,
                })
                .collect(),
        ),
        _ => Val::Null,
    }
}

fn select_ref<'v>(value: &'v Value, key: &Key<'_>) -> Option<&'v Value> {
    match (value, key) {
        (Value::Array(items), Key::Position(idx)) => items.get(*idx),
        (Value::Object(map), Key::Name(name)) => get_property(map, name),
        _ => None,
    }
}

fn select_owned(value: Value, key: &Key<'_>) -> Option<Value> {
    match (value, key) {
        (Value::Array(mut items), Key::Position(idx)) if *idx < items.len() => Some(items.swap_remove(*idx)),
        (Value::Object(mut map), Key::Name(name)) => find_key(&map, name).and_then(|key| map.swap_remove(&key)),
        _ => None,
    }
}

/// `target.*` / `target[*]`: the elements of an array or the values of an object; on a `.*`
/// result, the elements of each element, flattened one level.
fn star(target: Val<'_>) -> Val<'_> {
    let mut out = Vec::new();
    match target {
        Val::Filtered(items) => {
            for item in items {
                push_children(item, &mut out);
            }
        }
        other => push_children(other, &mut out),
    }
    Val::Filtered(out)
}

fn push_children<'a>(value: Val<'a>, out: &mut Vec<Val<'a>>) {
    match value {
        Val::Borrowed(Value::Array(items)) => out.extend(items.iter().map(Val::from_ref)),
        Val::Borrowed(Value::Object(map)) => out.extend(map.values().map(Val::from_ref)),
        Val::Owned(Value::Array(items)) => out.extend(items.into_iter().map(Val::from_owned)),
        Val::Owned(Value::Object(map)) => out.extend(map.into_iter().map(|(_, value)| Val::from_owned(value))),
        _ => {}
    }
}
