//! The `when:` condition language: syntax only.
//!
//! ```text
//! expr    := or
//! or      := and ("||" and)*
//! and     := unary ("&&" unary)*
//! unary   := "!" unary | compare
//! compare := operand (CMP operand | "in" "[" literal ("," literal)* "]")?
//! operand := "(" expr ")" | literal | path
//! path    := IDENT ("." IDENT)*          e.g. input.risk, stage.security.decision
//! literal := "string" | 'string' | number | true | false
//! CMP     := == | != | < | <= | > | >=
//! ```
//!
//! Identifiers may contain `-` (stage ids do) because the language has no subtraction. This
//! module knows nothing about which names exist or about types: the compiler resolves paths
//! and type-checks the tree. Spans are relative to the start of the expression text; callers
//! shift them to file offsets with [`Span::shift`].

use crate::Span;

/// A parsed `when:` expression.
#[derive(Debug, Clone, PartialEq)]
pub struct Expr {
    pub kind: ExprKind,
    pub span: Span,
}

#[derive(Debug, Clone, PartialEq)]
pub enum ExprKind {
    Literal(Literal),
    Path(Path),
    Not(Box<Expr>),
    /// `&&` or `||`.
    Logic {
        op: LogicOp,
        lhs: Box<Expr>,
        rhs: Box<Expr>,
    },
    Compare {
        op: CmpOp,
        lhs: Box<Expr>,
        rhs: Box<Expr>,
    },
    /// `lhs in [a, b, …]`; the list is never empty.
    In {
        lhs: Box<Expr>,
        list: Vec<(Literal, Span)>,
    },
}

#[derive(Debug, Clone, PartialEq)]
pub enum Literal {
    String(String),
    Number(f64),
    Bool(bool),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogicOp {
    And,
    Or,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CmpOp {
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
}

impl CmpOp {
    pub fn as_str(self) -> &'static str {
        match self {
            CmpOp::Eq => "==",
            CmpOp::Ne => "!=",
            CmpOp::Lt => "<",
            CmpOp::Le => "<=",
            CmpOp::Gt => ">",
            CmpOp::Ge => ">=",
        }
    }

    /// `<`, `<=`, `>`, `>=`: defined on numbers only.
    pub fn is_ordering(self) -> bool {
        !matches!(self, CmpOp::Eq | CmpOp::Ne)
    }
}

/// A dotted name such as `input.risk` or `stage.security.decision`, shared with templates.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Path {
    pub segments: Vec<Ident>,
    pub span: Span,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ident {
    pub name: String,
    pub span: Span,
}

impl Path {
    /// The path as written, segments joined by `.`.
    pub fn dotted(&self) -> String {
        self.segments
            .iter()
            .map(|s| s.name.as_str())
            .collect::<Vec<_>>()
            .join(".")
    }
}

/// A syntax error in a sub-language (conditions, templates), spans relative to its text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SyntaxError {
    pub message: String,
    pub span: Span,
    pub label: String,
    pub help: Option<String>,
}

impl SyntaxError {
    fn new(message: impl Into<String>, span: Span, label: impl Into<String>) -> Self {
        Self {
            message: message.into(),
            span,
            label: label.into(),
            help: None,
        }
    }

    fn help(mut self, help: impl Into<String>) -> Self {
        self.help = Some(help.into());
        self
    }
}

/// Deeper nesting than this is refused rather than risking the stack on hostile input.
const MAX_DEPTH: usize = 64;

/// Parses a whole `when:` expression.
pub fn parse(text: &str) -> Result<Expr, SyntaxError> {
    let tokens = lex(text)?;
    let mut parser = Parser {
        tokens,
        pos: 0,
        depth: 0,
        end: text.len(),
    };
    let expr = parser.expr()?;
    match parser.peek() {
        None => Ok(expr),
        Some(t) => Err(SyntaxError::new(
            format!(
                "unexpected {} after the end of the condition",
                t.tok.describe()
            ),
            t.span,
            "unexpected here",
        )
        .help("join conditions with `&&` or `||`")),
    }
}

/// Parses a dotted path such as `input.x` on its own (templates use it).
pub fn parse_path(text: &str) -> Result<Path, SyntaxError> {
    let tokens = lex(text)?;
    let mut parser = Parser {
        tokens,
        pos: 0,
        depth: 0,
        end: text.len(),
    };
    let path = match parser.next() {
        Some(Token {
            tok: Tok::Ident(name),
            span,
        }) => parser.path(name, span)?,
        other => {
            let span = other.map_or(Span::new(0, text.len()), |t| t.span);
            return Err(SyntaxError::new("expected a name", span, "not a name")
                .help("write `input.NAME`, `run.id` or `stage.ID.decision`"));
        }
    };
    match parser.peek() {
        None => Ok(path),
        Some(t) => Err(SyntaxError::new(
            format!("unexpected {} after the name", t.tok.describe()),
            t.span,
            "unexpected here",
        )
        .help("a template holds one name: `input.NAME`, `run.id` or `stage.ID.decision`")),
    }
}

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    Ident(String),
    Str(String),
    Num(f64),
    Dot,
    Comma,
    LParen,
    RParen,
    LBracket,
    RBracket,
    Not,
    And,
    Or,
    Cmp(CmpOp),
}

impl Tok {
    fn describe(&self) -> String {
        match self {
            Tok::Ident(name) => format!("`{name}`"),
            Tok::Str(_) => "string".to_owned(),
            Tok::Num(_) => "number".to_owned(),
            Tok::Dot => "`.`".to_owned(),
            Tok::Comma => "`,`".to_owned(),
            Tok::LParen => "`(`".to_owned(),
            Tok::RParen => "`)`".to_owned(),
            Tok::LBracket => "`[`".to_owned(),
            Tok::RBracket => "`]`".to_owned(),
            Tok::Not => "`!`".to_owned(),
            Tok::And => "`&&`".to_owned(),
            Tok::Or => "`||`".to_owned(),
            Tok::Cmp(op) => format!("`{}`", op.as_str()),
        }
    }
}

#[derive(Debug, Clone)]
struct Token {
    tok: Tok,
    span: Span,
}

fn is_ident_start(c: char) -> bool {
    c.is_ascii_alphabetic() || c == '_'
}

fn is_ident_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_' || c == '-'
}

fn lex(text: &str) -> Result<Vec<Token>, SyntaxError> {
    let mut tokens = Vec::new();
    let mut chars = text.char_indices().peekable();
    while let Some(&(start, c)) = chars.peek() {
        if c.is_whitespace() {
            chars.next();
            continue;
        }
        let (tok, end) = match c {
            // After a dot comes a name even if it starts with a digit (stage ids may).
            c if is_ident_char(c) && matches!(tokens.last(), Some(Token { tok: Tok::Dot, .. })) => {
                lex_ident(text, start)
            }
            '"' | '\'' => lex_string(text, start, c)?,
            '0'..='9' | '-' => lex_number(text, start)?,
            c if is_ident_start(c) => lex_ident(text, start),
            _ => lex_symbol(text, start, c)?,
        };
        tokens.push(Token {
            tok,
            span: Span::new(start, end),
        });
        while chars.peek().is_some_and(|&(i, _)| i < end) {
            chars.next();
        }
    }
    Ok(tokens)
}

fn lex_ident(text: &str, start: usize) -> (Tok, usize) {
    let end = text[start..]
        .char_indices()
        .find(|&(_, c)| !is_ident_char(c))
        .map_or(text.len(), |(i, _)| start + i);
    (Tok::Ident(text[start..end].to_owned()), end)
}

fn lex_symbol(text: &str, start: usize, c: char) -> Result<(Tok, usize), SyntaxError> {
    let rest = &text[start..];
    let two = |tok| Ok((tok, start + 2));
    let one = |tok| Ok((tok, start + 1));
    match c {
        '.' => one(Tok::Dot),
        ',' => one(Tok::Comma),
        '(' => one(Tok::LParen),
        ')' => one(Tok::RParen),
        '[' => one(Tok::LBracket),
        ']' => one(Tok::RBracket),
        '=' if rest.starts_with("==") => two(Tok::Cmp(CmpOp::Eq)),
        '!' if rest.starts_with("!=") => two(Tok::Cmp(CmpOp::Ne)),
        '!' => one(Tok::Not),
        '<' if rest.starts_with("<=") => two(Tok::Cmp(CmpOp::Le)),
        '<' => one(Tok::Cmp(CmpOp::Lt)),
        '>' if rest.starts_with(">=") => two(Tok::Cmp(CmpOp::Ge)),
        '>' => one(Tok::Cmp(CmpOp::Gt)),
        '&' if rest.starts_with("&&") => two(Tok::And),
        '|' if rest.starts_with("||") => two(Tok::Or),
        '=' => Err(SyntaxError::new(
            "`=` is not an operator",
            Span::new(start, start + 1),
            "single `=`",
        )
        .help("compare with `==`")),
        '&' | '|' => Err(SyntaxError::new(
            format!("`{c}` is not an operator"),
            Span::new(start, start + 1),
            "single character",
        )
        .help(format!("write `{c}{c}`"))),
        _ => Err(SyntaxError::new(
            format!("unexpected character `{c}`"),
            Span::new(start, start + c.len_utf8()),
            "not part of the condition language",
        )
        .help("operators are == != < <= > >= in && || ! and parentheses")),
    }
}

fn lex_string(text: &str, start: usize, quote: char) -> Result<(Tok, usize), SyntaxError> {
    let mut value = String::new();
    let mut escaped = false;
    for (i, c) in text[start + 1..].char_indices() {
        let at = start + 1 + i;
        if escaped {
            value.push(c);
            escaped = false;
        } else if c == '\\' {
            escaped = true;
        } else if c == quote {
            return Ok((Tok::Str(value), at + 1));
        } else {
            value.push(c);
        }
    }
    Err(SyntaxError::new(
        "unterminated string",
        Span::new(start, text.len()),
        "string starts here",
    )
    .help(format!("close it with {quote}")))
}

fn lex_number(text: &str, start: usize) -> Result<(Tok, usize), SyntaxError> {
    let bytes = text.as_bytes();
    let mut end = start;
    if bytes.get(end) == Some(&b'-') {
        end += 1;
    }
    while bytes
        .get(end)
        .is_some_and(|b| b.is_ascii_digit() || *b == b'.' || *b == b'_')
    {
        end += 1;
    }
    let raw = text[start..end].replace('_', "");
    match raw.parse::<f64>() {
        Ok(n) if n.is_finite() => Ok((Tok::Num(n), end)),
        _ => Err(SyntaxError::new(
            format!("`{}` is not a number", &text[start..end.max(start + 1)]),
            Span::new(start, end.max(start + 1)),
            "not a number",
        )
        .help("numbers look like 3, -1 or 2.5; quote text: \"...\"")),
    }
}

struct Parser {
    tokens: Vec<Token>,
    pos: usize,
    depth: usize,
    end: usize,
}

impl Parser {
    fn peek(&self) -> Option<&Token> {
        self.tokens.get(self.pos)
    }

    fn next(&mut self) -> Option<Token> {
        let t = self.tokens.get(self.pos).cloned();
        self.pos += 1;
        t
    }

    fn eat(&mut self, tok: &Tok) -> Option<Span> {
        match self.peek() {
            Some(t) if &t.tok == tok => {
                let span = t.span;
                self.pos += 1;
                Some(span)
            }
            _ => None,
        }
    }

    fn eof_span(&self) -> Span {
        Span::new(self.end, self.end)
    }

    fn expected(&self, what: &str) -> SyntaxError {
        match self.peek() {
            Some(t) => SyntaxError::new(
                format!("expected {what}, found {}", t.tok.describe()),
                t.span,
                format!("expected {what}"),
            ),
            None => SyntaxError::new(
                format!("expected {what}, found the end of the condition"),
                self.eof_span(),
                format!("expected {what}"),
            ),
        }
    }

    fn expr(&mut self) -> Result<Expr, SyntaxError> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            let span = self.peek().map_or(self.eof_span(), |t| t.span);
            return Err(
                SyntaxError::new("condition nested too deeply", span, "too deep")
                    .help(format!("at most {MAX_DEPTH} levels of nesting")),
            );
        }
        let result = self.or();
        self.depth -= 1;
        result
    }

    fn or(&mut self) -> Result<Expr, SyntaxError> {
        let mut lhs = self.and()?;
        while self.eat(&Tok::Or).is_some() {
            let rhs = self.and()?;
            lhs = logic(LogicOp::Or, lhs, rhs);
        }
        Ok(lhs)
    }

    fn and(&mut self) -> Result<Expr, SyntaxError> {
        let mut lhs = self.unary()?;
        while self.eat(&Tok::And).is_some() {
            let rhs = self.unary()?;
            lhs = logic(LogicOp::And, lhs, rhs);
        }
        Ok(lhs)
    }

    fn unary(&mut self) -> Result<Expr, SyntaxError> {
        if let Some(bang) = self.eat(&Tok::Not) {
            self.depth += 1;
            if self.depth > MAX_DEPTH {
                return Err(SyntaxError::new(
                    "condition nested too deeply",
                    bang,
                    "too deep",
                ));
            }
            let inner = self.unary();
            self.depth -= 1;
            let inner = inner?;
            let span = bang.join(inner.span);
            return Ok(Expr {
                kind: ExprKind::Not(Box::new(inner)),
                span,
            });
        }
        self.compare()
    }

    fn compare(&mut self) -> Result<Expr, SyntaxError> {
        let lhs = self.operand()?;
        match self.peek().map(|t| t.tok.clone()) {
            Some(Tok::Cmp(op)) => {
                self.pos += 1;
                let rhs = self.operand()?;
                let span = lhs.span.join(rhs.span);
                Ok(Expr {
                    kind: ExprKind::Compare {
                        op,
                        lhs: Box::new(lhs),
                        rhs: Box::new(rhs),
                    },
                    span,
                })
            }
            Some(Tok::Ident(word)) if word == "in" => {
                self.pos += 1;
                self.in_list(lhs)
            }
            _ => Ok(lhs),
        }
    }

    fn in_list(&mut self, lhs: Expr) -> Result<Expr, SyntaxError> {
        if self.eat(&Tok::LBracket).is_none() {
            return Err(self
                .expected("`[` after `in`")
                .help("write `x in [\"a\", \"b\"]`"));
        }
        let mut list = Vec::new();
        loop {
            let t = self.next();
            match t
                .as_ref()
                .and_then(|t| literal_of(&t.tok).map(|l| (l, t.span)))
            {
                Some(item) => list.push(item),
                None => {
                    self.pos -= 1;
                    return Err(self
                        .expected("a literal")
                        .help("list items are strings, numbers or booleans"));
                }
            }
            if let Some(close) = self.eat(&Tok::RBracket) {
                let span = lhs.span.join(close);
                return Ok(Expr {
                    kind: ExprKind::In {
                        lhs: Box::new(lhs),
                        list,
                    },
                    span,
                });
            }
            if self.eat(&Tok::Comma).is_none() {
                return Err(self.expected("`,` or `]`"));
            }
        }
    }

    fn operand(&mut self) -> Result<Expr, SyntaxError> {
        let Some(token) = self.next() else {
            self.pos -= 1;
            return Err(self
                .expected("a value")
                .help("operands are input.NAME, stage.ID.decision, or a literal"));
        };
        if let Some(lit) = literal_of(&token.tok) {
            return Ok(Expr {
                kind: ExprKind::Literal(lit),
                span: token.span,
            });
        }
        match token.tok {
            Tok::LParen => {
                let inner = self.expr()?;
                match self.eat(&Tok::RParen) {
                    Some(close) => Ok(Expr {
                        span: token.span.join(close),
                        kind: inner.kind,
                    }),
                    None => Err(self.expected("`)`").help("close the parenthesis")),
                }
            }
            Tok::Ident(name) => {
                let path = self.path(name, token.span)?;
                Ok(Expr {
                    span: path.span,
                    kind: ExprKind::Path(path),
                })
            }
            _ => {
                self.pos -= 1;
                Err(self
                    .expected("a value")
                    .help("operands are input.NAME, stage.ID.decision, or a literal"))
            }
        }
    }

    fn path(&mut self, first: String, span: Span) -> Result<Path, SyntaxError> {
        let mut segments = vec![Ident { name: first, span }];
        while self.eat(&Tok::Dot).is_some() {
            match self.next() {
                Some(Token {
                    tok: Tok::Ident(name),
                    span,
                }) => segments.push(Ident { name, span }),
                _ => {
                    self.pos -= 1;
                    return Err(self.expected("a name after `.`"));
                }
            }
        }
        let span = segments
            .iter()
            .fold(span, |acc, segment| acc.join(segment.span));
        Ok(Path { segments, span })
    }
}

fn literal_of(tok: &Tok) -> Option<Literal> {
    match tok {
        Tok::Str(s) => Some(Literal::String(s.clone())),
        Tok::Num(n) => Some(Literal::Number(*n)),
        Tok::Ident(word) if word == "true" => Some(Literal::Bool(true)),
        Tok::Ident(word) if word == "false" => Some(Literal::Bool(false)),
        _ => None,
    }
}

fn logic(op: LogicOp, lhs: Expr, rhs: Expr) -> Expr {
    let span = lhs.span.join(rhs.span);
    Expr {
        kind: ExprKind::Logic {
            op,
            lhs: Box::new(lhs),
            rhs: Box::new(rhs),
        },
        span,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn err(text: &str) -> (String, Span) {
        let e = parse(text).unwrap_err();
        (e.message, e.span)
    }

    #[test]
    fn parses_precedence_and_spans() {
        let e = parse("input.a == \"x\" || !(stage.s-1.decision != 'y') && input.n >= 3").unwrap();
        let ExprKind::Logic { op, lhs, rhs } = &e.kind else {
            panic!("{e:?}")
        };
        assert_eq!(*op, LogicOp::Or);
        assert_eq!(lhs.span, Span::new(0, 14));
        assert!(matches!(
            rhs.kind,
            ExprKind::Logic {
                op: LogicOp::And,
                ..
            }
        ));
        assert_eq!(e.span, Span::new(0, 62));
    }

    #[test]
    fn parses_in_list_and_paths() {
        let e = parse("input.risk in [\"low\", 'high', 3, true]").unwrap();
        let ExprKind::In { lhs, list } = e.kind else {
            panic!()
        };
        assert_eq!(list.len(), 4);
        let ExprKind::Path(p) = lhs.kind else {
            panic!()
        };
        assert_eq!(p.dotted(), "input.risk");
        assert_eq!(p.segments[1].span, Span::new(6, 10));
    }

    #[test]
    fn reports_errors_with_spans() {
        assert_eq!(err("input.a = 1").1, Span::new(8, 9));
        assert_eq!(err("input.a == ").1, Span::new(11, 11));
        assert_eq!(
            err("(input.a").0,
            "expected `)`, found the end of the condition"
        );
        assert_eq!(err("input.a == \"x").1, Span::new(11, 13));
        assert_eq!(err("input.a in []").1, Span::new(12, 13));
        assert_eq!(err("input.a input.b").1, Span::new(8, 13));
        assert_eq!(err("input.a == 1 # x").1, Span::new(13, 14));
        assert!(parse("").is_err());
        assert!(parse("-").is_err());
    }

    #[test]
    fn deep_nesting_is_an_error_not_a_crash() {
        let deep = format!("{}true{}", "(".repeat(10_000), ")".repeat(10_000));
        assert!(parse(&deep).is_err());
        let bangs = format!("{}true", "!".repeat(10_000));
        assert!(parse(&bangs).is_err());
    }

    #[test]
    fn stage_ids_may_start_with_a_digit() {
        let p = parse_path("stage.1st-review.decision").unwrap();
        assert_eq!(p.segments[1].name, "1st-review");
    }

    #[test]
    fn parse_path_alone() {
        assert_eq!(parse_path(" input.x ").unwrap().span, Span::new(1, 8));
        assert!(parse_path("input.").is_err());
        assert!(parse_path("a b").is_err());
        assert!(parse_path("").is_err());
    }
}
