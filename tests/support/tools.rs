//! The real tools some tests hand envk's output to (promtool, amtool):
//! found on PATH, and required under CI, which installs them
//! (`.ci/promtool-check --install`); elsewhere a test without one says so
//! and checks nothing more.

use std::path::PathBuf;

/// `name` on PATH; `None` (with a note) outside CI when it is not there.
pub fn required(name: &str) -> Option<PathBuf> {
    let found = std::env::var_os("PATH").and_then(|path| {
        std::env::split_paths(&path)
            .map(|dir| dir.join(name))
            .find(|candidate| candidate.is_file())
    });
    if found.is_none() {
        assert!(
            std::env::var_os("CI").is_none(),
            "{name} is not on PATH, and CI must check envk's output with it"
        );
        eprintln!("note: {name} is not on PATH; what it checks was not checked");
    }
    found
}
