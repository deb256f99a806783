//! ClickHouse literal escaping: ClickHouse 18.16 has no server-side parameters, so every value
//! that reaches ClickHouse SQL goes through [`string_literal`] or [`identifier`].

/// A single-quoted ClickHouse string literal for any text: backslash, quote and control
/// characters are escaped, so the value can never end the literal.
pub fn string_literal(value: &str) -> String {
    let mut out = String::with_capacity(value.len() + 2);
    out.push('\'');
    for c in value.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\'' => out.push_str("\\'"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\0' => out.push_str("\\0"),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\x{:02X}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('\'');
    out
}

/// A back-quoted ClickHouse identifier (database or table names from configuration).
pub fn identifier(name: &str) -> String {
    let mut out = String::with_capacity(name.len() + 2);
    out.push('`');
    for c in name.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '`' => out.push_str("\\`"),
            c => out.push(c),
        }
    }
    out.push('`');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_text_is_quoted() {
        assert_eq!(string_literal("Order Completed"), "'Order Completed'");
    }

    #[test]
    fn quotes_and_backslashes_cannot_end_the_literal() {
        assert_eq!(string_literal("a'b"), r"'a\'b'");
        assert_eq!(
            string_literal(r"a\'; DROP TABLE x; --"),
            r"'a\\\'; DROP TABLE x; --'"
        );
        assert_eq!(string_literal("x\\"), r"'x\\'");
    }

    #[test]
    fn control_characters_are_escaped() {
        assert_eq!(string_literal("a\nb\tc\0\u{1}"), r"'a\nb\tc\0\x01'");
    }

    #[test]
    fn unicode_is_kept() {
        assert_eq!(string_literal("café ☕"), "'café ☕'");
    }

    #[test]
    fn identifiers_escape_backquotes() {
        assert_eq!(identifier("footfall"), "`footfall`");
        assert_eq!(identifier("a`b"), r"`a\`b`");
    }
}
