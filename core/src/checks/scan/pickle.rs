//! An opcode-level recogniser for Python pickle streams, protocols 0 to 5.
//!
//! It walks a stream the way `pickle.loads` reads it — every opcode of
//! CPython's `pickletools`, with its exact argument format — over a symbolic
//! stack (depth, MARK positions and memo keys; no objects are built). The
//! walk ends as soon as the stream is known to act when loaded (a call: REDUCE,
//! BUILD, INST, OBJ, NEWOBJ, NEWOBJ_EX), to look something up followed by
//! more valid pickle (GLOBAL, STACK_GLOBAL, BINPERSID), to be a
//! complete pickle, or to be invalid. Invalid means "not a pickle": `loads`
//! would raise before any call ran. The opcode table lives in
//! `pickle/opcodes.rs`, the argument readers in `pickle/args.rs`.

mod args;
mod opcodes;
#[cfg(test)]
mod tests;

use std::collections::HashSet;

use args::Halt;
use opcodes::Event;

/// At most this many memo keys are tracked; past it every GET is allowed.
const MAX_MEMO: usize = 1 << 16;

/// Where a walk stands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Walk {
    /// A pickle; the words say what loading it does.
    Pickle(String),
    /// Not a pickle, or one that raises before anything runs.
    NotPickle,
    /// Undecided: the next opcode starts at this offset of the stream.
    NeedBytes(u64),
}

/// The state of one walk through a stream, fed window by window.
#[derive(Debug, Default)]
pub struct Recogniser {
    /// Offset of the next opcode.
    pos: u64,
    /// Where the current pickle began (a data-only pickle may be followed by another).
    stream_start: u64,
    depth: u64,
    marks: Vec<u64>,
    memo: HashSet<u64>,
    memo_overflow: bool,
    /// The protocol a PROTO opcode at the start of the stream declared.
    declared: Option<u8>,
    /// The highest protocol any walked opcode belongs to.
    level: u8,
    /// What the last piece of evidence says, as the end of a finding: a
    /// lookup (see `Event::Lookup`), "that imports `os.system` (GLOBAL at
    /// byte 0)", or a PROTO that opens the stream, "".
    evidence: Option<String>,
    /// The `module.name` the last GLOBAL or INST named.
    global: Option<String>,
    /// The previous opcode was evidence: the stream is a pickle once
    /// another valid opcode follows.
    after_evidence: bool,
    /// A text opcode (and its offset) whose line runs on past the window.
    long_line: Option<(u8, u64)>,
    /// Only a head of the stream can be read: `walk_head`.
    head_only: bool,
}

impl Recogniser {
    pub fn new() -> Self {
        Self::default()
    }

    /// Walks the opcodes in `window`, which holds the stream's bytes from
    /// offset `at`; the stream is `end` bytes long. Returns `NeedBytes` when
    /// the next opcode lies past the window: call again with a window that
    /// starts there.
    pub fn walk(&mut self, window: &[u8], at: u64, end: u64) -> Walk {
        let window_end = at.saturating_add(window.len() as u64);
        loop {
            if let Some((op, op_start)) = self.long_line {
                // Inside a text argument longer than a window: find its end.
                let rest = offset_in(window, at, self.pos).unwrap_or_default();
                let newline = rest.iter().position(|&b| b == b'\n');
                if !Self::long_line_part(op, &rest[..newline.unwrap_or(rest.len())], false) {
                    return Walk::NotPickle;
                }
                let Some(n) = newline else {
                    self.pos = window_end.max(self.pos);
                    return if self.pos >= end {
                        self.truncated()
                    } else {
                        Walk::NeedBytes(self.pos)
                    };
                };
                self.pos += n as u64 + 1;
                self.long_line = None;
                match self.long_line(op) {
                    Ok(event) => match self.after(op, event, op_start, end) {
                        Some(decided) => return decided,
                        None => continue,
                    },
                    Err(_) => return Walk::NotPickle,
                }
            }
            let start = self.pos;
            if start >= end {
                return self.truncated();
            }
            let Some(buf) = offset_in(window, at, start).filter(|b| !b.is_empty()) else {
                return Walk::NeedBytes(start);
            };
            let op = buf[0];
            let (len, event) = match self.step(buf, end - start) {
                Ok(stepped) => stepped,
                Err(Halt::Invalid) => return Walk::NotPickle,
                Err(Halt::Truncated) => return self.truncated(),
                Err(Halt::Short) if start > at || self.head_only => return Walk::NeedBytes(start),
                // A text argument longer than a whole window.
                Err(Halt::Short) => match op {
                    b'F' | b'I' | b'L' | b'S' | b'V' | b'P' | b'g' | b'p'
                        if Self::long_line_part(op, &buf[1..], true) =>
                    {
                        self.long_line = Some((op, start));
                        self.pos = window_end;
                        return Walk::NeedBytes(window_end);
                    }
                    // Module and attribute names that long do not import;
                    // other arguments went wrong already.
                    _ => return Walk::NotPickle,
                },
            };
            self.pos = start + len;
            if let Some(decided) = self.after(op, event, start, end) {
                return decided;
            }
        }
    }

    /// Walks a bounded head of a stream that cannot be read further, such as
    /// the first inflated bytes of a zip member; `complete` says whether the
    /// head is the whole stream.
    pub fn walk_head(head: &[u8], complete: bool) -> Walk {
        let mut walk = Self {
            head_only: true,
            ..Self::default()
        };
        let end = if complete {
            head.len() as u64
        } else {
            u64::MAX
        };
        match walk.walk(head, 0, end) {
            Walk::NeedBytes(_) => walk.window_end(),
            decided => decided,
        }
    }

    /// The verdict when the caller's read budget runs out in a stream that
    /// is still valid pickle: only pickles stay valid that long.
    pub fn give_up(&self) -> Walk {
        let tail = self
            .evidence
            .as_deref()
            .unwrap_or("longer than this registry checks");
        Walk::Pickle(self.describe(tail))
    }

    /// Decides what an opcode that walked cleanly means for the stream.
    fn after(&mut self, op: u8, event: Event, start: u64, end: u64) -> Option<Walk> {
        self.level = self.level.max(opcodes::level(op));
        if let Event::Act(name, verb) = event {
            let verb = match (name, self.global.take()) {
                ("INST", Some(class)) => format!("instantiates `{class}`"),
                _ => verb.to_string(),
            };
            return Some(Walk::Pickle(
                self.describe(&format!("that {verb} ({name} at byte {start})")),
            ));
        }
        if self.after_evidence {
            match event {
                // A run of GLOBALs is what a list of identifiers reads as
                // (`ctl_boot\nctl_bymib\n...`): evidence once another opcode
                // follows. A lookup after PROTO says more than PROTO did.
                Event::Lookup(name, what) => {
                    let phrase = self.lookup_phrase(name, what, start);
                    if self.evidence.as_deref() == Some("") {
                        self.evidence = Some(phrase);
                    }
                    return None;
                }
                _ => {
                    let tail = self.evidence.as_deref().unwrap_or_default();
                    return Some(Walk::Pickle(self.describe(tail)));
                }
            }
        }
        match event {
            Event::Lookup(name, what) => {
                self.evidence = Some(self.lookup_phrase(name, what, start));
                self.after_evidence = true;
            }
            // A PROTO that opens a stream says what it is (the two bytes
            // that the registry's first pickle check looked for).
            Event::Proto(protocol) if start == self.stream_start => {
                self.declared = Some(protocol);
                self.evidence = Some(String::new());
                self.after_evidence = true;
            }
            Event::Stop => {
                let well_formed = self.depth == 1 && self.marks.is_empty();
                // A data-only stream (without PROTO, which is reported
                // already) counts when it is all there is; otherwise what
                // follows is walked as a new stream (`pickle.load` may be
                // called again), for text holds such prefixes ("G" + 8
                // bytes + "." reads as BINFLOAT, STOP).
                if well_formed && self.pos == end {
                    return Some(Walk::Pickle(format!(
                        "a complete pickle stream (protocol {})",
                        self.protocol()
                    )));
                }
                self.restart();
            }
            _ => {}
        }
        None
    }

    /// "that imports `os.system` (GLOBAL at byte 0)".
    fn lookup_phrase(&mut self, name: &str, what: &str, start: u64) -> String {
        match (name, self.global.take()) {
            ("GLOBAL", Some(global)) => format!("that imports `{global}` ({name} at byte {start})"),
            _ => format!("that {what} ({name} at byte {start})"),
        }
    }

    /// Starts over after a STOP. The memo stays: an `Unpickler` that loads
    /// twice keeps it.
    fn restart(&mut self) {
        self.stream_start = self.pos;
        self.depth = 0;
        self.marks.clear();
        self.declared = None;
    }

    /// The stream ends inside an opcode, or without STOP: `loads` raises
    /// before any call (a call would have been reported), having at most
    /// imported. A stream that declared its protocol is still refused as the
    /// pickle it is; a list of identifiers that ends is not.
    fn truncated(&self) -> Walk {
        match self.declared {
            Some(_) => Walk::Pickle(self.describe("cut short")),
            None => Walk::NotPickle,
        }
    }

    /// A bounded head ended inside a stream that is still valid: what
    /// follows cannot be read, so a lookup or a PROTO is enough.
    fn window_end(&self) -> Walk {
        if self.evidence.is_some() {
            return self.give_up();
        }
        Walk::NotPickle
    }

    fn protocol(&self) -> u8 {
        self.declared.unwrap_or(self.level)
    }

    fn describe(&self, tail: &str) -> String {
        let protocol = self.protocol();
        if tail.is_empty() {
            return format!("a pickle stream (protocol {protocol})");
        }
        format!("a pickle stream (protocol {protocol}) {tail}")
    }
}

/// The bytes of `window` (which starts at `at`) from offset `pos` on.
fn offset_in(window: &[u8], at: u64, pos: u64) -> Option<&[u8]> {
    window.get(usize::try_from(pos.checked_sub(at)?).ok()?..)
}
