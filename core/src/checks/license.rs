//! License ids as the Hugging Face Hub writes them: SPDX ids in any case,
//! the Hub's named model licenses, and `other` with a name.

use crate::manifest::LicenseInfo;

/// The Hub's license ids that are not SPDX ids.
pub const HUB_LICENSES: &[&str] = &[
    "openrail",
    "openrail++",
    "bigscience-openrail-m",
    "creativeml-openrail-m",
    "bigscience-bloom-rail-1.0",
    "bigcode-openrail-m",
    "llama2",
    "llama3",
    "llama3.1",
    "llama3.2",
    "llama3.3",
    "llama4",
    "gemma",
    "deepfloyd-if-license",
    "apple-amlr",
    "apple-ascl",
    "intel-research",
    "lgpl-lr",
    "h-research",
    "c-uda",
    "cc",
    "bsd",
    "gpl",
    "lgpl",
    "fair-noncommercial-research-license",
    "unknown",
    "other",
];

/// Creative Commons licenses that impose only attribution (or nothing).
const PERMISSIVE_CC: &[&str] = &[
    "CC0-1.0",
    "CC-BY-2.0",
    "CC-BY-2.5",
    "CC-BY-3.0",
    "CC-BY-4.0",
];

/// A license id resolved to its stored form.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResolvedLicense {
    pub info: LicenseInfo,
    pub permissive: bool,
}

/// Resolves the license a push declares. `name` is `license_name`, needed for `other`.
/// SPDX expressions (`apache-2.0 OR mit`) are accepted and stored in canonical form.
pub fn resolve(id: &str, name: Option<&str>) -> Result<ResolvedLicense, String> {
    let id = id.trim();
    if is_expression(id) {
        let (text, expr) = parse_expression(id)?;
        return Ok(ResolvedLicense {
            permissive: expr.evaluate(|req| spdx_id_of(req).is_some_and(is_permissive)),
            info: LicenseInfo {
                id: text,
                name: None,
            },
        });
    }
    if let Some(spdx_id) = spdx_lookup(id) {
        return Ok(ResolvedLicense {
            permissive: is_permissive(spdx_id),
            info: LicenseInfo {
                id: spdx_id.name.to_string(),
                name: None,
            },
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
                info: LicenseInfo {
                    id: "other".into(),
                    name: Some(name.to_string()),
                },
            });
        }
        return Ok(ResolvedLicense {
            permissive: false,
            info: LicenseInfo {
                id: hub.to_string(),
                name: None,
            },
        });
    }
    Err(format!(
        "unknown license `{id}`: use an SPDX id (apache-2.0, mit, bsd-3-clause, cc-by-4.0, …; any case), \
         one of the Hub's licenses ({}), or `other` with a license_name",
        HUB_LICENSES.join(", ")
    ))
}

/// `other` needs its text in a LICENSE file at the top of the model; `paths` are the
/// revision's files.
pub fn check_license_file<'a>(
    license: &LicenseInfo,
    mut paths: impl Iterator<Item = &'a str>,
) -> Result<(), String> {
    if license.id != "other" {
        return Ok(());
    }
    let has_file = paths.any(|p| {
        matches!(
            p.to_ascii_lowercase().as_str(),
            "license" | "license.md" | "license.txt" | "licence" | "licence.md" | "licence.txt"
        )
    });
    if has_file {
        return Ok(());
    }
    Err(format!(
        "license `other` ({}) needs its text in a LICENSE file at the top of the model",
        license.name.as_deref().unwrap_or("unnamed")
    ))
}

fn is_expression(text: &str) -> bool {
    text.contains(char::is_whitespace) || text.contains(['(', ')'])
}

/// Parses an SPDX expression written in any case; returns its canonical text.
pub fn parse_expression(text: &str) -> Result<(String, spdx::Expression), String> {
    let spaced = text.replace('(', " ( ").replace(')', " ) ");
    let mut words = Vec::new();
    for word in spaced.split_whitespace() {
        let canonical = match word.to_ascii_uppercase().as_str() {
            op @ ("AND" | "OR" | "WITH" | "(" | ")") => op.to_string(),
            _ => match spdx_lookup(word) {
                Some(l) => l.name.to_string(),
                None => match spdx::identifiers::EXCEPTIONS
                    .iter()
                    .find(|e| e.name.eq_ignore_ascii_case(word))
                {
                    Some(e) => e.name.to_string(),
                    None => {
                        return Err(format!(
                            "`{word}` in license expression `{text}` is not an SPDX license id"
                        ));
                    }
                },
            },
        };
        words.push(canonical);
    }
    let canonical = words.join(" ").replace("( ", "(").replace(" )", ")");
    let expr = spdx::Expression::parse(&canonical)
        .map_err(|e| format!("license expression `{text}` is not valid SPDX: {e}"))?;
    Ok((canonical, expr))
}

fn spdx_id_of(req: &spdx::LicenseReq) -> Option<spdx::LicenseId> {
    match &req.license {
        spdx::LicenseItem::Spdx { id, .. } => Some(*id),
        _ => None,
    }
}

/// Which licenses a registry accepts (`--license-policy`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Policy {
    Any,
    /// Permissive licenses (not copyleft, and OSI- or FSF-approved, or CC0/CC-BY).
    Permissive,
    /// OSI-approved and not copyleft.
    OsiPermissive,
    /// These SPDX ids (or Hub license names) only.
    AllowList(Vec<String>),
}

impl Policy {
    pub fn parse(text: &str) -> Result<Self, String> {
        match text.trim().to_ascii_lowercase().as_str() {
            "" | "any" => Ok(Self::Any),
            "permissive" => Ok(Self::Permissive),
            "osi-permissive" => Ok(Self::OsiPermissive),
            _ => {
                let mut ids = Vec::new();
                for item in text.split(',').map(str::trim).filter(|s| !s.is_empty()) {
                    match spdx_lookup(item) {
                        Some(l) => ids.push(l.name.to_string()),
                        None if HUB_LICENSES.contains(&item.to_ascii_lowercase().as_str()) => {
                            ids.push(item.to_ascii_lowercase())
                        }
                        None => {
                            return Err(format!(
                                "license policy names an unknown license `{item}`"
                            ));
                        }
                    }
                }
                Ok(Self::AllowList(ids))
            }
        }
    }

    fn allows_id(&self, id: &str) -> bool {
        let spdx = spdx_lookup(id);
        match self {
            Self::Any => true,
            Self::Permissive => spdx.is_some_and(is_permissive),
            Self::OsiPermissive => spdx.is_some_and(|l| l.is_osi_approved() && !l.is_copyleft()),
            Self::AllowList(ids) => ids.iter().any(|a| a.eq_ignore_ascii_case(id)),
        }
    }

    /// Checks a resolved license; the error names the policy and the license found.
    pub fn check(&self, policy_text: &str, license: &LicenseInfo) -> Result<(), String> {
        let allowed = if is_expression(&license.id) {
            match parse_expression(&license.id) {
                Ok((_, expr)) => {
                    expr.evaluate(|req| spdx_id_of(req).is_some_and(|l| self.allows_id(l.name)))
                }
                Err(_) => false,
            }
        } else {
            self.allows_id(&license.id)
        };
        if allowed {
            Ok(())
        } else {
            Err(format!(
                "this registry's license policy (`{policy_text}`) does not allow license `{}`{}",
                license.id,
                license
                    .name
                    .as_deref()
                    .map(|n| format!(" ({n})"))
                    .unwrap_or_default()
            ))
        }
    }
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
    use super::{Policy, resolve};

    #[test]
    fn expressions_and_policies() {
        let r = resolve("apache-2.0 OR mit", None).unwrap();
        assert_eq!(r.info.id, "Apache-2.0 OR MIT");
        assert!(r.permissive);
        let r = resolve("(gpl-3.0-only and mit)", None).unwrap();
        assert_eq!(r.info.id, "(GPL-3.0-only AND MIT)");
        assert!(!r.permissive);
        assert!(
            resolve("mit OR not-a-license", None)
                .unwrap_err()
                .contains("not an SPDX license id")
        );
        assert!(
            resolve("mit OR", None)
                .unwrap_err()
                .contains("not valid SPDX")
        );

        let osi = Policy::parse("osi-permissive").unwrap();
        assert!(
            osi.check("osi-permissive", &resolve("MIT", None).unwrap().info)
                .is_ok()
        );
        assert!(
            osi.check(
                "osi-permissive",
                &resolve("Apache-2.0 OR GPL-3.0-only", None).unwrap().info
            )
            .is_ok()
        );
        let err = osi
            .check(
                "osi-permissive",
                &resolve("gpl-3.0-only", None).unwrap().info,
            )
            .unwrap_err();
        assert!(
            err.contains("`osi-permissive`") && err.contains("GPL-3.0-only"),
            "{err}"
        );
        assert!(
            osi.check("osi-permissive", &resolve("llama3", None).unwrap().info)
                .is_err()
        );
        let list = Policy::parse("apache-2.0, mit").unwrap();
        assert!(list.check("x", &resolve("MIT", None).unwrap().info).is_ok());
        assert!(
            list.check("x", &resolve("BSD-3-Clause", None).unwrap().info)
                .is_err()
        );
        assert!(Policy::parse("mit, bogus").is_err());
    }

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
