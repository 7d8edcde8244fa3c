//! The recogniser against pickles Python's own `pickle.dumps` wrote, hand-made
//! attack streams, and files that must not look like pickles.

use super::{Recogniser, Walk};

/// `pickle.dumps(R(), protocol=p)` where `R.__reduce__` returns
/// `(os.system, ("echo pwned",))`.
const REDUCE: [&[u8]; 6] = [
    b"cposix\nsystem\np0\n(Vecho pwned\np1\ntp2\nRp3\n.",
    b"cposix\nsystem\nq\x00(X\n\x00\x00\x00echo pwnedq\x01tq\x02Rq\x03.",
    b"\x80\x02cposix\nsystem\nq\x00X\n\x00\x00\x00echo pwnedq\x01\x85q\x02Rq\x03.",
    b"\x80\x03cposix\nsystem\nq\x00X\n\x00\x00\x00echo pwnedq\x01\x85q\x02Rq\x03.",
    b"\x80\x04\x95%\x00\x00\x00\x00\x00\x00\x00\x8c\x05posix\x94\x8c\x06system\x94\x93\x94\x8c\necho pwned\x94\x85\x94R\x94.",
    b"\x80\x05\x95%\x00\x00\x00\x00\x00\x00\x00\x8c\x05posix\x94\x8c\x06system\x94\x93\x94\x8c\necho pwned\x94\x85\x94R\x94.",
];

/// `pickle.dumps([1, 'a', {'b': 2.0}, None, True, (1, 2)], protocol=p)`.
const DATA: [&[u8]; 6] = [
    b"(lp0\nI1\naVa\np1\na(dp2\nVb\np3\nF2.0\nsaNaI01\na(I1\nI2\ntp4\na.",
    b"]q\x00(K\x01X\x01\x00\x00\x00aq\x01}q\x02X\x01\x00\x00\x00bq\x03G@\x00\x00\x00\x00\x00\x00\x00sNI01\n(K\x01K\x02tq\x04e.",
    b"\x80\x02]q\x00(K\x01X\x01\x00\x00\x00aq\x01}q\x02X\x01\x00\x00\x00bq\x03G@\x00\x00\x00\x00\x00\x00\x00sN\x88K\x01K\x02\x86q\x04e.",
    b"\x80\x03]q\x00(K\x01X\x01\x00\x00\x00aq\x01}q\x02X\x01\x00\x00\x00bq\x03G@\x00\x00\x00\x00\x00\x00\x00sN\x88K\x01K\x02\x86q\x04e.",
    b"\x80\x04\x95#\x00\x00\x00\x00\x00\x00\x00]\x94(K\x01\x8c\x01a\x94}\x94\x8c\x01b\x94G@\x00\x00\x00\x00\x00\x00\x00sN\x88K\x01K\x02\x86\x94e.",
    b"\x80\x05\x95#\x00\x00\x00\x00\x00\x00\x00]\x94(K\x01\x8c\x01a\x94}\x94\x8c\x01b\x94G@\x00\x00\x00\x00\x00\x00\x00sN\x88K\x01K\x02\x86\x94e.",
];

/// The verdict on a whole stream held in memory.
fn verdict(bytes: &[u8]) -> Walk {
    Recogniser::new().walk(bytes, 0, bytes.len() as u64)
}

fn is_pickle(bytes: &[u8]) -> bool {
    matches!(verdict(bytes), Walk::Pickle(_))
}

/// A small deterministic generator, so property checks need no crate.
struct XorShift(u64);

impl XorShift {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    fn bytes(&mut self, n: usize) -> Vec<u8> {
        (0..n).map(|_| self.next() as u8).collect()
    }
}

#[test]
fn every_protocol_that_calls_is_refused() {
    for (p, stream) in REDUCE.iter().enumerate() {
        let Walk::Pickle(what) = verdict(stream) else {
            panic!("protocol {p} not recognised")
        };
        // Protocols 4 and 5 open with PROTO and FRAME: that is enough.
        let expected = match p {
            0..=3 => "imports `posix.system`",
            _ => "a pickle stream (protocol",
        };
        assert!(what.contains(expected), "{what}");
    }
    // Without PROTO, the STACK_GLOBAL is what gives it away.
    assert_eq!(
        verdict(&REDUCE[4][2..]),
        Walk::Pickle(
            "a pickle stream (protocol 4) that imports a global (STACK_GLOBAL at byte 26)".into()
        )
    );
    assert_eq!(
        verdict(b"\x80\x02cposix\nsystem\nq\x00."),
        Walk::Pickle(
            "a pickle stream (protocol 2) that imports `posix.system` (GLOBAL at byte 2)".into()
        )
    );
}

#[test]
fn complete_data_only_pickles_are_refused() {
    for (p, stream) in DATA.iter().enumerate() {
        // From protocol 2 on, PROTO opens the stream and says what it is.
        let what = match p {
            0 | 1 => format!("a complete pickle stream (protocol {p})"),
            _ => format!("a pickle stream (protocol {p})"),
        };
        assert_eq!(verdict(stream), Walk::Pickle(what), "{p}");
    }
}

#[test]
fn attacks_on_the_old_sniffer_are_refused() {
    // Protocol 2 with its PROTO opcode stripped.
    assert!(is_pickle(&REDUCE[2][2..]));
    assert!(is_pickle(&DATA[2][2..]));
    // Starting with MARK: protocol 0 INST.
    let inst = b"(S'echo pwned'\nios\nsystem\n.";
    assert_eq!(
        verdict(inst),
        Walk::Pickle(
            "a pickle stream (protocol 0) that instantiates `os.system` (INST at byte 15)".into()
        )
    );
    // OBJ, NEWOBJ, NEWOBJ_EX, BUILD, BINPERSID, a call on EXT1, PERSID then a call.
    for stream in [
        &b"(N)o."[..],
        b"NN\x81.",
        b"NNN\x92.",
        b"NNb.",
        b"NQN",
        b"\x82\x01)R",
        b"Pstorage_0\n(S'x'\ntR",
    ] {
        assert!(is_pickle(stream), "{stream:?}");
    }
}

#[test]
fn text_and_other_formats_are_not_pickles() {
    let safetensors = b"\x58\x01\x00\x00\x00\x00\x00\x00{\"__metadata__\":{\"format\":\"pt\"},\"w\":{\"dtype\":\"F32\"}}";
    let png = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x10";
    let jpeg = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00";
    let gguf =
        b"GGUF\x03\x00\x00\x00\x2a\x01\x00\x00\x00\x00\x00\x00\x07\x00\x00\x00\x00\x00\x00\x00";
    let onnx = b"\x08\x07\x12\x07pytorch\x1a\x052.1.0:\x9a\x01\n";
    let zip = b"PK\x03\x04\x14\x00\x00\x00\x00\x00";
    let samples: &[&[u8]] = &[
        b"# My model\n\nThis model was trained on...\n",
        b"---\nlicense: apache-2.0\n---\n# Model card\n",
        b"{\n  \"architectures\": [\"LlamaForCausalLM\"],\n  \"hidden_size\": 4096\n}\n",
        b"cat\ndog\nelephant\n",
        b"cats\ndogs\n",
        b"[PAD]\n[unused0]\n[CLS]\n",
        b"#version: 0.2\n\xc4\xa0 t\n\xc4\xa0 a\n",
        b"PyTorch implementation of a transformer\n",
        b"PyYAML\n======\n\nA YAML parser.\n",
        b"PyYAML-6.0.dist-info/METADATA,sha256=Q56A1jQxEnz,2094\nPyYAML-6.0.dist-info/RECORD,,\n",
        b"Copyright (c) 2024 The Authors. All rights reserved. Licensed under the Apache License, Version 2.0. See LICENSE.\n",
        b"(c) 2024 The Authors\n",
        b"import torch\n",
        safetensors,
        png,
        jpeg,
        gguf,
        onnx,
        zip,
        b"",
        b"\x00\x00\x00\x00",
    ];
    for sample in samples {
        assert_eq!(
            verdict(sample),
            Walk::NotPickle,
            "{}",
            String::from_utf8_lossy(sample)
        );
        assert_eq!(
            Recogniser::walk_head(sample, true),
            Walk::NotPickle,
            "{}",
            String::from_utf8_lossy(sample)
        );
        if !sample.starts_with(b"cat") {
            assert_eq!(
                Recogniser::walk_head(sample, false),
                Walk::NotPickle,
                "{}",
                String::from_utf8_lossy(sample)
            );
        }
    }
}

#[test]
fn a_global_counts_once_a_valid_opcode_follows() {
    assert!(is_pickle(b"cos\nsystem\n)"));
    // What follows is not a pickle opcode, or the stack lacks what it needs.
    assert!(!is_pickle(b"cos\nsystem\n\x00"));
    assert!(!is_pickle(b"cos\nsystem\ne"));
    // Names must be Python identifiers.
    assert!(!is_pickle(b"cos system\nrun\n)"));
    assert!(!is_pickle(b"c\nsystem\n)"));
    // A run of GLOBALs is a list of identifiers until something else follows.
    assert!(!is_pickle(
        b"ctl_boot\nctl_bymib\nctl_byname\nctl_bymibname\n"
    ));
    assert!(!is_pickle(
        b"ctl_boot\nctl_bymib\nctl_byname\nctl_bymibname\ndalloc\n"
    ));
    assert!(is_pickle(
        b"ctl_boot\nctl_bymib\nctl_byname\nctl_bymibname\nN"
    ));
    // A stream that ends without STOP has at most imported: a pickle only
    // if it declared its protocol. A bounded head that ends is undecided:
    // a lookup is enough there.
    assert!(!is_pickle(b"cats\ndogs\n"));
    assert!(is_pickle(b"\x80\x02"));
    assert!(!is_pickle(b"]q\x00(K\x01"));
    assert!(matches!(
        Recogniser::walk_head(b"cos\nsystem\n", false),
        Walk::Pickle(_)
    ));
    assert_eq!(
        Recogniser::walk_head(b"cos\nsystem\n", true),
        Walk::NotPickle
    );
}

#[test]
fn counted_data_past_the_window_is_stepped_over() {
    // Protocol 1 (no PROTO): a 100 000-byte string, then a call.
    let mut stream = b"(X\xa0\x86\x01\x00".to_vec();
    stream.extend(std::iter::repeat_n(b'a', 100_000));
    stream.extend_from_slice(b"cos\nsystem\n(S'echo'\ntR.");
    let end = stream.len() as u64;
    let mut walk = Recogniser::new();
    assert_eq!(walk.walk(&stream[..4096], 0, end), Walk::NeedBytes(100_006));
    assert!(matches!(
        walk.walk(&stream[100_006..], 100_006, end),
        Walk::Pickle(_)
    ));
    // The same head alone: undecided, and not enough evidence.
    assert_eq!(
        Recogniser::walk_head(&stream[..4096], false),
        Walk::NotPickle
    );
    // A text argument longer than any window is followed to its newline.
    let mut long = b"V".to_vec();
    long.extend(std::iter::repeat_n(0u8, 70_000));
    long.extend_from_slice(b"\ncos\nsystem\n(S'echo'\ntR.");
    let end = long.len() as u64;
    let mut walk = Recogniser::new();
    assert_eq!(walk.walk(&long[..65536], 0, end), Walk::NeedBytes(65536));
    assert!(matches!(
        walk.walk(&long[65536..], 65536, end),
        Walk::Pickle(_)
    ));
    // A long line that cannot be a number is not followed.
    let mut digits = b"I".to_vec();
    digits.extend(std::iter::repeat_n(b'7', 70_000));
    let end = digits.len() as u64 + 100;
    let mut walk = Recogniser::new();
    assert_eq!(walk.walk(&digits[..65536], 0, end), Walk::NeedBytes(65536));
    digits[100] = b'/';
    assert_eq!(
        Recogniser::new().walk(&digits[..65536], 0, end),
        Walk::NotPickle
    );
}

#[test]
fn a_data_only_pickle_then_another_stream() {
    let data = DATA[1];
    let mut then_junk = data.to_vec();
    then_junk.extend_from_slice(b"\nrest of the file");
    assert_eq!(verdict(&then_junk), Walk::NotPickle);
    let mut then_call = data.to_vec();
    then_call.extend_from_slice(REDUCE[0]);
    assert!(is_pickle(&then_call));
    // A memo key from the first stream may be read by the second.
    let mut memo = data.to_vec();
    memo.extend_from_slice(b"h\x00)R");
    assert!(is_pickle(&memo));
}

#[test]
fn memo_and_stack_rules() {
    assert!(!is_pickle(b"g0\n."), "GET of an unset key");
    assert!(!is_pickle(b"h\x00."));
    assert!(is_pickle(b"Np0\ng0\n0."), "PUT then GET");
    assert!(
        is_pickle(b"N\x94h\x00R"),
        "MEMOIZE then BINGET, then REDUCE"
    );
    assert!(!is_pickle(b"Np-1\n."), "negative PUT");
    assert!(!is_pickle(b"R"), "REDUCE on an empty stack");
    assert!(!is_pickle(b"(Nd."), "DICT of an odd count");
    assert!(!is_pickle(b"(Ne."), "APPENDS with nothing below the MARK");
    assert!(!is_pickle(b"\x80\x06N."), "an unknown protocol");
    assert!(!is_pickle(b"\x82\x00."), "extension code 0");
    assert!(
        !is_pickle(b"\x82\xa6params\x81\xa5dense\n\x00"),
        "an extension code, then no pickle (a msgpack map)"
    );
    assert!(
        !is_pickle(b"\x83\x01\x00q\x01"),
        "an extension code alone is not evidence"
    );
    assert!(
        !is_pickle(b"T\xff\xff\xff\xffN."),
        "a negative BINSTRING length"
    );
    assert!(!is_pickle(b"\x8c\x01\xff."), "invalid UTF-8");
    assert!(
        is_pickle(b"\x8c\x03\xed\xa0\x80."),
        "an encoded surrogate passes"
    );
    assert!(
        is_pickle(b"(0N."),
        "POP with nothing above the MARK pops the MARK"
    );
    assert!(is_pickle(&[b'('; 70_000]), "nesting past the walk's bound");
    assert!(!is_pickle(&[b'('; 1000]), "a run of MARKs that ends");
}

#[test]
fn truncated_pickles_never_panic() {
    for stream in REDUCE.iter().chain(DATA.iter()) {
        for cut in 0..stream.len() {
            verdict(&stream[..cut]);
            Recogniser::walk_head(&stream[..cut], false);
            let mut walk = Recogniser::new();
            let _ = walk.walk(&stream[..cut], 0, stream.len() as u64);
        }
    }
    // Protocol 2+ prefixes are refused for their PROTO even when cut short.
    assert!(is_pickle(&REDUCE[4][..20]));
}

#[test]
fn random_bytes_never_panic_and_are_rarely_pickles() {
    let mut rng = XorShift(0x9E37_79B9_7F4A_7C15);
    let mut found = 0;
    for i in 0..20_000 {
        let bytes = rng.bytes(1 + i % 300);
        if let Walk::Pickle(what) = verdict(&bytes) {
            found += 1;
            if std::env::var("SHOW").is_ok() {
                eprintln!("{what}: {:?}", &bytes[..bytes.len().min(12)]);
            }
        }
        Recogniser::walk_head(&bytes, i % 2 == 0);
    }
    assert!(
        found < 20,
        "{found} of 20000 random strings taken for pickles"
    );
    // Mutated real pickles exercise the deeper paths.
    for _ in 0..20_000 {
        let base = REDUCE[(rng.next() % 6) as usize];
        let mut bytes = base.to_vec();
        for _ in 0..1 + rng.next() % 4 {
            let at = (rng.next() as usize) % bytes.len();
            bytes[at] = rng.next() as u8;
        }
        verdict(&bytes);
        Recogniser::walk_head(&bytes, false);
    }
}
