//! Any text: the parser reports, never panics, and every span it gives lies
//! in the file on a character boundary. A text that parses clean is edited
//! (a piece of itself put in place of a few bytes): re-parsing it from the
//! earlier tree gives what parsing it gives.
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
        reparse_edits(text, ast);
    }
});

/// Three edits drawn from the text's own bytes, each re-parsed from the
/// tree before it while that tree is clean.
fn reparse_edits(text: &str, mut ast: envk::syntax::ast::Ast) {
    let mut old = envk::source::SourceMap::new();
    let mut old_id = old.add("fuzz.env.k", text);
    let mut seed = text.bytes().fold(0xcbf2_9ce4_8422_2325_u64, |hash, byte| {
        (hash ^ u64::from(byte)).wrapping_mul(0x0100_0000_01b3)
    });
    let mut next = |bound: usize| {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        (seed % (bound as u64 + 1)) as usize
    };
    for step in 0..3 {
        let before = old.file(old_id).text();
        let boundary = |mut at: usize| {
            while !before.is_char_boundary(at) {
                at -= 1;
            }
            at
        };
        let at = boundary(next(before.len()));
        let end = boundary((at + next(16)).min(before.len()));
        let from = boundary(next(before.len()));
        let to = boundary((from + next(24)).min(before.len())).max(from);
        let mut edited = before.to_string();
        edited.replace_range(at..end, &before[from..to]);
        let mut new = envk::source::SourceMap::new();
        new.add("before.env.k", " ".repeat(step));
        let new_id = new.add("fuzz.env.k", edited.as_str());
        let earlier = envk::syntax::Earlier {
            text: before,
            base: old.file(old_id).base(),
            ast,
        };
        let reparsed = envk::syntax::reparse(earlier, new.file(new_id));
        let parsed = envk::syntax::parse(new.file(new_id));
        assert_eq!(reparsed, parsed);
        if !parsed.1.is_empty() {
            return;
        }
        (old, old_id, ast) = (new, new_id, parsed.0);
    }
}
