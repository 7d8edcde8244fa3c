//! The transparency log's wire format (docs/SIGNING.md, "The log"): an
//! append-only Merkle tree in the style of RFC 9162 (SHA-256, leaves hashed
//! with a 0x00 prefix and nodes with 0x01, via the `ct-merkle` crate) whose
//! leaves are [`LogEntry`]s, one per signed revision. The server builds the
//! tree and signs its heads; a client checks inclusion and consistency proofs
//! here, and the head's signature with the registry's key.

use ct_merkle::{ConsistencyProof, InclusionProof, RootHash};
use serde::{Deserialize, Serialize};
use sha2::Sha256 as Sha256Digest;

/// One leaf: a revision of a model, the SHA-256 of its signature bundle, and
/// when it was logged (ms since the epoch). Its leaf bytes are its JSON, in
/// this field order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LogEntry {
    pub model: String,
    pub revision: String,
    pub signature_sha256: String,
    pub time: i64,
}

impl LogEntry {
    /// The exact bytes the tree hashes.
    pub fn leaf(&self) -> String {
        serde_json::to_string(self).expect("a log entry serializes")
    }
}

/// A tree head: the log's size and root at some time.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct SignedTreeHead {
    pub tree_size: u64,
    /// Hex of the Merkle tree hash (RFC 9162 §2.1.1).
    pub root_hash: String,
    /// When the head was made (ms since the epoch).
    pub timestamp: i64,
    /// The registry key that signed it (`GET /api/v1/keys`).
    pub key_id: String,
    /// Base64 of the ECDSA P-256 (SHA-256) signature, DER, over [`SignedTreeHead::signed_bytes`].
    pub signature: String,
}

impl SignedTreeHead {
    /// What the signature covers.
    pub fn signed_bytes(tree_size: u64, root_hash: &str, timestamp: i64) -> Vec<u8> {
        format!("granary-log-head-v1\n{tree_size}\n{root_hash}\n{timestamp}\n").into_bytes()
    }

    fn root(&self) -> Result<RootHash<Sha256Digest>, LogError> {
        let bytes = hex::decode(&self.root_hash)
            .ok()
            .filter(|b| b.len() == 32)
            .ok_or(LogError::Malformed("the root hash is not 32 bytes of hex"))?;
        Ok(RootHash::new(
            *ct_merkle::digest::Output::<Sha256Digest>::from_slice(&bytes),
            self.tree_size,
        ))
    }

    /// Checks that `leaf` is entry `index` of the tree this head describes.
    pub fn verify_inclusion(
        &self,
        leaf: &str,
        index: u64,
        proof: &[String],
    ) -> Result<(), LogError> {
        let proof = InclusionProof::<Sha256Digest>::try_from_bytes(joined(proof)?)
            .map_err(|_| LogError::Malformed("the inclusion proof"))?;
        self.root()?
            .verify_inclusion(&leaf.as_bytes(), index, &proof)
            .map_err(|_| LogError::NotIncluded)
    }

    /// Checks that the tree of `old_size` leaves with root `old_root` (hex) is a
    /// prefix of the tree this head describes.
    pub fn verify_consistency(
        &self,
        old_size: u64,
        old_root: &str,
        proof: &[String],
    ) -> Result<(), LogError> {
        let old = SignedTreeHead {
            tree_size: old_size,
            root_hash: old_root.to_string(),
            ..self.clone()
        };
        if old_size == 0 {
            return Ok(()); // The empty tree is a prefix of every tree.
        }
        if old_size > self.tree_size {
            return Err(LogError::Inconsistent);
        }
        if old_size == self.tree_size {
            return match old_root == self.root_hash {
                true => Ok(()),
                false => Err(LogError::Inconsistent),
            };
        }
        let proof = ConsistencyProof::<Sha256Digest>::try_from_bytes(joined(proof)?)
            .map_err(|_| LogError::Malformed("the consistency proof"))?;
        self.root()?
            .verify_consistency(&old.root()?, &proof)
            .map_err(|_| LogError::Inconsistent)
    }
}

fn joined(hashes: &[String]) -> Result<Vec<u8>, LogError> {
    let mut out = Vec::with_capacity(hashes.len() * 32);
    for h in hashes {
        let bytes = hex::decode(h).map_err(|_| LogError::Malformed("a proof hash is not hex"))?;
        if bytes.len() != 32 {
            return Err(LogError::Malformed("a proof hash is not 32 bytes"));
        }
        out.extend_from_slice(&bytes);
    }
    Ok(out)
}

/// A proof's hashes as hex strings, as the API carries them.
pub fn proof_hashes(bytes: &[u8]) -> Vec<String> {
    bytes.chunks(32).map(hex::encode).collect()
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LogError {
    #[error("the log's answer is malformed: {0}")]
    Malformed(&'static str),
    #[error("the revision is not in the log the registry's signed head describes")]
    NotIncluded,
    #[error(
        "the log's new head is not an extension of the head seen before: history was rewritten"
    )]
    Inconsistent,
}

#[cfg(test)]
mod tests {
    use super::*;
    use ct_merkle::mem_backed_tree::MemoryBackedTree;

    fn head(tree: &MemoryBackedTree<Sha256Digest, String>) -> SignedTreeHead {
        SignedTreeHead {
            tree_size: tree.len(),
            root_hash: hex::encode(tree.root().as_bytes()),
            timestamp: 0,
            key_id: String::new(),
            signature: String::new(),
        }
    }

    #[test]
    fn proofs_check_and_lies_do_not() {
        let mut tree = MemoryBackedTree::<Sha256Digest, String>::new();
        for i in 0..5 {
            tree.push(format!("leaf {i}"));
        }
        let old = head(&tree);
        for i in 5..13 {
            tree.push(format!("leaf {i}"));
        }
        let new = head(&tree);
        let proof = proof_hashes(tree.prove_inclusion(3).as_bytes());
        new.verify_inclusion("leaf 3", 3, &proof).unwrap();
        assert_eq!(
            new.verify_inclusion("leaf 4", 3, &proof),
            Err(LogError::NotIncluded)
        );
        assert_eq!(
            new.verify_inclusion("leaf 3", 2, &proof),
            Err(LogError::NotIncluded)
        );
        let consistency = proof_hashes(tree.prove_consistency(8).as_bytes());
        new.verify_consistency(5, &old.root_hash, &consistency)
            .unwrap();
        // Another history of five leaves is not a prefix of this one.
        let mut other = MemoryBackedTree::<Sha256Digest, String>::new();
        for i in 0..5 {
            other.push(format!("rewritten {i}"));
        }
        let forged = head(&other).root_hash;
        assert_eq!(
            new.verify_consistency(5, &forged, &consistency),
            Err(LogError::Inconsistent)
        );
        assert_eq!(
            new.verify_consistency(13, &forged, &[]),
            Err(LogError::Inconsistent)
        );
    }

    /// The tree hash of RFC 9162 §2.1.1, computed by hand for three leaves.
    #[test]
    fn the_root_is_rfc_9162s_tree_hash() {
        use sha2::Digest;
        let leaf = |d: &[u8]| {
            Sha256Digest::new()
                .chain_update([0u8])
                .chain_update(d)
                .finalize()
        };
        let node = |l: &[u8], r: &[u8]| {
            Sha256Digest::new()
                .chain_update([1u8])
                .chain_update(l)
                .chain_update(r)
                .finalize()
        };
        let (a, b, c) = (leaf(b"a"), leaf(b"b"), leaf(b"c"));
        let want = node(&node(&a, &b), &c);
        let mut tree = MemoryBackedTree::<Sha256Digest, &str>::new();
        for l in ["a", "b", "c"] {
            tree.push(l);
        }
        assert_eq!(tree.root().as_bytes().as_slice(), want.as_slice());
    }
}
