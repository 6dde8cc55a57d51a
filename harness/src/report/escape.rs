//! The one HTML escaping function of the reports. Every value that comes from a history,
//! a node log, results.json or test.json goes through [`html`] before it reaches a page,
//! in text and in attribute values alike (it escapes quotes too).

use std::fmt::Write;

/// Escape `s` for use as HTML text or inside a quoted attribute value.
pub fn html(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 8);
    push_html(&mut out, s);
    out
}

/// Append `s`, escaped as [`html`] does, to `out` (no intermediate string).
pub fn push_html(out: &mut String, s: &str) {
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            // Control characters other than tab/newline would make the XML of inline SVG
            // ill-formed; show them as their code point.
            c if (c as u32) < 0x20 && c != '\t' && c != '\n' && c != '\r' => {
                let _ = write!(out, "\\u{{{:x}}}", c as u32);
            }
            c => out.push(c),
        }
    }
}

/// A JSON value shown as compact text, escaped. Strings are shown with their quotes so
/// that `"1"` and `1` differ.
pub fn json(v: &serde_json::Value) -> String {
    html(&v.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hostile_values_become_text() {
        assert_eq!(
            html("<script>alert(1)</script>"),
            "&lt;script&gt;alert(1)&lt;/script&gt;"
        );
        assert_eq!(html("a\"b'c&d"), "a&quot;b&#39;c&amp;d");
        assert_eq!(html("x\u{1}y"), "x\\u{1}y");
        assert_eq!(html("plain ü"), "plain ü");
        assert_eq!(json(&serde_json::json!("<b>")), "&quot;&lt;b&gt;&quot;");
    }
}
