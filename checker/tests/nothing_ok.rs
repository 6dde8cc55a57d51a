//! The nothing-ok rule: a history in which no operation completed ok gets the
//! linearizability verdict (valid, as Knossos and Porcupine say) and the stats warning;
//! only the caller's `NothingOk::Unknown` (`harness test`) makes it unknown.

use checker::checkers::{self, NothingOk, StatsOptions, NOTHING_OK_WARNING};
use checker::format::read_str;
use checker::linear::{self, LinearOptions};
use checker::model::ModelKind;
use checker::Validity;

/// Every cas failed (one with a mismatch error, read under ignore), a write timed out.
const NOTHING_OK: &str = r#"{"index":0,"time":0,"type":"invoke","process":0,"f":"cas","value":[1,2]}
{"index":1,"time":1,"type":"fail","process":0,"f":"cas","value":[1,2],"error":"cas-mismatch"}
{"index":2,"time":2,"type":"invoke","process":1,"f":"write","value":3}
{"index":3,"time":3,"type":"info","process":1,"f":"write","value":3,"error":"timeout"}
"#;

#[test]
fn nothing_ok_is_linearizable_with_a_warning_and_unknown_only_by_choice() {
    let h = read_str(NOTHING_OK, None).unwrap().history;
    let lin = linear::check(&h, ModelKind::CasRegister, &LinearOptions::default()).unwrap();
    assert_eq!(lin.valid, Validity::Valid);
    assert!(checkers::nothing_ok(&h));
    let check = checkers::stats_with(
        &h,
        &StatsOptions {
            nothing_ok: NothingOk::Warn,
        },
    );
    assert_eq!(
        (check.valid, check.warning.as_deref()),
        (Validity::Valid, Some(NOTHING_OK_WARNING))
    );
    let test = checkers::stats(&h);
    assert_eq!(test.valid, Validity::Unknown);
    // A history whose cas fails with a mismatch no value can explain is still invalid:
    // nothing ok does not hide a violation.
    let bad = NOTHING_OK.replace("[1,2]", "[null,2]");
    let h = read_str(&bad, None).unwrap().history;
    let lin = linear::check(&h, ModelKind::CasRegister, &LinearOptions::default()).unwrap();
    assert_eq!(lin.valid, Validity::Invalid);
}
