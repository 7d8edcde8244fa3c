//! The integrity and access attacks of the bad-input corpus (docs/SECURITY.md):
//! each reproduces an attack on "the bytes under a digest are exactly those
//! bytes" or "knowing a digest grants nothing", and shows it refused with
//! nothing stored or changed, on SQLite and PostgreSQL. Every test ends with
//! `fsck --deep` clean.

#[path = "../common/mod.rs"]
mod common;

mod caching;
mod claims;
mod names;
mod pickles;
mod quota;
mod uploads;

use caching::*;
use claims::*;
use names::*;
use pickles::*;
use quota::*;
use uploads::*;

on_every_backend!(
    replayed_part_is_refused_and_the_hashed_bytes_are_stored,
    racing_attempts_at_a_part_store_only_hashed_bytes,
    claiming_a_private_blob_by_digest_is_refused_everywhere,
    claims_follow_what_the_caller_may_download,
    downloads_are_cached_only_as_their_readers_allow,
    commits_to_unseen_models_answer_as_missing,
    lfs_upload_urls_die_with_their_token_and_reveal_nothing,
    ref_names_that_look_like_revision_ids_are_refused,
    uploads_reserve_quota_and_sessions_are_capped,
    organisations_do_not_multiply_a_quota,
    code_carrying_files_are_refused_on_every_surface,
);
