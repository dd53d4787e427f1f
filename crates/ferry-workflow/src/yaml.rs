//! YAML read into a small tree that keeps every node's [`Span`] and every scalar's style.
//! Public so that `ferry-deploy` reads `.ferry/deploy.yml` with the same front end.
//!
//! We drive `saphyr-parser` (the parser under `saphyr`) ourselves instead of using `saphyr`'s
//! loader because the loader stops at the first duplicate key and forgets scalar styles; we want
//! every duplicate reported, and the style tells whether an expression's byte range inside a
//! scalar maps one-to-one onto the source.

use saphyr_parser::{Event, Marker, Parser, ScalarStyle, SpannedEventReceiver};

use crate::diagnostic::Diagnostic;
use crate::span::{Pos, Span};

/// The checks every reader of a YAML file makes the same way and in the same words, so that
/// workflows, actions and `.ferry/deploy.yml` explain a mistake alike: a node of the wrong type,
/// a mapping's entries, its keys, and an unknown key with the closest known one.
pub trait Reader {
    /// Where the findings go.
    fn diagnostics(&mut self) -> &mut Vec<Diagnostic>;

    fn error(&mut self, code: &'static str, span: Span, message: impl Into<String>, help: impl Into<String>) {
        self.diagnostics().push(Diagnostic::error(code, span, message).with_help(help));
    }

    fn wrong_type(&mut self, node: &Node, what: &str, expected: &str) {
        self.error(
            "wrong-type",
            node.span,
            format!("`{what}` must be {expected}, found {}", node.describe()),
            format!("write {expected} here"),
        );
    }

    /// The entries of a mapping; `null` counts as an empty mapping (`workflow_dispatch:`).
    fn map<'n>(&mut self, node: &'n Node, what: &str) -> &'n [Entry] {
        match &node.kind {
            NodeKind::Map(entries) => entries,
            _ if node.is_null() => &[],
            _ => {
                self.wrong_type(node, what, "a mapping");
                &[]
            }
        }
    }

    /// The text of a mapping key; complex keys are reported.
    fn key<'n>(&mut self, entry: &'n Entry) -> Option<&'n str> {
        let key = entry.key.as_str();
        if key.is_none() {
            self.error("wrong-type", entry.key.span, "mapping keys must be strings", "write a plain key");
        }
        key
    }

    fn unknown_key(&mut self, entry: &Entry, key: &str, known: &[&str], context: &str) {
        let help = match crate::suggest::closest(key, known) {
            Some(candidate) => format!("did you mean `{candidate}`?"),
            None => format!("the keys of {context} are: {}", known.join(", ")),
        };
        self.error("unknown-key", entry.key.span, format!("unknown key `{key}` in {context}"), help);
    }
}

/// How many nodes alias expansion may copy before we stop (a "billion laughs" guard).
const ALIAS_BUDGET: usize = 100_000;
/// How deep collections may nest; readers recurse over the tree, so this bounds their stack.
const MAX_DEPTH: usize = 200;

/// One YAML node and where it is written.
#[derive(Debug, Clone, PartialEq)]
pub struct Node {
    pub kind: NodeKind,
    pub span: Span,
}

#[derive(Debug, Clone, PartialEq)]
pub enum NodeKind {
    Scalar(Scalar),
    Seq(Vec<Node>),
    Map(Vec<Entry>),
}

/// A scalar as written: its text after YAML unescaping, and how it was quoted.
#[derive(Debug, Clone, PartialEq)]
pub struct Scalar {
    pub value: String,
    pub style: Style,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Style {
    Plain,
    SingleQuoted,
    DoubleQuoted,
    Literal,
    Folded,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Entry {
    pub key: Node,
    pub value: Node,
}

impl Node {
    pub fn scalar(&self) -> Option<&Scalar> {
        match &self.kind {
            NodeKind::Scalar(scalar) => Some(scalar),
            _ => None,
        }
    }

    /// The text of a scalar of any style.
    pub fn as_str(&self) -> Option<&str> {
        self.scalar().map(|scalar| scalar.value.as_str())
    }

    pub fn as_map(&self) -> Option<&[Entry]> {
        match &self.kind {
            NodeKind::Map(entries) => Some(entries),
            _ => None,
        }
    }

    pub fn as_seq(&self) -> Option<&[Node]> {
        match &self.kind {
            NodeKind::Seq(items) => Some(items),
            _ => None,
        }
    }

    /// A plain `null`, `~` or empty scalar (YAML 1.2 core schema).
    pub fn is_null(&self) -> bool {
        self.scalar().is_some_and(|scalar| {
            scalar.style == Style::Plain && matches!(scalar.value.as_str(), "" | "~" | "null" | "Null" | "NULL")
        })
    }

    /// A plain boolean (YAML 1.2 core schema).
    pub fn as_bool(&self) -> Option<bool> {
        let scalar = self.scalar().filter(|scalar| scalar.style == Style::Plain)?;
        match scalar.value.as_str() {
            "true" | "True" | "TRUE" => Some(true),
            "false" | "False" | "FALSE" => Some(false),
            _ => None,
        }
    }

    /// A plain number (YAML 1.2 core schema: decimal, `0o`, `0x`, floats, `.inf`, `.nan`).
    pub fn as_f64(&self) -> Option<f64> {
        let scalar = self.scalar().filter(|scalar| scalar.style == Style::Plain)?;
        parse_core_number(&scalar.value)
    }

    /// What kind of value this is, for messages: "a string", "a mapping", …
    pub fn describe(&self) -> &'static str {
        match &self.kind {
            NodeKind::Seq(_) => "a sequence",
            NodeKind::Map(_) => "a mapping",
            NodeKind::Scalar(_) if self.is_null() => "null",
            NodeKind::Scalar(_) if self.as_bool().is_some() => "a boolean",
            NodeKind::Scalar(_) if self.as_f64().is_some() => "a number",
            NodeKind::Scalar(_) => "a string",
        }
    }

    /// The node as JSON, resolving plain scalars with the YAML 1.2 core schema.
    pub fn to_json(&self) -> serde_json::Value {
        use serde_json::Value;
        match &self.kind {
            NodeKind::Seq(items) => Value::Array(items.iter().map(Node::to_json).collect()),
            NodeKind::Map(entries) => Value::Object(
                entries
                    .iter()
                    .map(|entry| {
                        let key = match entry.key.as_str() {
                            Some(text) => text.to_owned(),
                            None => entry.key.to_json().to_string(),
                        };
                        (key, entry.value.to_json())
                    })
                    .collect(),
            ),
            NodeKind::Scalar(scalar) => {
                if self.is_null() {
                    Value::Null
                } else if let Some(flag) = self.as_bool() {
                    Value::Bool(flag)
                } else if let Some(number) = self.as_f64() {
                    json_number(number, &scalar.value)
                } else {
                    Value::String(scalar.value.clone())
                }
            }
        }
    }
}

/// Integers stay integers in JSON; other numbers become doubles (NaN and infinities, which
/// JSON lacks, stay strings).
fn json_number(number: f64, text: &str) -> serde_json::Value {
    if let Ok(int) = text.trim_start_matches('+').parse::<i64>() {
        return serde_json::Value::from(int);
    }
    serde_json::Number::from_f64(number)
        .map_or_else(|| serde_json::Value::String(text.to_owned()), serde_json::Value::Number)
}

fn parse_core_number(text: &str) -> Option<f64> {
    if let Some(octal) = text.strip_prefix("0o") {
        return i64::from_str_radix(octal, 8).ok().map(|n| n as f64);
    }
    if let Some(hex) = text.strip_prefix("0x") {
        return i64::from_str_radix(hex, 16).ok().map(|n| n as f64);
    }
    match text {
        ".inf" | ".Inf" | ".INF" | "+.inf" | "+.Inf" | "+.INF" => return Some(f64::INFINITY),
        "-.inf" | "-.Inf" | "-.INF" => return Some(f64::NEG_INFINITY),
        ".nan" | ".NaN" | ".NAN" => return Some(f64::NAN),
        _ => {}
    }
    // The core schema's float: [-+]? ( \. [0-9]+ | [0-9]+ ( \. [0-9]* )? ) ( [eE] [-+]? [0-9]+ )?
    let body = text.strip_prefix(['-', '+']).unwrap_or(text);
    let (mantissa, exponent) = match body.find(['e', 'E']) {
        Some(idx) => (&body[..idx], Some(&body[idx + 1..])),
        None => (body, None),
    };
    let (int_part, frac_part) = match mantissa.split_once('.') {
        Some((int_part, frac_part)) => (int_part, Some(frac_part)),
        None => (mantissa, None),
    };
    let digits = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
    let mantissa_ok = match frac_part {
        None => !int_part.is_empty() && digits(int_part),
        Some(frac) if int_part.is_empty() => !frac.is_empty() && digits(frac),
        Some(frac) => digits(int_part) && digits(frac),
    };
    let exponent_ok = exponent.is_none_or(|exp| {
        let exp = exp.strip_prefix(['-', '+']).unwrap_or(exp);
        !exp.is_empty() && digits(exp)
    });
    if mantissa_ok && exponent_ok { text.parse::<f64>().ok() } else { None }
}

/// Parses `src` as one YAML document. A syntax error ends parsing and yields no tree; duplicate
/// keys and extra documents are reported but keep the tree (the first of duplicate keys wins
/// nowhere: both entries stay, and readers take the first).
pub fn parse(src: &str) -> (Option<Node>, Vec<Diagnostic>) {
    let mut text = std::borrow::Cow::Borrowed(src);
    let mut retries = 0;
    loop {
        let mut builder = Builder::new(src);
        // Pull events one at a time: `Parser::load` recurses once per nesting level, and we
        // want to stop as soon as the builder has seen too much.
        let mut res = Ok(());
        for item in Parser::new_from_str(&text) {
            match item {
                Ok((event, span)) => builder.on_event(event, span),
                Err(error) => {
                    res = Err(error);
                    break;
                }
            }
            if builder.too_deep {
                break;
            }
        }
        if let Err(error) = &res
            && retries < 100
            && let Some(relaxed) = relax_flow_close(&text, builder.pos(error.marker()).offset)
        {
            text = std::borrow::Cow::Owned(relaxed);
            retries += 1;
            continue;
        }
        return finish(builder, res);
    }
}

/// libyaml, and so GitHub, accepts a flow collection closed on its own line at the indentation
/// of its key (`name: [` … `]`), which YAML 1.2 and saphyr reject. We move such a bracket to the
/// end of the previous line: `\n    ]` becomes `    ]\n`, which keeps every other byte offset
/// and line number as they were.
fn relax_flow_close(text: &str, offset: usize) -> Option<String> {
    let bytes = text.as_bytes();
    if !matches!(bytes.get(offset), Some(b']' | b'}')) {
        return None;
    }
    let line_start = text[..offset].rfind('\n')?;
    if !text[line_start + 1..offset].bytes().all(|b| b == b' ') {
        return None;
    }
    let previous_line = &text[text[..line_start].rfind('\n').map_or(0, |idx| idx + 1)..line_start];
    if previous_line.contains('#') {
        return None;
    }
    let mut relaxed = String::with_capacity(text.len());
    relaxed.push_str(&text[..line_start]);
    relaxed.push_str(&text[line_start + 1..=offset]);
    relaxed.push('\n');
    relaxed.push_str(&text[offset + 1..]);
    Some(relaxed)
}

fn finish(mut builder: Builder<'_>, res: Result<(), saphyr_parser::ScanError>) -> (Option<Node>, Vec<Diagnostic>) {
    let mut diagnostics = std::mem::take(&mut builder.diagnostics);
    if builder.too_deep {
        return (None, diagnostics);
    }
    if let Err(error) = res {
        let pos = builder.pos(error.marker());
        let span = Span { start: pos, end: pos };
        diagnostics
            .push(Diagnostic::error("yaml-syntax", span, format!("invalid YAML: {}", error.info())).with_help(
                "fix the YAML syntax here; indentation and unclosed quotes or brackets are the usual cause",
            ));
        return (None, diagnostics);
    }
    let mut documents = builder.documents.into_iter();
    let first = documents.next();
    if let Some(extra) = documents.next() {
        diagnostics.push(
            Diagnostic::error("yaml-multiple-documents", extra.span, "a workflow file holds exactly one YAML document")
                .with_help("remove the `---` separator and everything after it, or move it to its own file"),
        );
    }
    (first, diagnostics)
}

enum Frame {
    Seq { start: Pos, anchor: usize, items: Vec<Node> },
    Map { start: Pos, anchor: usize, entries: Vec<Entry>, key: Option<Node> },
}

struct Builder<'s> {
    src: &'s str,
    /// Byte offset of each character, when the text is not pure ASCII.
    char_offsets: Option<Vec<usize>>,
    stack: Vec<Frame>,
    anchors: Vec<(usize, Node)>,
    documents: Vec<Node>,
    diagnostics: Vec<Diagnostic>,
    alias_budget: usize,
    in_document: bool,
    /// Set when nesting went past [`MAX_DEPTH`]; the rest of the input is ignored.
    too_deep: bool,
}

impl<'s> Builder<'s> {
    fn new(src: &'s str) -> Builder<'s> {
        let char_offsets = (!src.is_ascii()).then(|| src.char_indices().map(|(offset, _)| offset).collect());
        Builder {
            src,
            char_offsets,
            stack: Vec::new(),
            anchors: Vec::new(),
            documents: Vec::new(),
            diagnostics: Vec::new(),
            alias_budget: ALIAS_BUDGET,
            in_document: false,
            too_deep: false,
        }
    }

    fn pos(&self, marker: &Marker) -> Pos {
        let offset = match &self.char_offsets {
            None => marker.index().min(self.src.len()),
            Some(offsets) => offsets.get(marker.index()).copied().unwrap_or(self.src.len()),
        };
        Pos { offset, line: marker.line().max(1), col: marker.col() + 1 }
    }

    fn finish(&mut self, node: Node, anchor: usize) {
        if anchor != 0 {
            self.anchors.retain(|(id, _)| *id != anchor);
            self.anchors.push((anchor, node.clone()));
        }
        match self.stack.last_mut() {
            None => {
                if self.in_document {
                    self.documents.push(node);
                }
            }
            Some(Frame::Seq { items, .. }) => items.push(node),
            Some(Frame::Map { entries, key, .. }) => match key.take() {
                None => *key = Some(node),
                Some(key_node) => {
                    if let Some(name) = key_node.as_str()
                        && let Some(first) = entries.iter().find(|entry| entry.key.as_str() == Some(name))
                    {
                        let first_pos = first.key.span.start;
                        self.diagnostics.push(
                            Diagnostic::error("duplicate-key", key_node.span, format!("duplicate key `{name}`"))
                                .with_help(format!("`{name}` is already set at {first_pos}; keep only one of them")),
                        );
                    }
                    entries.push(Entry { key: key_node, value: node });
                }
            },
        }
    }
}

/// The number of nodes in `node`, counting no further than `limit + 1`.
fn node_count(node: &Node, limit: usize) -> usize {
    let mut count = 0;
    let mut pending = vec![node];
    while let Some(next) = pending.pop() {
        count += 1;
        if count > limit {
            break;
        }
        match &next.kind {
            NodeKind::Scalar(_) => {}
            NodeKind::Seq(items) => pending.extend(items),
            NodeKind::Map(entries) => pending.extend(entries.iter().flat_map(|entry| [&entry.key, &entry.value])),
        }
    }
    count
}

impl<'input> SpannedEventReceiver<'input> for Builder<'_> {
    fn on_event(&mut self, event: Event<'input>, span: saphyr_parser::Span) {
        if self.too_deep {
            return;
        }
        let start = self.pos(&span.start);
        let end = self.pos(&span.end);
        if matches!(event, Event::SequenceStart(..) | Event::MappingStart(..)) && self.stack.len() >= MAX_DEPTH {
            self.too_deep = true;
            self.stack.clear();
            self.documents.clear();
            self.diagnostics.push(
                Diagnostic::error(
                    "yaml-too-deep",
                    Span { start, end },
                    format!("collections nest more than {MAX_DEPTH} levels deep"),
                )
                .with_help("flatten the structure; no workflow needs this much nesting"),
            );
            return;
        }
        match event {
            Event::DocumentStart(_) => self.in_document = true,
            Event::DocumentEnd => self.in_document = false,
            Event::Scalar(value, style, anchor, _tag) => {
                let style = match style {
                    ScalarStyle::Plain => Style::Plain,
                    ScalarStyle::SingleQuoted => Style::SingleQuoted,
                    ScalarStyle::DoubleQuoted => Style::DoubleQuoted,
                    ScalarStyle::Literal => Style::Literal,
                    ScalarStyle::Folded => Style::Folded,
                };
                let node = Node {
                    kind: NodeKind::Scalar(Scalar { value: value.into_owned(), style }),
                    span: Span { start, end },
                };
                self.finish(node, anchor);
            }
            Event::SequenceStart(anchor, _) => self.stack.push(Frame::Seq { start, anchor, items: Vec::new() }),
            Event::MappingStart(anchor, _) => {
                self.stack.push(Frame::Map { start, anchor, entries: Vec::new(), key: None });
            }
            Event::SequenceEnd | Event::MappingEnd => {
                let Some(frame) = self.stack.pop() else { return };
                let (node, anchor) = match frame {
                    Frame::Seq { start, anchor, items } => {
                        let end = items.last().map_or(end, |item| item.span.end.max(start));
                        (Node { kind: NodeKind::Seq(items), span: Span { start, end } }, anchor)
                    }
                    Frame::Map { start, anchor, entries, .. } => {
                        let end = entries.last().map_or(end, |entry| entry.value.span.end.max(start));
                        (Node { kind: NodeKind::Map(entries), span: Span { start, end } }, anchor)
                    }
                };
                self.finish(node, anchor);
            }
            Event::Alias(id) => {
                let Some(target) = self.anchors.iter().rev().find(|(anchor, _)| *anchor == id).map(|(_, n)| n) else {
                    return;
                };
                let cost = node_count(target, self.alias_budget);
                if cost > self.alias_budget {
                    if !self.diagnostics.iter().any(|diagnostic| diagnostic.code == "yaml-alias-limit") {
                        self.diagnostics.push(
                            Diagnostic::error(
                                "yaml-alias-limit",
                                Span { start, end },
                                "aliases expand to too many nodes",
                            )
                            .with_help("use fewer nested aliases"),
                        );
                    }
                    self.alias_budget = 0;
                    let node = Node {
                        kind: NodeKind::Scalar(Scalar { value: String::new(), style: Style::Plain }),
                        span: Span { start, end },
                    };
                    self.finish(node, 0);
                    return;
                }
                self.alias_budget -= cost;
                let node = target.clone();
                self.finish(node, 0);
            }
            Event::Nothing | Event::StreamStart | Event::StreamEnd => {}
        }
    }
}

#[cfg(test)]
mod tests;
