//! Validity of a checker's verdict: `true`, `false` or `"unknown"`, serialized exactly as
//! DESIGN.md section 6 prints it, and composed so that false beats unknown beats true.

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::fmt;

/// The verdict of a checker. Serializes as JSON `true`, `false` or the string `"unknown"`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Validity {
    Valid,
    Invalid,
    Unknown,
}

impl Validity {
    /// Composition of two verdicts: false beats unknown beats true.
    pub fn and(self, other: Validity) -> Validity {
        use Validity::*;
        match (self, other) {
            (Invalid, _) | (_, Invalid) => Invalid,
            (Unknown, _) | (_, Unknown) => Unknown,
            _ => Valid,
        }
    }

    /// Composition of any number of verdicts; the empty composition is `Valid`.
    pub fn all<I: IntoIterator<Item = Validity>>(verdicts: I) -> Validity {
        verdicts.into_iter().fold(Validity::Valid, Validity::and)
    }

    /// The process exit code of DESIGN.md section 6: 0 valid, 1 invalid, 2 unknown.
    pub fn exit_code(self) -> i32 {
        match self {
            Validity::Valid => 0,
            Validity::Invalid => 1,
            Validity::Unknown => 2,
        }
    }
}

impl fmt::Display for Validity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Validity::Valid => "valid",
            Validity::Invalid => "invalid",
            Validity::Unknown => "unknown",
        })
    }
}

impl Serialize for Validity {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Validity::Valid => s.serialize_bool(true),
            Validity::Invalid => s.serialize_bool(false),
            Validity::Unknown => s.serialize_str("unknown"),
        }
    }
}

impl<'de> Deserialize<'de> for Validity {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        match serde_json::Value::deserialize(d)? {
            serde_json::Value::Bool(true) => Ok(Validity::Valid),
            serde_json::Value::Bool(false) => Ok(Validity::Invalid),
            serde_json::Value::String(s) if s == "unknown" => Ok(Validity::Unknown),
            other => Err(serde::de::Error::custom(format!(
                "expected true, false or \"unknown\", found {other}"
            ))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn false_beats_unknown_beats_true() {
        use Validity::*;
        assert_eq!(Valid.and(Unknown), Unknown);
        assert_eq!(Unknown.and(Invalid), Invalid);
        assert_eq!(Validity::all([Valid, Valid]), Valid);
        assert_eq!(Validity::all([]), Valid);
        assert_eq!(Validity::all([Valid, Unknown, Invalid, Valid]), Invalid);
    }

    #[test]
    fn serializes_as_design_says() {
        assert_eq!(serde_json::to_string(&Validity::Valid).unwrap(), "true");
        assert_eq!(serde_json::to_string(&Validity::Invalid).unwrap(), "false");
        assert_eq!(
            serde_json::to_string(&Validity::Unknown).unwrap(),
            "\"unknown\""
        );
        let back: Validity = serde_json::from_str("\"unknown\"").unwrap();
        assert_eq!(back, Validity::Unknown);
        assert!(serde_json::from_str::<Validity>("\"maybe\"").is_err());
    }
}
