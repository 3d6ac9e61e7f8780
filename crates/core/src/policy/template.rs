//! API Gateway resource path templates: `/users/{id}`, `/files/{proxy+}`.
//!
//! A template is a sequence of segments: literals, `{name}` (exactly one segment) and a
//! final `{name+}` (one or more segments). Parsing is strict so that a typo in a template is
//! a policy error, never a route that silently matches nothing (or everything).

use std::fmt;

/// One segment of a path template.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Segment {
    /// Must equal the (percent-decoded) request segment exactly.
    Literal(String),
    /// `{name}`: any one segment.
    Param(String),
    /// `{name+}`: one or more segments; only ever last.
    Greedy(String),
}

/// Why a path template was refused, with the template it was found in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TemplateError {
    /// The template, as written.
    pub path: String,
    /// What is wrong with it.
    pub problem: TemplateProblem,
}

/// What is wrong with a path template.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TemplateProblem {
    /// It does not start with `/`.
    NoLeadingSlash,
    /// It ends with `/` (other than `/` itself).
    TrailingSlash,
    /// `//` inside it.
    EmptySegment,
    /// `{name` without `}`.
    Unclosed(String),
    /// `{}`, `{a b}`: not `{name}` or `{name+}` with a usable name.
    BadParameter(String),
    /// A `{name+}` segment with another after it.
    GreedyNotLast,
    /// Two parameters with this name.
    DuplicateParameter(String),
    /// `id{id}`: text and a parameter in one segment.
    MixedSegment(String),
    /// A `.` or `..` segment.
    DotSegment(String),
    /// A segment holding this character: white space, a control character, `?`, `#`, `%`
    /// or `\`.
    BadCharacter(String, char),
}

impl fmt::Display for TemplateError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let path = &self.path;
        match &self.problem {
            TemplateProblem::NoLeadingSlash => write!(f, "{path:?} must start with '/'"),
            TemplateProblem::TrailingSlash => write!(f, "{path:?} must not end with '/'"),
            TemplateProblem::EmptySegment => write!(f, "{path:?} has an empty segment"),
            TemplateProblem::Unclosed(part) => {
                write!(
                    f,
                    "{path:?}: segment {part:?} opens '{{' without closing it"
                )
            }
            TemplateProblem::BadParameter(part) => write!(
                f,
                "{path:?}: parameter {part:?} must be {{name}} or {{name+}} with a name of letters, digits, '_' or '-'"
            ),
            TemplateProblem::GreedyNotLast => write!(
                f,
                "{path:?}: a greedy segment {{name+}} must be the last segment"
            ),
            TemplateProblem::DuplicateParameter(name) => {
                write!(f, "{path:?}: parameter {{{name}}} appears twice")
            }
            TemplateProblem::MixedSegment(part) => write!(
                f,
                "{path:?}: segment {part:?} mixes text and a parameter; API Gateway parameters take a whole segment"
            ),
            TemplateProblem::DotSegment(part) => {
                write!(f, "{path:?}: segment {part:?} is a dot segment")
            }
            TemplateProblem::BadCharacter(part, c) => {
                write!(f, "{path:?}: segment {part:?} has the character {c:?}")
            }
        }
    }
}

impl std::error::Error for TemplateError {}

/// A parsed path template.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PathTemplate {
    segments: Vec<Segment>,
}

impl PathTemplate {
    /// Parses an API Gateway resource path; the error says what is wrong with it.
    pub fn parse(path: &str) -> Result<Self, TemplateError> {
        let refuse = |problem| TemplateError {
            path: path.to_owned(),
            problem,
        };
        let rest = path
            .strip_prefix('/')
            .ok_or_else(|| refuse(TemplateProblem::NoLeadingSlash))?;
        if rest.is_empty() {
            return Ok(Self {
                segments: Vec::new(),
            });
        }
        let mut segments = Vec::new();
        let mut names: Vec<&str> = Vec::new();
        let parts: Vec<&str> = rest.split('/').collect();
        for (i, part) in parts.iter().enumerate() {
            let last = i + 1 == parts.len();
            if part.is_empty() {
                return Err(refuse(if last {
                    TemplateProblem::TrailingSlash
                } else {
                    TemplateProblem::EmptySegment
                }));
            }
            let segment = parse_segment(part).map_err(refuse)?;
            match &segment {
                Segment::Greedy(_) if !last => {
                    return Err(refuse(TemplateProblem::GreedyNotLast));
                }
                Segment::Param(name) | Segment::Greedy(name) => {
                    if names.contains(&name.as_str()) {
                        return Err(refuse(TemplateProblem::DuplicateParameter(name.clone())));
                    }
                    names.push(part.trim_matches(['{', '}', '+']));
                }
                Segment::Literal(_) => {}
            }
            segments.push(segment);
        }
        Ok(Self { segments })
    }

    /// The template's segments, in order.
    pub fn segments(&self) -> &[Segment] {
        &self.segments
    }

    /// The template with parameter names erased: two templates with the same shape match
    /// exactly the same requests (`/users/{id}` and `/users/{userId}`).
    pub fn shape(&self) -> String {
        let mut out = String::new();
        for segment in &self.segments {
            out.push('/');
            match segment {
                Segment::Literal(s) => out.push_str(s),
                Segment::Param(_) => out.push_str("{}"),
                Segment::Greedy(_) => out.push_str("{+}"),
            }
        }
        if out.is_empty() {
            out.push('/');
        }
        out
    }
}

impl fmt::Display for PathTemplate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.segments.is_empty() {
            return f.write_str("/");
        }
        for segment in &self.segments {
            match segment {
                Segment::Literal(s) => write!(f, "/{s}")?,
                Segment::Param(n) => write!(f, "/{{{n}}}")?,
                Segment::Greedy(n) => write!(f, "/{{{n}+}}")?,
            }
        }
        Ok(())
    }
}

fn parse_segment(part: &str) -> Result<Segment, TemplateProblem> {
    if let Some(inner) = part.strip_prefix('{') {
        let inner = inner
            .strip_suffix('}')
            .ok_or_else(|| TemplateProblem::Unclosed(part.to_owned()))?;
        let (name, greedy) = match inner.strip_suffix('+') {
            Some(name) => (name, true),
            None => (inner, false),
        };
        if name.is_empty()
            || !name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
        {
            return Err(TemplateProblem::BadParameter(part.to_owned()));
        }
        return Ok(if greedy {
            Segment::Greedy(name.to_owned())
        } else {
            Segment::Param(name.to_owned())
        });
    }
    if part.contains(['{', '}']) {
        return Err(TemplateProblem::MixedSegment(part.to_owned()));
    }
    if part == "." || part == ".." {
        return Err(TemplateProblem::DotSegment(part.to_owned()));
    }
    if let Some(c) = part
        .chars()
        .find(|c| c.is_control() || c.is_whitespace() || matches!(c, '?' | '#' | '%' | '\\'))
    {
        return Err(TemplateProblem::BadCharacter(part.to_owned(), c));
    }
    Ok(Segment::Literal(part.to_owned()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_api_gateway_templates() {
        let t = PathTemplate::parse("/users/{id}/files/{proxy+}").unwrap();
        assert_eq!(
            t.segments(),
            [
                Segment::Literal("users".into()),
                Segment::Param("id".into()),
                Segment::Literal("files".into()),
                Segment::Greedy("proxy".into()),
            ]
        );
        assert_eq!(t.to_string(), "/users/{id}/files/{proxy+}");
        assert_eq!(t.shape(), "/users/{}/files/{+}");
        // Parameter names take letters, digits, '_' and '-'.
        assert_eq!(
            PathTemplate::parse("/{user_id}/{file-name+}")
                .unwrap()
                .segments(),
            [
                Segment::Param("user_id".into()),
                Segment::Greedy("file-name".into()),
            ]
        );
        assert_eq!(PathTemplate::parse("/").unwrap().segments(), []);
        assert_eq!(PathTemplate::parse("/").unwrap().shape(), "/");
        assert_eq!(
            PathTemplate::parse("/{proxy+}").unwrap().shape(),
            PathTemplate::parse("/{other+}").unwrap().shape()
        );
    }

    #[test]
    fn refuses_bad_templates_with_a_reason() {
        let cases = [
            ("users", "must start with '/'"),
            ("/users/", "must not end with '/'"),
            ("/a//b", "empty segment"),
            ("/users/{id", "without closing"),
            ("/users/{}", "must be {name}"),
            ("/users/{a b}", "must be {name}"),
            ("/users/{proxy+}/x", "must be the last segment"),
            ("/users/id{id}", "mixes text"),
            ("/users/{id}/x/{id}", "appears twice"),
            ("/users/{id}/{id+}", "appears twice"),
            ("/a/../b", "dot segment"),
            ("/a b", "character ' '"),
            ("/a?x", "character '?'"),
            ("/a%2F", "character '%'"),
        ];
        for (path, want) in cases {
            let err = PathTemplate::parse(path).unwrap_err().to_string();
            assert!(err.contains(want), "{path}: {err}");
        }
    }
}
