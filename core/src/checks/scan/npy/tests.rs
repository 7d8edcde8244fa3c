//! npy headers as np.save writes them, with object, structured and plain dtypes.

use super::{Header, MAGIC, inspect};

/// An npy file's first bytes as np.save writes them (version 1.0).
fn npy(dict: &str) -> Vec<u8> {
    let mut header = dict.as_bytes().to_vec();
    while !(10 + header.len() + 1).is_multiple_of(64) {
        header.push(b' ');
    }
    header.push(b'\n');
    let mut out = MAGIC.to_vec();
    out.extend_from_slice(&[1, 0]);
    out.extend_from_slice(&(header.len() as u16).to_le_bytes());
    out.extend_from_slice(&header);
    out
}

fn unsafe_(dict: &str) -> bool {
    matches!(inspect(&npy(dict)), Header::Unsafe(_))
}

#[test]
fn object_dtypes_are_refused() {
    for descr in [
        "'O'",
        "'|O'",
        "'<O'",
        "'O8'",
        "'>O'",
        "'object'",
        "'f4,O'",
        "\"|O\"",
        "('|O', (2,))",
        "'\\x4f'",
    ] {
        let dict = format!("{{'descr': {descr}, 'fortran_order': False, 'shape': (3,), }}");
        assert!(unsafe_(&dict), "{dict}");
    }
    assert!(unsafe_(
        "{'descr': [('a', '<f4'), ('b', '|O')], 'fortran_order': False, 'shape': (2,), }"
    ));
    assert!(unsafe_(
        "{'descr': [('a', [('x', '<i4'), ('y', 'O')])], 'fortran_order': False, 'shape': (2,), }"
    ));
    assert!(unsafe_(
        "{'descr': [(('title', 'a'), '|O', (2, 2))], 'fortran_order': False, 'shape': (2,), }"
    ));
    // numpy keeps the last of two `descr` keys; both are checked.
    assert!(unsafe_(
        "{'descr': '<f4', 'descr': '|O', 'fortran_order': False, 'shape': (3,), }"
    ));
    assert_eq!(
        inspect(&npy(
            "{'descr': '|O', 'fortran_order': False, 'shape': (3,), }"
        )),
        Header::Unsafe(
            "a NumPy array of Python objects (dtype `|O`), which np.load unpickles".into()
        )
    );
}

#[test]
fn plain_dtypes_pass() {
    for descr in [
        "'<f4'",
        "'|u1'",
        "'<i8'",
        "'<M8[ns]'",
        "'|b1'",
        "'<U10'",
        "'|S3'",
        "'<c16'",
    ] {
        let dict = format!("{{'descr': {descr}, 'fortran_order': False, 'shape': (3, 4), }}");
        assert_eq!(inspect(&npy(&dict)), Header::Safe, "{dict}");
    }
    // Field names may say anything.
    let dict = "{'descr': [('Object', '<f4'), ('O', '<i8'), ('', '|V4')], 'fortran_order': True, 'shape': (), }";
    assert_eq!(inspect(&npy(dict)), Header::Safe);
}

#[test]
fn versions_lengths_and_oddities() {
    assert_eq!(inspect(b"\x93NUMPZ\x01\x00"), Header::NotNpy);
    assert_eq!(inspect(b"\x93NUMPY\x04\x00\x10\x00"), Header::NotNpy);
    assert_eq!(
        inspect(b"\x93NUMPY\x01\x00\x76\x00{'descr'"),
        Header::Need(128)
    );
    let mut v2 = MAGIC.to_vec();
    v2.extend_from_slice(&[2, 0, 0, 0, 2, 0]);
    assert!(
        matches!(inspect(&v2), Header::Unsafe(_)),
        "a 64 KiB+ header is not checked"
    );
    let mut v3 = MAGIC.to_vec();
    let dict = b"{'descr': '|O', 'fortran_order': False, 'shape': (1,)}\n";
    v3.extend_from_slice(&[3, 0]);
    v3.extend_from_slice(&(dict.len() as u32).to_le_bytes());
    v3.extend_from_slice(dict);
    assert!(matches!(inspect(&v3), Header::Unsafe(_)));
    // Unreadable headers are refused; deep nesting does not recurse without bound.
    assert!(unsafe_(
        "{'descr': u'<f4', 'fortran_order': False, 'shape': (3,)}"
    ));
    assert!(unsafe_(&format!(
        "{{'descr': {}'<f4'{}, 'shape': ()}}",
        "[".repeat(5000),
        "]".repeat(5000)
    )));
    assert!(unsafe_("{'descr': '<f4' # comment\n, 'shape': ()}"));
}
