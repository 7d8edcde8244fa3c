//! License ids as the Hugging Face Hub writes them: SPDX ids in any case,
//! the Hub's named model licenses, and `other` with a name.

use granary_core::manifest::LicenseInfo;

/// The Hub's license ids that are not SPDX ids.
pub const HUB_LICENSES: &[&str] = &[
    "openrail", "openrail++", "bigscience-openrail-m", "creativeml-openrail-m",
    "bigscience-bloom-rail-1.0", "bigcode-openrail-m", "llama2", "llama3", "llama3.1", "llama3.2",
    "llama3.3", "llama4", "gemma", "deepfloyd-if-license", "apple-amlr", "apple-ascl",
    "intel-research", "lgpl-lr", "h-research", "c-uda", "cc", "bsd", "gpl", "lgpl",
    "fair-noncommercial-research-license", "unknown", "other",
];

/// Creative Commons licenses that impose only attribution (or nothing).
const PERMISSIVE_CC: &[&str] = &["CC0-1.0", "CC-BY-2.0", "CC-BY-2.5", "CC-BY-3.0", "CC-BY-4.0"];

/// A license id resolved to its stored form.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResolvedLicense {
    pub info: LicenseInfo,
    pub permissive: bool,
}

/// Resolves the license a push declares. `name` is `license_name`, needed for `other`.
pub fn resolve(id: &str, name: Option<&str>) -> Result<ResolvedLicense, String> {
    let id = id.trim();
    if let Some(spdx_id) = spdx_lookup(id) {
        return Ok(ResolvedLicense {
            permissive: is_permissive(spdx_id),
            info: LicenseInfo { id: spdx_id.name.to_string(), name: None },
        });
    }
    let lower = id.to_ascii_lowercase();
    if let Some(hub) = HUB_LICENSES.iter().find(|h| **h == lower) {
        if *hub == "other" {
            let name = name.map(str::trim).filter(|n| !n.is_empty()).ok_or_else(|| {
                "license `other` needs a `license_name` (in the model card's front matter or with --license-name)"
                    .to_string()
            })?;
            return Ok(ResolvedLicense {
                permissive: false,
                info: LicenseInfo { id: "other".into(), name: Some(name.to_string()) },
            });
        }
        return Ok(ResolvedLicense {
            permissive: false,
            info: LicenseInfo { id: hub.to_string(), name: None },
        });
    }
    Err(format!(
        "unknown license `{id}`: use an SPDX id (apache-2.0, mit, bsd-3-clause, cc-by-4.0, …; any case), \
         one of the Hub's licenses ({}), or `other` with a license_name",
        HUB_LICENSES.join(", ")
    ))
}

fn spdx_lookup(id: &str) -> Option<spdx::LicenseId> {
    spdx::license_id(id).or_else(|| {
        spdx::identifiers::LICENSES
            .iter()
            .find(|l| l.name.eq_ignore_ascii_case(id))
            .and_then(|l| spdx::license_id(l.name))
    })
}

fn is_permissive(id: spdx::LicenseId) -> bool {
    if PERMISSIVE_CC.contains(&id.name) {
        return true;
    }
    !id.is_copyleft() && (id.is_osi_approved() || id.is_fsf_free_libre())
}

#[cfg(test)]
mod tests {
    use super::resolve;

    #[test]
    fn spdx_ids_in_any_case() {
        let r = resolve("apache-2.0", None).unwrap();
        assert_eq!(r.info.id, "Apache-2.0");
        assert!(r.permissive);
        assert_eq!(resolve("MIT", None).unwrap().info.id, "MIT");
        assert_eq!(resolve("cc-by-4.0", None).unwrap().info.id, "CC-BY-4.0");
        assert!(resolve("cc-by-4.0", None).unwrap().permissive);
        let gpl = resolve("gpl-3.0-only", None).unwrap();
        assert_eq!(gpl.info.id, "GPL-3.0-only");
        assert!(!gpl.permissive);
        assert!(!resolve("cc-by-nc-4.0", None).unwrap().permissive);
    }

    #[test]
    fn hub_names_and_other() {
        assert_eq!(resolve("llama3", None).unwrap().info.id, "llama3");
        assert!(!resolve("Gemma", None).unwrap().permissive);
        assert!(resolve("other", None).is_err());
        let other = resolve("other", Some("Acme Model License")).unwrap();
        assert_eq!(other.info.name.as_deref(), Some("Acme Model License"));
    }

    #[test]
    fn unknown_ids_list_the_accepted_ones() {
        let err = resolve("not-a-license", None).unwrap_err();
        assert!(err.contains("unknown license `not-a-license`"));
        assert!(err.contains("llama3"));
    }
}
