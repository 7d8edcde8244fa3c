//! What `granary pull` checks before it writes a file (docs/SIGNING.md): that the
//! revision is signed by the registry's key pinned for this endpoint, that the
//! signature covers exactly the revision's files, and that the revision is in
//! the registry's transparency log, whose head only ever grew since the last
//! one seen from this endpoint.
//!
//! `trusted-keys.json` (beside the credentials, 0600) holds, per endpoint, the
//! pinned key (trust on first use, or `--trusted-key FILE`) and the last log
//! head seen.

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};

use anyhow::{Context as _, Result};
use granary_core::api::{RevisionInfo, RevisionLogProof, SignedTreeHead, SigningKeys};
use granary_core::log::LogEntry;
use granary_core::signing::{Bundle, SignedFile, ignored_by_default, key_id};
use granary_core::{ModelId, Sha256};
use p256::ecdsa::signature::Verifier as _;
use p256::ecdsa::{Signature, VerifyingKey};
use p256::pkcs8::DecodePublicKey as _;
use serde::{Deserialize, Serialize};

use crate::context::Ctx;
use crate::error::{Failure, Kind};
use crate::model_ref::model_base;

/// What is trusted for one endpoint.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct Pin {
    pub key_id: String,
    pub public_key_pem: String,
    /// The last log head seen from this endpoint: `(tree_size, root_hash)`.
    #[serde(default)]
    pub log_size: u64,
    #[serde(default)]
    pub log_root: String,
}

/// The pins of every endpoint.
#[derive(Debug, Default, Serialize, Deserialize)]
pub struct TrustStore {
    #[serde(default)]
    pub endpoints: BTreeMap<String, Pin>,
}

impl TrustStore {
    fn path(dir: &Path) -> PathBuf {
        dir.join("trusted-keys.json")
    }

    pub fn load(dir: &Path) -> Result<Self> {
        let path = Self::path(dir);
        match fs::read(&path) {
            Ok(bytes) => serde_json::from_slice(&bytes)
                .with_context(|| format!("{} is not valid JSON: fix or delete it", path.display())),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Self::default()),
            Err(e) => Err(e).with_context(|| format!("cannot read {}", path.display())),
        }
    }

    pub fn save(&self, dir: &Path) -> Result<()> {
        crate::config::write_private(dir, &Self::path(dir), &serde_json::to_vec_pretty(self)?)
    }
}

fn fail(kind: Kind, message: String) -> anyhow::Error {
    Failure::new(kind, message).into()
}

/// The key to check signatures from this endpoint with: `--trusted-key`, else
/// the one pinned, else the registry's current key, pinned now (trust on first use).
pub async fn pinned_key(
    ctx: &Ctx,
    trusted_key: Option<&Path>,
    store: &mut TrustStore,
) -> Result<Pin> {
    let endpoint = ctx.client.endpoint().to_string();
    if let Some(path) = trusted_key {
        let pem = fs::read_to_string(path)
            .with_context(|| format!("cannot read the trusted key {}", path.display()))?;
        VerifyingKey::from_public_key_pem(&pem).map_err(|_| {
            fail(
                Kind::Invalid,
                format!("{} is not an ECDSA P-256 public key (PEM)", path.display()),
            )
        })?;
        let id = key_id(&pem);
        let pin = store.endpoints.entry(endpoint).or_default();
        if pin.key_id != id {
            *pin = Pin {
                key_id: id,
                public_key_pem: pem,
                ..Pin::default()
            };
        }
        return Ok(pin.clone());
    }
    if let Some(pin) = store.endpoints.get(&endpoint) {
        return Ok(pin.clone());
    }
    let keys: SigningKeys = ctx
        .client
        .get_json("/api/v1/keys", "cannot read the registry's signing key")
        .await?;
    let current = keys
        .keys
        .into_iter()
        .find(|k| k.status == "current")
        .ok_or_else(|| fail(Kind::Signature, format!("{endpoint} lists no signing key")))?;
    if key_id(&current.public_key_pem) != current.id {
        return Err(fail(
            Kind::Signature,
            format!("{endpoint}'s signing key does not match its id"),
        ));
    }
    ctx.report.say(format!(
        "trusting {endpoint}'s signing key {} from now on (first use; `granary key` shows it)",
        &current.id[..16]
    ));
    let pin = Pin {
        key_id: current.id,
        public_key_pem: current.public_key_pem,
        ..Pin::default()
    };
    store.endpoints.insert(endpoint, pin.clone());
    Ok(pin)
}

fn verify_signature(pem: &str, signed: &[u8], der: &[u8]) -> bool {
    let Ok(key) = VerifyingKey::from_public_key_pem(pem) else {
        return false;
    };
    Signature::from_der(der).is_ok_and(|sig| key.verify(signed, &sig).is_ok())
}

/// What a pull proved about its revision, for `--json`.
#[derive(Debug, Serialize)]
pub struct Verified {
    pub key_id: String,
    pub log_index: u64,
    pub log_size: u64,
}

/// Checks the revision's signature and log entry; the store's head moves on.
pub async fn verify_revision(
    ctx: &Ctx,
    model: &ModelId,
    info: &RevisionInfo,
    pin: &mut Pin,
) -> Result<Verified> {
    let revision = info.id.hex();
    let base = format!("{}/revisions/{revision}", model_base(model));
    let what = format!("cannot check the signature of {model}@{}", &revision[..12]);
    let raw = ctx
        .client
        .send(&what, |c| {
            Ok(c.get(ctx.client.url(&format!("{base}/signature"))))
        })
        .await?
        .bytes()
        .await
        .with_context(|| what.clone())?;
    let bundle: Bundle = serde_json::from_slice(&raw).map_err(|e| {
        fail(
            Kind::Signature,
            format!("{what}: the signature is malformed: {e}"),
        )
    })?;
    check_bundle(&bundle, pin, &what).map_err(|e| match e.downcast_ref::<Failure>() {
        Some(f) if f.kind == Kind::KeyChanged => fail(
            Kind::KeyChanged,
            format!(
                "{}. If you trust the registry's new key, check it with its operators, then pin it \
                 with --trusted-key FILE (or remove {} from {})",
                f.message,
                ctx.client.endpoint(),
                TrustStore::path(&ctx.config_dir).display()
            ),
        ),
        _ => e,
    })?;
    let contents = bundle
        .contents()
        .map_err(|e| fail(Kind::Signature, format!("{what}: {e}")))?;
    if contents.revision() != Some(revision.as_str()) {
        return Err(fail(
            Kind::WrongRevision,
            format!(
                "{what}: the signature is for `{}`, not for this revision",
                contents.subject
            ),
        ));
    }
    let mut expected: Vec<SignedFile> = info
        .files
        .iter()
        .filter(|f| !ignored_by_default(f.path.as_str()))
        .map(|f| SignedFile {
            path: f.path.to_string(),
            sha256: f.sha256,
        })
        .collect();
    expected.sort();
    if contents.files != expected {
        return Err(fail(
            Kind::Signature,
            format!("{what}: the signature does not cover exactly the revision's files"),
        ));
    }

    // The log: the revision is in it, and it only grew since the head seen last.
    let url = match pin.log_size {
        0 => format!("{base}/log"),
        n => format!("{base}/log?from={n}"),
    };
    let proof: RevisionLogProof = ctx
        .client
        .get_json(
            &url,
            &format!("cannot check {model}@{} in the log", &revision[..12]),
        )
        .await
        .map_err(|e| match e.downcast_ref::<Failure>() {
            Some(f) if f.kind == Kind::NotFound => fail(
                Kind::NotInLog,
                format!(
                    "{model}@{} is not in the registry's transparency log",
                    &revision[..12]
                ),
            ),
            Some(f) if f.kind == Kind::Conflict => fail(Kind::LogInconsistent, f.message.clone()),
            _ => e,
        })?;
    check_head(&proof.head, pin)?;
    let entry: LogEntry = serde_json::from_str(&proof.leaf)
        .map_err(|_| fail(Kind::NotInLog, "the log entry is malformed".into()))?;
    if entry.revision != revision || entry.signature_sha256 != Sha256::of(&raw).hex() {
        return Err(fail(
            Kind::NotInLog,
            "the log's entry is not this revision's signature".to_string(),
        ));
    }
    proof
        .head
        .verify_inclusion(&proof.leaf, proof.leaf_index, &proof.proof)
        .map_err(|e| fail(Kind::NotInLog, format!("{model}@{}: {e}", &revision[..12])))?;
    if pin.log_size > 0 {
        let consistency = proof.consistency.unwrap_or_default();
        proof
            .head
            .verify_consistency(pin.log_size, &pin.log_root, &consistency)
            .map_err(|e| fail(Kind::LogInconsistent, format!("{e}")))?;
    }
    pin.log_size = proof.head.tree_size;
    pin.log_root = proof.head.root_hash.clone();
    Ok(Verified {
        key_id: pin.key_id.clone(),
        log_index: proof.leaf_index,
        log_size: proof.head.tree_size,
    })
}

/// A head signed with the pinned key.
fn check_head(head: &SignedTreeHead, pin: &Pin) -> Result<()> {
    use base64::Engine as _;
    let signed = SignedTreeHead::signed_bytes(head.tree_size, &head.root_hash, head.timestamp);
    let der = base64::engine::general_purpose::STANDARD
        .decode(&head.signature)
        .unwrap_or_default();
    if head.key_id != pin.key_id || !verify_signature(&pin.public_key_pem, &signed, &der) {
        return Err(fail(
            Kind::LogInconsistent,
            "the log's head is not signed with the trusted key".into(),
        ));
    }
    Ok(())
}

/// What `pull` checks: the pinned (or first-used) key, the signature and the
/// log; the store is saved only once everything checked.
pub async fn check_pull(
    ctx: &Ctx,
    model: &ModelId,
    info: &RevisionInfo,
    trusted_key: Option<&Path>,
) -> Result<Verified> {
    let mut store = TrustStore::load(&ctx.config_dir)?;
    let mut pin = pinned_key(ctx, trusted_key, &mut store).await?;
    let verified = verify_revision(ctx, model, info, &mut pin)
        .await
        .map_err(|e| match e.downcast::<Failure>() {
            Ok(f) => fail(f.kind, format!("{}; nothing was written", f.message)),
            Err(e) => e,
        })?;
    store
        .endpoints
        .insert(ctx.client.endpoint().to_string(), pin);
    store.save(&ctx.config_dir)?;
    ctx.report.say(format!(
        "signature checked (key {}), and in the log at {} of {}",
        &verified.key_id[..16],
        verified.log_index,
        verified.log_size
    ));
    Ok(verified)
}

/// Checks a bundle with the pinned key: the signature, and its key hint.
pub fn check_bundle(bundle: &Bundle, pin: &Pin, what: &str) -> Result<()> {
    let hint = &bundle.verification_material.public_key.hint;
    if *hint != pin.key_id {
        return Err(fail(
            Kind::KeyChanged,
            format!(
                "{what}: signed with key {}, not the key {} trusted for this endpoint: the registry's key changed",
                &hint[..16.min(hint.len())],
                &pin.key_id[..16.min(pin.key_id.len())]
            ),
        ));
    }
    let (signed, der) = bundle
        .signed_parts()
        .map_err(|e| fail(Kind::Signature, format!("{what}: {e}")))?;
    if !verify_signature(&pin.public_key_pem, &signed, &der) {
        return Err(fail(
            Kind::Signature,
            format!("{what}: the signature does not verify with the trusted key"),
        ));
    }
    Ok(())
}
