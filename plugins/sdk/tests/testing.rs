//! The native test harness, in its own process: it replaces the panic
//! hook while a call runs, which the library's own tests also do.

use portico_plugin_sdk::testing::{call, record};

#[test]
fn a_call_keeps_its_log_and_reports_its_panic() {
    let called = call(|| {
        record("info", "checking");
        7
    });
    assert_eq!(called.output, Ok(7));
    assert_eq!(called.log, [("info", "checking".to_owned())]);
    let values: Vec<u8> = Vec::new();
    let called = call(|| {
        record("warn", "about to fail");
        values[values.len() + 2]
    });
    let panic = called.output.unwrap_err();
    assert!(panic.starts_with("panicked at "), "{panic}");
    assert!(
        panic.ends_with("index out of bounds: the len is 0 but the index is 2"),
        "{panic}"
    );
    assert_eq!(called.log[0], ("warn", "about to fail".to_owned()));
    // The next call starts with an empty log.
    assert!(call(|| ()).log.is_empty());
}

#[test]
fn calls_on_many_threads_each_report_their_own_panic() {
    let threads: Vec<_> = (0..8)
        .map(|i| {
            std::thread::spawn(move || {
                let called = call(|| -> u8 {
                    record("info", &format!("thread {i}"));
                    panic!("rule {i} broke")
                });
                (i, called)
            })
        })
        .collect();
    for thread in threads {
        let (i, called) = thread.join().unwrap();
        let panic = called.output.unwrap_err();
        assert!(panic.ends_with(&format!(": rule {i} broke")), "{panic}");
        assert_eq!(called.log[0], ("info", format!("thread {i}")));
    }
}
