//! The checks of a push, run on the local files before the first byte is sent:
//! the same code the server runs on stored blobs (`granary_core::checks`), so a
//! pickle, a safetensors file whose header lies or a missing license fails in
//! milliseconds rather than after uploading gigabytes. The server still checks
//! everything (its license policy too, which only it knows).

use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::ops::Range;
use std::path::Path;
use std::sync::Mutex;

use anyhow::Result;
use granary_core::api::FileInfo;
use granary_core::checks::{self, ContentError, card, license, scan::ByteSource};

use crate::error::{Failure, Kind};
use crate::scan::LocalFile;

/// The largest README.md read for its front matter (as the server).
const MAX_CARD_BYTES: u64 = 1024 * 1024;

/// A local file, read in ranges.
struct Local {
    file: Mutex<File>,
    len: u64,
}

impl ByteSource for Local {
    type Error = std::io::Error;

    fn len(&self) -> u64 {
        self.len
    }

    async fn read(&self, range: Range<u64>) -> Result<Vec<u8>, Self::Error> {
        let mut file = self.file.lock().unwrap_or_else(|e| e.into_inner());
        file.seek(SeekFrom::Start(range.start))?;
        let mut out = Vec::new();
        (&mut *file)
            .take(range.end.saturating_sub(range.start))
            .read_to_end(&mut out)?;
        Ok(out)
    }
}

/// Checks every file's content; the first refusal names the file and why.
pub async fn contents(files: &[LocalFile]) -> Result<()> {
    for f in files {
        let file = File::open(&f.abs).map_err(|e| read_failure(&f.abs, e))?;
        let src = Local {
            file: Mutex::new(file),
            len: f.size,
        };
        match checks::check_file(&f.path, &src, u64::MAX).await {
            Ok(_) => {}
            Err(ContentError::Read(_, e)) => return Err(read_failure(&f.abs, e).into()),
            Err(e) => {
                return Err(Failure::new(Kind::Invalid, format!("cannot push: {e}")).into());
            }
        }
    }
    Ok(())
}

fn read_failure(path: &Path, e: std::io::Error) -> Failure {
    Failure::new(Kind::Other, format!("cannot read {}: {e}", path.display()))
}

/// What the push says about its license.
pub struct LicenseArgs<'a> {
    pub license: Option<&'a str>,
    pub license_name: Option<&'a str>,
}

/// Checks the license the revision will carry, as the server decides it: the
/// flag, else README.md's front matter. `files` are DIR's; `parent` the files
/// the revision keeps from its parent. When README.md comes from the parent and
/// no flag is given, the parent's card decides and the server checks it.
pub fn license(args: &LicenseArgs, files: &[LocalFile], parent: &[FileInfo]) -> Result<()> {
    let invalid = |e: String| Failure::new(Kind::Invalid, format!("cannot push: {e}"));
    let readme = files.iter().find(|f| f.path.as_str() == "README.md");
    let card = match readme {
        Some(f) => {
            let mut text = Vec::new();
            File::open(&f.abs)
                .and_then(|file| file.take(MAX_CARD_BYTES).read_to_end(&mut text))
                .map_err(|e| read_failure(&f.abs, e))?;
            card::front_matter(&String::from_utf8_lossy(&text)).map_err(invalid)?
        }
        None => serde_json::json!({}),
    };
    let id = args
        .license
        .map(str::to_string)
        .or_else(|| card::field(&card, "license").map(str::to_string));
    let Some(id) = id else {
        if readme.is_none() && parent.iter().any(|f| f.path.as_str() == "README.md") {
            return Ok(());
        }
        return Err(invalid(
            "no license: give one (--license apache-2.0) or put `license:` in README.md's YAML front matter".into(),
        )
        .into());
    };
    let name = args
        .license_name
        .map(str::to_string)
        .or_else(|| card::field(&card, "license_name").map(str::to_string));
    let resolved = license::resolve(&id, name.as_deref()).map_err(invalid)?;
    let paths = files
        .iter()
        .map(|f| f.path.as_str())
        .chain(parent.iter().map(|f| f.path.as_str()));
    license::check_license_file(&resolved.info, paths).map_err(invalid)?;
    Ok(())
}
