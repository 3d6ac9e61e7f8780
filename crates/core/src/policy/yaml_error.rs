//! The YAML parser's errors, told once and at the right place.
//!
//! serde-saphyr reports an unknown key at the start of the mapping that holds it (for a
//! list item, its first key) and prints the place twice, once as a prefix and once in the
//! message. An operator who misspelt `appClients` on the third line of an item should be
//! shown that line: so an unknown key is looked up below the reported place, and every
//! error is told as one `line L column C: message` with the line and a caret under it.

/// `error` from parsing `text`, as `line L column C: message` and the line it points at.
pub(crate) fn describe(text: &str, error: &serde_saphyr::Error) -> String {
    let (message, line, column) = match error.without_snippet() {
        serde_saphyr::Error::Message { msg, .. } => {
            let (line, column) = place(error);
            (msg.clone(), line, column)
        }
        other => {
            let (line, column) = place(error);
            (strip_place(&other.to_string()), line, column)
        }
    };
    let (line, column) = match unknown_key(&message) {
        Some(key) if line > 0 => key_below(text, key, line, column).unwrap_or((line, column)),
        _ => (line, column),
    };
    if line == 0 {
        return message;
    }
    let Some(source) = text.lines().nth(line - 1) else {
        return format!("line {line} column {column}: {message}");
    };
    let gutter = line.to_string();
    format!(
        "line {line} column {column}: {message}\n{gutter} | {source}\n{} | {}^",
        " ".repeat(gutter.len()),
        " ".repeat(column.saturating_sub(1))
    )
}

/// The 1-based line and column the parser reported, or (0, 0).
fn place(error: &serde_saphyr::Error) -> (usize, usize) {
    error.location().map_or((0, 0), |l| {
        (
            usize::try_from(l.line()).unwrap_or(0),
            usize::try_from(l.column()).unwrap_or(0),
        )
    })
}

/// The message without the parser's own ` at line X, column Y` suffix.
fn strip_place(message: &str) -> String {
    match message.rfind(" at line ") {
        Some(at) => message[..at].to_owned(),
        None => message.to_owned(),
    }
}

/// `unknown field `NAME`, ...` -> NAME.
fn unknown_key(message: &str) -> Option<&str> {
    let rest = message.strip_prefix("unknown field `")?;
    rest.split('`').next()
}

/// Where `key:` is written in the mapping that starts at (`line`, `column`): the mapping's
/// lines are those from `line` on that are blank, comments, or indented at least as far
/// as its first key.
fn key_below(text: &str, key: &str, line: usize, column: usize) -> Option<(usize, usize)> {
    let indent = column.saturating_sub(1);
    for (offset, source) in text.lines().enumerate().skip(line - 1) {
        let number = offset + 1;
        let trimmed = source.trim_start();
        if trimmed.is_empty() || trimmed.starts_with('#') {
            continue;
        }
        let at = source.len() - trimmed.len();
        // The first line may be `- key: ...`: the mapping starts after the dash.
        let (at, trimmed) = match trimmed.strip_prefix("- ") {
            Some(rest) if number == line => {
                let rest_trimmed = rest.trim_start();
                (source.len() - rest_trimmed.len(), rest_trimmed)
            }
            _ => (at, trimmed),
        };
        if number > line && at < indent {
            return None;
        }
        if at == indent {
            let name = trimmed.split(':').next().unwrap_or("");
            let name = name.trim().trim_matches(|c| c == '"' || c == '\'');
            if name == key {
                return Some((number, at + 1));
            }
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_error(text: &str) -> String {
        #[derive(Debug, serde::Deserialize)]
        #[serde(deny_unknown_fields)]
        #[allow(dead_code)]
        struct Pool {
            id: String,
            #[serde(rename = "appClients", default)]
            app_clients: Vec<String>,
        }
        #[derive(Debug, serde::Deserialize)]
        #[serde(deny_unknown_fields, rename_all = "camelCase")]
        #[allow(dead_code)]
        struct File {
            user_pools: Vec<Pool>,
        }
        let error = serde_saphyr::from_str::<File>(text).unwrap_err();
        describe(text, &error)
    }

    #[test]
    fn a_misspelt_key_of_a_list_item_is_shown_on_its_own_line_once() {
        let text = "userPools:\n  - id: us-east-1_Abc\n    appClient: [abc]\n";
        let told = parse_error(text);
        assert!(
            told.starts_with("line 3 column 5: unknown field `appClient`, expected one of"),
            "{told}"
        );
        assert!(
            told.ends_with("3 |     appClient: [abc]\n  |     ^"),
            "{told}"
        );
        assert_eq!(told.matches("line 3").count(), 1, "{told}");
        assert!(!told.contains("at line"), "{told}");
    }

    #[test]
    fn a_misspelt_first_key_and_a_top_level_key_are_found_too() {
        let told = parse_error("userPools:\n  - ids: us-east-1_Abc\n");
        assert!(
            told.starts_with("line 2 column 5: unknown field `ids`"),
            "{told}"
        );
        let told = parse_error("userPools: []\n# a comment\nroute: []\n");
        assert!(
            told.starts_with("line 3 column 1: unknown field `route`"),
            "{told}"
        );
    }

    #[test]
    fn a_key_of_a_later_item_is_not_taken_for_the_reported_one() {
        // The unknown key is in the first item; a key of that name further down, in
        // another mapping, must not be pointed at.
        let text = "userPools:\n  - id: a\n    appClient: [x]\n  - id: b\n";
        assert!(parse_error(text).starts_with("line 3 column 5:"));
        let inner = key_below("a:\n  b: 1\nc: 2\n", "c", 2, 3);
        assert_eq!(inner, None, "a shallower line ends the mapping");
    }

    #[test]
    fn other_errors_keep_their_place() {
        let told = parse_error("userPools:\n  - id: [1, 2\n");
        assert!(told.contains(" | "), "{told}");
        assert!(!told.contains("at line"), "{told}");
    }
}
