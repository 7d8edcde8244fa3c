//! The registry's signing key and the signature of every revision
//! (docs/SIGNING.md). The format is `granary_core::signing`'s (OMS v1.0, the
//! key method): this module holds the key, signs, and registers the key in the
//! database so that replicas agree. Commits sign and log in `publish`, which
//! also signs the revisions older than signing (`publish::signatures`).

use std::path::Path;

use anyhow::{Context as _, bail};
use granary_core::signing::{self as oms, Bundle, SignedFile};
use granary_core::{Manifest, ModelId};
use p256::ecdsa::signature::Signer as _;
use p256::ecdsa::{Signature, SigningKey};
use p256::pkcs8::{DecodePrivateKey as _, EncodePrivateKey as _, EncodePublicKey as _, LineEnding};

use crate::config::Config;
use crate::db::Db;
use crate::db::signing as q;

/// The file in the data directory that holds the key when none is given.
pub const DEFAULT_KEY_FILE: &str = "signing-key.pem";

/// The key this server signs with.
pub struct RegistryKey {
    key: SigningKey,
    /// The SHA-256 of `public_pem`: the key's id and the bundles' key hint.
    pub id: String,
    pub public_pem: String,
}

impl std::fmt::Debug for RegistryKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RegistryKey").field("id", &self.id).finish()
    }
}

impl RegistryKey {
    /// The key `--signing-key` names; else one derived from the session secret
    /// when one is set (`GRANARY_SESSION_SECRET`, which every replica shares);
    /// else the data directory's, created (0600) at first start.
    pub fn load(config: &Config) -> anyhow::Result<Self> {
        match (&config.signing.key, &config.accounts.session_secret) {
            (Some(path), _) => Self::read(path),
            (None, Some(secret)) => Ok(Self::derived(secret)),
            (None, None) => {
                let path = config.data_dir.join(DEFAULT_KEY_FILE);
                if !path.exists() {
                    let key = generate();
                    let pem = key
                        .to_pkcs8_pem(LineEnding::LF)
                        .context("encoding the new signing key")?;
                    match crate::data_dir::create_secret_file(&path, pem.as_bytes()) {
                        Ok(()) => {}
                        // Another process created it first: use that one.
                        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
                        Err(e) => return Err(e).context("writing the signing key"),
                    }
                }
                Self::read(&path)
            }
        }
    }

    /// The key derived from a shared secret: the first HMAC-SHA256 of a counter
    /// and a fixed label that is a valid P-256 scalar.
    fn derived(secret: &str) -> Self {
        use hmac::Mac as _;
        for n in 0u32.. {
            let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(secret.as_bytes())
                .expect("HMAC takes any key length");
            mac.update(b"granary-revision-signing-key");
            mac.update(&n.to_be_bytes());
            if let Ok(key) = SigningKey::from_slice(&mac.finalize().into_bytes()) {
                return Self::from_key(key);
            }
        }
        unreachable!("a valid scalar within 2^32 tries")
    }

    fn read(path: &Path) -> anyhow::Result<Self> {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("reading the signing key {}", path.display()))?;
        let key = SigningKey::from_pkcs8_pem(&text)
            .ok()
            .or_else(|| {
                p256::SecretKey::from_sec1_pem(&text)
                    .ok()
                    .map(SigningKey::from)
            })
            .with_context(|| {
                format!(
                    "{} is not an ECDSA P-256 private key in PEM (PKCS#8 or SEC1)",
                    path.display()
                )
            })?;
        Ok(Self::from_key(key))
    }

    fn from_key(key: SigningKey) -> Self {
        let public_pem = key
            .verifying_key()
            .to_public_key_pem(LineEnding::LF)
            .expect("a P-256 public key encodes");
        RegistryKey {
            id: oms::key_id(&public_pem),
            public_pem,
            key,
        }
    }

    /// The private key, PEM (PKCS#8): for writing a key file (`--signing-key`).
    pub fn private_pem(&self) -> String {
        self.key
            .to_pkcs8_pem(LineEnding::LF)
            .expect("a P-256 key encodes")
            .to_string()
    }

    /// A fresh key, for tests.
    pub fn generated() -> Self {
        Self::from_key(generate())
    }

    /// The signature bundle (JSON) of `revision` of `model` holding `files`.
    pub fn sign_revision(&self, model: &ModelId, revision: &str, files: &[SignedFile]) -> String {
        let bundle = self.sign_statement(&oms::statement(model, revision, files));
        serde_json::to_string_pretty(&bundle).expect("a bundle serializes")
    }

    /// An in-toto statement in a DSSE envelope signed with this key.
    pub fn sign_statement(&self, payload: &[u8]) -> Bundle {
        let signature: Signature = self.key.sign(&oms::pae(oms::PAYLOAD_TYPE, payload));
        Bundle::new(&self.id, payload, signature.to_der().as_bytes())
    }

    /// An ECDSA (SHA-256) signature of `message`, DER, in base64.
    pub fn sign_base64(&self, message: &[u8]) -> String {
        use base64::Engine as _;
        let signature: Signature = self.key.sign(message);
        base64::engine::general_purpose::STANDARD.encode(signature.to_der().as_bytes())
    }

    /// The signature bundle of a revision whose manifest is `manifest`.
    pub fn sign_manifest(&self, model: &ModelId, revision: &str, manifest: &Manifest) -> String {
        self.sign_revision(model, revision, &signed_files(manifest))
    }
}

/// The files of a manifest as its statements list them.
pub fn signed_files(manifest: &Manifest) -> Vec<SignedFile> {
    manifest
        .files
        .iter()
        .map(|f| SignedFile {
            path: f.path.to_string(),
            sha256: f.sha256,
        })
        .collect()
}

fn generate() -> SigningKey {
    loop {
        // A random scalar; the rare value outside the curve order is drawn again.
        let bytes: [u8; 32] = rand::random();
        if let Ok(key) = SigningKey::from_slice(&bytes) {
            return key;
        }
    }
}

/// Records this server's key as the registry's current one, or refuses to start
/// when the registry already signs with another (every replica must sign alike),
/// unless `rotate` asks to replace it.
pub async fn register(db: &Db, key: &RegistryKey, rotate: bool) -> anyhow::Result<()> {
    let keys = q::keys(db).await?;
    let current = keys.iter().find(|k| k.retired_at.is_none());
    match current {
        Some(k) if k.id == key.id => return Ok(()),
        Some(k) if !rotate => bail!(
            "this server's signing key ({}) is not the registry's current key ({}): give every \
             replica the same --signing-key, or pass --rotate-signing-key to replace the key \
             (docs/SIGNING.md)",
            short(&key.id),
            short(&k.id)
        ),
        _ => {}
    }
    if keys.iter().any(|k| k.id == key.id) && !rotate {
        bail!(
            "this server's signing key ({}) was retired: give it the current key, or pass \
             --rotate-signing-key to make this one current again",
            short(&key.id)
        );
    }
    q::make_current(db, &key.id, &key.public_pem, granary_core::time::now_ms()).await?;
    Ok(())
}

fn short(id: &str) -> &str {
    &id[..12.min(id.len())]
}
