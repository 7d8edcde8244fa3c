//! Reading and checking pickle opcode arguments: fixed-width integers,
//! counted data, and the newline-terminated text of protocol 0.
//!
//! Each check is as loose as CPython's C unpickler or looser, never
//! stricter (see `opcodes.rs`).

/// Lengths above this are refused by CPython ("exceeds system's maximum size").
const MAX_SIZE: u64 = i64::MAX as u64;

/// Why an opcode could not be walked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Halt {
    /// Its argument runs past the bytes at hand, but the stream goes on.
    Short,
    /// Its argument runs past the end of the stream.
    Truncated,
    /// Not a valid opcode or argument here: `loads` would raise.
    Invalid,
}

/// A cursor over an opcode's argument.
pub(super) struct Args<'a> {
    buf: &'a [u8],
    /// Offset from the opcode.
    pub(super) at: u64,
    /// Bytes of the stream from the opcode on.
    remaining: u64,
}

impl<'a> Args<'a> {
    pub(super) fn new(buf: &'a [u8], remaining: u64) -> Self {
        Self {
            buf,
            at: 1,
            remaining,
        }
    }

    pub(super) fn take(&mut self, n: u64) -> Result<&'a [u8], Halt> {
        let end = self
            .at
            .checked_add(n)
            .filter(|&e| e <= self.remaining)
            .ok_or(Halt::Truncated)?;
        let bytes = slice(self.buf, self.at, end).ok_or(Halt::Short)?;
        self.at = end;
        Ok(bytes)
    }

    /// A little-endian unsigned integer of `n` bytes.
    pub(super) fn uint(&mut self, n: u64) -> Result<u64, Halt> {
        let bytes = self.take(n)?;
        Ok(bytes
            .iter()
            .rev()
            .fold(0, |acc, &b| (acc << 8) | u64::from(b)))
    }

    pub(super) fn int32(&mut self) -> Result<i32, Halt> {
        let bytes: [u8; 4] = self.take(4)?.try_into().map_err(|_| Halt::Short)?;
        Ok(i32::from_le_bytes(bytes))
    }

    /// An 8-byte length, which CPython caps at `isize::MAX`.
    pub(super) fn size8(&mut self) -> Result<u64, Halt> {
        let n = self.uint(8)?;
        if n > MAX_SIZE {
            Err(Halt::Invalid)
        } else {
            Ok(n)
        }
    }

    /// A newline-terminated argument, without its newline.
    pub(super) fn line(&mut self) -> Result<&'a [u8], Halt> {
        let rest = slice(self.buf, self.at, self.buf.len() as u64).unwrap_or_default();
        match rest.iter().position(|&b| b == b'\n') {
            Some(n) => {
                self.at += n as u64 + 1;
                Ok(&rest[..n])
            }
            None if self.buf.len() as u64 >= self.remaining => Err(Halt::Truncated),
            None => Err(Halt::Short),
        }
    }

    /// Counted data: its bytes when they are at hand, else `None` and they
    /// are stepped over unseen (their content cannot make `loads` act).
    pub(super) fn data(&mut self, n: u64) -> Result<Option<&'a [u8]>, Halt> {
        let end = self
            .at
            .checked_add(n)
            .filter(|&e| e <= self.remaining)
            .ok_or(Halt::Truncated)?;
        let bytes = slice(self.buf, self.at, end);
        self.at = end;
        Ok(bytes)
    }
}

fn slice(buf: &[u8], from: u64, to: u64) -> Option<&[u8]> {
    buf.get(usize::try_from(from).ok()?..usize::try_from(to).ok()?)
}

/// CPython's whitespace for int parsing (`Py_ISSPACE`).
fn trim(text: &[u8]) -> &[u8] {
    let space = |b: &u8| matches!(b, b' ' | b'\t' | b'\n' | 0x0b | 0x0c | b'\r');
    let start = text.iter().position(|b| !space(b)).unwrap_or(text.len());
    let end = text
        .iter()
        .rposition(|b| !space(b))
        .map_or(start, |e| e + 1);
    text.get(start..end).unwrap_or_default()
}

fn unsigned(text: &[u8]) -> &[u8] {
    match text.first() {
        Some(b'+' | b'-') => &text[1..],
        _ => text,
    }
}

/// INT and LONG: `strtol` or `int(text, 0)`, with an `L` suffix for LONG.
pub(super) fn is_int(line: &[u8]) -> bool {
    let digits = unsigned(trim(line));
    digits.first().is_some_and(u8::is_ascii_digit)
        && digits
            .iter()
            .all(|b| b.is_ascii_alphanumeric() || *b == b'_')
}

/// FLOAT: digits, a point, an exponent, or `inf`/`nan`.
pub(super) fn is_float(line: &[u8]) -> bool {
    let text = unsigned(trim(line));
    text.first()
        .is_some_and(|b| b.is_ascii_digit() || matches!(b, b'.' | b'i' | b'I' | b'n' | b'N'))
        && text
            .iter()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'+' | b'-' | b'_'))
}

/// STRING: a quoted Python bytes literal.
pub(super) fn is_quoted(line: &[u8]) -> bool {
    matches!(line, [q @ (b'\'' | b'"'), .., last] if q == last)
}

/// GET and PUT: a decimal memo key, as `int(text, 10)` reads it; CPython
/// refuses negative keys and keys past `isize::MAX`.
pub(super) fn memo_key(line: &[u8]) -> Result<u64, Halt> {
    let text = trim(line);
    let digits = unsigned(text);
    if digits.is_empty() || !digits.iter().all(|b| b.is_ascii_digit() || *b == b'_') {
        return Err(Halt::Invalid);
    }
    let mut key: u64 = 0;
    for d in digits.iter().filter(|b| b.is_ascii_digit()) {
        key = key
            .checked_mul(10)
            .and_then(|k| k.checked_add(u64::from(d - b'0')))
            .ok_or(Halt::Invalid)?;
    }
    if key > MAX_SIZE || (text.first() == Some(&b'-') && key != 0) {
        return Err(Halt::Invalid);
    }
    Ok(key)
}

/// GLOBAL and INST: a module or attribute path of Python identifiers.
pub(super) fn is_dotted_name(line: &[u8]) -> bool {
    let Ok(text) = std::str::from_utf8(line) else {
        return false;
    };
    text.split('.').all(|part| {
        let mut chars = part.chars();
        chars.next().is_some_and(|c| c == '_' || c.is_alphabetic())
            && chars.all(|c| c == '_' || c.is_alphanumeric())
    })
}

/// BINUNICODE data: UTF-8 that may encode surrogates, as CPython's
/// "surrogatepass" decoding accepts.
pub(super) fn is_utf8_surrogatepass(mut bytes: &[u8]) -> bool {
    loop {
        match std::str::from_utf8(bytes) {
            Ok(_) => return true,
            Err(e) => match bytes.get(e.valid_up_to()..) {
                Some([0xED, 0xA0..=0xBF, 0x80..=0xBF, rest @ ..]) => bytes = rest,
                _ => return false,
            },
        }
    }
}
