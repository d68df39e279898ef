//! Any text as a whole program: every stage reports, none panics, and what
//! the checker accepts the emitters build, its summary reads back as the
//! same build for `envk diff`, and its report draws.
#![no_main]

use envk::emit::{ArgoCd, Layout, Options};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let loader = envk::load::InMemory::new().with("fuzz.env.k", text);
    let run = envk::driver::check_with(&[std::path::PathBuf::from("fuzz.env.k")], &loader)
        .expect("the file is in memory");
    let _ = envk::diag::render_plain(&run.sources, &run.diagnostics);
    if let Some(model) = &run.model {
        // The layouts serialize through different sinks; a program the
        // checker accepts is rare enough that emitting it twice costs little.
        for (layout, argocd) in [
            (Layout::Tree, ArgoCd::Applications),
            (Layout::Stream, ArgoCd::ApplicationSets),
        ] {
            let tree = envk::emit::emit(
                model,
                Options {
                    provenance: true,
                    layout,
                    argocd,
                    report: true,
                },
            );
            // `Side::of_tree` reads the summary back; a build diffed with
            // itself is no change.
            let side = envk::diff::Side::of_tree(&tree);
            assert!(envk::diff::diff(&side, &side).is_empty());
        }
    }
});
