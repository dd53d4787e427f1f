//! Templates read into a tree: text and actions split at `{{ }}` (with `{{-`/`-}}` trimming and
//! comments), actions lexed into tokens and parsed into pipelines and control structures.
//! Functions and variables are checked here, as Go's parser checks them.

use super::functions::is_function;
use super::{Context, TemplateError, Value};

/// A parsed template.
#[derive(Clone, Debug)]
pub struct Template {
    name: String,
    nodes: Vec<Node>,
}

#[derive(Clone, Debug)]
pub(super) enum Node {
    Text(String),
    Action(Pipeline, usize),
    If { branches: Vec<(Pipeline, Vec<Node>)>, otherwise: Vec<Node>, line: usize },
    With { branches: Vec<(Pipeline, Vec<Node>)>, otherwise: Vec<Node>, line: usize },
    Range { pipe: Pipeline, body: Vec<Node>, otherwise: Vec<Node>, line: usize },
}

#[derive(Clone, Debug)]
pub(super) struct Pipeline {
    /// Variables declared (`$x :=`) or assigned (`$x =`) with the pipeline's value.
    pub decl: Vec<String>,
    pub assign: bool,
    pub cmds: Vec<Vec<Operand>>,
}

#[derive(Clone, Debug)]
pub(super) enum Operand {
    Func(String),
    /// `.` followed by fields (`.Labels.x`); empty for the dot itself.
    Dot(Vec<String>),
    /// `$name` followed by fields.
    Var(String, Vec<String>),
    /// A parenthesised pipeline followed by fields.
    Sub(Box<Pipeline>, Vec<String>),
    Lit(Value),
}

#[derive(Clone, Debug, PartialEq)]
enum Tok {
    Dot,
    /// A field; `true` when it follows the previous term without a space (`$x.y`, `(…).y`).
    Field(String, bool),
    Var(String),
    Ident(String),
    Str(String),
    Num(String),
    Pipe,
    LParen,
    RParen,
    Comma,
    Declare,
    Assign,
}

/// One `{{ }}` action's tokens and the line it starts on.
struct Action {
    toks: Vec<Tok>,
    line: usize,
}

enum Piece {
    Text(String),
    Action(Action),
}

impl Template {
    /// Parses `text`; `vars` are the variables defined before it (`$labels`, …).
    ///
    /// # Errors
    /// Go's message for a syntax error, an unknown function or an undefined variable.
    pub fn parse(name: &str, text: &str, vars: &[&str]) -> Result<Template, TemplateError> {
        let err = |line: usize, message: String| TemplateError { name: name.to_owned(), line, message };
        let pieces = split(text).map_err(|(line, message)| err(line, message))?;
        let mut parser = Parser { pieces, pos: 0, scopes: vars.iter().map(|v| (*v).to_owned()).collect() };
        let (nodes, end) = parser.list().map_err(|(line, message)| err(line, message))?;
        if let Some((keyword, line)) = end {
            return Err(err(line, format!("unexpected {{{{{keyword}}}}}")));
        }
        Ok(Template { name: name.to_owned(), nodes })
    }

    /// Expands the template.
    ///
    /// # Errors
    /// When a function fails or a field does not exist, with Go's words.
    pub fn execute(&self, cx: &mut Context<'_>) -> Result<String, TemplateError> {
        let mut out = String::new();
        let dot = cx.data.clone();
        super::exec::run(&self.nodes, &dot, cx, &mut out).map_err(|(line, message)| TemplateError {
            name: self.name.clone(),
            line,
            message,
        })?;
        Ok(out)
    }
}

type ParseResult<T> = Result<T, (usize, String)>;
/// Nodes and the `{{else}}`/`{{end}}` that ended them, with its line.
type ListResult = ParseResult<(Vec<Node>, Option<(String, usize)>)>;

/// Splits text from actions and lexes each action.
fn split(text: &str) -> ParseResult<Vec<Piece>> {
    let mut pieces = Vec::new();
    let mut rest = text;
    let mut line = 1;
    let mut trim_next_text = false;
    while !rest.is_empty() {
        let Some(open) = rest.find("{{") else {
            let mut chunk = rest;
            if trim_next_text {
                chunk = chunk.trim_start();
            }
            pieces.push(Piece::Text(chunk.to_owned()));
            break;
        };
        let mut chunk = &rest[..open];
        if trim_next_text {
            chunk = chunk.trim_start();
        }
        line += rest[..open].matches('\n').count();
        let mut body = &rest[open + 2..];
        if body.starts_with("- ") || body.starts_with("-\t") || body.starts_with("-\n") || body.starts_with("-\r") {
            chunk = chunk.trim_end();
            body = &body[1..];
        }
        if !chunk.is_empty() {
            pieces.push(Piece::Text(chunk.to_owned()));
        }
        let (toks, used, trim_right) = lex(body, line)?;
        line += body[..used].matches('\n').count();
        rest = &body[used..];
        trim_next_text = trim_right;
        if let Some(toks) = toks {
            pieces.push(Piece::Action(Action { toks, line }));
        }
    }
    Ok(pieces)
}

/// Lexes one action's body up to its `}}`: the tokens (none for a comment), the bytes used
/// (closing delimiter included) and whether it ends with `-}}`.
fn lex(body: &str, line: usize) -> ParseResult<(Option<Vec<Tok>>, usize, bool)> {
    let bytes = body.as_bytes();
    let unclosed = || (line, "unclosed action".to_owned());
    let lead = body.len() - body.trim_start().len();
    if body[lead..].starts_with("/*") {
        let end = body[lead..].find("*/").ok_or((line, "unclosed comment".to_owned()))? + lead + 2;
        let after = &body[end..];
        let trimmed = after.trim_start();
        if let Some(rest) = trimmed.strip_prefix("-}}") {
            return Ok((None, body.len() - rest.len(), true));
        }
        if let Some(rest) = after.strip_prefix("}}") {
            return Ok((None, body.len() - rest.len(), false));
        }
        return Err((line, "comment ends before closing delimiter".to_owned()));
    }
    let mut toks = Vec::new();
    let mut i = 0;
    let mut after_space = true;
    while i < bytes.len() {
        let c = bytes[i];
        if c == b' ' || c == b'\t' || c == b'\n' || c == b'\r' {
            if body[i..].trim_start().starts_with("-}}") {
                let at = i + (body[i..].len() - body[i..].trim_start().len());
                return Ok((Some(toks), at + 3, true));
            }
            after_space = true;
            i += 1;
            continue;
        }
        if body[i..].starts_with("}}") {
            return Ok((Some(toks), i + 2, false));
        }
        let chained = !after_space && matches!(toks.last(), Some(Tok::Var(_) | Tok::RParen | Tok::Field(..)));
        after_space = false;
        match c {
            b'|' => {
                toks.push(Tok::Pipe);
                i += 1;
            }
            b'(' => {
                toks.push(Tok::LParen);
                i += 1;
            }
            b')' => {
                toks.push(Tok::RParen);
                i += 1;
            }
            b',' => {
                toks.push(Tok::Comma);
                i += 1;
            }
            b':' if bytes.get(i + 1) == Some(&b'=') => {
                toks.push(Tok::Declare);
                i += 2;
            }
            b'=' => {
                toks.push(Tok::Assign);
                i += 1;
            }
            b'"' => {
                let mut value = String::new();
                let mut j = i + 1;
                let mut chars = body[j..].char_indices();
                loop {
                    let Some((at, ch)) = chars.next() else { return Err(unclosed()) };
                    match ch {
                        '"' => {
                            j += at + 1;
                            break;
                        }
                        '\\' => {
                            let Some((_, esc)) = chars.next() else { return Err(unclosed()) };
                            value.push(match esc {
                                'n' => '\n',
                                't' => '\t',
                                'r' => '\r',
                                '0' => '\0',
                                other => other,
                            });
                        }
                        '\n' => return Err((line, "unterminated quoted string".to_owned())),
                        other => value.push(other),
                    }
                }
                toks.push(Tok::Str(value));
                i = j;
            }
            b'`' => {
                let end = body[i + 1..].find('`').ok_or_else(unclosed)?;
                toks.push(Tok::Str(body[i + 1..i + 1 + end].to_owned()));
                i += end + 2;
            }
            b'.' if bytes.get(i + 1).is_some_and(|b| b.is_ascii_alphabetic() || *b == b'_') => {
                let len = ident_len(&body[i + 1..]);
                toks.push(Tok::Field(body[i + 1..i + 1 + len].to_owned(), chained));
                i += 1 + len;
            }
            b'.' => {
                toks.push(Tok::Dot);
                i += 1;
            }
            b'$' => {
                let len = ident_len(&body[i + 1..]);
                toks.push(Tok::Var(body[i + 1..i + 1 + len].to_owned()));
                i += 1 + len;
            }
            b'0'..=b'9' | b'-' | b'+' => {
                let len = body[i + 1..]
                    .bytes()
                    .take_while(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'+' | b'-'))
                    .count();
                toks.push(Tok::Num(body[i..i + 1 + len].to_owned()));
                i += 1 + len;
            }
            c if c.is_ascii_alphabetic() || c == b'_' => {
                let len = ident_len(&body[i..]);
                toks.push(Tok::Ident(body[i..i + len].to_owned()));
                i += len;
            }
            _ => {
                let ch = body[i..].chars().next().unwrap_or('?');
                return Err((line, format!("unexpected {ch:?} in command")));
            }
        }
    }
    Err(unclosed())
}

fn ident_len(text: &str) -> usize {
    text.bytes().take_while(|b| b.is_ascii_alphanumeric() || *b == b'_').count()
}

struct Parser {
    pieces: Vec<Piece>,
    pos: usize,
    scopes: Vec<String>,
}

impl Parser {
    /// Nodes up to an `{{else …}}` or `{{end}}` (returned with its line and remaining tokens
    /// left in place) or the end of the template.
    fn list(&mut self) -> ListResult {
        let mut nodes = Vec::new();
        while self.pos < self.pieces.len() {
            let idx = self.pos;
            self.pos += 1;
            let action = match &self.pieces[idx] {
                Piece::Text(text) => {
                    nodes.push(Node::Text(text.clone()));
                    continue;
                }
                Piece::Action(action) => Action { toks: action.toks.clone(), line: action.line },
            };
            let line = action.line;
            match action.toks.first() {
                Some(Tok::Ident(word)) if word == "end" || word == "else" => {
                    // Leave the rest of an `else if` for the caller.
                    if let Piece::Action(a) = &mut self.pieces[idx] {
                        a.toks.remove(0);
                    }
                    self.pos = idx;
                    return Ok((nodes, Some((word.clone(), line))));
                }
                Some(Tok::Ident(word)) if word == "if" || word == "with" => {
                    let word = word.clone();
                    let depth = self.scopes.len();
                    let (branches, otherwise) = self.conditional(&action.toks[1..], line)?;
                    self.scopes.truncate(depth);
                    nodes.push(if word == "if" {
                        Node::If { branches, otherwise, line }
                    } else {
                        Node::With { branches, otherwise, line }
                    });
                }
                Some(Tok::Ident(word)) if word == "range" => {
                    let depth = self.scopes.len();
                    let pipe = self.pipeline(&action.toks[1..], line, true)?;
                    let (body, end) = self.list()?;
                    let otherwise = match self.take_end(end, line)? {
                        Some(rest) if rest.is_empty() => {
                            let (otherwise, end) = self.list()?;
                            if self.take_end(end, line)?.is_some() {
                                return Err((line, "expected end; found else".to_owned()));
                            }
                            otherwise
                        }
                        Some(_) => return Err((line, "range can't use else if".to_owned())),
                        None => Vec::new(),
                    };
                    self.scopes.truncate(depth);
                    nodes.push(Node::Range { pipe, body, otherwise, line });
                }
                Some(Tok::Ident(word))
                    if matches!(word.as_str(), "define" | "template" | "block" | "break" | "continue") =>
                {
                    return Err((line, format!("{{{{{word}}}}} is not supported in rule templates")));
                }
                None => return Err((line, "missing value for command".to_owned())),
                _ => {
                    let pipe = self.pipeline(&action.toks, line, false)?;
                    nodes.push(Node::Action(pipe, line));
                }
            }
        }
        Ok((nodes, None))
    }

    /// After a list ended at `end`: `None` for `{{end}}`, the tokens after `else` for an else.
    fn take_end(&mut self, end: Option<(String, usize)>, line: usize) -> ParseResult<Option<Vec<Tok>>> {
        let Some((word, _)) = end else {
            return Err((line, "unexpected EOF".to_owned()));
        };
        let idx = self.pos;
        self.pos += 1;
        let rest = match &self.pieces[idx] {
            Piece::Action(action) => action.toks.clone(),
            Piece::Text(_) => Vec::new(),
        };
        if word == "end" {
            if !rest.is_empty() {
                return Err((line, "unexpected tokens after end".to_owned()));
            }
            return Ok(None);
        }
        Ok(Some(rest))
    }

    #[expect(clippy::type_complexity, reason = "branches and the else list, used once")]
    fn conditional(&mut self, toks: &[Tok], line: usize) -> ParseResult<(Vec<(Pipeline, Vec<Node>)>, Vec<Node>)> {
        let mut branches = Vec::new();
        let mut cond = toks.to_vec();
        loop {
            let pipe = self.pipeline(&cond, line, false)?;
            let (body, end) = self.list()?;
            branches.push((pipe, body));
            match self.take_end(end, line)? {
                None => return Ok((branches, Vec::new())),
                Some(rest) if rest.is_empty() => {
                    let (otherwise, end) = self.list()?;
                    if self.take_end(end, line)?.is_some() {
                        return Err((line, "expected end; found else".to_owned()));
                    }
                    return Ok((branches, otherwise));
                }
                Some(rest) => match rest.first() {
                    Some(Tok::Ident(word)) if word == "if" || word == "with" => cond = rest[1..].to_vec(),
                    _ => return Err((line, "unexpected tokens after else".to_owned())),
                },
            }
        }
    }

    fn pipeline(&mut self, toks: &[Tok], line: usize, range: bool) -> ParseResult<Pipeline> {
        let mut decl = Vec::new();
        let mut assign = false;
        let mut rest = toks;
        // `$x :=`, `$x =`, and in range `$i, $e :=`.
        let declared_at = toks.iter().position(|t| matches!(t, Tok::Declare | Tok::Assign));
        if let Some(at) = declared_at
            && toks[..at].iter().all(|t| matches!(t, Tok::Var(_) | Tok::Comma))
            && at > 0
        {
            for tok in &toks[..at] {
                if let Tok::Var(name) = tok {
                    decl.push(name.clone());
                }
            }
            if decl.len() > 1 && !range {
                return Err((line, "too many declarations in command".to_owned()));
            }
            assign = toks[at] == Tok::Assign;
            rest = &toks[at + 1..];
        }
        if assign {
            for name in &decl {
                if !self.scopes.contains(name) {
                    return Err((line, format!("undefined variable \"${name}\"")));
                }
            }
        }
        let mut cmds = Vec::new();
        let mut pos = 0;
        loop {
            let (cmd, next) = self.command(rest, pos, line)?;
            cmds.push(cmd);
            match rest.get(next) {
                Some(Tok::Pipe) => pos = next + 1,
                None => break,
                Some(other) => return Err((line, format!("unexpected {other:?} in operand"))),
            }
        }
        if !assign {
            self.scopes.extend(decl.iter().cloned());
        }
        Ok(Pipeline { decl, assign, cmds })
    }

    /// One command from `toks[pos..]`: operands up to `|`, `)` or the end.
    fn command(&mut self, toks: &[Tok], mut pos: usize, line: usize) -> ParseResult<(Vec<Operand>, usize)> {
        let mut operands = Vec::new();
        while let Some(tok) = toks.get(pos) {
            let operand = match tok {
                Tok::Pipe | Tok::RParen => break,
                Tok::Dot => {
                    pos += 1;
                    Operand::Dot(Vec::new())
                }
                Tok::Field(name, _) => {
                    pos += 1;
                    let mut fields = vec![name.clone()];
                    pos = chain(toks, pos, &mut fields);
                    Operand::Dot(fields)
                }
                Tok::Var(name) => {
                    if !name.is_empty() && !self.scopes.contains(name) {
                        return Err((line, format!("undefined variable \"${name}\"")));
                    }
                    pos += 1;
                    let mut fields = Vec::new();
                    pos = chain(toks, pos, &mut fields);
                    Operand::Var(name.clone(), fields)
                }
                Tok::LParen => {
                    let close = matching_paren(toks, pos).ok_or((line, "unclosed left paren".to_owned()))?;
                    let inner = self.pipeline(&toks[pos + 1..close], line, false)?;
                    pos = close + 1;
                    let mut fields = Vec::new();
                    pos = chain(toks, pos, &mut fields);
                    Operand::Sub(Box::new(inner), fields)
                }
                Tok::Ident(word) => {
                    pos += 1;
                    match word.as_str() {
                        "true" => Operand::Lit(Value::Bool(true)),
                        "false" => Operand::Lit(Value::Bool(false)),
                        "nil" => Operand::Lit(Value::Nil),
                        name if is_function(name) => Operand::Func(name.to_owned()),
                        name => return Err((line, format!("function {name:?} not defined"))),
                    }
                }
                Tok::Str(text) => {
                    pos += 1;
                    Operand::Lit(Value::Str(text.clone()))
                }
                Tok::Num(text) => {
                    pos += 1;
                    Operand::Lit(number(text).ok_or((line, format!("bad number syntax: {text:?}")))?)
                }
                Tok::Comma | Tok::Declare | Tok::Assign => {
                    return Err((line, format!("unexpected {tok:?} in command")));
                }
            };
            operands.push(operand);
        }
        if operands.is_empty() {
            return Err((line, "missing value for command".to_owned()));
        }
        Ok((operands, pos))
    }
}

fn chain(toks: &[Tok], mut pos: usize, fields: &mut Vec<String>) -> usize {
    while let Some(Tok::Field(name, true)) = toks.get(pos) {
        fields.push(name.clone());
        pos += 1;
    }
    pos
}

fn matching_paren(toks: &[Tok], open: usize) -> Option<usize> {
    let mut depth = 0;
    for (idx, tok) in toks.iter().enumerate().skip(open) {
        match tok {
            Tok::LParen => depth += 1,
            Tok::RParen => {
                depth -= 1;
                if depth == 0 {
                    return Some(idx);
                }
            }
            _ => {}
        }
    }
    None
}

fn number(text: &str) -> Option<Value> {
    if let Ok(int) = text.parse::<i64>() {
        return Some(Value::Int(int));
    }
    if let Some(hex) = text.strip_prefix("0x") {
        return i64::from_str_radix(hex, 16).ok().map(Value::Int);
    }
    text.parse::<f64>().ok().filter(|v| v.is_finite()).map(Value::Float)
}
