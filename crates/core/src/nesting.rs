//! How deep a YAML (or JSON) text nests, checked before any parser builds a tree of it:
//! libyaml's scanner takes time quadratic in the nesting depth, so every file a command
//! reads is refused past [`MAX_NESTING`] levels in one linear pass.

use thiserror::Error;

/// The deepest nesting of sequences and mappings accepted in a YAML or JSON file a command
/// reads (no policy, template or tests file comes near it; serde_json stops at the same
/// depth).
pub const MAX_NESTING: usize = 128;

/// Why a text was refused before parsing.
#[derive(Debug, Error)]
pub enum NestingError {
    /// Deeper than `max` levels of sequences and mappings.
    #[error("nested deeper than the {max} levels allowed")]
    TooDeep {
        /// The levels allowed.
        max: usize,
    },
    /// Not YAML the scan can read.
    #[error("invalid YAML: {0}")]
    Syntax(String),
}

/// Refuses YAML (or JSON, a subset of it) nested more than `max` sequences and mappings
/// deep, in one streaming pass that stops at the first level too deep: no tree is built
/// and the cost is linear in the text up to that point.
///
/// The scan is saphyr's, the same YAML grammar as the libyaml the importer parses with; a
/// text the scan cannot read is refused too (an unreadable prefix must not hide a deep
/// suffix from the check).
pub fn check_nesting(text: &str, max: usize) -> Result<(), NestingError> {
    use serde_saphyr::budget::{self, EnforcingPolicy};
    // Only depth is checked here: every other limit is the parser's own business, and an
    // earlier breach would end the scan before a deeper level further on.
    let only_depth = serde_saphyr::Budget {
        max_reader_input_bytes: None,
        max_events: usize::MAX,
        max_aliases: usize::MAX,
        max_anchors: usize::MAX,
        max_depth: max,
        max_documents: usize::MAX,
        max_nodes: usize::MAX,
        max_total_scalar_bytes: usize::MAX,
        max_merge_keys: usize::MAX,
        enforce_alias_anchor_ratio: false,
        ..serde_saphyr::Budget::default()
    };
    let report =
        budget::check_yaml_budget(text, only_depth, EnforcingPolicy::AllContent).map_err(|e| {
            // The scanner has a depth limit of its own (a few hundred levels), hit before the
            // budget's when the levels open faster than their events arrive (`[[[[`).
            let e = e.to_string();
            if e.contains("recursion limit exceeded") {
                NestingError::TooDeep { max }
            } else {
                NestingError::Syntax(e)
            }
        })?;
    match report.breached {
        None => Ok(()),
        Some(budget::BudgetBreach::Depth { .. }) => Err(NestingError::TooDeep { max }),
        Some(other) => Err(NestingError::Syntax(format!("{other:?}"))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nesting_deeper_than_the_limit_is_refused_in_any_form() {
        // Each text is nested exactly `d` levels deep.
        let flow = |d: usize| format!("a: {}{}\n", "[".repeat(d - 1), "]".repeat(d - 1));
        let flow_maps = |d: usize| format!("a: {}1{}\n", "{b: ".repeat(d - 1), "}".repeat(d - 1));
        let compact = |d: usize| format!("{}x\n", "- ".repeat(d));
        let indented = |d: usize| {
            (0..d)
                .map(|i| format!("{}k:\n", " ".repeat(i)))
                .collect::<String>()
                + &" ".repeat(d)
                + "v\n"
        };
        let json = |d: usize| format!("{{\"a\": {}{}}}", "[".repeat(d - 1), "]".repeat(d - 1));
        for (what, text) in [
            ("flow", flow as fn(usize) -> String),
            ("flow mappings", flow_maps),
            ("compact sequences", compact),
            ("indented mappings", indented),
            ("JSON", json),
        ] {
            assert!(check_nesting(&text(10), 10).is_ok(), "{what}");
            assert!(
                matches!(
                    check_nesting(&text(11), 10),
                    Err(NestingError::TooDeep { max: 10 })
                ),
                "{what}"
            );
        }
        // What quotes, comments and block scalars hold is not nesting.
        let text = "a: \"[[[[[[\"\nb: '{{{{{{'\n# [[[[[[\nc: |\n  [[[[[[\n  - - - - - -\n";
        assert!(check_nesting(text, 2).is_ok());
        // 80,000 levels in 160 KB, refused at once.
        let deep = check_nesting(&flow(80_000), MAX_NESTING);
        assert!(
            matches!(deep, Err(NestingError::TooDeep { .. })),
            "{deep:?}"
        );
        // A text the scan cannot read is refused, whatever follows.
        assert!(matches!(
            check_nesting("a: \"unterminated\n", MAX_NESTING),
            Err(NestingError::Syntax(_))
        ));
    }
}
