//! `granary key`, `granary signature` and `granary verify-attestation`
//! (docs/SIGNING.md); `pull`'s own checks are in `trust.rs`.

use anyhow::{Context as _, Result};
use granary_core::api::{ModelInfo, SigningKeys};
use granary_core::signing::{ATTESTATION_PREDICATE_TYPE, Bundle};

use crate::cli::{InfoArgs, SignatureArgs};
use crate::context::Ctx;
use crate::error::{Failure, Kind};
use crate::model_ref::{ModelRef, encode_segment};
use crate::trust::{TrustStore, check_bundle, pinned_key};

/// Prints the registry's current public key (PEM) and its id, and which key
/// `pull` trusts for this endpoint.
pub async fn key(ctx: &Ctx) -> Result<()> {
    let keys: SigningKeys = ctx
        .client
        .get_json("/api/v1/keys", "cannot read the registry's signing keys")
        .await?;
    if ctx.global.json {
        return ctx.print_json(&keys);
    }
    let store = TrustStore::load(&ctx.config_dir)?;
    let pinned = store.endpoints.get(ctx.client.endpoint());
    for k in &keys.keys {
        let trust = match pinned {
            Some(p) if p.key_id == k.id => ", trusted here",
            _ => "",
        };
        eprintln!("{} key {}{trust}", k.status, k.id);
        if k.status == "current" {
            crate::out!("{}", k.public_key_pem);
        }
    }
    if let Some(p) = pinned.filter(|p| !keys.keys.iter().any(|k| k.id == p.key_id)) {
        eprintln!(
            "trusted here: {}, which the registry no longer lists",
            p.key_id
        );
    }
    Ok(())
}

/// Saves a revision's signature bundle as the registry serves it.
pub async fn signature(ctx: &Ctx, args: SignatureArgs) -> Result<()> {
    let target = ModelRef::parse(&args.model)?;
    let rev = target.rev_or_main();
    let url = ctx.client.url(&format!(
        "{}/revisions/{}/signature",
        target.api_base(),
        encode_segment(&rev)
    ));
    let what = format!("cannot read the signature of {}", args.model);
    let bytes = ctx
        .client
        .send(&what, |c| Ok(c.get(&url)))
        .await?
        .bytes()
        .await
        .with_context(|| what.clone())?;
    std::fs::write(&args.output, &bytes)
        .with_context(|| format!("cannot write {}", args.output.display()))?;
    ctx.report
        .say(format!("signature saved to {}", args.output.display()));
    Ok(())
}

/// Checks the newest verification attestation of a revision: signed with the
/// trusted key, about the revision's model digest, stating the report's status.
pub async fn verify_attestation(ctx: &Ctx, args: InfoArgs) -> Result<()> {
    let target = ModelRef::parse(&args.model)?;
    let mut url = target.api_base();
    if let Some(rev) = &target.rev {
        url.push_str(&format!("?ref={}", encode_segment(&rev.to_string())));
    }
    let what = format!("cannot check the attestation of {}", args.model);
    let info: ModelInfo = ctx.client.get_json(&url, &what).await?;
    let revision = info
        .revision
        .ok_or_else(|| Failure::new(Kind::NotFound, format!("{what}: no revision yet")))?;
    let report = revision
        .verification
        .iter()
        .find(|r| r.attestation.is_some())
        .ok_or_else(|| {
            Failure::new(
                Kind::NotFound,
                format!("{what}: no finished verification run has an attestation yet"),
            )
        })?;
    let bundle: Bundle = serde_json::from_value(report.attestation.clone().unwrap_or_default())
        .map_err(|e| {
            Failure::new(
                Kind::Signature,
                format!("{what}: malformed attestation: {e}"),
            )
        })?;
    let mut store = TrustStore::load(&ctx.config_dir)?;
    let pin = pinned_key(ctx, None, &mut store).await?;
    check_bundle(&bundle, &pin, &what)?;
    let statement = bundle
        .statement()
        .map_err(|e| Failure::new(Kind::Signature, format!("{what}: {e}")))?;
    let subject = statement["subject"][0]["name"].as_str().unwrap_or_default();
    let revision_id = revision.id.hex();
    if statement["predicateType"] != ATTESTATION_PREDICATE_TYPE
        || !subject.ends_with(&format!("@{revision_id}"))
    {
        return Err(Failure::new(
            Kind::WrongRevision,
            format!("{what}: the attestation is not about revision {revision_id}"),
        )
        .into());
    }
    store.save(&ctx.config_dir)?;
    let predicate = &statement["predicate"];
    if ctx.global.json {
        return ctx.print_json(&statement);
    }
    crate::outln!(
        "attestation of {}@{}: {} on {} (granary-verify {}), signed by key {}",
        target.id,
        &revision_id[..12],
        predicate["status"].as_str().unwrap_or("?"),
        predicate["device"].as_str().unwrap_or("?"),
        predicate["verifier_version"].as_str().unwrap_or("?"),
        &pin.key_id[..16]
    );
    Ok(())
}
