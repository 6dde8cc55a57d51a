//! The cheap checkers on Jepsen-shaped EDN histories read by the EDN reader (the way
//! `harness check` and `analyze` meet them): a set-full run with a lost element, a counter
//! run with an impossible read, a bank run whose total drifts, and a unique-ids run with a
//! duplicate; each with its passing twin so the verdict is not a constant.

use checker::checkers::{self, BankOptions, CounterOptions, SetFullOptions};
use checker::format::{read_str, Format};
use checker::{History, Validity};
use serde_json::json;

fn edn(text: &str) -> History {
    let r = read_str(text, Some(Format::Edn)).expect("valid EDN history");
    r.history
}

const SET: &str = r#"
{:index 0, :time 1000, :type :invoke, :process 0, :f :add, :value 0}
{:index 1, :time 2000, :type :ok, :process 0, :f :add, :value 0}
{:index 2, :time 2500, :type :invoke, :process 1, :f :add, :value 1}
{:index 3, :time 2600, :type :info, :process 1, :f :add, :value 1, :error :timeout}
{:index 4, :time 2700, :type :info, :process :nemesis, :f :start-partition, :value {:n1 #{:n2 :n3}}}
{:index 5, :time 3000, :type :invoke, :process 2, :f :add, :value 2}
{:index 6, :time 4000, :type :ok, :process 2, :f :add, :value 2}
{:index 7, :time 5000, :type :invoke, :process 0, :f :read, :value nil}
{:index 8, :time 6000, :type :ok, :process 0, :f :read, :value #{0 1 2}}
{:index 9, :time 7000, :type :invoke, :process 0, :f :read, :value nil}
{:index 10, :time 8000, :type :ok, :process 0, :f :read, :value #{0 1 LAST}}
"#;

#[test]
fn set_full_finds_the_lost_element() {
    let h = edn(&SET.replace("LAST", ""));
    let r = checkers::set_full(&h, &SetFullOptions::default()).unwrap();
    assert_eq!(r.valid, Validity::Invalid);
    assert_eq!(r.lost, vec![json!(2)]);
    assert_eq!(
        (r.stable_count, r.attempt_count, r.acknowledged_count),
        (2, 3, 2)
    );
    assert_eq!(r.to_value()["valid"], json!(false));

    let h = edn(&SET.replace("LAST", "2"));
    let r = checkers::set_full(&h, &SetFullOptions::default()).unwrap();
    assert_eq!(
        (r.valid, r.stable_count, r.lost_count),
        (Validity::Valid, 3, 0)
    );
}

const COUNTER: &str = r#"[
 {:type :invoke, :process 0, :f :add, :value 1}
 {:type :ok, :process 0, :f :add, :value 1}
 {:type :invoke, :process 1, :f :add, :value 10}
 {:type :invoke, :process 2, :f :read, :value nil}
 {:type :ok, :process 2, :f :read, :value READ}
 {:type :fail, :process 1, :f :add, :value 10}
]"#;

#[test]
fn counter_bounds_catch_a_read_of_a_failed_add() {
    let r = checkers::counter(
        &edn(&COUNTER.replace("READ", "11")),
        &CounterOptions::default(),
    )
    .unwrap();
    assert_eq!(r.valid, Validity::Invalid);
    assert_eq!((r.errors[0].lower, r.errors[0].upper), (1, 1));
    assert_eq!(r.errors[0].line, Some(6));
    let r = checkers::counter(
        &edn(&COUNTER.replace("READ", "1")),
        &CounterOptions::default(),
    )
    .unwrap();
    assert_eq!(r.valid, Validity::Valid);
}

const BANK: &str = r#"
{:type :invoke, :process 0, :f :transfer, :value {:from 0, :to 1, :amount 5}}
{:type :ok, :process 0, :f :transfer, :value {:from 0, :to 1, :amount 5}}
{:type :invoke, :process 1, :f :read, :value nil}
{:type :ok, :process 1, :f :read, :value {0 5, 1 15, 2 B2}}
"#;

#[test]
fn bank_total_must_hold() {
    let opts = BankOptions {
        total: Some(30),
        allow_negative: false,
    };
    let r = checkers::bank(&edn(&BANK.replace("B2", "10")), &opts).unwrap();
    assert_eq!(r.valid, Validity::Valid);
    let r = checkers::bank(&edn(&BANK.replace("B2", "11")), &opts).unwrap();
    assert_eq!((r.valid, r.bad_reads[0].total), (Validity::Invalid, 31));
}

#[test]
fn unique_ids_catch_a_duplicate() {
    let text = |second: u32| {
        format!(
            "{{:type :invoke, :process 0, :f :generate}}\n{{:type :ok, :process 0, :f :generate, :value 1}}\n\
             {{:type :invoke, :process 1, :f :generate}}\n{{:type :ok, :process 1, :f :generate, :value {second}}}\n"
        )
    };
    assert_eq!(
        checkers::unique_ids(&edn(&text(2))).unwrap().valid,
        Validity::Valid
    );
    let r = checkers::unique_ids(&edn(&text(1))).unwrap();
    assert_eq!((r.valid, r.duplicated_count), (Validity::Invalid, 1));
}

#[test]
fn stats_shape_matches_results_json() {
    let v = checkers::stats(&edn(&SET.replace("LAST", ""))).to_value();
    assert_eq!(v["valid"], json!(true));
    assert_eq!(v["by_f"]["add"], json!({"ok": 2, "fail": 0, "info": 1}));
    assert_eq!(
        (v["ok"].clone(), v["fail"].clone(), v["info"].clone()),
        (json!(4), json!(0), json!(1))
    );
}
