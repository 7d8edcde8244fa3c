//! `scan` over whole files: what it refuses, what it passes, and how much
//! of a file it reads.

use std::ops::Range;
use std::sync::atomic::{AtomicU64, Ordering};

use super::{ByteSource, Finding, scan};

/// A file of `len` bytes: `prefix`, then `fill` to the end. Nothing is held
/// in memory but the prefix; the bytes read are counted.
struct Virtual {
    len: u64,
    prefix: Vec<u8>,
    fill: u8,
    read: AtomicU64,
}

impl Virtual {
    fn new(len: u64, prefix: &[u8], fill: u8) -> Self {
        Self {
            len,
            prefix: prefix.to_vec(),
            fill,
            read: AtomicU64::new(0),
        }
    }
}

impl ByteSource for Virtual {
    type Error = std::convert::Infallible;

    fn len(&self) -> u64 {
        self.len
    }

    async fn read(&self, range: Range<u64>) -> Result<Vec<u8>, Self::Error> {
        assert!(
            range.start <= range.end && range.end <= self.len,
            "read {range:?} of {}",
            self.len
        );
        self.read
            .fetch_add(range.end - range.start, Ordering::Relaxed);
        Ok(range
            .map(|i| {
                usize::try_from(i)
                    .ok()
                    .and_then(|i| self.prefix.get(i))
                    .copied()
                    .unwrap_or(self.fill)
            })
            .collect())
    }
}

async fn check(bytes: &[u8]) -> Option<Finding> {
    match scan(bytes).await {
        Ok(found) => found,
        Err(never) => match never {},
    }
}

#[tokio::test]
async fn refuses_pickles_npy_objects_and_zips_of_them() {
    let reduce = b"cposix\nsystem\np0\n(Vecho pwned\np1\ntp2\nRp3\n.";
    assert_eq!(
        check(reduce).await.map(|f| f.what),
        Some("a pickle stream (protocol 0) that imports `posix.system` (GLOBAL at byte 0)".into())
    );
    let mut npy =
        b"\x93NUMPY\x01\x00\x76\x00{'descr': '|O', 'fortran_order': False, 'shape': (2,), }"
            .to_vec();
    npy.resize(127, b' ');
    npy.push(b'\n');
    npy.extend_from_slice(b"\x80\x02]q\x00(K\x01K\x02e.");
    assert!(check(&npy).await.is_some());
}

#[tokio::test]
async fn passes_ordinary_files() {
    let mut safetensors = Vec::new();
    let header = br#"{"__metadata__":{"format":"pt"},"w":{"dtype":"F32","shape":[4],"data_offsets":[0,16]}}"#;
    safetensors.extend_from_slice(&(header.len() as u64).to_le_bytes());
    safetensors.extend_from_slice(header);
    safetensors.extend_from_slice(&[0x3f, 0x80, 0, 0].repeat(4));
    for file in [
        &b"# Model\n\nA model card.\n"[..],
        b"cat\ndog\nelephant\n",
        b"#version: 0.2\nh e\nt h\n",
        b"{\"vocab_size\": 32000}\n",
        &safetensors,
        b"GGUF\x03\x00\x00\x00\x01\x00\x00\x00\x00\x00\x00\x00\x02\x00\x00\x00\x00\x00\x00\x00",
        b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR",
        // A safetensors header of 0x5129 bytes starts with `)Q`; a GGUF file of
        // 0x51xx tensors has `Q` at byte 9 (BINPERSID after a push).
        &[&0x5129u64.to_le_bytes()[..], b"{\"__metadata__\":{}}"].concat(),
        b"GGUF\x03\x00\x00\x00\x00\x51\x00\x00\x00\x00\x00\x00\x02\x00\x00\x00\x00\x00\x00\x00",
        b"",
    ] {
        assert_eq!(check(file).await, None, "{}", String::from_utf8_lossy(file));
    }
}

#[tokio::test]
async fn reads_bounded_ranges_of_a_huge_file() {
    let huge = 50 << 30;
    // A plain file: its head and its tail.
    let zeros = Virtual::new(huge, b"", 0);
    assert_eq!(scan(&zeros).await, Ok(None));
    assert!(zeros.read.load(Ordering::Relaxed) <= 2 * 65536 + 22);
    // A stream that stays valid pickle: refused once the walk's budget is spent.
    let nones = Virtual::new(huge, b"", b'N');
    let found = scan(&nones).await.ok().flatten().expect("refused");
    assert_eq!(
        found.what,
        "a pickle stream (protocol 0) longer than this registry checks"
    );
    assert!(nones.read.load(Ordering::Relaxed) <= 9 << 20);
    // A string of 4 GiB is stepped over, not read.
    let long_string = Virtual::new(huge, b"(B\xff\xff\xff\xff", 0);
    assert_eq!(scan(&long_string).await, Ok(None));
    assert!(long_string.read.load(Ordering::Relaxed) <= 4 * 65536);
}

#[tokio::test]
async fn follows_a_stream_past_its_first_window() {
    let mut stream = b"]q\x00(X\xa0\x86\x01\x00".to_vec();
    stream.extend(std::iter::repeat_n(b'a', 100_000));
    stream.extend_from_slice(b"q\x01cos\nsystem\n(S'echo pwned'\ntR.");
    assert!(
        check(&stream)
            .await
            .is_some_and(|f| f.what.contains("GLOBAL at byte 100011"))
    );
}

#[tokio::test]
async fn reads_an_npy_header_longer_than_the_head() {
    let mut npy = b"\x93NUMPY\x01\x00\xff\xff{'fortran_order': False, 'shape': (2,), ".to_vec();
    npy.resize(65536 + 10 - 40, b' ');
    npy.extend_from_slice(b"'descr': '|O'}");
    npy.resize(65536 + 10 - 1, b' ');
    npy.push(b'\n');
    assert!(
        check(&npy)
            .await
            .is_some_and(|f| f.what.contains("dtype `|O`"))
    );
}

#[test]
fn scan_futures_are_send() {
    fn assert_send<T: Send>(_: &T) {}
    let bytes = vec![0u8; 4];
    assert_send(&scan(&bytes));
}
