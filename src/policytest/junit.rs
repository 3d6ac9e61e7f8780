//! JUnit XML for CI systems (`test --junit FILE`): one `testcase` a case, a `failure` for a
//! wrong answer (with the explanation), an `error` for a case that could not run.

use std::fmt::Write as _;

use super::{Outcome, Report};

/// The report as a JUnit XML document; `suite` names the test suite (the tests file).
pub fn to_xml(report: &Report, suite: &str) -> String {
    let failures = report
        .results
        .iter()
        .filter(|r| matches!(r.outcome, Outcome::Fail { .. }))
        .count();
    let errors = report
        .results
        .iter()
        .filter(|r| matches!(r.outcome, Outcome::Error(_)))
        .count();
    let total: f64 = report
        .results
        .iter()
        .map(|r| r.duration.as_secs_f64())
        .sum();
    let mut out = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    let _ = writeln!(
        out,
        "<testsuites tests=\"{}\" failures=\"{failures}\" errors=\"{errors}\" time=\"{total:.6}\">",
        report.results.len()
    );
    let _ = writeln!(
        out,
        "  <testsuite name=\"{}\" tests=\"{}\" failures=\"{failures}\" errors=\"{errors}\" time=\"{total:.6}\">",
        escape(suite),
        report.results.len()
    );
    for r in &report.results {
        let _ = write!(
            out,
            "    <testcase name=\"{}\" classname=\"{}\" time=\"{:.6}\"",
            escape(&r.name),
            escape(suite),
            r.duration.as_secs_f64()
        );
        match &r.outcome {
            Outcome::Pass => out.push_str("/>\n"),
            Outcome::Fail {
                mismatches,
                explanation,
            } => {
                let _ = writeln!(
                    out,
                    ">\n      <failure message=\"{}\" type=\"mismatch\">{}\n{}</failure>\n    </testcase>",
                    escape(&mismatches.join("; ")),
                    escape(&mismatches.join("\n")),
                    escape(explanation)
                );
            }
            Outcome::Error(e) => {
                let _ = writeln!(
                    out,
                    ">\n      <error message=\"{}\" type=\"error\"/>\n    </testcase>",
                    escape(e)
                );
            }
        }
    }
    out.push_str("  </testsuite>\n</testsuites>\n");
    out
}

/// XML text and attribute escaping; control characters XML 1.0 cannot carry become `?`.
fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            '\n' | '\t' | '\r' => out.push(c),
            c if c.is_control() => out.push('?'),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::super::CaseResult;
    use super::*;

    #[test]
    fn writes_escaped_cases() {
        let report = Report {
            results: vec![
                CaseResult {
                    name: "a <b> & \"c\"".into(),
                    outcome: Outcome::Pass,
                    answer: None,
                    duration: Duration::from_millis(1),
                },
                CaseResult {
                    name: "x".into(),
                    answer: None,
                    outcome: Outcome::Fail {
                        mismatches: vec!["status: expected 200, got 401".into()],
                        explanation: "route:\n  r".into(),
                    },
                    duration: Duration::ZERO,
                },
            ],
        };
        let xml = to_xml(&report, "t.yaml");
        assert!(
            xml.contains("name=\"a &lt;b&gt; &amp; &quot;c&quot;\""),
            "{xml}"
        );
        assert!(
            xml.contains("tests=\"2\" failures=\"1\" errors=\"0\""),
            "{xml}"
        );
        assert!(
            xml.contains("<failure message=\"status: expected 200, got 401\""),
            "{xml}"
        );
    }
}
