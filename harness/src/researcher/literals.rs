//! Numeric literals of a Python program, found by a small lexer that skips identifiers,
//! strings and comments, so that `x1`, `"0.5"` and `# 3 rings` are never touched.

use std::ops::Range;

#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Literal {
    /// Byte range in the program text.
    pub span: Range<usize>,
    pub value: f64,
    pub is_integer: bool,
}

/// Every decimal int or float literal in `code`. Hex, octal, binary, imaginary literals and
/// literals with `_` separators are left out: perturbing them is rarely meaningful.
pub(crate) fn find_literals(code: &str) -> Vec<Literal> {
    let bytes = code.as_bytes();
    let mut found = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        let b = bytes[i];
        match b {
            b'#' => i = skip_line(bytes, i),
            b'\'' | b'"' => i = skip_string(bytes, i),
            _ if b.is_ascii_alphabetic() || b == b'_' || b >= 0x80 => {
                while i < bytes.len() && is_ident(bytes[i]) {
                    i += 1;
                }
            }
            _ if b.is_ascii_digit() || (b == b'.' && bytes.get(i + 1).is_some_and(u8::is_ascii_digit)) => {
                let end = number_end(bytes, i);
                let text = &code[i..end];
                let followed_by_ident = bytes.get(end).is_some_and(|&c| is_ident(c));
                if let Some(lit) = parse_decimal(text, i..end).filter(|_| !followed_by_ident) {
                    found.push(lit);
                }
                i = end;
            }
            _ => i += 1,
        }
    }
    found
}

fn is_ident(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_' || b >= 0x80
}

fn skip_line(bytes: &[u8], mut i: usize) -> usize {
    while i < bytes.len() && bytes[i] != b'\n' {
        i += 1;
    }
    i
}

fn skip_string(bytes: &[u8], start: usize) -> usize {
    let quote = bytes[start];
    let triple = bytes.get(start + 1) == Some(&quote) && bytes.get(start + 2) == Some(&quote);
    let mut i = start + if triple { 3 } else { 1 };
    while i < bytes.len() {
        match bytes[i] {
            b'\\' => i += 2,
            b'\n' if !triple => return i,
            c if c == quote => {
                if !triple {
                    return i + 1;
                }
                if bytes.get(i + 1) == Some(&quote) && bytes.get(i + 2) == Some(&quote) {
                    return i + 3;
                }
                i += 1;
            }
            _ => i += 1,
        }
    }
    bytes.len()
}

/// The end of the number-like token at `start`: digits, letters, `_`, `.` and an exponent sign.
fn number_end(bytes: &[u8], start: usize) -> usize {
    let mut i = start;
    while i < bytes.len() {
        let c = bytes[i];
        let exponent_sign = (c == b'+' || c == b'-')
            && i > start
            && matches!(bytes[i - 1], b'e' | b'E')
            && !is_hex_prefixed(bytes, start);
        if c.is_ascii_alphanumeric() || c == b'_' || c == b'.' || exponent_sign {
            i += 1;
        } else {
            break;
        }
    }
    i
}

fn is_hex_prefixed(bytes: &[u8], start: usize) -> bool {
    bytes[start] == b'0' && matches!(bytes.get(start + 1), Some(b'x' | b'X'))
}

fn parse_decimal(text: &str, span: Range<usize>) -> Option<Literal> {
    let decimal = text.bytes().all(|c| c.is_ascii_digit() || matches!(c, b'.' | b'e' | b'E' | b'+' | b'-'));
    if !decimal {
        return None;
    }
    let is_integer = text.bytes().all(|c| c.is_ascii_digit());
    // Python rejects leading zeros in non-zero integers (`007`); leave such tokens alone.
    if is_integer && text.len() > 1 && text.starts_with('0') {
        return None;
    }
    let value: f64 = text.parse().ok()?;
    value.is_finite().then_some(Literal { span, value, is_integer })
}

/// Python source for a float, always recognisably a float.
pub(crate) fn format_float(value: f64) -> String {
    let rounded: f64 = format!("{value:.11e}").parse().expect("a formatted float parses");
    let magnitude = rounded.abs();
    let text = if magnitude != 0.0 && !(1e-5..1e16).contains(&magnitude) {
        format!("{rounded:e}")
    } else {
        format!("{rounded}")
    };
    if text.contains(['.', 'e', 'E']) { text } else { format!("{text}.0") }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn values(code: &str) -> Vec<(String, bool)> {
        find_literals(code).into_iter().map(|l| (code[l.span].to_string(), l.is_integer)).collect()
    }

    #[test]
    fn finds_ints_and_floats() {
        assert_eq!(
            values("x = 0.5 + 3 * .25 - 1e-3 + 2.5E+2 + 1."),
            vec![
                ("0.5".into(), false),
                ("3".into(), true),
                (".25".into(), false),
                ("1e-3".into(), false),
                ("2.5E+2".into(), false),
                ("1.".into(), false)
            ]
        );
    }

    #[test]
    fn skips_identifiers_strings_comments_and_other_bases() {
        let code = "x1 = float32(\"0.5\") # 3 rings\ny = '''7\n8''' + 0x1F + 1_000 + 2j + np.pi + r'\\4'\n";
        assert!(values(code).is_empty(), "{:?}", values(code));
    }

    #[test]
    fn formatted_floats_stay_floats_and_round_trip() {
        for v in [2.0, 0.3, 1e-7, 123456.75, 0.0, 3.5e17] {
            let text = format_float(v);
            assert!(text.contains(['.', 'e']), "{text}");
            assert_eq!(text.parse::<f64>().unwrap(), v, "{text}");
        }
    }
}
