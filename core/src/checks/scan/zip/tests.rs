//! Zip archives built byte by byte: PyTorch-like checkpoints, `.npz` files,
//! polyglots, ZIP64 records, and archives that must pass.

use super::super::Finding;
use super::{MAX_CHECKED_MEMBERS, scan};

const STORED: u16 = 0;
const DEFLATED: u16 = 8;

/// A zip archive of `(name, content, method)` members, as `zipfile` lays
/// one out (CRCs left zero: nothing here checks them).
fn zip(members: &[(&str, &[u8], u16)]) -> Vec<u8> {
    let mut out = Vec::new();
    let mut central = Vec::new();
    for &(name, content, method) in members {
        let data = match method {
            DEFLATED => miniz_oxide::deflate::compress_to_vec(content, 6),
            _ => content.to_vec(),
        };
        let offset = out.len() as u32;
        let sizes = [data.len() as u32, content.len() as u32];
        out.extend_from_slice(b"PK\x03\x04\x14\x00\x00\x00");
        out.extend_from_slice(&method.to_le_bytes());
        out.extend_from_slice(&[0; 8]);
        sizes
            .iter()
            .for_each(|s| out.extend_from_slice(&s.to_le_bytes()));
        out.extend_from_slice(&(name.len() as u16).to_le_bytes());
        out.extend_from_slice(&[0, 0]);
        out.extend_from_slice(name.as_bytes());
        out.extend_from_slice(&data);
        central.extend_from_slice(b"PK\x01\x02\x14\x00\x14\x00\x00\x00");
        central.extend_from_slice(&method.to_le_bytes());
        central.extend_from_slice(&[0; 8]);
        sizes
            .iter()
            .for_each(|s| central.extend_from_slice(&s.to_le_bytes()));
        central.extend_from_slice(&(name.len() as u16).to_le_bytes());
        central.extend_from_slice(&[0; 12]);
        central.extend_from_slice(&offset.to_le_bytes());
        central.extend_from_slice(name.as_bytes());
    }
    let (cd_offset, count) = (out.len() as u32, members.len() as u16);
    out.extend_from_slice(&central);
    out.extend_from_slice(b"PK\x05\x06\x00\x00\x00\x00");
    out.extend_from_slice(&count.to_le_bytes());
    out.extend_from_slice(&count.to_le_bytes());
    out.extend_from_slice(&(central.len() as u32).to_le_bytes());
    out.extend_from_slice(&cd_offset.to_le_bytes());
    out.extend_from_slice(&[0, 0]);
    out
}

/// An npy file of `descr` with a little data after the header.
fn npy(descr: &str) -> Vec<u8> {
    let mut header =
        format!("{{'descr': {descr}, 'fortran_order': False, 'shape': (2,), }}").into_bytes();
    header.resize(117, b' ');
    header.push(b'\n');
    let mut out = b"\x93NUMPY\x01\x00\x76\x00".to_vec();
    out.extend_from_slice(&header);
    out.extend_from_slice(b"\x80\x02]q\x00(K\x01K\x02e.");
    out
}

fn check(bytes: &[u8]) -> Option<Finding> {
    let source = bytes.to_vec();
    let head = &bytes[..bytes.len().min(65536)];
    match block_on(scan(&source, head)) {
        Ok(found) => found,
        Err(never) => match never {},
    }
}

/// Runs a future that never waits (sources in memory are ready at once).
fn block_on<F: std::future::Future>(future: F) -> F::Output {
    let mut future = std::pin::pin!(future);
    let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
    loop {
        if let std::task::Poll::Ready(out) = future.as_mut().poll(&mut cx) {
            return out;
        }
    }
}

fn torch_like(method: u16) -> Vec<u8> {
    let storage = vec![0u8; 8192];
    zip(&[
        ("archive/data/0", &storage, method),
        ("archive/data/1", &storage, method),
        ("archive/data.pkl", b"\x80\x02}q\x00.", method),
        ("archive/version", b"3\n", method),
    ])
}

#[test]
fn pytorch_checkpoints_are_refused_wherever_data_pkl_lies() {
    for method in [STORED, DEFLATED] {
        let found = check(&torch_like(method)).expect("refused");
        assert_eq!(
            found.what,
            "a zip archive with the pickle member `archive/data.pkl` (a PyTorch checkpoint)"
        );
    }
    let joblib = zip(&[("model/Model.PICKLE", b"abc", STORED)]);
    assert!(check(&joblib).is_some_and(|f| f.what.contains("`model/Model.PICKLE`")));
}

#[test]
fn npz_object_arrays_are_refused_whatever_the_member_name() {
    for method in [STORED, DEFLATED] {
        let npz = zip(&[
            ("a.npy", &npy("'<f4'"), method),
            ("arr_0.npy", &npy("'|O'"), method),
        ]);
        let found = check(&npz).expect("refused");
        assert_eq!(
            found.what,
            "a zip archive whose member `arr_0.npy` is a NumPy array of Python objects (dtype `|O`), which np.load unpickles"
        );
        let renamed = zip(&[("weights", &npy("[('a', '<f4'), ('b', '|O')]"), method)]);
        assert!(check(&renamed).is_some());
        let plain = zip(&[
            ("a.npy", &npy("'<f4'"), method),
            ("b.npy", &npy("'|u1'"), method),
        ]);
        assert_eq!(check(&plain), None);
    }
}

#[test]
fn pickles_under_other_names_are_refused() {
    let pickle =
        b"\x80\x04\x95\x10\x00\x00\x00\x00\x00\x00\x00\x8c\x02os\x94\x8c\x06system\x94\x93\x94.";
    for method in [STORED, DEFLATED] {
        let found = check(&zip(&[
            ("readme.txt", b"hello\n", method),
            ("weights.bin", pickle, method),
        ]))
        .expect("refused");
        assert!(found.what.starts_with(
            "a zip archive whose member `weights.bin` is a pickle stream (protocol 4)"
        ));
    }
}

#[test]
fn archives_without_pickles_pass() {
    let texts = zip(&[
        ("a.txt", b"cat\ndog\nelephant\n", STORED),
        ("b.md", b"# Title\n\nSome text.\n", DEFLATED),
        ("dir/", b"", STORED),
        ("config.json", b"{\"a\": 1}", DEFLATED),
    ]);
    assert_eq!(check(&texts), None);
    assert_eq!(
        check(
            b"PK\x05\x06\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00"
        ),
        None
    );
}

#[test]
fn a_zip_behind_other_bytes_is_found() {
    let mut polyglot = b"just some text\n".repeat(1000);
    polyglot.extend_from_slice(&torch_like(STORED));
    assert!(check(&polyglot).is_some());
}

#[test]
fn zip64_end_records_are_followed() {
    let plain = zip(&[("archive/data.pkl", b"\x80\x02N.", STORED)]);
    let eocd_at = plain.len() - 22;
    let (cd_size, cd_offset) = (
        &plain[eocd_at + 12..eocd_at + 16],
        &plain[eocd_at + 16..eocd_at + 20],
    );
    let mut z = plain[..eocd_at].to_vec();
    let record_at = z.len() as u64;
    z.extend_from_slice(b"PK\x06\x06");
    z.extend_from_slice(&44u64.to_le_bytes());
    z.extend_from_slice(&[45, 0, 45, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
    z.extend_from_slice(&1u64.to_le_bytes());
    z.extend_from_slice(&1u64.to_le_bytes());
    z.extend_from_slice(&u64::from(u32::from_le_bytes(cd_size.try_into().unwrap())).to_le_bytes());
    z.extend_from_slice(
        &u64::from(u32::from_le_bytes(cd_offset.try_into().unwrap())).to_le_bytes(),
    );
    z.extend_from_slice(b"PK\x06\x07\x00\x00\x00\x00");
    z.extend_from_slice(&record_at.to_le_bytes());
    z.extend_from_slice(&1u32.to_le_bytes());
    z.extend_from_slice(
        b"PK\x05\x06\x00\x00\x00\x00\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\x00\x00",
    );
    assert!(check(&z).is_some());
}

#[test]
fn what_cannot_be_checked_is_refused() {
    let mut bzip2 = zip(&[("weights.bin", b"BZh91AY&SY", STORED)]);
    // Set the method to 12 (bzip2) in the local header and the central directory.
    let cd = bzip2.len() - 22 - 46 - "weights.bin".len();
    bzip2[8] = 12;
    bzip2[cd + 10] = 12;
    assert!(check(&bzip2).is_some_and(|f| f.what.contains("bzip2")));
    let names: Vec<String> = (0..=MAX_CHECKED_MEMBERS)
        .map(|i| format!("{i}.txt"))
        .collect();
    let members: Vec<(&str, &[u8], u16)> = names
        .iter()
        .map(|n| (n.as_str(), &b"text\n"[..], STORED))
        .collect();
    assert!(check(&zip(&members)).is_some_and(|f| f.what.contains("more than 1024 members")));
}

#[test]
fn corrupt_archives_never_panic() {
    let base = torch_like(DEFLATED);
    let mut state = 0x2545_F491_4F6C_DD1Du64;
    for _ in 0..3000 {
        let mut bytes = base.clone();
        for _ in 0..4 {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            // Mostly the central directory and end record, where the offsets are.
            let at = bytes.len() - 1 - (state as usize >> 8) % 200;
            bytes[at] = state as u8;
        }
        check(&bytes);
        check(&bytes[..(state as usize >> 20) % bytes.len()]);
    }
}

#[test]
fn a_local_header_naming_a_pickle_is_refused_without_a_central_directory() {
    let pickle = b"\x80\x02cposix\nsystem\nq\x00.";
    let whole = zip(&[("archive/data.pkl", pickle, STORED)]);
    // Only the first member, as a streaming unzip tool reads it: no end record.
    let cut = &whole[..30 + "archive/data.pkl".len() + pickle.len()];
    let found = check(cut).expect("refused");
    assert!(
        found
            .what
            .contains("first member is the pickle `archive/data.pkl`"),
        "{}",
        found.what
    );
    // A first member of another name is not refused for its name alone.
    let text = zip(&[("notes.txt", b"hello", STORED)]);
    assert!(check(&text[..30 + "notes.txt".len() + 5]).is_none());
}
