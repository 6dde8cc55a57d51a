//! How one client operation ended, in Jepsen's terms: `Ok` (it happened, with its result),
//! `Fail` (it definitely did not happen) or `Info` (unknown: it may or may not have happened).

use serde_json::Value;

/// The end of one client operation.
#[derive(Debug, Clone, PartialEq)]
pub enum Completion {
    /// It happened; the value is the operation's result (a read's value, `null` for writes).
    Ok(Value),
    /// It definitely did not happen; the string says why (`not_leader`, `cas-mismatch`, ...).
    Fail(String),
    /// Unknown outcome (timeout, connection lost after sending, 5xx); the string says why.
    Info(String),
}

impl Completion {
    /// The history op type this completion is recorded as.
    pub fn op_type(&self) -> checker::OpType {
        match self {
            Completion::Ok(_) => checker::OpType::Ok,
            Completion::Fail(_) => checker::OpType::Fail,
            Completion::Info(_) => checker::OpType::Info,
        }
    }

    /// The error text of a `Fail` or `Info`, `None` for `Ok`.
    pub fn error(&self) -> Option<&str> {
        match self {
            Completion::Ok(_) => None,
            Completion::Fail(e) | Completion::Info(e) => Some(e),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn op_type_and_error_follow_the_variant() {
        assert_eq!(Completion::Ok(Value::Null).op_type(), checker::OpType::Ok);
        assert_eq!(
            Completion::Fail("x".into()).op_type(),
            checker::OpType::Fail
        );
        assert_eq!(Completion::Info("t".into()).error(), Some("t"));
        assert_eq!(Completion::Ok(Value::Null).error(), None);
    }
}
