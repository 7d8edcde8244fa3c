//! NumPy `.npy` headers, and whether the array they describe holds Python
//! objects: `np.load(..., allow_pickle=True)` unpickles those.
//!
//! The header is a Python dict literal after a magic string, a version and
//! its own length (`numpy/lib/format.py`). It is read here with a small
//! parser for the literals numpy writes; a header this parser cannot read is
//! refused rather than guessed at.

/// The first bytes of every `.npy` file.
pub const MAGIC: &[u8] = b"\x93NUMPY";

/// The longest magic, version, length and header checked: every version-1
/// header fits, and numpy itself refuses headers over 10 000 bytes unless
/// pickles are allowed.
pub const MAX_HEADER: u64 = 12 + 65536;

/// How deeply header literals may nest.
const MAX_DEPTH: usize = 32;

/// What a file's first bytes say as an npy array.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Header {
    /// Not an npy file numpy reads (no magic, or a version it refuses).
    NotNpy,
    /// The header ends at this offset, past the bytes given; call again
    /// with that many bytes (at most `MAX_HEADER`).
    Need(u64),
    /// Loading it would unpickle, or it cannot be checked: why, in words.
    Unsafe(String),
    /// A plain array.
    Safe,
}

/// Reads the npy header at the start of `head`.
pub fn inspect(head: &[u8]) -> Header {
    let Some(rest) = head.strip_prefix(MAGIC) else {
        return Header::NotNpy;
    };
    let (start, len) = match rest {
        [1, 0, a, b, ..] => (10, u64::from(u16::from_le_bytes([*a, *b]))),
        [2 | 3, 0, a, b, c, d, ..] => (12, u64::from(u32::from_le_bytes([*a, *b, *c, *d]))),
        _ => return Header::NotNpy,
    };
    let end = start + len;
    if end > MAX_HEADER {
        return Header::Unsafe(format!(
            "a NumPy array with a header of {end} bytes, larger than this registry checks for object dtypes"
        ));
    }
    let Some(text) = head.get(start as usize..end as usize) else {
        return Header::Need(end);
    };
    let unreadable =
        || Header::Unsafe("a NumPy array whose header this registry cannot read".to_string());
    let Some(dict) = Parser { text, at: 0 }.document() else {
        return unreadable();
    };
    let Literal::Dict(entries) = dict else {
        return unreadable();
    };
    // Every `descr` counts: a literal with the key twice keeps the last, and
    // either could be the one numpy sees.
    let objects = entries
        .iter()
        .filter(|(key, _)| matches!(key, Literal::Str(k) if k == b"descr"))
        .find_map(|(_, descr)| object_dtype(descr, 0));
    match objects {
        Some(dtype) => {
            // The header's own text: shown without control characters.
            let dtype: String = String::from_utf8_lossy(&dtype)
                .chars()
                .take(100)
                .map(|c| if c.is_control() { '?' } else { c })
                .collect();
            Header::Unsafe(format!(
                "a NumPy array of Python objects (dtype `{dtype}`), which np.load unpickles"
            ))
        }
        None => Header::Safe,
    }
}

/// The first dtype string in `descr` that makes numpy store Python objects.
/// Field names (the first item of each field of a structured dtype) are
/// skipped; every other string is checked.
fn object_dtype(descr: &Literal, depth: usize) -> Option<Vec<u8>> {
    if depth > MAX_DEPTH {
        return Some(b"(nested too deeply)".to_vec());
    }
    match descr {
        Literal::Str(s) => is_object(s).then(|| s.clone()),
        // A structured dtype: (name, dtype) or (name, dtype, shape) fields.
        Literal::List(fields) => fields.iter().find_map(|field| match field {
            Literal::Tuple(parts) | Literal::List(parts) if parts.len() >= 2 => {
                parts[1..].iter().find_map(|p| object_dtype(p, depth + 1))
            }
            other => object_dtype(other, depth + 1),
        }),
        Literal::Tuple(items) => items.iter().find_map(|i| object_dtype(i, depth + 1)),
        Literal::Dict(entries) => entries
            .iter()
            .find_map(|(k, v)| object_dtype(k, depth + 1).or_else(|| object_dtype(v, depth + 1))),
        Literal::Other => None,
    }
}

/// `O`, `|O`, `<O`, `O8`, `object`, or a comma-separated string with one of
/// them (`'f4,O'`): no other dtype string has a capital O.
fn is_object(dtype: &[u8]) -> bool {
    dtype.contains(&b'O')
        || dtype
            .to_ascii_lowercase()
            .windows(6)
            .any(|w| w == b"object")
}

/// The Python literals of an npy header.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Literal {
    Str(Vec<u8>),
    List(Vec<Literal>),
    Tuple(Vec<Literal>),
    Dict(Vec<(Literal, Literal)>),
    /// Numbers, `True`, `False`, `None`.
    Other,
}

/// A recursive-descent reader of the literals `ast.literal_eval` would
/// accept in an npy header; `None` for anything else.
struct Parser<'a> {
    text: &'a [u8],
    at: usize,
}

impl Parser<'_> {
    fn document(mut self) -> Option<Literal> {
        let value = self.value(0)?;
        self.space();
        (self.at == self.text.len()).then_some(value)
    }

    fn space(&mut self) {
        while self
            .text
            .get(self.at)
            .is_some_and(|b| matches!(b, b' ' | b'\t' | b'\n' | b'\r' | 0x0c))
        {
            self.at += 1;
        }
    }

    fn eat(&mut self, byte: u8) -> bool {
        self.space();
        let found = self.text.get(self.at) == Some(&byte);
        if found {
            self.at += 1;
        }
        found
    }

    fn value(&mut self, depth: usize) -> Option<Literal> {
        if depth > MAX_DEPTH {
            return None;
        }
        self.space();
        match *self.text.get(self.at)? {
            q @ (b'\'' | b'"') => self.string(q).map(Literal::Str),
            b'{' => {
                self.at += 1;
                let mut entries = Vec::new();
                loop {
                    if self.eat(b'}') {
                        break;
                    }
                    let key = self.value(depth + 1)?;
                    if !self.eat(b':') {
                        return None;
                    }
                    entries.push((key, self.value(depth + 1)?));
                    if !self.eat(b',') {
                        self.eat(b'}').then_some(())?;
                        break;
                    }
                }
                Some(Literal::Dict(entries))
            }
            open @ (b'[' | b'(') => {
                self.at += 1;
                let close = if open == b'[' { b']' } else { b')' };
                let (items, comma) = self.items(close, depth)?;
                Some(match (open, items.len(), comma) {
                    (b'[', ..) => Literal::List(items),
                    // `(x)` is x itself; `(x,)` is a tuple.
                    (_, 1, false) => items.into_iter().next()?,
                    _ => Literal::Tuple(items),
                })
            }
            _ => {
                let start = self.at;
                while self
                    .text
                    .get(self.at)
                    .is_some_and(|b| b.is_ascii_alphanumeric() || b"_.+-".contains(b))
                {
                    self.at += 1;
                }
                (self.at > start).then_some(Literal::Other)
            }
        }
    }

    /// Items up to `close`; also whether a comma followed the last.
    fn items(&mut self, close: u8, depth: usize) -> Option<(Vec<Literal>, bool)> {
        let mut items = Vec::new();
        let mut comma = false;
        while !self.eat(close) {
            if !items.is_empty() && !comma {
                return None;
            }
            items.push(self.value(depth + 1)?);
            comma = self.eat(b',');
        }
        Some((items, comma))
    }

    /// A quoted string, with Python's escapes decoded (as UTF-8).
    fn string(&mut self, quote: u8) -> Option<Vec<u8>> {
        self.at += 1;
        let mut out = Vec::new();
        loop {
            let b = *self.text.get(self.at)?;
            self.at += 1;
            match b {
                b'\n' => return None,
                _ if b == quote => return Some(out),
                b'\\' => {
                    let e = *self.text.get(self.at)?;
                    self.at += 1;
                    let hex = |p: &mut Self, n: usize| {
                        let digits = std::str::from_utf8(p.text.get(p.at..p.at + n)?).ok()?;
                        p.at += n;
                        char::from_u32(u32::from_str_radix(digits, 16).ok()?)
                    };
                    let c = match e {
                        b'x' => hex(self, 2)?,
                        b'u' => hex(self, 4)?,
                        b'U' => hex(self, 8)?,
                        b'n' => '\n',
                        b't' => '\t',
                        b'r' => '\r',
                        b'0'..=b'7' => {
                            // Up to three octal digits, the first already read.
                            let mut code = u32::from(e - b'0');
                            for _ in 0..2 {
                                match self.text.get(self.at) {
                                    Some(d @ b'0'..=b'7') => code = code * 8 + u32::from(d - b'0'),
                                    _ => break,
                                }
                                self.at += 1;
                            }
                            char::from_u32(code)?
                        }
                        b'\\' | b'\'' | b'"' => char::from(e),
                        _ => return None,
                    };
                    out.extend_from_slice(c.encode_utf8(&mut [0; 4]).as_bytes());
                }
                _ => out.push(b),
            }
        }
    }
}

#[cfg(test)]
mod tests;
