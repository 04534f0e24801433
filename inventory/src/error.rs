//! The inventory's error type and the problems validation reports.

use std::fmt;

/// How bad a validation finding is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Severity {
    /// The inventory is usable, but the operator should know (an even etcd member count).
    Warning,
    /// The inventory cannot be used.
    Error,
}

/// One finding of validation, with the path of the offending value in the file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// How bad it is.
    pub severity: Severity,
    /// Where in the file, as a dotted path such as `hosts[2].address`.
    pub path: String,
    /// What is wrong, naming the offending value.
    pub message: String,
    /// The line of the offending value in the file, when it was found there.
    pub line: Option<usize>,
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let kind = match self.severity {
            Severity::Warning => "warning",
            Severity::Error => "error",
        };
        match self.line {
            Some(line) => write!(f, "{kind}: line {line}: {}: {}", self.path, self.message),
            None => write!(f, "{kind}: {}: {}", self.path, self.message),
        }
    }
}

/// Everything that can go wrong reading an inventory.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The file is not YAML of the inventory's shape (unknown key, wrong type, bad syntax).
    #[error("{source_name}: {message}")]
    Parse {
        /// The file (or other source) the YAML came from.
        source_name: String,
        /// The parser's message, with line and column.
        message: String,
    },
    /// The file is missing or cannot be read (the cause is the operating system's error).
    #[error("cannot read the inventory {}", path.display())]
    Read {
        /// The file.
        path: std::path::PathBuf,
        /// Why it could not be read.
        #[source]
        source: std::io::Error,
    },
    /// The file parsed, but its values are not a usable cluster; every problem is listed.
    #[error("{source_name}: {} problem(s):\n{}", problems.len(), render(problems))]
    Invalid {
        /// The file (or other source) the YAML came from.
        source_name: String,
        /// Every error found (warnings are returned separately on success).
        problems: Vec<Problem>,
    },
}

fn render(problems: &[Problem]) -> String {
    problems
        .iter()
        .map(|p| format!("  {p}"))
        .collect::<Vec<_>>()
        .join("\n")
}
