//! Mutations of a source document: where to mutate, and what to write there.

use super::*;

/// Every node's address, the root included.
pub(crate) fn addresses(v: &Value, at: &mut Vec<Step>, out: &mut Vec<Vec<Step>>) {
    out.push(at.clone());
    match v {
        Value::Object(m) => {
            for (k, child) in m {
                at.push(Step::Key(k.clone()));
                addresses(child, at, out);
                at.pop();
            }
        }
        Value::Array(items) => {
            for (i, child) in items.iter().enumerate() {
                at.push(Step::Index(i));
                addresses(child, at, out);
                at.pop();
            }
        }
        _ => {}
    }
}

pub(crate) fn node_mut<'a>(v: &'a mut Value, at: &[Step]) -> Option<&'a mut Value> {
    let mut node = v;
    for step in at {
        node = match (step, node) {
            (Step::Key(k), Value::Object(m)) => m.get_mut(k)?,
            (Step::Index(i), Value::Array(items)) => items.get_mut(*i)?,
            _ => return None,
        };
    }
    Some(node)
}

/// Strings and keys of the fixture, and a few that mean something to an importer: the
/// replacement values are plausible, not noise.
pub(crate) fn vocabulary(v: &Value, out: &mut Vec<String>) {
    match v {
        Value::String(s) => out.push(s.clone()),
        Value::Object(m) => {
            for (k, child) in m {
                out.push(k.clone());
                vocabulary(child, out);
            }
        }
        Value::Array(items) => items.iter().for_each(|c| vocabulary(c, out)),
        _ => {}
    }
}

pub(crate) fn mutation() -> impl Strategy<Value = Mutation> {
    let n = any::<usize>();
    prop_oneof![
        4 => (n, 0u8..10, n).prop_map(|(node, kind, word)| Mutation::Replace { node, kind, word }),
        2 => n.prop_map(|node| Mutation::Delete { node }),
        2 => (n, 0u8..5, n).prop_map(|(node, how, word)| Mutation::Rename { node, how, word }),
        1 => (n, n).prop_map(|(node, word)| Mutation::Duplicate { node, word }),
    ]
}

pub(crate) fn typo(key: &str, how: u8, word: &str) -> String {
    let chars: Vec<char> = key.chars().collect();
    match how {
        // Case: `Security`, `authorizer` → `Authorizer`.
        0 => {
            let mut c = chars.clone();
            if let Some(first) = c.first_mut() {
                *first = if first.is_uppercase() {
                    first.to_ascii_lowercase()
                } else {
                    first.to_ascii_uppercase()
                };
            }
            c.into_iter().collect()
        }
        // A letter dropped.
        1 if chars.len() > 1 => {
            let i = word.len() % chars.len();
            chars
                .iter()
                .enumerate()
                .filter(|(j, _)| *j != i)
                .map(|(_, c)| c)
                .collect()
        }
        // Two letters swapped.
        2 if chars.len() > 2 => {
            let i = word.len() % (chars.len() - 1);
            let mut c = chars.clone();
            c.swap(i, i + 1);
            c.into_iter().collect()
        }
        3 => format!("{key}s"),
        // Another key or string of the file (two keys collide: one replaces the other).
        _ if !word.is_empty() => word.to_owned(),
        _ => format!("{key}_"),
    }
}

pub(crate) fn value_of(kind: u8, word: &str) -> Value {
    match kind {
        0 => Value::String(word.to_owned()),
        1 => Value::from(word.len() as i64 - 3),
        2 => Value::Bool(word.len().is_multiple_of(2)),
        3 => Value::Null,
        4 => Value::Array(vec![]),
        5 => Value::Object(Map::new()),
        6 => Value::Array(vec![Value::String(word.to_owned())]),
        7 => {
            let mut m = Map::new();
            m.insert(word.to_owned(), Value::String(word.to_owned()));
            Value::Object(m)
        }
        8 => {
            let mut m = Map::new();
            m.insert(word.to_owned(), Value::Array(vec![]));
            Value::Object(m)
        }
        _ => Value::Array(vec![Value::String(word.to_owned()), Value::from(1)]),
    }
}

pub(crate) fn apply(doc: &mut Value, m: &Mutation, words: &[String]) {
    let mut all = Vec::new();
    addresses(doc, &mut Vec::new(), &mut all);
    let pick = |i: usize| &all[i % all.len()];
    let word = |i: usize| words[i % words.len()].as_str();
    match m {
        Mutation::Replace {
            node,
            kind,
            word: w,
        } => {
            let at = pick(*node).clone();
            if let Some(n) = node_mut(doc, &at) {
                *n = value_of(*kind, word(*w));
            }
        }
        Mutation::Delete { node } => {
            let at = pick(*node).clone();
            let Some((last, parent)) = at.split_last() else {
                return;
            };
            match (node_mut(doc, parent), last) {
                (Some(Value::Object(map)), Step::Key(k)) => {
                    map.remove(k);
                }
                (Some(Value::Array(items)), Step::Index(i)) if *i < items.len() => {
                    items.remove(*i);
                }
                _ => {}
            }
        }
        Mutation::Rename { node, how, word: w } => {
            let at = pick(*node).clone();
            let Some((Step::Key(k), parent)) = at.split_last() else {
                return;
            };
            if let Some(Value::Object(map)) = node_mut(doc, parent)
                && let Some(v) = map.remove(k)
            {
                map.insert(typo(k, *how, word(*w)), v);
            }
        }
        Mutation::Duplicate { node, word: w } => {
            let at = pick(*node).clone();
            let Some((last, parent)) = at.split_last() else {
                return;
            };
            let Some(copy) = node_mut(doc, &at).map(|n| n.clone()) else {
                return;
            };
            match (node_mut(doc, parent), last) {
                (Some(Value::Object(map)), Step::Key(_)) => {
                    map.insert(word(*w).to_owned(), copy);
                }
                (Some(Value::Array(items)), Step::Index(_)) => items.push(copy),
                _ => {}
            }
        }
    }
}

// ---- The reference reading: what a source plainly states ---------------------------------
