//! Any text given as a scenario is either a plan or one error naming a
//! place in the file: never a panic.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        match linerate_engine::scenario::parse(text, "fuzz.toml") {
            Ok(plan) => assert!(!plan.streams.is_empty() && !plan.ports.is_empty()),
            Err(error) => {
                let line = error.to_string();
                assert!(line.starts_with("fuzz.toml"), "{line}");
                assert!(!line.contains('\n') || error.message.contains('\n'), "{line}");
            }
        }
    }
});
