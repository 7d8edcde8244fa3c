//! Revision signatures in the OpenSSF model signing format (OMS v1.0): what is
//! signed and how a signature is read back, without the cryptography (the
//! server signs, the CLI verifies, each with its ECDSA P-256 library).
//!
//! A signature is a Sigstore bundle (`application/vnd.dev.sigstore.bundle.v0.3+json`)
//! holding a DSSE envelope, whose payload is an in-toto statement:
//! - predicate type `https://model_signing/signature/v1.0`;
//! - one resource per file, `{name, algorithm: "sha256", digest}`, sorted by
//!   name, leaving out the git files `model_signing` ignores by default
//!   ([`ignored_by_default`]);
//! - one subject, `{name, digest: {sha256}}`, whose digest is the SHA-256 of the
//!   resources' digests (raw bytes, in that order). Granary names the subject
//!   `OWNER/NAME@REVISION`, so a signature says which revision it is for; the
//!   `model_signing` tool treats the name as informative.
//!
//! The envelope's signature is over DSSE's pre-authentication encoding
//! ([`pae`]) of the payload, and the bundle names the key by a hint: the
//! SHA-256 of its PEM (SubjectPublicKeyInfo) text, which is also the key's id.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use serde::{Deserialize, Serialize};
use serde_json::json;
use sha2::{Digest, Sha256 as Sha256Hasher};

use crate::{ModelId, Sha256};

pub const BUNDLE_MEDIA_TYPE: &str = "application/vnd.dev.sigstore.bundle.v0.3+json";
pub const PAYLOAD_TYPE: &str = "application/vnd.in-toto+json";
pub const STATEMENT_TYPE: &str = "https://in-toto.io/Statement/v1";
pub const PREDICATE_TYPE: &str = "https://model_signing/signature/v1.0";

/// The paths `model_signing` leaves out unless told otherwise, relative to the model.
pub const DEFAULT_IGNORED: [&str; 4] = [".gitattributes", ".git", ".gitignore", ".github"];

/// Whether `model_signing`'s default options leave `path` out of what they hash.
pub fn ignored_by_default(path: &str) -> bool {
    let first = path.split('/').next().unwrap_or(path);
    match first {
        ".git" | ".github" => true,
        ".gitattributes" | ".gitignore" => first == path,
        _ => false,
    }
}

/// A signed file: its path in the model and its SHA-256.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct SignedFile {
    pub path: String,
    pub sha256: Sha256,
}

/// The subject name of a revision's statement.
pub fn subject_name(model: &ModelId, revision: &str) -> String {
    format!("{model}@{revision}")
}

/// The statement (payload bytes) signed for a revision of `model` holding `files`.
pub fn statement(model: &ModelId, revision: &str, files: &[SignedFile]) -> Vec<u8> {
    let files = signed_in_order(files);
    let resources: Vec<serde_json::Value> = files
        .iter()
        .map(|f| json!({"name": f.path, "algorithm": "sha256", "digest": f.sha256.hex()}))
        .collect();
    let digest = root_digest(files.iter().map(|f| &f.sha256));
    let statement = json!({
        "_type": STATEMENT_TYPE,
        "subject": [{
            "name": subject_name(model, revision),
            "digest": {"sha256": digest},
        }],
        "predicateType": PREDICATE_TYPE,
        "predicate": {
            "serialization": {
                "ignore_paths": DEFAULT_IGNORED,
                "hash_type": "sha256",
                "method": "files",
                "allow_symlinks": false,
            },
            "resources": resources,
        },
    });
    serde_json::to_vec_pretty(&statement).expect("a JSON value serializes")
}

/// The predicate type of Granary's verification attestations.
pub const ATTESTATION_PREDICATE_TYPE: &str = "https://granary.dev/attestations/verification/v1";

/// The root digest of a revision's files: the subject digest of its signature
/// statement ([`statement`]), which its attestations name too.
pub fn model_digest(files: &[SignedFile]) -> String {
    root_digest(signed_in_order(files).iter().map(|f| &f.sha256))
}

/// The files a statement lists, in its order: sorted, the ignored git files left out.
fn signed_in_order(files: &[SignedFile]) -> Vec<&SignedFile> {
    let mut files: Vec<&SignedFile> = files
        .iter()
        .filter(|f| !ignored_by_default(&f.path))
        .collect();
    files.sort();
    files
}

/// The SHA-256 of the digests (raw bytes, in order): a statement's subject digest.
fn root_digest<'a>(digests: impl IntoIterator<Item = &'a Sha256>) -> String {
    let mut root = Sha256Hasher::new();
    for d in digests {
        root.update(d.as_bytes());
    }
    hex::encode(root.finalize())
}

/// The statement of a verification attestation: the subject is the revision's
/// model digest (as in its signature), the predicate what the verifier found
/// (`predicate`: device, status, fingerprint, figures, verifier version, workload).
pub fn attestation_statement(
    model: &ModelId,
    revision: &str,
    files: &[SignedFile],
    predicate: serde_json::Value,
) -> Vec<u8> {
    let statement = json!({
        "_type": STATEMENT_TYPE,
        "subject": [{
            "name": subject_name(model, revision),
            "digest": {"sha256": model_digest(files)},
        }],
        "predicateType": ATTESTATION_PREDICATE_TYPE,
        "predicate": predicate,
    });
    serde_json::to_vec_pretty(&statement).expect("a JSON value serializes")
}

/// DSSE's pre-authentication encoding of a payload: what the signature covers.
pub fn pae(payload_type: &str, payload: &[u8]) -> Vec<u8> {
    let mut out = format!(
        "DSSEv1 {} {payload_type} {} ",
        payload_type.len(),
        payload.len()
    )
    .into_bytes();
    out.extend_from_slice(payload);
    out
}

/// The id (and bundle hint) of a public key: the SHA-256 of its PEM text.
pub fn key_id(public_pem: &str) -> String {
    hex::encode(Sha256Hasher::digest(public_pem.as_bytes()))
}

/// A Sigstore bundle as `model_signing` writes and reads it (key method).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Bundle {
    pub media_type: String,
    pub verification_material: VerificationMaterial,
    pub dsse_envelope: Envelope,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct VerificationMaterial {
    pub public_key: PublicKeyHint,
    #[serde(default)]
    pub tlog_entries: Vec<serde_json::Value>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PublicKeyHint {
    pub hint: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Envelope {
    /// Base64 of the statement.
    pub payload: String,
    pub payload_type: String,
    pub signatures: Vec<EnvelopeSignature>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EnvelopeSignature {
    /// Base64 of the DER-encoded ECDSA signature.
    pub sig: String,
    #[serde(default)]
    pub keyid: String,
}

impl Bundle {
    /// A bundle of `payload` signed with `der_signature` by the key `key_id`.
    pub fn new(key_id: &str, payload: &[u8], der_signature: &[u8]) -> Self {
        Bundle {
            media_type: BUNDLE_MEDIA_TYPE.into(),
            verification_material: VerificationMaterial {
                public_key: PublicKeyHint {
                    hint: key_id.into(),
                },
                tlog_entries: Vec::new(),
            },
            dsse_envelope: Envelope {
                payload: B64.encode(payload),
                payload_type: PAYLOAD_TYPE.into(),
                signatures: vec![EnvelopeSignature {
                    sig: B64.encode(der_signature),
                    keyid: String::new(),
                }],
            },
        }
    }

    /// The signed bytes and the signature (DER), for a verifier to check.
    pub fn signed_parts(&self) -> Result<(Vec<u8>, Vec<u8>), SignatureError> {
        let env = &self.dsse_envelope;
        if env.payload_type != PAYLOAD_TYPE {
            return Err(SignatureError::Malformed(format!(
                "payload type `{}`",
                env.payload_type
            )));
        }
        let [sig] = env.signatures.as_slice() else {
            return Err(SignatureError::Malformed(
                "not exactly one signature".into(),
            ));
        };
        let payload = B64
            .decode(&env.payload)
            .map_err(|e| SignatureError::Malformed(format!("payload: {e}")))?;
        let sig = B64
            .decode(&sig.sig)
            .map_err(|e| SignatureError::Malformed(format!("signature: {e}")))?;
        Ok((pae(&env.payload_type, &payload), sig))
    }

    /// The (already verified) statement, as JSON.
    pub fn statement(&self) -> Result<serde_json::Value, SignatureError> {
        let payload = B64
            .decode(&self.dsse_envelope.payload)
            .map_err(|e| SignatureError::Malformed(format!("payload: {e}")))?;
        serde_json::from_slice(&payload)
            .map_err(|_| SignatureError::Malformed("the payload is not JSON".into()))
    }

    /// What the (already verified) statement says: its subject name and files.
    pub fn contents(&self) -> Result<Signed, SignatureError> {
        let bad = |why: &str| SignatureError::Malformed(why.to_string());
        let v = self.statement()?;
        if v["predicateType"] != PREDICATE_TYPE {
            return Err(bad("not a model signing statement"));
        }
        let [subject] = v["subject"].as_array().map(Vec::as_slice).unwrap_or(&[]) else {
            return Err(bad("not exactly one subject"));
        };
        let mut files = Vec::new();
        for r in v["predicate"]["resources"]
            .as_array()
            .unwrap_or(&Vec::new())
        {
            let (Some(path), Some(digest)) = (r["name"].as_str(), r["digest"].as_str()) else {
                return Err(bad("a resource without a name or digest"));
            };
            if r["algorithm"] != "sha256" {
                return Err(bad("a resource not hashed with SHA-256"));
            }
            let sha256: Sha256 = digest
                .parse()
                .map_err(|_| bad("a resource digest is not SHA-256"))?;
            files.push(SignedFile {
                path: path.to_string(),
                sha256,
            });
        }
        if subject["digest"]["sha256"] != root_digest(files.iter().map(|f| &f.sha256)) {
            return Err(bad("the subject digest does not match the resources"));
        }
        Ok(Signed {
            subject: subject["name"].as_str().unwrap_or_default().to_string(),
            files,
        })
    }
}

/// What a signature covers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Signed {
    /// `OWNER/NAME@REVISION` for a Granary signature.
    pub subject: String,
    pub files: Vec<SignedFile>,
}

impl Signed {
    /// The revision the subject names, if any.
    pub fn revision(&self) -> Option<&str> {
        self.subject.rsplit_once('@').map(|(_, r)| r)
    }
}

#[derive(Debug, thiserror::Error)]
pub enum SignatureError {
    #[error("the signature is malformed: {0}")]
    Malformed(String),
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(path: &str, data: &[u8]) -> SignedFile {
        SignedFile {
            path: path.into(),
            sha256: Sha256::of(data),
        }
    }

    #[test]
    fn git_files_are_left_out_as_model_signing_does() {
        for p in [
            ".gitattributes",
            ".gitignore",
            ".git/config",
            ".github/x.yml",
        ] {
            assert!(ignored_by_default(p), "{p}");
        }
        for p in [
            "a/.gitattributes",
            "README.md",
            ".gitattributes2",
            "x/.git/y",
        ] {
            assert!(!ignored_by_default(p), "{p}");
        }
    }

    #[test]
    fn a_statement_reads_back_sorted_with_its_root_digest() {
        let model: ModelId = "alice/m".parse().unwrap();
        let files = [
            file("b.bin", b"b"),
            file(".gitattributes", b"g"),
            file("a.txt", b"a"),
        ];
        let payload = statement(&model, "rev1", &files);
        let bundle = Bundle::new("hint", &payload, b"sig");
        let signed = bundle.contents().unwrap();
        assert_eq!(signed.subject, "alice/m@rev1");
        assert_eq!(signed.revision(), Some("rev1"));
        assert_eq!(signed.files, vec![files[2].clone(), files[0].clone()]);
        let (pae_bytes, sig) = bundle.signed_parts().unwrap();
        assert_eq!(sig, b"sig");
        assert!(pae_bytes.starts_with(b"DSSEv1 28 application/vnd.in-toto+json "));
        // A resource list edited after signing no longer matches its subject digest.
        let mut v: serde_json::Value = serde_json::from_slice(&payload).unwrap();
        v["predicate"]["resources"][0]["digest"] = json!(Sha256::of(b"x").hex());
        let edited = Bundle::new("hint", &serde_json::to_vec(&v).unwrap(), b"sig");
        assert!(edited.contents().is_err());
    }
}
