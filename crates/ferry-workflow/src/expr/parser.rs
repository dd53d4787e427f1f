//! The syntax tree and the recursive-descent parser that builds it, with GitHub's precedence
//! (lowest first): `||`, `&&`, `==` `!=`, `<` `<=` `>` `>=`, `!`, then `.` `[ ]` and calls.
//!
//! Nesting is limited to GitHub's depth of 50, which also bounds the recursion of the parser,
//! the evaluator and the tree's destructor whatever the input.

use std::ops::Range;

use super::ExprError;
use super::functions::Function;
use super::lexer::{Tok, Token, lex};

/// GitHub's maximum nesting depth.
pub(crate) const MAX_DEPTH: usize = 50;
/// GitHub's maximum expression length, in characters.
pub(crate) const MAX_LENGTH: usize = 21_000;

#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Node {
    Null,
    Bool(bool),
    Number(f64),
    Str(String),
    /// A top-level context such as `github`; `name` is lowercase.
    Context {
        name: String,
        range: Range<usize>,
    },
    /// `target[index]`, `target.name` (an index by string) and `target.*` / `target[*]`.
    Index {
        target: Box<Node>,
        index: Index,
    },
    Not(Box<Node>),
    Compare {
        op: CompareOp,
        left: Box<Node>,
        right: Box<Node>,
    },
    /// `a && b && …`: the first falsy operand, or the last.
    And(Vec<Node>),
    /// `a || b || …`: the first truthy operand, or the last.
    Or(Vec<Node>),
    /// `range` spans the call from the function name to the closing parenthesis.
    Call {
        function: Function,
        args: Vec<Node>,
        range: Range<usize>,
    },
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Index {
    Star,
    Expr(Box<Node>),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum CompareOp {
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
}

impl Node {
    /// Calls `visit` on this node and every node below it.
    pub(crate) fn walk(&self, visit: &mut dyn FnMut(&Node)) {
        visit(self);
        match self {
            Node::Index { target, index } => {
                target.walk(visit);
                if let Index::Expr(index) = index {
                    index.walk(visit);
                }
            }
            Node::Not(inner) => inner.walk(visit),
            Node::Compare { left, right, .. } => {
                left.walk(visit);
                right.walk(visit);
            }
            Node::And(nodes) | Node::Or(nodes) | Node::Call { args: nodes, .. } => {
                nodes.iter().for_each(|node| node.walk(visit));
            }
            Node::Null | Node::Bool(_) | Node::Number(_) | Node::Str(_) | Node::Context { .. } => {}
        }
    }
}

pub(crate) fn parse(src: &str) -> Result<Node, ExprError> {
    if src.chars().count() > MAX_LENGTH {
        return Err(ExprError {
            message: format!(
                "the expression is longer than GitHub's limit of {MAX_LENGTH} characters; split it into smaller ones"
            ),
            range: 0..src.len(),
        });
    }
    let tokens = lex(src)?;
    if tokens.is_empty() {
        return Err(ExprError {
            message: "the expression is empty; write an expression such as `github.ref == 'refs/heads/main'`"
                .to_owned(),
            range: 0..src.len(),
        });
    }
    let mut parser = Parser { src, tokens: &tokens, pos: 0, depth: 0 };
    let node = parser.expression()?;
    if let Some(token) = parser.peek() {
        let text = parser.text(token);
        let message = match token.tok {
            Tok::RParen => "unmatched `)`; remove it or add the `(` it should close".to_owned(),
            Tok::RBracket => "unmatched `]`; remove it or add the `[` it should close".to_owned(),
            _ => format!(
                "unexpected `{text}` after a complete expression; join expressions with an operator such as `&&`, `||` or `==`"
            ),
        };
        return Err(ExprError { message, range: token.range.clone() });
    }
    Ok(node)
}

struct Parser<'t> {
    src: &'t str,
    tokens: &'t [Token],
    pos: usize,
    depth: usize,
}

impl<'t> Parser<'t> {
    fn peek(&self) -> Option<&'t Token> {
        self.tokens.get(self.pos)
    }

    fn check(&self, tok: &Tok) -> bool {
        self.peek().is_some_and(|token| token.tok == *tok)
    }

    fn eat(&mut self, tok: &Tok) -> Option<&'t Token> {
        let token = self.peek().filter(|token| token.tok == *tok)?;
        self.pos += 1;
        Some(token)
    }

    fn text(&self, token: &Token) -> &'t str {
        self.src.get(token.range.clone()).unwrap_or("")
    }

    /// 1-based column of byte `offset`, for messages that point back at an opening token.
    fn column(&self, offset: usize) -> usize {
        self.src.get(..offset).map_or(offset, |before| before.chars().count()) + 1
    }

    /// Where the next token is, or the end of the text.
    fn here(&self) -> Range<usize> {
        self.peek().map_or(self.src.len()..self.src.len(), |token| token.range.clone())
    }

    fn descend(&mut self) -> Result<(), ExprError> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return Err(ExprError {
                message: format!(
                    "the expression nests deeper than GitHub's limit of {MAX_DEPTH}; simplify it or split it into steps"
                ),
                range: self.here(),
            });
        }
        Ok(())
    }

    fn expression(&mut self) -> Result<Node, ExprError> {
        self.descend()?;
        let node = self.or()?;
        self.depth -= 1;
        Ok(node)
    }

    fn or(&mut self) -> Result<Node, ExprError> {
        self.logical(&Tok::Or, Parser::and, Node::Or)
    }

    fn and(&mut self) -> Result<Node, ExprError> {
        self.logical(&Tok::And, Parser::equality, Node::And)
    }

    fn logical(
        &mut self,
        op: &Tok,
        operand: fn(&mut Self) -> Result<Node, ExprError>,
        make: fn(Vec<Node>) -> Node,
    ) -> Result<Node, ExprError> {
        let first = operand(self)?;
        if !self.check(op) {
            return Ok(first);
        }
        self.descend()?;
        let mut operands = vec![first];
        while self.eat(op).is_some() {
            operands.push(operand(self)?);
        }
        self.depth -= 1;
        Ok(make(operands))
    }

    fn equality(&mut self) -> Result<Node, ExprError> {
        let mut left = self.comparison()?;
        // A chain such as `a == b == c` nests to the left; each link counts towards the depth.
        let depth = self.depth;
        loop {
            let op = match self.peek().map(|token| &token.tok) {
                Some(Tok::EqEq) => CompareOp::Eq,
                Some(Tok::Ne) => CompareOp::Ne,
                _ => break,
            };
            self.pos += 1;
            self.descend()?;
            let right = self.comparison()?;
            left = Node::Compare { op, left: Box::new(left), right: Box::new(right) };
        }
        self.depth = depth;
        Ok(left)
    }

    fn comparison(&mut self) -> Result<Node, ExprError> {
        let mut left = self.unary()?;
        // A chain such as `a == b == c` nests to the left; each link counts towards the depth.
        let depth = self.depth;
        loop {
            let op = match self.peek().map(|token| &token.tok) {
                Some(Tok::Lt) => CompareOp::Lt,
                Some(Tok::Le) => CompareOp::Le,
                Some(Tok::Gt) => CompareOp::Gt,
                Some(Tok::Ge) => CompareOp::Ge,
                _ => break,
            };
            self.pos += 1;
            self.descend()?;
            let right = self.unary()?;
            left = Node::Compare { op, left: Box::new(left), right: Box::new(right) };
        }
        self.depth = depth;
        Ok(left)
    }

    fn unary(&mut self) -> Result<Node, ExprError> {
        if self.eat(&Tok::Bang).is_some() {
            self.descend()?;
            let inner = self.unary()?;
            self.depth -= 1;
            return Ok(Node::Not(Box::new(inner)));
        }
        self.postfix()
    }

    /// `.name`, `.*`, `[index]` and `[*]` after a context, a call or a parenthesised
    /// expression (GitHub does not index literals).
    fn postfix(&mut self) -> Result<Node, ExprError> {
        let (mut node, indexable) = self.primary()?;
        if !indexable {
            return Ok(node);
        }
        let depth = self.depth;
        loop {
            if let Some(open) = self.eat(&Tok::LBracket) {
                let index = if self.eat(&Tok::Star).is_some() {
                    Index::Star
                } else {
                    Index::Expr(Box::new(self.expression()?))
                };
                if self.eat(&Tok::RBracket).is_none() {
                    return Err(self.expected(format!(
                        "expected `]` to close the `[` at column {}",
                        self.column(open.range.start)
                    )));
                }
                self.descend()?;
                node = Node::Index { target: Box::new(node), index };
            } else if self.eat(&Tok::Dot).is_some() {
                self.descend()?;
                let index = match self.peek().map(|token| &token.tok) {
                    Some(Tok::Ident(name)) => Index::Expr(Box::new(Node::Str(name.clone()))),
                    Some(Tok::Star) => Index::Star,
                    _ => {
                        return Err(self.expected(
                            "expected a property name or `*` after `.`, such as `github.ref` or `needs.*.result`"
                                .to_owned(),
                        ));
                    }
                };
                self.pos += 1;
                node = Node::Index { target: Box::new(node), index };
            } else {
                break;
            }
        }
        self.depth = depth;
        Ok(node)
    }

    /// An error about the next token (or the end of the text) that should have been
    /// something else.
    fn expected(&self, what: String) -> ExprError {
        match self.peek() {
            Some(token) => {
                ExprError { message: format!("{what}, found `{}`", self.text(token)), range: token.range.clone() }
            }
            None => ExprError { message: format!("{what}, but the expression ends"), range: self.here() },
        }
    }

    /// A value; the flag says whether `.` and `[ ]` may follow it.
    fn primary(&mut self) -> Result<(Node, bool), ExprError> {
        let Some(token) = self.peek() else {
            let after = self.pos.checked_sub(1).and_then(|idx| self.tokens.get(idx));
            let message = match after {
                Some(token) => {
                    format!("the expression ends after `{}`; add the value that should follow it", self.text(token))
                }
                None => "expected a value".to_owned(),
            };
            return Err(ExprError { message, range: self.here() });
        };
        self.pos += 1;
        let node = match &token.tok {
            Tok::Null => Node::Null,
            Tok::True => Node::Bool(true),
            Tok::False => Node::Bool(false),
            Tok::Number(n) => Node::Number(*n),
            Tok::Str(s) => Node::Str(s.clone()),
            Tok::LParen => {
                let inner = self.expression()?;
                if self.eat(&Tok::RParen).is_none() {
                    return Err(self.expected(format!(
                        "expected `)` to close the `(` at column {}",
                        self.column(token.range.start)
                    )));
                }
                return Ok((inner, true));
            }
            Tok::Ident(name) if self.check(&Tok::LParen) => return Ok((self.call(name, token)?, true)),
            Tok::Ident(name) => Node::Context { name: name.to_ascii_lowercase(), range: token.range.clone() },
            _ => {
                self.pos -= 1;
                return Err(self.expected(
                    "expected a value (a context such as `github`, a function call, a string, a number, `true`, `false` or `null`)"
                        .to_owned(),
                ));
            }
        };
        let indexable = matches!(node, Node::Context { .. });
        Ok((node, indexable))
    }

    fn call(&mut self, name: &str, name_token: &Token) -> Result<Node, ExprError> {
        let Some(function) = Function::lookup(name) else {
            let message = match Function::suggest(name) {
                Some(function) => format!("unknown function `{name}`; did you mean `{}`?", function.name()),
                None => format!("unknown function `{name}`; the functions are {}", Function::all_names()),
            };
            return Err(ExprError { message, range: name_token.range.clone() });
        };
        let open = self.eat(&Tok::LParen).map_or(name_token.range.end, |token| token.range.start);
        let unclosed = |parser: &Parser<'_>| {
            parser.expected(format!(
                "expected `)` to close the call to `{}` opened at column {}",
                function.name(),
                parser.column(open)
            ))
        };
        let mut args = Vec::new();
        let close = match self.eat(&Tok::RParen) {
            Some(close) => close,
            None => loop {
                if self.peek().is_none() {
                    return Err(unclosed(self));
                }
                args.push(self.expression()?);
                if let Some(close) = self.eat(&Tok::RParen) {
                    break close;
                }
                if self.eat(&Tok::Comma).is_none() {
                    return Err(unclosed(self));
                }
            },
        };
        let (min, max) = function.arity();
        if function == Function::Case && args.len() >= min && args.len() % 2 == 0 {
            return Err(ExprError {
                message: format!(
                    "`case` takes pairs of a predicate and a value, then a default value, so an odd number of \
                     arguments, but {} were given",
                    args.len()
                ),
                range: name_token.range.clone(),
            });
        }
        if args.len() < min || args.len() > max {
            let expected = match (min, max) {
                (0, 0) => "no arguments".to_owned(),
                (1, 1) => "1 argument".to_owned(),
                (min, max) if min == max => format!("{min} arguments"),
                (min, max) if max - min == 1 => format!("{min} or {max} arguments"),
                (min, usize::MAX) => format!("at least {min} arguments"),
                (1, max) => format!("1 to {max} arguments"),
                (min, max) => format!("{min} to {max} arguments"),
            };
            return Err(ExprError {
                message: format!(
                    "`{}` takes {expected}, but {} {} given",
                    function.name(),
                    args.len(),
                    if args.len() == 1 { "was" } else { "were" }
                ),
                range: name_token.range.clone(),
            });
        }
        Ok(Node::Call { function, args, range: name_token.range.start..close.range.end })
    }
}
