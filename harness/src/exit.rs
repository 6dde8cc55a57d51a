//! Outcomes and errors of a subcommand, and the one place they become exit codes
//! (docs/design.md, "Exit codes"): 0 valid, 1 invalid, 2 unknown, 254 bad arguments or input,
//! 255 the harness itself failed.

use checker::Validity;

/// What a subcommand that finished normally has to say.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// `test`, `check`, `analyze`: the combined verdict.
    Verdict(Validity),
    /// Commands without a verdict (`serve`, `clean`) that succeeded.
    Done,
}

/// Why a subcommand could not finish.
#[derive(Debug, thiserror::Error)]
pub enum HarnessError {
    /// Bad arguments or bad input files: the message names the file, line and what was
    /// expected. Exit 254.
    #[error("{0}")]
    BadInput(String),
    /// The harness itself failed (a node that does not start, a port in use, I/O errors).
    /// Exit 255.
    #[error("{0}")]
    Failed(String),
}

/// Only I/O errors that name their path become harness errors (no `From<std::io::Error>`:
/// a bare "Permission denied" does not say where).
impl From<crate::pathio::PathError> for HarnessError {
    fn from(e: crate::pathio::PathError) -> Self {
        HarnessError::Failed(e.to_string())
    }
}

pub const EXIT_BAD_INPUT: i32 = 254;
pub const EXIT_HARNESS_FAILED: i32 = 255;

/// The exit code of a subcommand's result.
pub fn exit_code(result: &Result<Outcome, HarnessError>) -> i32 {
    match result {
        Ok(Outcome::Verdict(v)) => v.exit_code(),
        Ok(Outcome::Done) => 0,
        Err(HarnessError::BadInput(_)) => EXIT_BAD_INPUT,
        Err(HarnessError::Failed(_)) => EXIT_HARNESS_FAILED,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_follow_the_design() {
        assert_eq!(exit_code(&Ok(Outcome::Verdict(Validity::Valid))), 0);
        assert_eq!(exit_code(&Ok(Outcome::Verdict(Validity::Invalid))), 1);
        assert_eq!(exit_code(&Ok(Outcome::Verdict(Validity::Unknown))), 2);
        assert_eq!(exit_code(&Ok(Outcome::Done)), 0);
        assert_eq!(exit_code(&Err(HarnessError::BadInput("x".into()))), 254);
        assert_eq!(exit_code(&Err(HarnessError::Failed("x".into()))), 255);
    }
}
