//! Any text: the parser reports, never panics, and every span it gives lies
//! in the file on a character boundary.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let mut sources = envk::source::SourceMap::new();
    let id = sources.add("fuzz.env.k", text);
    let file = sources.file(id);
    let (ast, diagnostics) = envk::syntax::parse(file);
    for span in envk::syntax::spans::all_spans(&ast)
        .into_iter()
        .chain(diagnostics.iter().map(|d| d.primary.span))
    {
        let range = file.local(span);
        assert!(range.end <= text.len());
        assert!(text.is_char_boundary(range.start) && text.is_char_boundary(range.end));
    }
    let _ = envk::diag::render_plain(&sources, &diagnostics);
    if diagnostics.is_empty() {
        // What parses formats, and the result parses to the same tree.
        let formatted = envk::syntax::format::format(file).expect("parsed cleanly");
        let again = sources.add("again.env.k", formatted);
        assert!(envk::syntax::parse(sources.file(again)).1.is_empty());
    }
});
