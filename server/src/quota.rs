//! What one account may store. An account is a user together with the
//! organisations it created (an organisation draws on its creator's quota, so
//! creating organisations does not multiply it). Its usage is the distinct
//! blobs its namespaces' revisions reference, plus what its user has uploaded
//! but not committed, plus the declared size of its open upload sessions:
//! bytes are reserved when a session opens, not when a commit lands.

use std::collections::{HashMap, HashSet};

use granary_core::Sha256;

use crate::app::App;
use crate::db::quota;
use crate::db::users::UserRow;
use crate::error::{AppError, AppResult};
use crate::storage::BlobLayout;

/// Refuses a new upload session of `size` bytes that would take `user` past the
/// open-session caps, or its account past the storage quota.
pub async fn reserve_upload(app: &App, user: &UserRow, size: u64) -> AppResult<()> {
    let caps = &app.config.uploads;
    let (open, declared) = crate::db::uploads::open_by_user(&app.db, &user.id).await?;
    if open >= caps.max_open_uploads {
        return Err(AppError::TooManyRequests(format!(
            "`{}` already has {open} uploads in progress, the most one user may have (max_open_uploads): \
             complete or abandon some first",
            user.name
        )));
    }
    if declared.saturating_add(size) > caps.max_staged_bytes {
        return Err(AppError::TooLarge(format!(
            "`{}` has uploads in progress declaring {declared} bytes; {size} more would pass the {} bytes \
             one user may have in flight (max_staged_bytes): complete or abandon some first",
            user.name, caps.max_staged_bytes
        )));
    }
    check_quota(app, user, size, declared).await
}

/// Refuses a Xet xorb of `size` bytes that would take the account of `user`
/// past the storage quota, counting the xorbs it sent that no file names yet
/// (until a shard names them, or the collector removes them).
pub async fn reserve_xorb(app: &App, user: &UserRow, size: u64) -> AppResult<()> {
    if app.config.limits.owner_quota_bytes == 0 {
        return Ok(());
    }
    let unnamed = crate::db::xet::unnamed_xorb_bytes(&app.db, &user.id).await?;
    check_quota(app, user, size, unnamed).await
}

/// Refuses `size` more bytes when the account's usage (committed, uploaded but
/// not committed, and `pending`: in flight or otherwise held) would pass the quota.
async fn check_quota(app: &App, user: &UserRow, size: u64, pending: u64) -> AppResult<()> {
    let limit = app.config.limits.owner_quota_bytes;
    if limit == 0 {
        return Ok(());
    }
    let account = quota::account_of(&app.db, &user.name).await?;
    let committed = quota::account_usage(&app.db, &account).await?;
    let uncommitted = crate::db::blob_uploaders::uncommitted_bytes(&app.db, &user.id).await?;
    let used = committed
        .saturating_add(uncommitted)
        .saturating_add(pending);
    if used.saturating_add(size) > limit {
        return Err(AppError::TooLarge(format!(
            "uploading {size} more bytes would pass the storage quota of {limit} bytes (owner_quota_bytes): \
             `{}` stores {committed} bytes, has uploaded {uncommitted} bytes not yet committed and {pending} \
             bytes in progress; ask the registry's administrator for more",
            user.name
        )));
    }
    Ok(())
}

/// Refuses a commit that would take `owner`'s account over the storage quota:
/// the distinct blobs its namespaces' revisions reference now, plus those of
/// `layouts` that none references yet. (Two commits racing may both pass: the
/// quota bounds growth, it is not an exact ledger.)
pub async fn check_commit(
    app: &App,
    owner: &str,
    layouts: &HashMap<Sha256, BlobLayout>,
) -> AppResult<()> {
    let limit = app.config.limits.owner_quota_bytes;
    if limit == 0 {
        return Ok(());
    }
    let account = quota::account_of(&app.db, owner).await?;
    let digests: Vec<Sha256> = layouts.keys().copied().collect();
    let used = quota::account_usage(&app.db, &account).await?;
    let known: HashSet<String> = quota::account_references(&app.db, &account, &digests).await?;
    let added: u64 = layouts
        .values()
        .filter(|l| !known.contains(&l.sha256.hex()))
        .map(|l| l.size)
        .sum();
    if used.saturating_add(added) > limit {
        let whose = if account.name.eq_ignore_ascii_case(owner) {
            format!("`{owner}`")
        } else {
            format!(
                "`{owner}` (whose storage counts towards its creator `{}`)",
                account.name
            )
        };
        return Err(AppError::TooLarge(format!(
            "this commit adds {added} bytes of new files to {whose}, whose account already stores {used} bytes: \
             over the quota of {limit} bytes (owner_quota_bytes); ask the registry's administrator for more"
        )));
    }
    Ok(())
}
