//! The outcome of every check, as text for people or JSON for CI, and the run's verdict.
//! Must not touch: running checks or the network; it shows only what the checks wrote.

use std::fmt::Write as _;

use serde::Serialize;

/// How one check came out.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Status {
    /// Not run: nothing to check, or an earlier failure made it impossible.
    Skip,
    Pass,
    /// Worth a look, but not a reason to stop a deploy.
    Warn,
    /// The integration will not work as configured.
    Fail,
}

impl Status {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Self::Skip => "skip",
            Self::Pass => "pass",
            Self::Warn => "warn",
            Self::Fail => "fail",
        }
    }
}

/// One check: what was checked (`check`), on what (`subject`), and how it came out.
///
/// Nothing here ever holds a secret: subjects and messages name secrets by their variable.
#[derive(Clone, Debug)]
pub(crate) struct Check {
    pub(crate) check: &'static str,
    pub(crate) subject: String,
    pub(crate) status: Status,
    pub(crate) message: String,
    /// How to fix a failure or a warning.
    pub(crate) fix: Option<String>,
}

impl Check {
    pub(crate) fn new(
        check: &'static str,
        subject: impl Into<String>,
        status: Status,
        message: impl Into<String>,
    ) -> Self {
        Self {
            check,
            subject: subject.into(),
            status,
            message: message.into(),
            fix: None,
        }
    }

    pub(crate) fn fix(mut self, fix: impl Into<String>) -> Self {
        self.fix = Some(fix.into());
        self
    }
}

/// Every check of one run.
#[derive(Debug)]
pub(crate) struct Report {
    pub(crate) issuer: String,
    pub(crate) client_id: String,
    pub(crate) checks: Vec<Check>,
}

impl Report {
    /// `fail` when any check failed, else `warn` when any warned, else `pass`.
    pub(crate) fn verdict(&self) -> Status {
        match self.checks.iter().map(|c| c.status).max() {
            Some(Status::Fail) => Status::Fail,
            Some(Status::Warn) => Status::Warn,
            _ => Status::Pass,
        }
    }

    fn count(&self, status: Status) -> usize {
        self.checks.iter().filter(|c| c.status == status).count()
    }

    /// The report as JSON, keys in reading order: the verdict first.
    pub(crate) fn to_json(&self) -> String {
        #[derive(Serialize)]
        struct Entry<'a> {
            check: &'a str,
            subject: &'a str,
            status: &'a str,
            message: &'a str,
            #[serde(skip_serializing_if = "Option::is_none")]
            fix: Option<&'a str>,
        }
        #[derive(Serialize)]
        struct Summary {
            pass: usize,
            warn: usize,
            fail: usize,
            skip: usize,
        }
        #[derive(Serialize)]
        struct Document<'a> {
            verdict: &'a str,
            issuer: &'a str,
            client_id: &'a str,
            summary: Summary,
            checks: Vec<Entry<'a>>,
        }
        let document = Document {
            verdict: self.verdict().as_str(),
            issuer: &self.issuer,
            client_id: &self.client_id,
            summary: Summary {
                pass: self.count(Status::Pass),
                warn: self.count(Status::Warn),
                fail: self.count(Status::Fail),
                skip: self.count(Status::Skip),
            },
            checks: self
                .checks
                .iter()
                .map(|c| Entry {
                    check: c.check,
                    subject: &c.subject,
                    status: c.status.as_str(),
                    message: &c.message,
                    fix: c.fix.as_deref(),
                })
                .collect(),
        };
        serde_json::to_string_pretty(&document).expect("a report always serializes") + "\n"
    }

    pub(crate) fn to_text(&self) -> String {
        let mut out = String::new();
        let _ = writeln!(
            out,
            "logi-doctor: issuer {}, client {}\n",
            self.issuer, self.client_id
        );
        for c in &self.checks {
            let _ = writeln!(
                out,
                "[{:<4}] {}: {}\n       {}",
                c.status.as_str(),
                c.check,
                c.subject,
                c.message
            );
            if let Some(fix) = &c.fix {
                let _ = writeln!(out, "       fix: {fix}");
            }
        }
        let _ = writeln!(
            out,
            "\nverdict: {} ({} passed, {} warnings, {} failed, {} skipped)",
            self.verdict().as_str(),
            self.count(Status::Pass),
            self.count(Status::Warn),
            self.count(Status::Fail),
            self.count(Status::Skip),
        );
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn report(statuses: &[Status]) -> Report {
        Report {
            issuer: "https://api.1pass.dev".into(),
            client_id: "logi_x".into(),
            checks: statuses
                .iter()
                .map(|s| Check::new("discovery", "subject", *s, "message"))
                .collect(),
        }
    }

    #[test]
    fn the_verdict_is_the_worst_status_and_skips_do_not_count() {
        assert_eq!(report(&[]).verdict(), Status::Pass);
        assert_eq!(
            report(&[Status::Pass, Status::Skip]).verdict(),
            Status::Pass
        );
        assert_eq!(
            report(&[Status::Pass, Status::Warn]).verdict(),
            Status::Warn
        );
        assert_eq!(
            report(&[Status::Fail, Status::Warn, Status::Skip]).verdict(),
            Status::Fail
        );
    }

    #[test]
    fn json_has_a_verdict_and_one_entry_per_check() {
        let mut r = report(&[Status::Pass, Status::Fail]);
        r.checks[1] = r.checks[1].clone().fix("do this");
        let text = r.to_json();
        assert!(
            text.trim_start().starts_with("{\n  \"verdict\": \"fail\""),
            "{text}"
        );
        let v: serde_json::Value = serde_json::from_str(&text).unwrap();
        assert_eq!(v["verdict"], "fail");
        assert_eq!(v["checks"].as_array().unwrap().len(), 2);
        assert_eq!(v["checks"][0]["status"], "pass");
        assert!(v["checks"][0].get("fix").is_none());
        assert_eq!(v["checks"][1]["fix"], "do this");
        assert_eq!(v["summary"]["fail"], 1);
    }
}
