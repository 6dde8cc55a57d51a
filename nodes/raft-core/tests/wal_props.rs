//! Property tests of WAL recovery: cutting a segment anywhere recovers exactly a prefix of
//! what was written; flipping any byte either recovers a prefix (the damage was in the tail)
//! or refuses with `Corrupt` — it never returns a record that was not written.

use proptest::prelude::*;
use raft_core::wal::{Wal, WalError, WalOptions, WalRecord};
use std::fs::{self, OpenOptions};

fn opts() -> WalOptions {
    WalOptions {
        fsync: false,
        segment_bytes: 64 << 20,
    }
}

fn record() -> impl Strategy<Value = WalRecord> {
    prop_oneof![
        (
            1u64..5,
            1u64..100,
            proptest::collection::vec(any::<u8>(), 0..40)
        )
            .prop_map(|(term, index, data)| WalRecord::Entry { term, index, data }),
        (1u64..100).prop_map(|from| WalRecord::Truncate { from }),
    ]
}

fn write(dir: &std::path::Path, recs: &[WalRecord]) -> std::path::PathBuf {
    let (mut wal, _, _) = Wal::open(dir, opts()).expect("open");
    for r in recs {
        wal.append(std::slice::from_ref(r)).expect("append");
    }
    wal.segment_paths()[0].clone()
}

fn is_prefix(got: &[WalRecord], all: &[WalRecord]) -> bool {
    got.len() <= all.len() && got == &all[..got.len()]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    #[test]
    fn wal_cut_anywhere_recovers_a_prefix(
        recs in proptest::collection::vec(record(), 1..12),
        cut in any::<prop::sample::Index>(),
    ) {
        let tmp = tempfile::tempdir().expect("tmp");
        let seg = write(tmp.path(), &recs);
        let len = fs::metadata(&seg).expect("meta").len();
        let at = cut.index(len as usize + 1) as u64;
        OpenOptions::new().write(true).open(&seg).expect("open").set_len(at).expect("cut");
        let (_, got, _) = Wal::open(tmp.path(), opts()).expect("a cut is always a torn tail");
        prop_assert!(is_prefix(&got, &recs));
        if at == len {
            prop_assert_eq!(got.len(), recs.len());
        }
    }

    #[test]
    fn wal_flipped_byte_never_yields_unwritten_records(
        recs in proptest::collection::vec(record(), 1..12),
        pos in any::<prop::sample::Index>(),
        mask in 1u8..=255,
    ) {
        let tmp = tempfile::tempdir().expect("tmp");
        let seg = write(tmp.path(), &recs);
        let mut bytes = fs::read(&seg).expect("read");
        let p = pos.index(bytes.len());
        bytes[p] ^= mask;
        fs::write(&seg, &bytes).expect("write");
        match Wal::open(tmp.path(), opts()) {
            Ok((_, got, info)) => {
                prop_assert!(is_prefix(&got, &recs));
                prop_assert!(got.len() < recs.len());
                prop_assert!(info.truncated_tail.is_some());
            }
            Err(WalError::Corrupt { offset, .. }) => prop_assert!(offset <= p as u64),
            Err(e) => prop_assert!(false, "unexpected error {e}"),
        }
    }
}
