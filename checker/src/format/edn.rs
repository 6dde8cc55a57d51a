//! A small, total EDN reader: turns EDN text (Clojure's data notation, which Jepsen writes
//! its histories in) into `serde_json::Value`s, remembering the line and column where each
//! top-level form (or each element of a top-level collection) starts.
//!
//! Supported: `;` comments, commas as whitespace, `nil`, `true`/`false`, integers (with an
//! optional `N` suffix; beyond 64 bits kept as a string of their exact digits), floats
//! (optional `M`), ratios (as floats), strings with escapes, characters (`\a`, `\newline`, `\u0041`), keywords (`:f`, `:jepsen/x`), symbols, vectors,
//! lists, maps, sets (`#{}`), tagged literals (`#inst "..."`, `#jepsen.history.Op{...}`: the
//! tag is dropped and the inner value kept) and `#_` discards.
//!
//! Conversion to JSON: keywords and symbols become strings without the colon; vectors, lists
//! and sets become arrays; map keys that are not strings/keywords become their JSON text.
//! Nesting deeper than [`MAX_DEPTH`] (collections, tags and `#_` discards nested inside one
//! another) is an error, never a stack overflow; a chain of discards one after another
//! (`#_ #_1 #_1 ... 1`) is read in a loop, at any length.

use serde_json::{Map, Number, Value};

/// Deepest nesting of collections accepted (as serde_json's limit; Jepsen histories nest
/// fewer than ten levels). About 4 KiB of stack per level in a debug build.
pub const MAX_DEPTH: usize = 128;

/// A syntax error at a 1-based line and column.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EdnError {
    pub line: u64,
    pub column: u64,
    pub message: String,
}

/// A parsed form and where it started.
#[derive(Debug, Clone, PartialEq)]
pub struct Located {
    pub value: Value,
    /// Whether the form was an EDN keyword (so `:timed-out` can be told apart from `"timed-out"`).
    pub is_keyword: bool,
    pub line: u64,
    pub column: u64,
}

/// The reader's cursor over the text.
pub struct Parser<'a> {
    src: &'a [u8],
    text: &'a str,
    pos: usize,
    line: u64,
    line_start: usize,
}

type PResult<T> = Result<T, EdnError>;

fn is_delim(b: u8) -> bool {
    b.is_ascii_whitespace()
        || matches!(
            b,
            b',' | b'(' | b')' | b'[' | b']' | b'{' | b'}' | b'"' | b';'
        )
}

impl<'a> Parser<'a> {
    pub fn new(text: &'a str) -> Parser<'a> {
        Parser {
            src: text.as_bytes(),
            text,
            pos: 0,
            line: 1,
            line_start: 0,
        }
    }

    /// Line and column (1-based; the column counts bytes, so that it is O(1) even on a
    /// history written as one very long line) of the cursor.
    pub fn position(&self) -> (u64, u64) {
        (self.line, (self.pos - self.line_start) as u64 + 1)
    }

    fn err<T>(&self, message: impl Into<String>) -> PResult<T> {
        let (line, column) = self.position();
        Err(EdnError {
            line,
            column,
            message: message.into(),
        })
    }

    fn peek(&self) -> Option<u8> {
        self.src.get(self.pos).copied()
    }

    fn bump(&mut self) -> Option<u8> {
        let b = self.peek()?;
        self.pos += 1;
        if b == b'\n' {
            self.line += 1;
            self.line_start = self.pos;
        }
        Some(b)
    }

    /// Skip whitespace, commas and `;` comments.
    pub fn skip_ws(&mut self) {
        while let Some(b) = self.peek() {
            if b.is_ascii_whitespace() || b == b',' {
                self.bump();
            } else if b == b';' {
                while let Some(c) = self.peek() {
                    if c == b'\n' {
                        break;
                    }
                    self.bump();
                }
            } else {
                break;
            }
        }
    }

    /// If the next form is a `#_` discard, read and drop it and return true.
    pub fn skip_discard(&mut self) -> PResult<bool> {
        self.skip_ws();
        if self.peek() == Some(b'#') && self.src.get(self.pos + 1) == Some(&b'_') {
            self.pos += 2;
            self.value(1)?;
            return Ok(true);
        }
        Ok(false)
    }

    pub fn at_end(&mut self) -> bool {
        self.skip_ws();
        self.pos >= self.src.len()
    }

    /// Read one form (after skipping whitespace), with its start position.
    pub fn form(&mut self) -> PResult<Located> {
        self.skip_ws();
        let (line, column) = self.position();
        let (value, is_keyword) = self.value(0)?;
        Ok(Located {
            value,
            is_keyword,
            line,
            column,
        })
    }

    /// If the next form is a vector or list, consume its opening bracket and return the
    /// closing byte to expect; used to read a top-level collection element by element.
    pub fn open_collection(&mut self) -> Option<u8> {
        self.skip_ws();
        let close = match self.peek()? {
            b'[' => b']',
            b'(' => b')',
            _ => return None,
        };
        self.bump();
        Some(close)
    }

    /// Inside a collection opened with [`Parser::open_collection`]: the next element, or
    /// `None` after consuming the closing bracket.
    pub fn next_element(&mut self, close: u8) -> PResult<Option<Located>> {
        loop {
            self.skip_ws();
            match self.peek() {
                None => {
                    return self.err(format!(
                        "unexpected end of input: expected `{}`",
                        close as char
                    ))
                }
                Some(b) if b == close => {
                    self.bump();
                    return Ok(None);
                }
                Some(b'#') if self.src.get(self.pos + 1) == Some(&b'_') => {
                    self.pos += 2;
                    self.value(1)?;
                }
                Some(_) => return self.form().map(Some),
            }
        }
    }

    fn value(&mut self, depth: usize) -> PResult<(Value, bool)> {
        if depth > MAX_DEPTH {
            return self.err(format!("nesting deeper than {MAX_DEPTH} levels"));
        }
        // `#_` discards before the value, in a loop: a chain of thousands of them
        // (`#_ #_1 #_1 ... 1`) must not grow the stack.
        loop {
            self.skip_ws();
            if self.peek() == Some(b'#') && self.src.get(self.pos + 1) == Some(&b'_') {
                self.pos += 2;
                self.value(depth + 1)?;
            } else {
                break;
            }
        }
        let Some(b) = self.peek() else {
            return self.err("unexpected end of input: expected a value");
        };
        match b {
            b'[' => {
                self.bump();
                Ok((Value::Array(self.seq(b']', depth)?), false))
            }
            b'(' => {
                self.bump();
                Ok((Value::Array(self.seq(b')', depth)?), false))
            }
            b'{' => {
                self.bump();
                self.map(depth).map(|m| (m, false))
            }
            b'"' => {
                self.bump();
                self.string().map(|s| (Value::String(s), false))
            }
            b'\\' => {
                self.bump();
                self.character()
                    .map(|c| (Value::String(c.to_string()), false))
            }
            b'#' => {
                self.bump();
                match self.peek() {
                    Some(b'{') => {
                        self.bump();
                        Ok((Value::Array(self.seq(b'}', depth)?), false))
                    }
                    Some(c) if c.is_ascii_alphabetic() => {
                        let tag = self.token();
                        if tag.is_empty() {
                            return self.err("expected a tag after `#`");
                        }
                        // `#tag{...}` (records) and `#tag "..."`: keep the inner value.
                        self.value(depth + 1)
                    }
                    _ => self.err("expected `#{`, `#_` or a tagged literal after `#`"),
                }
            }
            b')' | b']' | b'}' => self.err(format!("unexpected `{}`", b as char)),
            b':' => {
                self.bump();
                let t = self.token();
                if t.is_empty() {
                    return self.err("expected a keyword name after `:`");
                }
                Ok((Value::String(t.to_string()), true))
            }
            _ => {
                let t = self.token();
                if t.is_empty() {
                    return self.err(format!("unexpected character `{}`", b as char));
                }
                self.atom(t).map(|v| (v, false))
            }
        }
    }

    /// A run of non-delimiter bytes (symbol, number, keyword name, tag).
    fn token(&mut self) -> &'a str {
        let start = self.pos;
        while let Some(b) = self.peek() {
            if is_delim(b) {
                break;
            }
            self.pos += 1;
        }
        // Delimiters are ASCII, so `start..pos` is on char boundaries.
        self.text.get(start..self.pos).unwrap_or("")
    }

    fn atom(&self, t: &str) -> PResult<Value> {
        match t {
            "nil" => return Ok(Value::Null),
            "true" => return Ok(Value::Bool(true)),
            "false" => return Ok(Value::Bool(false)),
            _ => {}
        }
        let first = t.as_bytes()[0];
        let numeric = first.is_ascii_digit()
            || ((first == b'-' || first == b'+')
                && t.len() > 1
                && t.as_bytes()[1].is_ascii_digit());
        if !numeric {
            return Ok(Value::String(t.to_string()));
        }
        let body = t
            .strip_suffix('N')
            .or_else(|| t.strip_suffix('M'))
            .unwrap_or(t);
        let body = body.strip_prefix('+').unwrap_or(body);
        if let Ok(i) = body.parse::<i64>() {
            return Ok(Value::Number(i.into()));
        }
        if let Ok(u) = body.parse::<u64>() {
            return Ok(Value::Number(u.into()));
        }
        // An integer beyond 64 bits keeps its exact digits (as a float, two different
        // big integers could read as the same value).
        let digits = body.strip_prefix('-').unwrap_or(body);
        if !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()) {
            return Ok(Value::String(t.to_string()));
        }
        if let Some((n, d)) = body.split_once('/') {
            if let (Ok(n), Ok(d)) = (n.parse::<f64>(), d.parse::<f64>()) {
                if d != 0.0 {
                    return Ok(Number::from_f64(n / d).map_or(Value::Null, Value::Number));
                }
            }
        }
        if let Ok(f) = body.parse::<f64>() {
            if f.is_finite() {
                return Ok(Number::from_f64(f).map_or(Value::Null, Value::Number));
            }
            // Out of range integers: keep the digits.
            return Ok(Value::String(t.to_string()));
        }
        if body.bytes().all(|b| b.is_ascii_digit() || b == b'-') {
            return Ok(Value::String(t.to_string()));
        }
        self.err(format!("malformed number `{t}`"))
    }

    /// Error at a remembered position (an opening bracket or quote).
    fn err_at<T>(&self, (line, column): (u64, u64), message: String) -> PResult<T> {
        Err(EdnError {
            line,
            column,
            message,
        })
    }

    fn seq(&mut self, close: u8, depth: usize) -> PResult<Vec<Value>> {
        // The opener was just consumed: remember where it was for an unclosed collection.
        let (line, col) = self.position();
        let opened = (line, col.saturating_sub(1).max(1));
        let mut out = Vec::new();
        loop {
            self.skip_ws();
            match self.peek() {
                None => {
                    return self.err_at(
                        opened,
                        format!(
                            "unexpected end of input: the collection opened here is never closed (expected `{}`)",
                            close as char
                        ),
                    )
                }
                Some(b) if b == close => {
                    self.bump();
                    return Ok(out);
                }
                Some(b) if matches!(b, b')' | b']' | b'}') => {
                    return self.err(format!(
                        "expected `{}`, found `{}`",
                        close as char, b as char
                    ))
                }
                Some(b'#') if self.src.get(self.pos + 1) == Some(&b'_') => {
                    self.pos += 2;
                    self.value(depth + 1)?;
                }
                Some(_) => out.push(self.value(depth + 1)?.0),
            }
        }
    }

    fn map(&mut self, depth: usize) -> PResult<Value> {
        let items = self.seq(b'}', depth)?;
        if items.len() % 2 != 0 {
            return self.err("a map needs an even number of forms (key value pairs)");
        }
        let mut m = Map::new();
        let mut it = items.into_iter();
        while let (Some(k), Some(v)) = (it.next(), it.next()) {
            let key = match k {
                Value::String(s) => s,
                other => other.to_string(),
            };
            m.insert(key, v);
        }
        Ok(Value::Object(m))
    }

    fn string(&mut self) -> PResult<String> {
        let (line, col) = self.position();
        let opened = (line, col.saturating_sub(1).max(1));
        let mut out = String::new();
        loop {
            let start = self.pos;
            while let Some(b) = self.peek() {
                if b == b'"' || b == b'\\' {
                    break;
                }
                self.bump();
            }
            out.push_str(self.text.get(start..self.pos).unwrap_or(""));
            match self.bump() {
                None => {
                    return self.err_at(opened, "unexpected end of input: the string opened here is never closed (expected `\"`)".into())
                }
                Some(b'"') => return Ok(out),
                Some(_) => {
                    let Some(e) = self.bump() else {
                        return self.err("unexpected end of input after `\\` in a string");
                    };
                    match e {
                        b'n' => out.push('\n'),
                        b't' => out.push('\t'),
                        b'r' => out.push('\r'),
                        b'b' => out.push('\u{8}'),
                        b'f' => out.push('\u{c}'),
                        b'"' => out.push('"'),
                        b'\\' => out.push('\\'),
                        b'/' => out.push('/'),
                        b'u' => {
                            let c = self.hex4()?;
                            out.push(c);
                        }
                        other => {
                            return self.err(format!("unknown string escape `\\{}`", other as char))
                        }
                    }
                }
            }
        }
    }

    fn hex4(&mut self) -> PResult<char> {
        let digits = self.text.get(self.pos..self.pos + 4);
        let Some(code) = digits.and_then(|d| u32::from_str_radix(d, 16).ok()) else {
            return self.err("expected four hex digits after `\\u`");
        };
        self.pos += 4;
        Ok(char::from_u32(code).unwrap_or('\u{fffd}'))
    }

    fn character(&mut self) -> PResult<char> {
        // The first character is taken even if it is a delimiter (`\(`, `\ `).
        let rest = self.text.get(self.pos..).unwrap_or("");
        let Some(first) = rest.chars().next() else {
            return self.err("unexpected end of input after `\\`");
        };
        let mut end = self.pos + first.len_utf8();
        while let Some(&b) = self.src.get(end) {
            if is_delim(b) {
                break;
            }
            end += 1;
        }
        let name = self.text.get(self.pos..end).unwrap_or("");
        let c = match name {
            "newline" => '\n',
            "space" => ' ',
            "tab" => '\t',
            "return" => '\r',
            "backspace" => '\u{8}',
            "formfeed" => '\u{c}',
            _ if name.chars().count() == 1 => first,
            _ if name.starts_with('u') && name.len() == 5 => {
                match u32::from_str_radix(&name[1..], 16)
                    .ok()
                    .and_then(char::from_u32)
                {
                    Some(c) => c,
                    None => return self.err(format!("bad character literal `\\{name}`")),
                }
            }
            _ => {
                // A single character followed by non-delimiters: take just the character.
                end = self.pos + first.len_utf8();
                first
            }
        };
        while self.pos < end {
            self.bump();
        }
        Ok(c)
    }
}

/// Parse every top-level form of `text`.
pub fn parse_all(text: &str) -> Result<Vec<Located>, EdnError> {
    let mut p = Parser::new(text);
    let mut out = Vec::new();
    while !p.at_end() {
        if p.skip_discard()? {
            continue;
        }
        out.push(p.form()?);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn one(text: &str) -> Value {
        let forms = parse_all(text).unwrap();
        assert_eq!(forms.len(), 1, "{text}");
        forms.into_iter().next().unwrap().value
    }

    #[test]
    fn scalars() {
        assert_eq!(one("nil"), Value::Null);
        assert_eq!(one("true"), json!(true));
        assert_eq!(one("-42"), json!(-42));
        assert_eq!(one("7N"), json!(7));
        assert_eq!(one("1.5"), json!(1.5));
        assert_eq!(one("1/2"), json!(0.5));
        assert_eq!(one(":timed-out"), json!("timed-out"));
        assert_eq!(
            one(":jepsen.nemesis/partition"),
            json!("jepsen.nemesis/partition")
        );
        assert_eq!(one(r#""a\"b\n\u0041""#), json!("a\"b\nA"));
        assert_eq!(one(r"\newline"), json!("\n"));
        assert_eq!(one(r"\a"), json!("a"));
        assert_eq!(one("some-symbol"), json!("some-symbol"));
        assert_eq!(
            one("99999999999999999999999"),
            json!("99999999999999999999999"),
            "exact digits, not a float"
        );
        assert_eq!(
            one("-99999999999999999999998N"),
            json!("-99999999999999999999998N")
        );
        assert_eq!(one("2.5e3"), json!(2500.0));
    }

    #[test]
    fn collections_tags_and_comments() {
        let v =
            one("; a comment\n{:a [1 2 (3)], :b #{:x}, 0 nil, #_ :gone :c #inst \"2020-01-01\"}");
        assert_eq!(
            v,
            json!({"a": [1, 2, [3]], "b": ["x"], "0": null, "c": "2020-01-01"})
        );
        assert_eq!(one("#jepsen.history.Op{:index 3}"), json!({"index": 3}));
    }

    #[test]
    fn errors_have_positions() {
        let e = parse_all("{:a 1\n :b}").unwrap_err();
        assert_eq!(e.line, 2);
        assert!(e.message.contains("even number"), "{e:?}");
        let e = parse_all("[1 2").unwrap_err();
        assert!(e.message.contains("expected `]`"), "{e:?}");
        let e = parse_all("\"abc").unwrap_err();
        assert!(e.message.contains("string"), "{e:?}");
        assert!(parse_all("(1 2]").is_err());
        assert!(parse_all("#").is_err());
        assert!(parse_all(":").is_err());
    }

    #[test]
    fn deep_nesting_is_an_error_not_a_crash() {
        let text = "[".repeat(100_000);
        let e = parse_all(&text).unwrap_err();
        assert!(e.message.contains("nesting"), "{e:?}");
    }

    /// Runs `f` on a thread with a small stack: a reader that recursed per discard
    /// would overflow it long before 12,700.
    const STACK: usize = 1 << 20;

    fn on_small_stack<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> T {
        std::thread::Builder::new()
            .stack_size(STACK)
            .spawn(f)
            .unwrap()
            .join()
            .unwrap()
    }

    #[test]
    fn long_discard_chains_read_in_a_loop() {
        let chain = "#_1 ".repeat(12_700);
        let v = on_small_stack(move || parse_all(&format!("[#_ {chain}1 2]")));
        // `#_` drops `#_1 ... 1` as one form (whose value is the final 1): only 2 is left.
        assert_eq!(v.unwrap()[0].value, json!([2]));
        let chain = "#_1 ".repeat(12_700);
        let v = on_small_stack(move || parse_all(&format!("#inst {chain}\"x\"")));
        assert_eq!(v.unwrap()[0].value, json!("x"));
        let chain = "#_1 ".repeat(12_700);
        let v = on_small_stack(move || parse_all(&format!("{{:a {chain}7}}")));
        assert_eq!(v.unwrap()[0].value, json!({"a": 7}));
    }

    #[test]
    fn nested_discards_and_tags_are_depth_bounded() {
        for text in [
            format!("[{}1]", "#_ ".repeat(12_700)),
            format!("{}1", "#a ".repeat(12_700)),
            format!("[{}]", "#_[".repeat(12_700)),
        ] {
            let e = on_small_stack(move || parse_all(&text)).unwrap_err();
            assert!(
                e.message.contains("nesting") || e.message.contains("end of input"),
                "{e:?}"
            );
        }
    }

    #[test]
    fn top_level_elements_have_lines() {
        let mut p = Parser::new("[\n{:a 1}\n\n{:a 2}]");
        let close = p.open_collection().unwrap();
        let a = p.next_element(close).unwrap().unwrap();
        let b = p.next_element(close).unwrap().unwrap();
        assert!(p.next_element(close).unwrap().is_none());
        assert_eq!((a.line, b.line), (2, 4));
        assert!(p.at_end());
    }
}
