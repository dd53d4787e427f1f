//! The conditions of `analysis.queries` (`success: result < 0.01`, `failure: result >= 0.05 or
//! result > 1`): comparisons of `result` with numbers, joined by `and` and `or` (`and` binds
//! tighter), in parentheses where needed. `result` is one value: a scalar, or one sample of an
//! instant vector (the caller decides how a vector's samples combine).

use std::fmt::Write as _;

/// A parsed condition.
#[derive(Debug, Clone, PartialEq)]
pub enum Condition {
    Compare { left: Operand, op: CmpOp, right: Operand },
    And(Box<Condition>, Box<Condition>),
    Or(Box<Condition>, Box<Condition>),
}

/// A side of a comparison.
#[derive(Debug, Clone, PartialEq)]
pub enum Operand {
    /// The query's value.
    Result,
    /// A number, with its text as written (shown back as written).
    Number(f64, String),
}

/// A comparison operator.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CmpOp {
    Lt,
    Le,
    Gt,
    Ge,
    Eq,
    Ne,
}

/// Why a text is not a condition.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConditionError {
    #[error("the condition is empty")]
    Empty,
    #[error("unexpected {found} at column {column}: expected {expected}")]
    Unexpected { found: String, column: usize, expected: &'static str },
    #[error("`{comparison}` does not compare `result`")]
    NoResult { comparison: String },
}

const OPERAND: &str = "`result` or a number";
const OPERATOR: &str = "a comparison (<, <=, >, >=, ==, !=)";
const JOINER: &str = "`and`, `or` or the end";

impl CmpOp {
    fn text(self) -> &'static str {
        match self {
            CmpOp::Lt => "<",
            CmpOp::Le => "<=",
            CmpOp::Gt => ">",
            CmpOp::Ge => ">=",
            CmpOp::Eq => "==",
            CmpOp::Ne => "!=",
        }
    }

    fn holds(self, left: f64, right: f64) -> bool {
        match self {
            CmpOp::Lt => left < right,
            CmpOp::Le => left <= right,
            CmpOp::Gt => left > right,
            CmpOp::Ge => left >= right,
            CmpOp::Eq => left == right,
            CmpOp::Ne => left != right,
        }
    }
}

impl Operand {
    fn value(&self, result: f64) -> f64 {
        match self {
            Operand::Result => result,
            Operand::Number(number, _) => *number,
        }
    }

    fn show(&self, result: Option<f64>) -> String {
        match (self, result) {
            (Operand::Result, Some(result)) => show_value(result),
            (Operand::Result, None) => "result".to_owned(),
            (Operand::Number(_, text), _) => text.clone(),
        }
    }
}

impl Condition {
    /// Whether the condition holds when `result` is `value`.
    pub fn holds(&self, value: f64) -> bool {
        match self {
            Condition::Compare { left, op, right } => op.holds(left.value(value), right.value(value)),
            Condition::And(a, b) => a.holds(value) && b.holds(value),
            Condition::Or(a, b) => a.holds(value) || b.holds(value),
        }
    }

    /// The condition with `result` replaced by `value` (`0.12 >= 0.05`), or as written
    /// (`None`).
    pub fn show(&self, value: Option<f64>) -> String {
        let mut out = String::new();
        self.write(&mut out, value, false);
        out
    }

    fn write(&self, out: &mut String, value: Option<f64>, in_and: bool) {
        match self {
            Condition::Compare { left, op, right } => {
                let _ = write!(out, "{} {} {}", left.show(value), op.text(), right.show(value));
            }
            Condition::And(a, b) => {
                a.write(out, value, true);
                out.push_str(" and ");
                b.write(out, value, true);
            }
            Condition::Or(a, b) => {
                if in_and {
                    out.push('(');
                }
                a.write(out, value, false);
                out.push_str(" or ");
                b.write(out, value, false);
                if in_and {
                    out.push(')');
                }
            }
        }
    }
}

/// A value as a measurement shows it: as Rust writes it when short, else to six decimals
/// (`0.12`, not `0.12000000000000001`).
pub fn show_value(value: f64) -> String {
    let text = format!("{value}");
    if text.len() <= 10 || !value.is_finite() {
        return text;
    }
    let rounded = format!("{value:.6}");
    let trimmed = rounded.trim_end_matches('0').trim_end_matches('.');
    if trimmed.is_empty() || trimmed == "-" || trimmed == "0" || trimmed == "-0" {
        format!("{value:e}")
    } else {
        trimmed.to_owned()
    }
}

#[derive(Debug, Clone, PartialEq)]
enum Token {
    Result,
    Number(f64, String),
    Op(CmpOp),
    And,
    Or,
    Open,
    Close,
}

/// Reads a condition.
///
/// # Errors
/// What is wrong and at which column (1-based, in characters).
pub fn parse_condition(text: &str) -> Result<Condition, ConditionError> {
    let tokens = tokenize(text)?;
    if tokens.is_empty() {
        return Err(ConditionError::Empty);
    }
    let mut parser = Parser { tokens: &tokens, pos: 0, len: text.chars().count() };
    let condition = parser.or()?;
    if let Some((token, column)) = parser.tokens.get(parser.pos) {
        return Err(ConditionError::Unexpected { found: describe(token), column: *column, expected: JOINER });
    }
    Ok(condition)
}

fn tokenize(text: &str) -> Result<Vec<(Token, usize)>, ConditionError> {
    let chars: Vec<char> = text.chars().collect();
    let mut tokens = Vec::new();
    let mut idx = 0;
    while idx < chars.len() {
        let c = chars[idx];
        let column = idx + 1;
        if c.is_whitespace() {
            idx += 1;
            continue;
        }
        let next = chars.get(idx + 1).copied();
        let (token, len) = match (c, next) {
            ('(', _) => (Token::Open, 1),
            (')', _) => (Token::Close, 1),
            ('<', Some('=')) => (Token::Op(CmpOp::Le), 2),
            ('<', _) => (Token::Op(CmpOp::Lt), 1),
            ('>', Some('=')) => (Token::Op(CmpOp::Ge), 2),
            ('>', _) => (Token::Op(CmpOp::Gt), 1),
            ('=', Some('=')) => (Token::Op(CmpOp::Eq), 2),
            ('!', Some('=')) => (Token::Op(CmpOp::Ne), 2),
            _ if c.is_ascii_digit()
                || c == '.'
                || ((c == '-' || c == '+') && next.is_some_and(|n| n.is_ascii_digit() || n == '.')) =>
            {
                let mut end = idx + 1;
                while end < chars.len()
                    && (chars[end].is_ascii_digit()
                        || chars[end] == '.'
                        || matches!(chars[end], 'e' | 'E')
                        || (matches!(chars[end], '+' | '-') && matches!(chars[end - 1], 'e' | 'E')))
                {
                    end += 1;
                }
                let literal: String = chars[idx..end].iter().collect();
                match literal.parse::<f64>() {
                    Ok(number) if number.is_finite() => (Token::Number(number, literal), end - idx),
                    _ => {
                        return Err(ConditionError::Unexpected {
                            found: format!("`{literal}`"),
                            column,
                            expected: "a number such as 0.05 or 1e-3",
                        });
                    }
                }
            }
            _ if c.is_alphabetic() || c == '_' => {
                let mut end = idx + 1;
                while end < chars.len() && (chars[end].is_alphanumeric() || chars[end] == '_') {
                    end += 1;
                }
                let word: String = chars[idx..end].iter().collect();
                let token = match word.as_str() {
                    "result" => Token::Result,
                    "and" => Token::And,
                    "or" => Token::Or,
                    _ => {
                        return Err(ConditionError::Unexpected {
                            found: format!("`{word}`"),
                            column,
                            expected: "`result`, a number, `and` or `or`",
                        });
                    }
                };
                (token, end - idx)
            }
            _ => {
                let expected = match c {
                    '=' if matches!(next, Some('<' | '>')) => "`<=` or `>=` (the `=` comes second)",
                    '=' => "`==` to compare",
                    '&' | '|' => "`and` or `or`",
                    _ => "`result`, a number, a comparison, `and`, `or` or parentheses",
                };
                return Err(ConditionError::Unexpected { found: format!("`{c}`"), column, expected });
            }
        };
        tokens.push((token, column));
        idx += len;
    }
    Ok(tokens)
}

fn describe(token: &Token) -> String {
    match token {
        Token::Result => "`result`".to_owned(),
        Token::Number(_, text) => format!("`{text}`"),
        Token::Op(op) => format!("`{}`", op.text()),
        Token::And => "`and`".to_owned(),
        Token::Or => "`or`".to_owned(),
        Token::Open => "`(`".to_owned(),
        Token::Close => "`)`".to_owned(),
    }
}

struct Parser<'t> {
    tokens: &'t [(Token, usize)],
    pos: usize,
    /// The text's length in characters: the column of its end is one more.
    len: usize,
}

impl<'t> Parser<'t> {
    fn next(&mut self, expected: &'static str) -> Result<&'t Token, ConditionError> {
        match self.tokens.get(self.pos) {
            Some((token, _)) => {
                self.pos += 1;
                Ok(token)
            }
            None => Err(ConditionError::Unexpected { found: "the end".to_owned(), column: self.len + 1, expected }),
        }
    }

    fn unexpected(&self, expected: &'static str) -> ConditionError {
        let (token, column) = &self.tokens[self.pos - 1];
        ConditionError::Unexpected { found: describe(token), column: *column, expected }
    }

    fn peek(&self) -> Option<&Token> {
        self.tokens.get(self.pos).map(|(token, _)| token)
    }

    fn or(&mut self) -> Result<Condition, ConditionError> {
        let mut left = self.and()?;
        while self.peek() == Some(&Token::Or) {
            self.pos += 1;
            let right = self.and()?;
            left = Condition::Or(Box::new(left), Box::new(right));
        }
        Ok(left)
    }

    fn and(&mut self) -> Result<Condition, ConditionError> {
        let mut left = self.primary()?;
        while self.peek() == Some(&Token::And) {
            self.pos += 1;
            let right = self.primary()?;
            left = Condition::And(Box::new(left), Box::new(right));
        }
        Ok(left)
    }

    fn primary(&mut self) -> Result<Condition, ConditionError> {
        if self.peek() == Some(&Token::Open) {
            self.pos += 1;
            let inner = self.or()?;
            return match self.next("`)`")? {
                Token::Close => Ok(inner),
                _ => Err(self.unexpected("`)`")),
            };
        }
        let left = self.operand()?;
        let op = match self.next(OPERATOR)? {
            Token::Op(op) => *op,
            _ => return Err(self.unexpected(OPERATOR)),
        };
        let right = self.operand()?;
        let comparison = Condition::Compare { left, op, right };
        match &comparison {
            Condition::Compare { left: Operand::Number(..), right: Operand::Number(..), .. } => {
                Err(ConditionError::NoResult { comparison: comparison.show(None) })
            }
            _ => Ok(comparison),
        }
    }

    fn operand(&mut self) -> Result<Operand, ConditionError> {
        match self.next(OPERAND)? {
            Token::Result => Ok(Operand::Result),
            Token::Number(number, text) => Ok(Operand::Number(*number, text.clone())),
            _ => Err(self.unexpected(OPERAND)),
        }
    }
}
