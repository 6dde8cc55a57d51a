//! Helpers shared by the report tests: fixture copies, a tag-balance HTML checker and a
//! PNG structure check (signature, chunk CRCs, IHDR size, IEND).
#![allow(dead_code)]

use std::path::{Path, PathBuf};

pub fn fixture_dir(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/report")
        .join(name)
}

/// A temporary copy of a fixture run directory (removed on drop).
pub fn copy_fixture(name: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    for e in std::fs::read_dir(fixture_dir(name)).unwrap() {
        let e = e.unwrap();
        std::fs::copy(e.path(), dir.path().join(e.file_name())).unwrap();
    }
    dir
}

const VOID: [&str; 6] = ["meta", "br", "hr", "img", "input", "link"];

/// Every tag closed in order, attributes quoted, no stray `<` or bare `&` in text, and the
/// contents of `<script>`/`<style>` skipped as raw text.
pub fn check_well_formed(html: &str) -> Result<(), String> {
    let b = html.as_bytes();
    let mut stack: Vec<String> = Vec::new();
    let mut i = 0;
    let line = |i: usize| html[..i].matches('\n').count() + 1;
    while i < b.len() {
        match b[i] {
            b'<' => {
                if html[i..].starts_with("<!--") {
                    i += html[i..].find("-->").ok_or("unclosed comment")? + 3;
                    continue;
                }
                if html[i..].starts_with("<!DOCTYPE") {
                    i += html[i..].find('>').ok_or("bad doctype")? + 1;
                    continue;
                }
                let closing = b.get(i + 1) == Some(&b'/');
                let start = i + if closing { 2 } else { 1 };
                let mut j = start;
                while j < b.len() && (b[j].is_ascii_alphanumeric() || b[j] == b'-') {
                    j += 1;
                }
                let name = html[start..j].to_ascii_lowercase();
                if name.is_empty() {
                    return Err(format!("line {}: stray '<'", line(i)));
                }
                // Attributes: name="value" pairs, values free of '<' and '"'.
                let mut self_closing = false;
                loop {
                    while j < b.len() && b[j].is_ascii_whitespace() {
                        j += 1;
                    }
                    match b.get(j) {
                        None => return Err(format!("line {}: unterminated tag <{name}", line(i))),
                        Some(b'>') => {
                            j += 1;
                            break;
                        }
                        Some(b'/') if b.get(j + 1) == Some(&b'>') => {
                            self_closing = true;
                            j += 2;
                            break;
                        }
                        Some(_) => {
                            let a = j;
                            while j < b.len() && !b" =>/".contains(&b[j]) {
                                j += 1;
                            }
                            if a == j {
                                return Err(format!("line {}: bad attribute in <{name}", line(i)));
                            }
                            if b.get(j) == Some(&b'=') {
                                if b.get(j + 1) != Some(&b'"') {
                                    return Err(format!(
                                        "line {}: unquoted attribute in <{name}",
                                        line(i)
                                    ));
                                }
                                let end =
                                    html[j + 2..].find('"').ok_or("unterminated attribute")?
                                        + j
                                        + 2;
                                if html[j + 2..end].contains('<') {
                                    return Err(format!(
                                        "line {}: '<' in an attribute of <{name}",
                                        line(i)
                                    ));
                                }
                                check_entities(&html[j + 2..end])
                                    .map_err(|e| format!("line {}: {e}", line(i)))?;
                                j = end + 1;
                            }
                        }
                    }
                }
                if closing {
                    match stack.pop() {
                        Some(open) if open == name => {}
                        other => {
                            return Err(format!("line {}: </{name}> closes {other:?}", line(i)))
                        }
                    }
                } else if !self_closing && !VOID.contains(&name.as_str()) {
                    if name == "script" || name == "style" {
                        let close = format!("</{name}>");
                        j += html[j..].find(&close).ok_or(format!("unclosed <{name}>"))?
                            + close.len();
                    } else {
                        stack.push(name);
                    }
                }
                i = j;
            }
            b'>' => return Err(format!("line {}: stray '>' in text", line(i))),
            _ => {
                let next = html[i..].find(['<', '>']).map_or(b.len(), |k| i + k);
                check_entities(&html[i..next]).map_err(|e| format!("line {}: {e}", line(i)))?;
                i = next;
            }
        }
    }
    if stack.is_empty() {
        Ok(())
    } else {
        Err(format!("unclosed tags at end: {stack:?}"))
    }
}

fn check_entities(text: &str) -> Result<(), String> {
    let mut rest = text;
    while let Some(k) = rest.find('&') {
        let after = &rest[k + 1..];
        let end = after
            .find(';')
            .ok_or_else(|| format!("bare '&' in {:?}", &rest[k..rest.len().min(k + 20)]))?;
        let ent = &after[..end];
        let ok = matches!(ent, "amp" | "lt" | "gt" | "quot" | "apos" | "#39" | "nbsp")
            || (ent.starts_with('#')
                && ent[1..].chars().all(|c| c.is_ascii_digit())
                && ent.len() > 1);
        if !ok {
            return Err(format!("unknown entity &{ent};"));
        }
        rest = &after[end + 1..];
    }
    Ok(())
}

fn crc32(data: &[u8]) -> u32 {
    let mut c = 0xFFFF_FFFFu32;
    for &byte in data {
        c ^= byte as u32;
        for _ in 0..8 {
            c = if c & 1 != 0 {
                0xEDB8_8320 ^ (c >> 1)
            } else {
                c >> 1
            };
        }
    }
    !c
}

/// Check a PNG's signature, every chunk's CRC, IHDR first, IDAT present, IEND last;
/// returns (width, height).
pub fn check_png(png: &[u8]) -> Result<(u32, u32), String> {
    const SIG: [u8; 8] = [0x89, b'P', b'N', b'G', 0x0D, 0x0A, 0x1A, 0x0A];
    if png.len() < 8 || png[..8] != SIG {
        return Err("not a PNG signature".into());
    }
    let mut i = 8;
    let mut size = None;
    let (mut idat, mut iend) = (false, false);
    while i + 12 <= png.len() {
        let len = u32::from_be_bytes(png[i..i + 4].try_into().unwrap()) as usize;
        let kind = &png[i + 4..i + 8];
        let end = i + 8 + len;
        if end + 4 > png.len() {
            return Err("truncated chunk".into());
        }
        let crc = u32::from_be_bytes(png[end..end + 4].try_into().unwrap());
        if crc != crc32(&png[i + 4..end]) {
            return Err(format!("bad CRC in {}", String::from_utf8_lossy(kind)));
        }
        match kind {
            b"IHDR" => {
                if size.is_some() || i != 8 {
                    return Err("IHDR not first".into());
                }
                let w = u32::from_be_bytes(png[i + 8..i + 12].try_into().unwrap());
                let h = u32::from_be_bytes(png[i + 12..i + 16].try_into().unwrap());
                size = Some((w, h));
            }
            b"IDAT" => idat = true,
            b"IEND" => {
                iend = true;
                i = end + 4;
                break;
            }
            _ => {}
        }
        i = end + 4;
    }
    if !idat || !iend || i != png.len() {
        return Err("missing IDAT/IEND or trailing bytes".into());
    }
    size.ok_or_else(|| "no IHDR".into())
}

#[test]
fn the_checkers_themselves_reject_bad_input() {
    assert!(check_well_formed("<html><body><p>x</p></body></html>").is_ok());
    assert!(check_well_formed("<html><body><p>x</body></html>").is_err());
    assert!(check_well_formed("<p>a < b</p>").is_err());
    assert!(check_well_formed("<p>a & b</p>").is_err());
    assert!(check_well_formed("<p title=\"x<y\">z</p>").is_err());
    assert!(check_well_formed("<p><script>if(a<b){}</script><br></p>").is_ok());
    assert!(check_png(b"\x89PNG\r\n\x1a\nxx").is_err());
}
