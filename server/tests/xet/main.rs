//! Xet, as `hf_xet` speaks it (docs/HF.md, "Xet"), driven by hand-built xorbs
//! and shards so that every refusal can be reached: what comes over Xet is an
//! ordinary blob, bad input is refused with nothing stored, and CAS tokens
//! grant no more than their caller holds. The real client's round trip is in
//! tests/hf. On SQLite and PostgreSQL; each test ends with `fsck --deep` clean.

#[path = "../common/mod.rs"]
mod common;

mod access;
mod bad_input;
mod collection;
mod dedup;
mod harness;
mod round_trip;

use access::*;
use bad_input::*;
use collection::*;
use dedup::*;
use round_trip::*;

on_every_backend!(
    a_xet_upload_becomes_an_ordinary_blob_and_downloads_back,
    a_term_larger_than_a_rebuild_batch_is_rebuilt_exactly,
    bad_xorbs_and_shards_are_refused_and_nothing_is_stored,
    unnamed_xorbs_count_against_the_quota,
    cas_tokens_grant_no_more_than_their_caller_holds,
    global_dedup_tells_only_of_xorbs_the_caller_holds_or_may_read,
    xorbs_no_file_names_are_collected,
    fsck_finds_damaged_xorbs_and_repair_forgets_them,
);
