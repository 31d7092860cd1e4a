//! `mappings` (alias `maps`), at the top level for the global account or
//! inside an account: `src: dest`, `src: {destination, weight}` or
//! `src: [{destination, weight, cluster}, ...]`. Each mapping is checked
//! here by building it ([`crate::subject::Mapping`]), so a bad one is
//! reported with its file, line and nats-server's wording.

use super::apply::{Applier, Field};
use super::error::ConfigError;
use super::model::MappingConfig;
use super::value::{Kind, Value};
use crate::subject::mapping::Destination;
use crate::subject::Mapping;

/// Every mapping of a `mappings` table; bad entries are reported in
/// `cx.errors` and left out.
pub(super) fn mappings(cx: &mut Applier<'_>, f: &Field<'_>) -> Vec<MappingConfig> {
    let table = match f.table() {
        Ok(t) => t,
        Err(e) => {
            cx.errors.push(e);
            return Vec::new();
        }
    };
    let mut out = Vec::new();
    for entry in &table.entries {
        let child = f.child(entry);
        match mapping(&entry.key, &child) {
            Ok(m) => out.push(m),
            Err(e) => cx.errors.push(e),
        }
    }
    out
}

fn mapping(src: &str, f: &Field<'_>) -> Result<MappingConfig, ConfigError> {
    if !crate::subject::is_valid_subject(src.as_bytes()) {
        return Err(f.invalid(format!("Subject {src:?} is not a valid subject")));
    }
    let (dests, single) = match &f.value.kind {
        Kind::String(to) => (
            vec![Destination {
                subject: to.clone(),
                weight: 100,
                cluster: None,
            }],
            Some(to.as_str()),
        ),
        Kind::Array(items) => (
            items
                .iter()
                .enumerate()
                .map(|(i, v)| destination(&f.index(i, v), v))
                .collect::<Result<_, _>>()?,
            None,
        ),
        Kind::Table(_) => (vec![destination(f, f.value)?], None),
        _ => {
            return Err(f.invalid(format!(
                "Unknown type {} for mapping destination",
                f.value.describe()
            )))
        }
    };
    Mapping::new(src, &dests).map_err(|e| match single {
        Some(to) => f.invalid(format!("Error adding mapping for {src:?} to {to:?} : {e}")),
        None => f.invalid(format!("Error adding mapping for {src:?} : {e}")),
    })?;
    Ok(MappingConfig {
        subject: src.to_string(),
        dests,
        origin: f.origin(),
    })
}

/// `{destination, weight, cluster}`.
fn destination(f: &Field<'_>, value: &Value) -> Result<Destination, ConfigError> {
    let Kind::Table(table) = &value.kind else {
        return Err(f.invalid("Expected an entry for the mapping destination"));
    };
    let mut subject = String::new();
    let mut weight = None;
    let mut cluster = None;
    for entry in &table.entries {
        let child = f.child(entry);
        match entry.key.to_lowercase().as_str() {
            "dest" | "destination" => subject = child.string()?.to_string(),
            "weight" => weight = Some(weight_of(&child)?),
            "cluster" => cluster = Some(child.string()?.to_string()),
            _ => {
                return Err(child.invalid(format!(
                    "Unknown field {:?} for mapping destination",
                    entry.key
                )))
            }
        }
    }
    let Some(weight) = weight else {
        return Err(f.invalid(format!(
            "Missing weight for mapping destination {subject:?}"
        )));
    };
    Ok(Destination {
        subject,
        weight,
        cluster,
    })
}

/// `50`, `"50"` or `"50%"`.
fn weight_of(f: &Field<'_>) -> Result<u8, ConfigError> {
    let n = match &f.value.kind {
        Kind::Integer { value, .. } => *value,
        Kind::String(s) => {
            let digits = s.strip_suffix('%').unwrap_or(s);
            digits.parse::<i64>().map_err(|_| {
                f.invalid(format!("Invalid weight {digits:?} for mapping destination"))
            })?
        }
        _ => {
            return Err(f.invalid(format!(
                "Unknown entry type for weight of {}",
                f.value.describe()
            )))
        }
    };
    u8::try_from(n)
        .ok()
        .filter(|w| *w <= 100)
        .ok_or_else(|| f.invalid(format!("Invalid weight {n} for mapping destination")))
}
