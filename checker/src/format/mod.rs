//! Readers and writers of history files: our JSONL (DESIGN.md section 4), Jepsen EDN, and
//! Porcupine's two test-data formats; format detection by content.
//! (Skeleton: filled in by the checker work, issue 2.)
