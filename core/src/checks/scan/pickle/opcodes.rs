//! The pickle opcodes of protocols 0 to 5, and what each does to the
//! symbolic stack; their arguments are read and checked in `args.rs`.
//!
//! Each check here is as loose as CPython's C unpickler or looser: calling a
//! stream invalid where `pickle.loads` would go on would let a pickle
//! through, while a looser check costs only a rare false positive. One is
//! stricter: GLOBAL and INST names must be Python identifiers, as every
//! importable module's are, since text files begin with "c" + two lines.

use super::Recogniser;
use super::args::{
    Args, Halt, is_dotted_name, is_float, is_int, is_quoted, is_utf8_surrogatepass, memo_key,
};

const MARK: u8 = b'(';
const STOP: u8 = b'.';
const POP: u8 = b'0';
const POP_MARK: u8 = b'1';
const DUP: u8 = b'2';
const FLOAT: u8 = b'F';
const INT: u8 = b'I';
const BININT: u8 = b'J';
const BININT1: u8 = b'K';
const LONG: u8 = b'L';
const BININT2: u8 = b'M';
const NONE: u8 = b'N';
const PERSID: u8 = b'P';
const BINPERSID: u8 = b'Q';
const REDUCE: u8 = b'R';
const STRING: u8 = b'S';
const BINSTRING: u8 = b'T';
const SHORT_BINSTRING: u8 = b'U';
const UNICODE: u8 = b'V';
const BINUNICODE: u8 = b'X';
const APPEND: u8 = b'a';
const BUILD: u8 = b'b';
const GLOBAL: u8 = b'c';
const DICT: u8 = b'd';
const EMPTY_DICT: u8 = b'}';
const APPENDS: u8 = b'e';
const GET: u8 = b'g';
const BINGET: u8 = b'h';
const INST: u8 = b'i';
const LONG_BINGET: u8 = b'j';
const LIST: u8 = b'l';
const EMPTY_LIST: u8 = b']';
const OBJ: u8 = b'o';
const PUT: u8 = b'p';
const BINPUT: u8 = b'q';
const LONG_BINPUT: u8 = b'r';
const SETITEM: u8 = b's';
const TUPLE: u8 = b't';
const EMPTY_TUPLE: u8 = b')';
const SETITEMS: u8 = b'u';
const BINFLOAT: u8 = b'G';
const PROTO: u8 = 0x80;
const NEWOBJ: u8 = 0x81;
const EXT1: u8 = 0x82;
const EXT2: u8 = 0x83;
const EXT4: u8 = 0x84;
const TUPLE1: u8 = 0x85;
const TUPLE2: u8 = 0x86;
const TUPLE3: u8 = 0x87;
const NEWTRUE: u8 = 0x88;
const NEWFALSE: u8 = 0x89;
const LONG1: u8 = 0x8a;
const LONG4: u8 = 0x8b;
const BINBYTES: u8 = b'B';
const SHORT_BINBYTES: u8 = b'C';
const SHORT_BINUNICODE: u8 = 0x8c;
const BINUNICODE8: u8 = 0x8d;
const BINBYTES8: u8 = 0x8e;
const EMPTY_SET: u8 = 0x8f;
const ADDITEMS: u8 = 0x90;
const FROZENSET: u8 = 0x91;
const NEWOBJ_EX: u8 = 0x92;
const STACK_GLOBAL: u8 = 0x93;
const MEMOIZE: u8 = 0x94;
const FRAME: u8 = 0x95;
const BYTEARRAY8: u8 = 0x96;
const NEXT_BUFFER: u8 = 0x97;
const READONLY_BUFFER: u8 = 0x98;

/// The most open MARKs the walk tracks.
const MAX_MARKS: usize = 1 << 16;

/// What a walked opcode did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Event {
    Plain,
    /// Looked something up that only a pickle names — a global or a
    /// persistent id: the opcode's name and what it does.
    /// The loader acts on it, but the lookup alone is two bytes that
    /// binary files hold by chance, so it counts once a valid opcode follows.
    Lookup(&'static str, &'static str),
    /// Would run code on load: the opcode's name and what it does.
    Act(&'static str, &'static str),
    /// PROTO with its protocol.
    Proto(u8),
    Stop,
}

/// The protocol an opcode first appeared in, as `pickletools` lists it.
pub(super) fn level(op: u8) -> u8 {
    match op {
        MARK | STOP | POP | DUP | FLOAT | INT | LONG | NONE | PERSID | REDUCE | STRING
        | UNICODE | APPEND | BUILD | GLOBAL | DICT | GET | INST | LIST | PUT | SETITEM | TUPLE => 0,
        PROTO..=LONG4 => 2,
        BINBYTES | SHORT_BINBYTES => 3,
        SHORT_BINUNICODE..=FRAME => 4,
        BYTEARRAY8..=READONLY_BUFFER => 5,
        _ => 1,
    }
}

impl Recogniser {
    /// Reads the opcode that starts `buf` and its argument (`remaining`
    /// bytes of the stream follow from there), checks them, and applies the
    /// opcode to the symbolic stack. Returns the opcode's length with its
    /// argument, and what it did. Nothing changes unless the argument reads.
    pub(super) fn step(&mut self, buf: &[u8], remaining: u64) -> Result<(u64, Event), Halt> {
        let op = *buf.first().ok_or(Halt::Short)?;
        let mut arg = Args::new(buf, remaining);
        let event = match op {
            // CPython nests as deep as memory allows; the walk's memory is
            // bounded, so a stream that nests deeper is taken for a pickle.
            MARK if self.marks.len() >= MAX_MARKS => {
                Event::Act("MARK", "nests deeper than this registry checks")
            }
            MARK => {
                self.marks.push(self.depth);
                Event::Plain
            }
            STOP => {
                self.need(1)?;
                Event::Stop
            }
            // POP on an empty frame drops the MARK instead, as CPython does.
            POP if self.avail() == 0 => {
                self.marks.pop().ok_or(Halt::Invalid)?;
                Event::Plain
            }
            POP => self.pop_push(1, 0)?,
            POP_MARK => {
                self.pop_mark()?;
                Event::Plain
            }
            DUP => self.pop_push(1, 2)?,
            FLOAT => self.push_if(is_float(arg.line()?))?,
            INT | LONG => self.push_if(is_int(arg.line()?))?,
            STRING => self.push_if(is_quoted(arg.line()?))?,
            UNICODE => self.skip_push(arg.line())?,
            // The id goes to the loader's own `persistent_load`, which
            // acts only as that loader decides (PyTorch's wants a tuple, from
            // BINPERSID); what follows is walked, and any call in it found.
            // Counting it as a call would refuse every README whose first
            // line is a title starting with P ("PyYAML\n======").
            PERSID => self.push_if(arg.line()?.is_ascii())?,
            BININT => self.skip_push(arg.take(4))?,
            BININT1 => self.skip_push(arg.take(1))?,
            BININT2 => self.skip_push(arg.take(2))?,
            BINFLOAT => self.skip_push(arg.take(8))?,
            NONE | NEWTRUE | NEWFALSE | EMPTY_DICT | EMPTY_LIST | EMPTY_TUPLE | EMPTY_SET
            | NEXT_BUFFER => self.pop_push(0, 1)?,
            BINSTRING | LONG4 => {
                let n = u64::try_from(arg.int32()?).map_err(|_| Halt::Invalid)?;
                arg.data(n)?;
                self.pop_push(0, 1)?
            }
            SHORT_BINSTRING | SHORT_BINBYTES | LONG1 => {
                let n = arg.uint(1)?;
                arg.data(n)?;
                self.pop_push(0, 1)?
            }
            BINBYTES => {
                let n = arg.uint(4)?;
                arg.data(n)?;
                self.pop_push(0, 1)?
            }
            BINBYTES8 | BYTEARRAY8 => {
                let n = arg.size8()?;
                arg.data(n)?;
                self.pop_push(0, 1)?
            }
            SHORT_BINUNICODE | BINUNICODE | BINUNICODE8 => {
                let n = match op {
                    SHORT_BINUNICODE => arg.uint(1)?,
                    BINUNICODE => arg.uint(4)?,
                    _ => arg.size8()?,
                };
                let text = arg.data(n)?;
                self.push_if(text.is_none_or(is_utf8_surrogatepass))?
            }
            BINPERSID => {
                self.pop_push(1, 1)?;
                Event::Lookup("BINPERSID", "loads a persistent id")
            }
            REDUCE => {
                self.pop_push(2, 1)?;
                Event::Act("REDUCE", "calls a global")
            }
            BUILD => {
                self.pop_push(2, 1)?;
                Event::Act("BUILD", "sets an object's state")
            }
            NEWOBJ => {
                self.pop_push(2, 1)?;
                Event::Act("NEWOBJ", "instantiates a class")
            }
            NEWOBJ_EX => {
                self.pop_push(3, 1)?;
                Event::Act("NEWOBJ_EX", "instantiates a class")
            }
            GLOBAL | INST => {
                let module = arg.line()?;
                let name = arg.line()?;
                if !is_dotted_name(module) || !is_dotted_name(name) {
                    return Err(Halt::Invalid);
                }
                let global = format!(
                    "{}.{}",
                    String::from_utf8_lossy(module),
                    String::from_utf8_lossy(name)
                );
                self.global = Some(global.chars().take(120).collect());
                if op == GLOBAL {
                    self.pop_push(0, 1)?;
                    Event::Lookup("GLOBAL", "imports a global")
                } else {
                    self.pop_mark()?;
                    self.pop_push(0, 1)?;
                    Event::Act("INST", "instantiates a class")
                }
            }
            STACK_GLOBAL => {
                self.pop_push(2, 1)?;
                Event::Lookup("STACK_GLOBAL", "imports a global")
            }
            OBJ => {
                if self.pop_mark()? == 0 {
                    return Err(Halt::Invalid);
                }
                self.pop_push(0, 1)?;
                Event::Act("OBJ", "instantiates a class")
            }
            EXT1 | EXT2 | EXT4 => {
                let code = match op {
                    EXT1 => i64::try_from(arg.uint(1)?).unwrap_or(0),
                    EXT2 => i64::try_from(arg.uint(2)?).unwrap_or(0),
                    _ => i64::from(arg.int32()?),
                };
                if code <= 0 {
                    return Err(Halt::Invalid);
                }
                // A global from `copyreg`'s extension registry, which is empty
                // unless a program fills it: `loads` raises on any code then.
                // Taken as a plain push; a call on what it pushes is still
                // found. As evidence of a pickle it would refuse one binary
                // file in 500 (msgpack maps, Flax checkpoints among them,
                // start with 0x82..0x84).
                self.pop_push(0, 1)?
            }
            DICT => {
                if self.pop_mark()? % 2 != 0 {
                    return Err(Halt::Invalid);
                }
                self.pop_push(0, 1)?
            }
            LIST | TUPLE | FROZENSET => {
                self.pop_mark()?;
                self.pop_push(0, 1)?
            }
            APPENDS | ADDITEMS => {
                self.pop_mark_onto()?;
                Event::Plain
            }
            SETITEMS => {
                if self.pop_mark_onto()? % 2 != 0 {
                    return Err(Halt::Invalid);
                }
                Event::Plain
            }
            APPEND => self.pop_push(2, 1)?,
            SETITEM => self.pop_push(3, 1)?,
            TUPLE1 => self.pop_push(1, 1)?,
            TUPLE2 => self.pop_push(2, 1)?,
            TUPLE3 => self.pop_push(3, 1)?,
            READONLY_BUFFER => self.pop_push(1, 1)?,
            GET | BINGET | LONG_BINGET => {
                let key = match op {
                    GET => memo_key(arg.line()?)?,
                    BINGET => arg.uint(1)?,
                    _ => arg.uint(4)?,
                };
                if !self.memo_overflow && !self.memo.contains(&key) {
                    return Err(Halt::Invalid);
                }
                self.pop_push(0, 1)?
            }
            PUT | BINPUT | LONG_BINPUT | MEMOIZE => {
                let key = match op {
                    PUT => memo_key(arg.line()?)?,
                    BINPUT => arg.uint(1)?,
                    LONG_BINPUT => arg.uint(4)?,
                    _ => self.memo.len() as u64,
                };
                self.need(1)?;
                self.memo_put(key);
                Event::Plain
            }
            PROTO => match arg.uint(1)? {
                p @ 0..=5 => Event::Proto(p as u8),
                _ => return Err(Halt::Invalid),
            },
            FRAME => {
                let n = arg.size8()?;
                // CPython reads the whole frame before going on.
                if n.saturating_add(9) > remaining {
                    return Err(Halt::Truncated);
                }
                Event::Plain
            }
            _ => return Err(Halt::Invalid),
        };
        Ok((arg.at, event))
    }

    /// Applies a text opcode whose line ran past every window, so its
    /// argument could not be checked: as loosely as possible.
    pub(super) fn long_line(&mut self, op: u8) -> Result<Event, Halt> {
        match op {
            FLOAT | INT | LONG | STRING | UNICODE | PERSID | GET => self.pop_push(0, 1),
            PUT => {
                self.need(1)?;
                // The key is unknown: every later GET may find it.
                self.memo_overflow = true;
                Ok(Event::Plain)
            }
            _ => Err(Halt::Invalid),
        }
    }

    /// Whether `part` of a text argument too long for one window could
    /// belong to a valid one (`first`: it starts the argument). As loose as
    /// the checks on whole lines: numbers and memo keys keep to their
    /// characters, STRING opens with a quote, PERSID is ASCII.
    pub(super) fn long_line_part(op: u8, part: &[u8], first: bool) -> bool {
        let number = |b: &u8| b.is_ascii_alphanumeric() || b"_+-. \t\r\x0b\x0c".contains(b);
        match op {
            STRING => !first || matches!(part.first(), Some(b'\'' | b'"')),
            INT | LONG | FLOAT => part.iter().all(number),
            GET | PUT => part
                .iter()
                .all(|b| b.is_ascii_digit() || b"_+- \t\r\x0b\x0c".contains(b)),
            PERSID => part.is_ascii(),
            _ => true,
        }
    }

    /// Items above the top MARK.
    fn avail(&self) -> u64 {
        self.depth
            .saturating_sub(self.marks.last().copied().unwrap_or(0))
    }

    fn need(&self, n: u64) -> Result<(), Halt> {
        if self.avail() >= n {
            Ok(())
        } else {
            Err(Halt::Invalid)
        }
    }

    fn pop_push(&mut self, pop: u64, push: u64) -> Result<Event, Halt> {
        self.need(pop)?;
        self.depth = self.depth - pop + push;
        Ok(Event::Plain)
    }

    fn push_if(&mut self, valid: bool) -> Result<Event, Halt> {
        if !valid {
            return Err(Halt::Invalid);
        }
        self.pop_push(0, 1)
    }

    fn skip_push(&mut self, arg: Result<&[u8], Halt>) -> Result<Event, Halt> {
        arg?;
        self.pop_push(0, 1)
    }

    /// Pops to the top MARK; returns how many items were above it.
    fn pop_mark(&mut self) -> Result<u64, Halt> {
        let mark = self.marks.pop().ok_or(Halt::Invalid)?;
        let above = self.depth.saturating_sub(mark);
        self.depth = mark;
        Ok(above)
    }

    /// APPENDS, SETITEMS, ADDITEMS: pops to the top MARK onto the item just
    /// below it, which must lie inside the enclosing frame.
    fn pop_mark_onto(&mut self) -> Result<u64, Halt> {
        let mark = self.marks.pop().ok_or(Halt::Invalid)?;
        if mark <= self.marks.last().copied().unwrap_or(0) {
            return Err(Halt::Invalid);
        }
        let above = self.depth.saturating_sub(mark);
        self.depth = mark;
        Ok(above)
    }

    fn memo_put(&mut self, key: u64) {
        if self.memo.len() >= super::MAX_MEMO {
            self.memo_overflow = true;
        } else {
            self.memo.insert(key);
        }
    }
}
