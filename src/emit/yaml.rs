//! A serde Serializer for block YAML, written for speed.
//!
//! serde_yaml goes through libyaml's event emitter and then needs a second
//! pass (`yaml11`) to quote what YAML 1.1 readers would misread; at tens of
//! thousands of documents that is most of `build`'s time. This serializer
//! writes the same bytes in one pass: it follows libyaml's block layout
//! (two-space indent, sequences in a mapping not indented, `{}` and `[]`
//! for empty collections) and its choice of scalar style, and quotes the
//! strings that serde_yaml or the YAML 1.1 pass would quote.
//!
//! Whatever it cannot write byte for byte as serde_yaml would (long keys,
//! single-quoted strings holding line breaks other than `\n`, enums with
//! data) makes it return [`Unsupported`], and the caller falls back to
//! serde_yaml. Tests hold it to both: its output equals serde_yaml's, and
//! an independent YAML parser reads back exactly the value serialized.

use std::fmt::{self, Write as _};

use serde::ser::{self, Serialize};

use super::yaml11;
use crate::by_address::ByAddress;

/// The document could not be written in exactly serde_yaml's form.
#[derive(Debug)]
pub struct Unsupported(String);

impl fmt::Display for Unsupported {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "not written by the fast YAML serializer: {}", self.0)
    }
}

impl std::error::Error for Unsupported {}

impl ser::Error for Unsupported {
    fn custom<T: fmt::Display>(msg: T) -> Self {
        Unsupported(msg.to_string())
    }
}

fn unsupported<T>(what: &str) -> Result<T, Unsupported> {
    Err(Unsupported(what.to_string()))
}

/// Appends `value` to `out` as one block YAML document (no `---`).
pub fn to_string_into<T: Serialize + ?Sized>(
    value: &T,
    out: &mut String,
) -> Result<(), Unsupported> {
    let start = out.len();
    let result = value.serialize(Writer {
        out: &mut *out,
        at: At::Top,
    });
    if result.is_err() {
        out.truncate(start);
    }
    result
}

/// Appends `key:` and, under it, `value`: a block mapping or sequence this
/// serializer wrote as a document, as the last field of a top-level
/// mapping. A sequence is not indented under its key, so it is copied as
/// it is; a mapping is moved two columns in. What this serializer writes
/// at a column is what it writes at column 0 moved over (no style depends
/// on the column, and a literal block's lines start at its parent's column
/// plus its own indentation), so this is the text of serializing the value
/// as the field. Empty lines, which only literal blocks have, stay empty,
/// as they are written.
pub fn block_field_into(out: &mut String, key: &str, value: &str) {
    debug_assert!(plain_word(key), "{key} needs no quotes");
    debug_assert!(
        value.ends_with('\n') && !value.starts_with([' ', '{', '[']),
        "a block collection: {value:?}"
    );
    out.reserve(key.len() + 2 + value.len() + value.len() / 16);
    out.push_str(key);
    out.push_str(":\n");
    if value.starts_with("- ") {
        out.push_str(value);
        return;
    }
    let mut line_start = 0;
    for line_end in memchr::memchr_iter(b'\n', value.as_bytes()) {
        if line_end > line_start {
            out.push_str("  ");
        }
        out.push_str(&value[line_start..=line_end]);
        line_start = line_end + 1;
    }
    if line_start < value.len() {
        out.push_str("  ");
        out.push_str(&value[line_start..]);
    }
}

/// Where the next node goes, and so what precedes it.
#[derive(Clone, Copy)]
enum At {
    /// The document's root.
    Top,
    /// After `key:`, the key at this column.
    Key(usize),
    /// After `- `, the dash at this column.
    Dash(usize),
}

impl At {
    /// The column of a mapping's keys, and whether the first key needs a
    /// line of its own.
    fn mapping(self) -> (usize, bool) {
        match self {
            At::Top => (0, false),
            At::Key(column) => (column + 2, true),
            At::Dash(column) => (column + 2, false),
        }
    }

    /// The column of a sequence's dashes (a sequence in a mapping is not
    /// indented), and whether the first item needs a line of its own.
    fn sequence(self) -> (usize, bool) {
        match self {
            At::Top => (0, false),
            At::Key(column) => (column, true),
            At::Dash(column) => (column + 2, false),
        }
    }

    /// The column of a block scalar's lines.
    fn block(self) -> usize {
        match self {
            At::Top => 2,
            At::Key(column) | At::Dash(column) => column + 2,
        }
    }

    /// What goes between the indicator before the node and the node.
    fn gap(self) -> &'static str {
        match self {
            At::Key(_) => " ",
            At::Top | At::Dash(_) => "",
        }
    }
}

struct Writer<'o> {
    out: &'o mut String,
    at: At,
}

fn indent(out: &mut String, column: usize) {
    const SPACES: &str = "                                ";
    let mut left = column;
    while left > SPACES.len() {
        out.push_str(SPACES);
        left -= SPACES.len();
    }
    out.push_str(&SPACES[..left]);
}

impl Writer<'_> {
    fn scalar(self, text: &str) -> Result<(), Unsupported> {
        self.out.push_str(self.at.gap());
        self.out.push_str(text);
        self.out.push('\n');
        Ok(())
    }

    fn integer(self, value: impl fmt::Display) -> Result<(), Unsupported> {
        self.out.push_str(self.at.gap());
        let _ = write!(self.out, "{value}");
        self.out.push('\n');
        Ok(())
    }
}

impl<'o> Writer<'o> {
    /// A sequence or mapping starting here; nothing is written yet.
    fn collection(self, sequence: bool) -> Collection<'o> {
        let (column, own_line) = if sequence {
            self.at.sequence()
        } else {
            self.at.mapping()
        };
        Collection {
            out: self.out,
            at: self.at,
            column,
            own_line,
            empty: true,
            sequence,
        }
    }
}

/// Integers, as values and as keys, are written as Rust prints them.
macro_rules! integers {
    () => {
        integers!(serialize_i8: i8, serialize_i16: i16, serialize_i32: i32, serialize_i64: i64,
            serialize_u8: u8, serialize_u16: u16, serialize_u32: u32, serialize_u64: u64);
    };
    ($($method:ident: $type:ty),*) => {
        $(fn $method(self, v: $type) -> Result<(), Unsupported> {
            self.integer(v)
        })*
    };
}

/// What values and keys serialize alike: a char as a string, `Some` and
/// newtypes as what they hold, a unit variant as its name.
macro_rules! forward_to_inner {
    () => {
        fn serialize_char(self, v: char) -> Result<(), Unsupported> {
            self.serialize_str(v.encode_utf8(&mut [0; 4]))
        }

        fn serialize_some<T: Serialize + ?Sized>(self, value: &T) -> Result<(), Unsupported> {
            value.serialize(self)
        }

        fn serialize_unit_variant(
            self,
            _: &'static str,
            _: u32,
            variant: &'static str,
        ) -> Result<(), Unsupported> {
            self.serialize_str(variant)
        }

        fn serialize_newtype_struct<T: Serialize + ?Sized>(
            self,
            _: &'static str,
            value: &T,
        ) -> Result<(), Unsupported> {
            value.serialize(self)
        }
    };
}

impl<'o> ser::Serializer for Writer<'o> {
    type Ok = ();
    type Error = Unsupported;
    type SerializeSeq = Collection<'o>;
    type SerializeTuple = Collection<'o>;
    type SerializeTupleStruct = Collection<'o>;
    type SerializeTupleVariant = ser::Impossible<(), Unsupported>;
    type SerializeMap = Collection<'o>;
    type SerializeStruct = Collection<'o>;
    type SerializeStructVariant = ser::Impossible<(), Unsupported>;

    forward_to_inner!();

    fn serialize_bool(self, v: bool) -> Result<(), Unsupported> {
        self.scalar(if v { "true" } else { "false" })
    }

    integers!();

    fn serialize_f32(self, _: f32) -> Result<(), Unsupported> {
        unsupported("a float")
    }

    fn serialize_f64(self, _: f64) -> Result<(), Unsupported> {
        unsupported("a float")
    }

    fn serialize_str(self, v: &str) -> Result<(), Unsupported> {
        let block_column = self.at.block();
        self.out.push_str(self.at.gap());
        write_str(self.out, v, false, block_column)?;
        self.out.push('\n');
        Ok(())
    }

    fn serialize_bytes(self, _: &[u8]) -> Result<(), Unsupported> {
        unsupported("bytes")
    }

    fn serialize_none(self) -> Result<(), Unsupported> {
        self.scalar("null")
    }

    fn serialize_unit(self) -> Result<(), Unsupported> {
        self.scalar("null")
    }

    fn serialize_unit_struct(self, _: &'static str) -> Result<(), Unsupported> {
        self.scalar("null")
    }

    fn serialize_newtype_variant<T: Serialize + ?Sized>(
        self,
        _: &'static str,
        _: u32,
        _: &'static str,
        _: &T,
    ) -> Result<(), Unsupported> {
        unsupported("an enum variant with data")
    }

    fn serialize_seq(self, _: Option<usize>) -> Result<Collection<'o>, Unsupported> {
        Ok(self.collection(true))
    }

    fn serialize_tuple(self, len: usize) -> Result<Collection<'o>, Unsupported> {
        self.serialize_seq(Some(len))
    }

    fn serialize_tuple_struct(
        self,
        _: &'static str,
        len: usize,
    ) -> Result<Collection<'o>, Unsupported> {
        self.serialize_seq(Some(len))
    }

    fn serialize_tuple_variant(
        self,
        _: &'static str,
        _: u32,
        _: &'static str,
        _: usize,
    ) -> Result<Self::SerializeTupleVariant, Unsupported> {
        unsupported("an enum variant with data")
    }

    fn serialize_map(self, _: Option<usize>) -> Result<Collection<'o>, Unsupported> {
        Ok(self.collection(false))
    }

    fn serialize_struct(self, _: &'static str, len: usize) -> Result<Collection<'o>, Unsupported> {
        self.serialize_map(Some(len))
    }

    fn serialize_struct_variant(
        self,
        _: &'static str,
        _: u32,
        _: &'static str,
        _: usize,
    ) -> Result<Self::SerializeStructVariant, Unsupported> {
        unsupported("an enum variant with data")
    }
}

/// A mapping or a sequence being written. Nothing is written until its
/// first entry, so that an empty one becomes `{}` or `[]`.
pub struct Collection<'o> {
    out: &'o mut String,
    at: At,
    column: usize,
    own_line: bool,
    empty: bool,
    sequence: bool,
}

impl Collection<'_> {
    /// Starts an entry: a new line and indentation where needed.
    fn entry(&mut self) {
        if self.empty {
            if self.own_line {
                self.out.push('\n');
                indent(self.out, self.column);
            }
            self.empty = false;
        } else {
            indent(self.out, self.column);
        }
    }

    fn item<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), Unsupported> {
        self.entry();
        self.out.push_str("- ");
        value.serialize(Writer {
            out: &mut *self.out,
            at: At::Dash(self.column),
        })
    }

    fn finish(self) -> Result<(), Unsupported> {
        if self.empty {
            self.out.push_str(self.at.gap());
            self.out
                .push_str(if self.sequence { "[]\n" } else { "{}\n" });
        }
        Ok(())
    }
}

/// Sequences, tuples and tuple structs are all block sequences.
macro_rules! sequence {
    ($($trait:ident :: $method:ident),*) => {
        $(impl ser::$trait for Collection<'_> {
            type Ok = ();
            type Error = Unsupported;

            fn $method<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), Unsupported> {
                self.item(value)
            }

            fn end(self) -> Result<(), Unsupported> {
                self.finish()
            }
        })*
    };
}

sequence!(
    SerializeSeq::serialize_element,
    SerializeTuple::serialize_element,
    SerializeTupleStruct::serialize_field
);

impl ser::SerializeMap for Collection<'_> {
    type Ok = ();
    type Error = Unsupported;

    fn serialize_key<T: Serialize + ?Sized>(&mut self, key: &T) -> Result<(), Unsupported> {
        self.entry();
        key.serialize(KeyWriter {
            out: &mut *self.out,
        })?;
        self.out.push(':');
        Ok(())
    }

    fn serialize_value<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), Unsupported> {
        value.serialize(Writer {
            out: &mut *self.out,
            at: At::Key(self.column),
        })
    }

    fn end(self) -> Result<(), Unsupported> {
        self.finish()
    }
}

impl ser::SerializeStruct for Collection<'_> {
    type Ok = ();
    type Error = Unsupported;

    fn serialize_field<T: Serialize + ?Sized>(
        &mut self,
        key: &'static str,
        value: &T,
    ) -> Result<(), Unsupported> {
        self.entry();
        if plain_field_name(key) {
            self.out.push_str(key);
        } else {
            write_str(self.out, key, true, 0)?;
        }
        self.out.push(':');
        value.serialize(Writer {
            out: &mut *self.out,
            at: At::Key(self.column),
        })
    }

    fn end(self) -> Result<(), Unsupported> {
        self.finish()
    }
}

/// A mapping key: a scalar on the key's line.
struct KeyWriter<'o> {
    out: &'o mut String,
}

impl KeyWriter<'_> {
    fn integer(self, value: impl fmt::Display) -> Result<(), Unsupported> {
        let _ = write!(self.out, "{value}");
        Ok(())
    }
}

impl ser::Serializer for KeyWriter<'_> {
    type Ok = ();
    type Error = Unsupported;
    type SerializeSeq = ser::Impossible<(), Unsupported>;
    type SerializeTuple = ser::Impossible<(), Unsupported>;
    type SerializeTupleStruct = ser::Impossible<(), Unsupported>;
    type SerializeTupleVariant = ser::Impossible<(), Unsupported>;
    type SerializeMap = ser::Impossible<(), Unsupported>;
    type SerializeStruct = ser::Impossible<(), Unsupported>;
    type SerializeStructVariant = ser::Impossible<(), Unsupported>;

    forward_to_inner!();

    integers!();

    fn serialize_bool(self, v: bool) -> Result<(), Unsupported> {
        self.out.push_str(if v { "true" } else { "false" });
        Ok(())
    }

    fn serialize_f32(self, _: f32) -> Result<(), Unsupported> {
        unsupported("a float key")
    }

    fn serialize_f64(self, _: f64) -> Result<(), Unsupported> {
        unsupported("a float key")
    }

    fn serialize_str(self, v: &str) -> Result<(), Unsupported> {
        write_str(self.out, v, true, 0)
    }

    fn serialize_bytes(self, _: &[u8]) -> Result<(), Unsupported> {
        unsupported("a bytes key")
    }

    fn serialize_none(self) -> Result<(), Unsupported> {
        self.out.push_str("null");
        Ok(())
    }

    fn serialize_unit(self) -> Result<(), Unsupported> {
        self.serialize_none()
    }

    fn serialize_unit_struct(self, _: &'static str) -> Result<(), Unsupported> {
        self.serialize_none()
    }

    fn serialize_newtype_variant<T: Serialize + ?Sized>(
        self,
        _: &'static str,
        _: u32,
        _: &'static str,
        _: &T,
    ) -> Result<(), Unsupported> {
        unsupported("an enum key")
    }

    fn serialize_seq(self, _: Option<usize>) -> Result<Self::SerializeSeq, Unsupported> {
        unsupported("a sequence key")
    }

    fn serialize_tuple(self, _: usize) -> Result<Self::SerializeTuple, Unsupported> {
        unsupported("a tuple key")
    }

    fn serialize_tuple_struct(
        self,
        _: &'static str,
        _: usize,
    ) -> Result<Self::SerializeTupleStruct, Unsupported> {
        unsupported("a tuple key")
    }

    fn serialize_tuple_variant(
        self,
        _: &'static str,
        _: u32,
        _: &'static str,
        _: usize,
    ) -> Result<Self::SerializeTupleVariant, Unsupported> {
        unsupported("an enum key")
    }

    fn serialize_map(self, _: Option<usize>) -> Result<Self::SerializeMap, Unsupported> {
        unsupported("a mapping key")
    }

    fn serialize_struct(
        self,
        _: &'static str,
        _: usize,
    ) -> Result<Self::SerializeStruct, Unsupported> {
        unsupported("a mapping key")
    }

    fn serialize_struct_variant(
        self,
        _: &'static str,
        _: u32,
        _: &'static str,
        _: usize,
    ) -> Result<Self::SerializeStructVariant, Unsupported> {
        unsupported("an enum key")
    }
}

// ---------------------------------------------------------------- scalars

#[derive(Clone, Copy, PartialEq, Eq)]
enum Style {
    Plain,
    Single,
    Double,
    Literal,
}

/// libyaml's `IS_PRINTABLE`: what may appear unescaped.
fn printable(c: char) -> bool {
    matches!(c, '\n' | '\u{20}'..='\u{7E}' | '\u{A0}'..='\u{D7FF}' | '\u{10000}'..)
        || (('\u{E000}'..='\u{FFFD}').contains(&c) && c != '\u{FEFF}')
}

fn is_break(c: char) -> bool {
    matches!(c, '\r' | '\n' | '\u{85}' | '\u{2028}' | '\u{2029}')
}

fn is_blank_or_break(c: Option<char>) -> bool {
    match c {
        None => true,
        Some(c) => c == ' ' || c == '\t' || is_break(c),
    }
}

/// What libyaml's `yaml_emitter_analyze_scalar` finds in a scalar.
struct Analysis {
    block_plain: bool,
    single_quoted: bool,
    block: bool,
}

fn analyze(text: &str) -> Analysis {
    // The same walk, but over bytes where every character is one.
    if text.is_ascii() {
        analyze_chars(text, text.bytes().map(char::from))
    } else {
        analyze_chars(text, text.chars())
    }
}

fn analyze_chars(text: &str, chars: impl Iterator<Item = char>) -> Analysis {
    if text.is_empty() {
        return Analysis {
            block_plain: true,
            single_quoted: true,
            block: false,
        };
    }
    let mut block_indicators = text.starts_with("---") || text.starts_with("...");
    let (mut leading_space, mut leading_break) = (false, false);
    let (mut trailing_space, mut trailing_break) = (false, false);
    let (mut break_space, mut space_break) = (false, false);
    let (mut previous_space, mut previous_break) = (false, false);
    let mut line_breaks = false;
    let mut special = false;
    let mut preceded_by_whitespace = true;
    let mut chars = chars.peekable();
    let mut first = true;
    while let Some(c) = chars.next() {
        let next = chars.peek().copied();
        let followed_by_whitespace = is_blank_or_break(next);
        if first {
            match c {
                '#' | ',' | '[' | ']' | '{' | '}' | '&' | '*' | '!' | '|' | '>' | '\'' | '"'
                | '%' | '@' | '`' => block_indicators = true,
                '?' | ':' | '-' if followed_by_whitespace => block_indicators = true,
                _ => {}
            }
        } else {
            match c {
                ':' if followed_by_whitespace => block_indicators = true,
                '#' if preceded_by_whitespace => block_indicators = true,
                _ => {}
            }
        }
        if !printable(c) {
            special = true;
        }
        if is_break(c) {
            line_breaks = true;
        }
        let last = next.is_none();
        if c == ' ' {
            if first {
                leading_space = true;
            }
            if last {
                trailing_space = true;
            }
            if previous_break {
                break_space = true;
            }
            previous_space = true;
            previous_break = false;
        } else if is_break(c) {
            if first {
                leading_break = true;
            }
            if last {
                trailing_break = true;
            }
            if previous_space {
                space_break = true;
            }
            previous_break = true;
            previous_space = false;
        } else {
            previous_space = false;
            previous_break = false;
        }
        preceded_by_whitespace = is_blank_or_break(Some(c));
        first = false;
    }
    let mut analysis = Analysis {
        block_plain: true,
        single_quoted: true,
        block: true,
    };
    if leading_space || leading_break || trailing_space || trailing_break {
        analysis.block_plain = false;
    }
    if trailing_space {
        analysis.block = false;
    }
    if break_space {
        analysis.block_plain = false;
        analysis.single_quoted = false;
    }
    if space_break || special {
        analysis.block_plain = false;
        analysis.single_quoted = false;
        analysis.block = false;
    }
    if line_breaks || block_indicators {
        analysis.block_plain = false;
    }
    analysis
}

/// serde_yaml's choice of style for a string, then libyaml's corrections,
/// then the YAML 1.1 pass: the style the two together write.
fn style(text: &str, simple: bool, key: bool) -> Style {
    if simple {
        // Plain for libyaml; only the typed lookalikes need quotes.
        if quantity_with_unit(text) {
            return Style::Plain;
        }
        return if serde_yaml_types(text) || yaml_1_1_types(text) {
            Style::Single
        } else {
            Style::Plain
        };
    }
    let requested = if text.contains('\n') {
        Style::Literal
    } else if serde_yaml_types(text) {
        Style::Single
    } else {
        Style::Plain
    };
    let analysis = analyze(text);
    let mut style = requested;
    if style == Style::Plain {
        if !analysis.block_plain || (text.is_empty() && key) {
            style = Style::Single;
        } else if yaml_1_1_types(text) {
            // What `yaml11::quote_for_yaml_1_1` does to a plain scalar.
            style = Style::Single;
        }
    }
    if style == Style::Single && !analysis.single_quoted {
        style = Style::Double;
    }
    if style == Style::Literal && (!analysis.block || key) {
        style = Style::Double;
    }
    style
}

/// Names, quantities, paths, URLs, expressions, sentences: printable ASCII
/// that libyaml writes plain because no `:` in it is followed by a space or
/// ends it and no `#` follows a space (so no indicator inside), it does not
/// start with an indicator or `---`/`...`, and neither starts nor ends with
/// a space. The common case, which needs no further analysis.
fn simple(text: &str) -> bool {
    let bytes = text.as_bytes();
    let (Some(&first), Some(&last)) = (bytes.first(), bytes.last()) else {
        return false;
    };
    let indicator_first = match first {
        b'-' | b'?' => bytes.get(1).is_none_or(|&next| next == b' '),
        b'#' | b',' | b'[' | b']' | b'{' | b'}' | b'&' | b'*' | b'!' | b'|' | b'>' | b'\''
        | b'"' | b'%' | b'@' | b'`' | b' ' | b':' => true,
        _ => false,
    };
    !indicator_first
        && last != b' '
        && !text.starts_with("---")
        && !text.starts_with("...")
        && (plain_ascii(bytes) || plain_with_colons_or_hashes(bytes))
}

/// Printable ASCII in which a `:` is followed by something other than a
/// space and a `#` follows something other than a space: `https://…`,
/// `a#b`. Inside a plain scalar neither then starts an indicator.
fn plain_with_colons_or_hashes(bytes: &[u8]) -> bool {
    bytes.iter().enumerate().all(|(at, &byte)| match byte {
        b':' => bytes.get(at + 1).is_some_and(|&next| next != b' '),
        b'#' => at > 0 && bytes[at - 1] != b' ',
        _ => (0x20..=0x7E).contains(&byte),
    })
}

/// A word YAML writes plain as it is, key or value: a letter, then
/// letters, digits and `_`, that no reader takes for a boolean or null.
/// Most struct field names are such words: for them this is `write_str`'s
/// answer without its general analysis.
fn plain_word(text: &str) -> bool {
    let bytes = text.as_bytes();
    bytes.first().is_some_and(u8::is_ascii_alphabetic)
        && bytes.len() <= 128
        && bytes
            .iter()
            .all(|b| b.is_ascii_alphanumeric() || *b == b'_')
        && !serde_yaml_types(text)
        && !yaml_1_1_types(text)
}

/// [`plain_word`] for a struct's field name, remembered by its address.
///
/// Field names are the `&'static str`s of serde's derives: a few dozen
/// distinct names, written hundreds of thousands of times in a large build,
/// where testing each again was an eighth of the build's instructions. A
/// static string's address and length name its text for the whole run, so
/// the remembered answer is the answer. Each thread keeps its own small
/// table of two ways a set: where the names' addresses fall depends on how
/// the binary was linked, and with one way a few names sharing a set (as
/// dozens of names among 256 sets always do) tested each other out on
/// every object, which a change anywhere in the binary could bring about.
fn plain_field_name(key: &'static str) -> bool {
    use std::cell::Cell;
    const SETS: usize = 256;
    type Way = Cell<(ByAddress<'static, str>, bool)>;
    // No field is named so, and this one has an address of its own: an
    // unused way matches no name. (An `Option` cost a test per lookup:
    // bench/README.md.)
    const UNUSED: ByAddress<'static, str> = ByAddress::new("\0unused");
    thread_local! {
        static SEEN: [[Way; 2]; SETS] =
            const { [const { [const { Cell::new((UNUSED, false)) }; 2] }; SETS] };
    }
    // Serde's derives name no field with the empty string, which has no
    // address of its own.
    let name = ByAddress::new(key);
    // Fibonacci hashing: the product's top bits.
    let set = (name.address() as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15) >> (64 - SETS.ilog2());
    let set = set as usize;
    SEEN.with(|seen| {
        let [recent, older] = &seen[set];
        for way in [recent, older] {
            let (seen_name, plain) = way.get();
            if seen_name == name {
                return plain;
            }
        }
        let plain = plain_word(key);
        older.set(recent.get());
        recent.set((name, plain));
        plain
    })
}

/// Whether every byte is printable ASCII other than `:` and `#`. Most of
/// what envk writes is such text, so it is tested eight bytes at a time.
fn plain_ascii(bytes: &[u8]) -> bool {
    const ONES: u64 = u64::from_ne_bytes([0x01; 8]);
    const HIGH: u64 = u64::from_ne_bytes([0x80; 8]);
    // Each test is exact for whole words: a borrow or carry leaves a byte
    // only from a byte that already fails.
    let has_zero = |word: u64| word.wrapping_sub(ONES) & !word & HIGH != 0;
    let has_below_space = |word: u64| word.wrapping_sub(ONES * 0x20) & !word & HIGH != 0;
    let has_del_or_above = |word: u64| (word | word.wrapping_add(ONES)) & HIGH != 0;
    let plain = |word: u64| {
        !(has_below_space(word)
            || has_del_or_above(word)
            || has_zero(word ^ (ONES * u64::from(b':')))
            || has_zero(word ^ (ONES * u64::from(b'#'))))
    };
    let word_at =
        |at: usize| u64::from_ne_bytes(bytes[at..at + 8].try_into().expect("eight bytes"));
    let len = bytes.len();
    match len {
        // Most scalars are short: two overlapping halves make one word.
        0..4 => bytes
            .iter()
            .all(|&b| (0x20..=0x7E).contains(&b) && b != b':' && b != b'#'),
        4..8 => {
            let half = |at: usize| {
                u64::from(u32::from_ne_bytes(
                    bytes[at..at + 4].try_into().expect("four bytes"),
                ))
            };
            plain(half(0) | half(len - 4) << 32)
        }
        // Whole words, then the last eight bytes (overlapping the words
        // already tested, which changes nothing).
        _ => (0..len / 8).all(|word| plain(word_at(word * 8))) && plain(word_at(len - 8)),
    }
}

/// `20Gi`, `500m`, `5m`: a digit first and a letter last that is no hex
/// digit. Neither YAML reads such text as anything but a string (numbers
/// end in a digit, a dot, `_` or a hex digit; dates with a time have a
/// `:`, which plain text here has not), and quantities are a good part of
/// every manifest, so they skip the number parsers and the YAML 1.1 pattern.
fn quantity_with_unit(text: &str) -> bool {
    let bytes = text.as_bytes();
    match (bytes.first(), bytes.last()) {
        (Some(first), Some(last)) => {
            first.is_ascii_digit() && last.is_ascii_alphabetic() && !last.is_ascii_hexdigit()
        }
        _ => false,
    }
}

/// Whether a plain `text` is one that `yaml11::quote_for_yaml_1_1` quotes.
/// Its numbers, dates and times start with a digit, a sign or a dot; its
/// words are listed.
fn yaml_1_1_types(text: &str) -> bool {
    let Some(&first) = text.as_bytes().first() else {
        return false;
    };
    if first.is_ascii_alphabetic() {
        // The regex's words, less those serde_yaml quotes itself.
        return matches!(first, b'y' | b'Y' | b'n' | b'N' | b'o' | b'O')
            && matches!(
                text,
                "y" | "Y"
                    | "yes"
                    | "Yes"
                    | "YES"
                    | "n"
                    | "N"
                    | "no"
                    | "No"
                    | "NO"
                    | "on"
                    | "On"
                    | "ON"
                    | "off"
                    | "Off"
                    | "OFF"
            );
    }
    (first.is_ascii_digit() || matches!(first, b'+' | b'-' | b'.' | b'~' | b'<' | b'='))
        && yaml11::ambiguous(text)
}

/// Whether serde_yaml reads `text`, unquoted, as something other than a
/// string (and so quotes it): its `visit_untagged_scalar`.
fn serde_yaml_types(text: &str) -> bool {
    let Some(&first) = text.as_bytes().first() else {
        return true;
    };
    // Its words start with one of seven letters, its numbers with a digit,
    // a sign or a dot (`nan` and `inf` parse, but are not finite).
    match first {
        b'~' | b'n' | b'N' | b't' | b'T' | b'f' | b'F' => matches!(
            text,
            "~" | "null" | "Null" | "NULL" | "true" | "True" | "TRUE" | "false" | "False" | "FALSE"
        ),
        b'0'..=b'9' | b'+' | b'-' | b'.' => {
            parse_int(text) || parse_float(text) || digits_but_not_number(text)
        }
        _ => false,
    }
}

fn digits_but_not_number(text: &str) -> bool {
    let digits = text.strip_prefix(['-', '+']).unwrap_or(text);
    digits.len() > 1 && digits.starts_with('0') && digits[1..].bytes().all(|b| b.is_ascii_digit())
}

fn parse_int(text: &str) -> bool {
    let (negative, rest) = match text.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, text.strip_prefix('+').unwrap_or(text)),
    };
    for (prefix, radix) in [("0x", 16), ("0o", 8), ("0b", 2)] {
        if let Some(digits) = rest.strip_prefix(prefix) {
            if digits.starts_with(['+', '-']) {
                return false;
            }
            if negative {
                return i128::from_str_radix(&format!("-{digits}"), radix).is_ok();
            }
            if u128::from_str_radix(digits, radix).is_ok() {
                return true;
            }
        }
    }
    if rest.starts_with(['+', '-']) || digits_but_not_number(text) {
        return false;
    }
    if negative {
        text.parse::<i128>().is_ok()
    } else {
        rest.parse::<u128>().is_ok()
    }
}

fn parse_float(text: &str) -> bool {
    let unsigned = match text.strip_prefix('+') {
        Some(rest) if rest.starts_with(['+', '-']) => return false,
        Some(rest) => rest,
        None => text,
    };
    if matches!(unsigned, ".inf" | ".Inf" | ".INF")
        || matches!(text, "-.inf" | "-.Inf" | "-.INF" | ".nan" | ".NaN" | ".NAN")
    {
        return true;
    }
    unsigned.parse::<f64>().is_ok_and(f64::is_finite)
}

/// Writes a string scalar in the style serde_yaml would. `block_column`
/// is where a literal block's lines start.
fn write_str(
    out: &mut String,
    text: &str,
    key: bool,
    block_column: usize,
) -> Result<(), Unsupported> {
    let simple = simple(text);
    if key
        && ((text.len() > 128 && text.chars().count() > 128)
            || (!simple && text.contains(is_break)))
    {
        // libyaml writes these as complex keys: `? key`.
        return unsupported("a long or multi-line key");
    }
    match style(text, simple, key) {
        Style::Plain => out.push_str(text),
        Style::Single => {
            if text.contains(is_break) {
                return unsupported("a single-quoted string with line breaks");
            }
            out.push('\'');
            for c in text.chars() {
                if c == '\'' {
                    out.push('\'');
                }
                out.push(c);
            }
            out.push('\'');
        }
        Style::Double => write_double_quoted(out, text),
        Style::Literal => {
            if text.contains(['\r', '\u{85}', '\u{2028}', '\u{2029}']) {
                return unsupported("a block scalar with line breaks other than \\n");
            }
            out.push('|');
            if text.starts_with([' ', '\n']) {
                out.push('2');
            }
            if !text.ends_with('\n') {
                out.push('-');
            } else if text.len() == 1 || text[..text.len() - 1].ends_with('\n') {
                out.push('+');
            }
            out.push('\n');
            let mut line_start = true;
            for c in text.chars() {
                if c == '\n' {
                    out.push('\n');
                    line_start = true;
                } else {
                    if line_start {
                        indent(out, block_column);
                        line_start = false;
                    }
                    out.push(c);
                }
            }
            if text.ends_with('\n') {
                // The caller ends the node with a line break.
                out.pop();
            }
        }
    }
    Ok(())
}

fn write_double_quoted(out: &mut String, text: &str) {
    out.push('"');
    for c in text.chars() {
        if printable(c) && !is_break(c) && c != '"' && c != '\\' && c != '\u{FEFF}' {
            out.push(c);
            continue;
        }
        out.push('\\');
        match c {
            '\0' => out.push('0'),
            '\u{7}' => out.push('a'),
            '\u{8}' => out.push('b'),
            '\t' => out.push('t'),
            '\n' => out.push('n'),
            '\u{B}' => out.push('v'),
            '\u{C}' => out.push('f'),
            '\r' => out.push('r'),
            '\u{1B}' => out.push('e'),
            '"' => out.push('"'),
            '\\' => out.push('\\'),
            '\u{85}' => out.push('N'),
            '\u{A0}' => out.push('_'),
            '\u{2028}' => out.push('L'),
            '\u{2029}' => out.push('P'),
            c if (c as u32) <= 0xFF => {
                let _ = write!(out, "x{:02X}", c as u32);
            }
            c if (c as u32) <= 0xFFFF => {
                let _ = write!(out, "u{:04X}", c as u32);
            }
            c => {
                let _ = write!(out, "U{:08X}", c as u32);
            }
        }
    }
    out.push('"');
}

#[cfg(test)]
mod tests {
    use super::plain_ascii;

    #[test]
    fn quantities_with_units_are_plain_and_numbers_are_not() {
        for plain in ["20Gi", "500m", "5m", "1h30m", "10k", "2024-01-01x"] {
            assert!(super::quantity_with_unit(plain), "{plain}");
            assert!(
                !super::serde_yaml_types(plain) && !super::yaml_1_1_types(plain),
                "{plain}"
            );
        }
        for typed in ["10", "0x1F", "1e5", "1.5E", "0b101", "2024-01-01", "12_000"] {
            assert!(!super::quantity_with_unit(typed), "{typed}");
        }
    }

    /// Far more names than the table has slots, plain or not, asked in turn
    /// and again: every answer is `plain_word`'s, shared slot or not.
    #[test]
    fn remembered_field_names_get_plain_word_s_answer() {
        let mut names: Vec<&'static str> = vec!["on", "yes", "null", "a b", "x:y", "api_version"];
        for n in 0..1000 {
            let name = match n % 4 {
                0 => format!("field{n}"),
                1 => format!("{n}"),
                2 => format!("n{n} x"),
                _ => "off".to_string(),
            };
            names.push(Box::leak(name.into_boxed_str()));
        }
        for round in 0..3 {
            for name in names.iter().skip(round) {
                assert_eq!(
                    super::plain_field_name(name),
                    super::plain_word(name),
                    "{name}"
                );
            }
        }
    }

    #[test]
    fn plain_ascii_agrees_with_a_byte_by_byte_test() {
        let naive = |bytes: &[u8]| {
            bytes
                .iter()
                .all(|&b| (0x20..=0x7E).contains(&b) && b != b':' && b != b'#')
        };
        // Every byte value at every position of words and remainders, and
        // next to the bytes whose borrows or carries could spill over.
        for len in [1, 2, 3, 4, 5, 6, 7, 8, 9, 15, 16, 19] {
            for at in 0..len {
                for value in 0..=255u8 {
                    for neighbour in [b'a', 0x00, 0x1F, 0x20, 0x7F, 0xFF] {
                        let mut bytes = vec![b'a'; len];
                        bytes[at] = value;
                        if at + 1 < len {
                            bytes[at + 1] = neighbour;
                        }
                        assert_eq!(plain_ascii(&bytes), naive(&bytes), "{bytes:?}");
                    }
                }
            }
        }
    }

    /// A word taken for plain is written as itself by the general path,
    /// as a key and as a value: every word of up to three characters over
    /// an alphabet with the letters of YAML's typed words, and longer ones.
    #[test]
    fn a_plain_word_is_what_write_str_writes_plain() {
        let alphabet: Vec<char> = "aeflnorstuyEFLNORSTUY0159_-.~ :#".chars().collect();
        let mut words = crate::test_inputs::every_string(&alphabet, 3);
        words.extend(
            [
                "apiVersion",
                "metadata",
                "null",
                "NULL",
                "true",
                "False",
                "yes",
                "Off",
                "nan",
                "inf",
                "x1e5",
                "e10",
                "y_",
                "on_",
                "a".repeat(128).as_str(),
                "b".repeat(129).as_str(),
            ]
            .map(str::to_string),
        );
        let mut plain = 0;
        for word in &words {
            if !super::plain_word(word) {
                continue;
            }
            plain += 1;
            for (key, column) in [(true, 0), (false, 4)] {
                let mut out = String::new();
                super::write_str(&mut out, word, key, column).expect("a word writes");
                assert_eq!(&out, word, "key: {key}");
            }
        }
        assert!(plain > 10_000, "{plain}");
        for typed in [
            "y",
            "No",
            "on",
            "true",
            "Null",
            "b".repeat(129).as_str(),
            "_a",
            "a-b",
        ] {
            assert!(!super::plain_word(typed), "{typed}");
        }
    }
}
