//! Parser for intrinsic function calls: `States.Name(arg, …)` where an argument is a
//! nested call, a `'string'` (with `\` escapes), a number, `true`/`false`/`null`, or a
//! path (`$…`, `$$…`).

use serde_json::Value;

use super::Function;
use super::functions::{Piece, template_pieces};
use crate::eval::error::DefinitionError;
use crate::eval::path::Path;

/// An argument as written.
#[derive(Debug, Clone)]
pub(super) enum Arg {
    Call(Box<Call>),
    /// A literal. `raw` keeps a string literal's text between the quotes, escapes
    /// included, because `States.Format` treats `\{` differently from `{`.
    Literal {
        value: Value,
        raw: Option<String>,
    },
    Path(Path),
}

/// A parsed call.
#[derive(Debug, Clone)]
pub(super) struct Call {
    pub(super) function: Function,
    pub(super) args: Vec<Arg>,
    /// `States.Format` with a literal template: the template, split at load time.
    pub(super) template: Option<Vec<Piece>>,
}

/// AWS allows up to 10 nested intrinsic functions in one field; the limit also bounds
/// the recursion of this parser and of evaluation.
const MAX_DEPTH: usize = 10;

pub(super) fn parse_call(text: &str) -> Result<Call, DefinitionError> {
    let mut p = Parser {
        text,
        pos: 0,
        depth: 0,
    };
    // No leading blanks: `" States.Array(…)"` is neither a call nor a path.
    let call = p.call()?;
    p.skip_ws();
    if p.pos != text.len() {
        return Err(p.error("unexpected text after the closing parenthesis"));
    }
    Ok(call)
}

struct Parser<'a> {
    text: &'a str,
    pos: usize,
    /// Calls currently open.
    depth: usize,
}

impl Parser<'_> {
    fn rest(&self) -> &str {
        self.text.get(self.pos..).unwrap_or("")
    }

    fn peek(&self) -> Option<char> {
        self.rest().chars().next()
    }

    fn skip_ws(&mut self) {
        let trimmed = self.rest().trim_start_matches([' ', '\t', '\n', '\r']);
        self.pos = self.text.len() - trimmed.len();
    }

    fn eat(&mut self, c: char) -> bool {
        if self.peek() == Some(c) {
            self.pos += c.len_utf8();
            true
        } else {
            false
        }
    }

    fn error(&self, why: &str) -> DefinitionError {
        DefinitionError::new(format!(
            "The value '{}' is not a valid intrinsic function call: {why} (at character {})",
            self.text, self.pos
        ))
    }

    fn call(&mut self) -> Result<Call, DefinitionError> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return Err(self.error(&format!("more than {MAX_DEPTH} nested intrinsic functions")));
        }
        let call = self.call_body();
        self.depth -= 1;
        call
    }

    fn call_body(&mut self) -> Result<Call, DefinitionError> {
        let name_len = self
            .rest()
            .find(|c: char| !(c.is_ascii_alphanumeric() || c == '.' || c == '_'))
            .unwrap_or(self.rest().len());
        let name = self.rest().get(..name_len).unwrap_or("");
        let function = Function::from_name(name).ok_or_else(|| {
            self.error(&format!(
                "unknown function '{name}' (expected States.Format, States.Array, …)"
            ))
        })?;
        self.pos += name_len;
        self.skip_ws();
        if !self.eat('(') {
            return Err(self.error("expected '(' after the function name"));
        }
        let mut args = Vec::new();
        self.skip_ws();
        if !self.eat(')') {
            loop {
                self.skip_ws();
                args.push(self.arg()?);
                self.skip_ws();
                if self.eat(',') {
                    continue;
                }
                if self.eat(')') {
                    break;
                }
                return Err(self.error("expected ',' or ')' after an argument"));
            }
        }
        function
            .check_arity(args.len())
            .map_err(|why| self.error(&why))?;
        function
            .check_literals(&args)
            .map_err(|why| self.error(&why))?;
        let template = match (function, args.first()) {
            (Function::Format, Some(Arg::Literal { raw: Some(raw), .. })) => {
                Some(template_pieces(raw, true))
            }
            _ => None,
        };
        Ok(Call {
            function,
            args,
            template,
        })
    }

    fn arg(&mut self) -> Result<Arg, DefinitionError> {
        match self.peek() {
            Some('\'') => self.string(),
            Some('$') => self.path(),
            Some(c) if c == '-' || c.is_ascii_digit() => self.number(),
            Some(_) => {
                for (word, value) in [
                    ("true", Value::Bool(true)),
                    ("false", Value::Bool(false)),
                    ("null", Value::Null),
                ] {
                    let after = self.rest().strip_prefix(word);
                    if after.is_some_and(|a| !a.starts_with(|c: char| c.is_ascii_alphanumeric())) {
                        self.pos += word.len();
                        return Ok(Arg::Literal { value, raw: None });
                    }
                }
                Ok(Arg::Call(Box::new(self.call()?)))
            }
            None => Err(self.error("expected an argument")),
        }
    }

    fn string(&mut self) -> Result<Arg, DefinitionError> {
        let start = self.pos + 1;
        let mut value = String::new();
        let mut chars = self.rest().char_indices().skip(1);
        while let Some((i, c)) = chars.next() {
            match c {
                '\'' => {
                    let raw = self.text.get(start..self.pos + i).unwrap_or("").to_owned();
                    self.pos += i + 1;
                    return Ok(Arg::Literal {
                        value: Value::String(value),
                        raw: Some(raw),
                    });
                }
                '\\' => match chars.next() {
                    Some((_, 'u')) => {
                        let hex: String = chars.by_ref().take(4).map(|(_, h)| h).collect();
                        let ch = u32::from_str_radix(&hex, 16)
                            .ok()
                            .and_then(char::from_u32)
                            .ok_or_else(|| self.error("bad \\u escape in a string literal"))?;
                        value.push(ch);
                    }
                    Some((_, escaped)) => value.push(escaped),
                    None => break,
                },
                c => value.push(c),
            }
        }
        Err(self.error("unterminated string literal"))
    }

    fn number(&mut self) -> Result<Arg, DefinitionError> {
        let len = self
            .rest()
            .find(|c: char| !(c.is_ascii_digit() || matches!(c, '-' | '+' | '.' | 'e' | 'E')))
            .unwrap_or(self.rest().len());
        let token = self.rest().get(..len).unwrap_or("");
        let value: Value = serde_json::from_str(token)
            .map_err(|_| self.error(&format!("'{token}' is not a number")))?;
        if !value.is_number() {
            return Err(self.error(&format!("'{token}' is not a number")));
        }
        self.pos += len;
        Ok(Arg::Literal { value, raw: None })
    }

    /// A path runs to the next `,` or `)` outside brackets and quotes.
    fn path(&mut self) -> Result<Arg, DefinitionError> {
        let mut depth = 0usize;
        let mut quote: Option<char> = None;
        let mut end = self.rest().len();
        for (i, c) in self.rest().char_indices() {
            match (quote, c) {
                (Some(q), c) if c == q => quote = None,
                (Some(_), _) => {}
                (None, '\'' | '"') if depth > 0 => quote = Some(c),
                (None, '[') => depth += 1,
                (None, ']') => depth = depth.saturating_sub(1),
                (None, ',' | ')') if depth == 0 => {
                    end = i;
                    break;
                }
                _ => {}
            }
        }
        let text = self.rest().get(..end).unwrap_or("").trim_end();
        let path = Path::parse(text).map_err(|e| self.error(&e.message))?;
        self.pos += end;
        Ok(Arg::Path(path))
    }
}
