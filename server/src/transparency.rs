//! The transparency log (docs/SIGNING.md, "The log"): every signed revision is
//! appended, inside its commit's transaction, as a leaf of an append-only
//! Merkle tree (`core::log`, RFC 9162 hashing through the `ct-merkle` crate).
//! The leaves live in the database (`db::log`), in one sequence across
//! replicas; each process keeps the tree in memory, brought up to the
//! database's leaves before it answers, and signs the heads it hands out with
//! the registry key.

use ct_merkle::mem_backed_tree::MemoryBackedTree;
use granary_core::api::{LogConsistency, RevisionLogProof, SignedTreeHead};
use granary_core::log::{LogEntry, proof_hashes};
use granary_core::{ModelId, Sha256};

use crate::db::{Db, Tx};
use crate::error::{AppError, AppResult};
use crate::signing::RegistryKey;

type Tree = MemoryBackedTree<sha2::Sha256, String>;

/// This process's copy of the log's tree.
#[derive(Default)]
pub struct TransparencyLog {
    tree: tokio::sync::Mutex<Tree>,
}

impl std::fmt::Debug for TransparencyLog {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("TransparencyLog")
    }
}

impl TransparencyLog {
    /// The tree, with every leaf the database holds.
    async fn synced(&self, db: &Db) -> AppResult<tokio::sync::MutexGuard<'_, Tree>> {
        let mut tree = self.tree.lock().await;
        loop {
            let batch = crate::db::log::leaves_from(db, tree.len() as i64, 10_000).await?;
            if batch.is_empty() {
                return Ok(tree);
            }
            for (idx, leaf) in batch {
                if idx as u64 != tree.len() {
                    return Err(AppError::internal_msg(format!(
                        "the log's leaf {} is missing",
                        tree.len()
                    )));
                }
                tree.push(leaf);
            }
        }
    }
}

/// Appends a signed revision to the log inside the transaction that commits it.
pub async fn append_in(
    tx: &mut Tx,
    db: &Db,
    model_id: &str,
    model: &ModelId,
    revision: &str,
    bundle: &str,
) -> sqlx::Result<()> {
    let entry = LogEntry {
        model: model.to_string(),
        revision: revision.to_string(),
        signature_sha256: Sha256::of(bundle.as_bytes()).hex(),
        time: granary_core::time::now_ms(),
    };
    crate::db::log::append_in(tx, db, model_id, revision, &entry.leaf()).await?;
    Ok(())
}

fn head_of(key: &RegistryKey, tree: &Tree) -> SignedTreeHead {
    let root_hash = hex::encode(tree.root().as_bytes());
    let timestamp = granary_core::time::now_ms();
    let signed = SignedTreeHead::signed_bytes(tree.len(), &root_hash, timestamp);
    SignedTreeHead {
        tree_size: tree.len(),
        root_hash,
        timestamp,
        key_id: key.id.clone(),
        signature: key.sign_base64(&signed),
    }
}

impl TransparencyLog {
    /// The log's current head, signed with `key`.
    pub async fn head(&self, db: &Db, key: &RegistryKey) -> AppResult<SignedTreeHead> {
        let tree = self.synced(db).await?;
        Ok(head_of(key, &tree))
    }

    /// Where a model's revision is in the log, proven against the current head.
    pub async fn inclusion(
        &self,
        db: &Db,
        key: &RegistryKey,
        model_id: &str,
        revision: &str,
        from: Option<u64>,
    ) -> AppResult<RevisionLogProof> {
        let (idx, leaf) = crate::db::log::entry(db, model_id, revision)
            .await?
            .ok_or_else(|| {
                AppError::NotFound(format!(
                    "revision {} is not in the log yet",
                    &revision[..12.min(revision.len())]
                ))
            })?;
        let tree = self.synced(db).await?;
        let proof = tree.prove_inclusion(idx as usize);
        let consistency = from.map(|n| consistency_proof(&tree, n)).transpose()?;
        Ok(RevisionLogProof {
            leaf_index: idx as u64,
            leaf,
            proof: proof_hashes(proof.as_bytes()),
            head: head_of(key, &tree),
            consistency,
        })
    }

    /// That the log's first `from` leaves are a prefix of its current tree.
    pub async fn consistency(
        &self,
        db: &Db,
        key: &RegistryKey,
        from: u64,
    ) -> AppResult<LogConsistency> {
        let tree = self.synced(db).await?;
        Ok(LogConsistency {
            from_size: from,
            proof: consistency_proof(&tree, from)?,
            head: head_of(key, &tree),
        })
    }
}

/// The proof that the tree's first `from` leaves are a prefix of it.
fn consistency_proof(tree: &Tree, from: u64) -> AppResult<Vec<String>> {
    if from > tree.len() {
        return Err(AppError::Conflict(format!(
            "this log holds {} entries, fewer than the {from} you saw: it is not the log you saw before",
            tree.len()
        )));
    }
    Ok(match from {
        0 => Vec::new(),
        n if n == tree.len() => Vec::new(),
        n => proof_hashes(tree.prove_consistency((tree.len() - n) as usize).as_bytes()),
    })
}
