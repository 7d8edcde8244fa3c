//! Wire types shared by the Granary server and the `granary` CLI.
//!
//! Everything here is plain data and pure functions: validated names
//! ([`ModelId`]), file paths inside a model ([`RepoPath`]), content digests
//! ([`Sha256`]), the revision [`Manifest`] whose canonical bytes define a
//! revision id, the safetensors header summary, and the JSON bodies of the
//! native API ([`api`]), and the content, license and card checks of a push
//! ([`checks`]). No database, HTTP or tensor library is compiled in.

pub mod api;
pub mod checks;
pub mod digest;
pub mod log;
pub mod manifest;
pub mod model_index;
pub mod names;
pub mod paths;
pub mod roles;
pub mod safetensors_header;
pub mod signing;
pub mod time;

pub use digest::{Sha256, Sha256Hasher};
pub use manifest::{FileEntry, LicenseInfo, Manifest, RevisionRef};
pub use names::{ModelId, NameError};
pub use paths::{PathError, RepoPath};
pub use roles::Role;
