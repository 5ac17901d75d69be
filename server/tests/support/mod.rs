//! What the tests that run the real `portico` binary share.

/// The server's address and the demo owner's password, from what it
/// prints when it starts.
pub fn demo_clinic(stdout: std::process::ChildStdout) -> (String, String) {
    use std::io::BufRead;
    let mut base = None;
    let mut lines = std::io::BufReader::new(stdout).lines();
    for line in lines.by_ref() {
        let line = line.unwrap();
        if let Some(rest) = line.strip_prefix("Portico is serving at ") {
            base = rest.split_whitespace().next().map(str::to_owned);
        }
        if let Some(password) = line.trim().strip_prefix("password:") {
            let password = password.trim().to_owned();
            // The rest of the output is not needed, but must be drained.
            std::thread::spawn(move || lines.for_each(drop));
            return (base.expect("the address comes first"), password);
        }
    }
    panic!("the server printed no demo credentials")
}
