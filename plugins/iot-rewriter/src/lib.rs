//! IoT subject rewriter: `devices.<id>.<kind>` becomes
//! `site.<site>.<kind>.<id>`, so consumers subscribe per site
//! (`site.north.telemetry.>`) instead of knowing every device.
//!
//! Config (the plugin's `config` table):
//! - `site`: the site of devices not listed under `sites` (optional);
//! - `sites.<device-id>`: the site of one device;
//! - `unknown`: `keep` (default) or `drop` for devices with no site.
//!
//! Reads the subject only: the payload is never copied into the plugin.

use tern_plugin_sdk::transform::{config_value, Message, SubjectTransform, TransformResult};

/// Where a device's messages go, or `None` when it has no site.
pub fn rewrite(subject: &str, site_of: impl Fn(&str) -> Option<String>) -> Option<String> {
    let mut parts = subject.splitn(3, '.');
    let (Some("devices"), Some(id), Some(kind)) = (parts.next(), parts.next(), parts.next()) else {
        return None;
    };
    let site = site_of(id)?;
    Some(format!("site.{site}.{kind}.{id}"))
}

struct IotRewriter;

impl SubjectTransform for IotRewriter {
    fn transform(msg: &Message) -> TransformResult {
        let site_of = |id: &str| {
            config_value(&format!("sites.{id}"))
                .or_else(|| config_value("site"))
                .map(str::to_string)
        };
        match rewrite(&msg.subject(), site_of) {
            Some(subject) => TransformResult::to(subject),
            None if config_value("unknown") == Some("drop") => TransformResult::Drop,
            None => TransformResult::Keep,
        }
    }
}

tern_plugin_sdk::export_transform!(IotRewriter);

#[cfg(test)]
mod tests {
    use super::rewrite;

    fn sites(id: &str) -> Option<String> {
        match id {
            "d1" => Some("north".into()),
            _ => None,
        }
    }

    #[test]
    fn known_devices_move_under_their_site() {
        assert_eq!(
            rewrite("devices.d1.telemetry", sites).as_deref(),
            Some("site.north.telemetry.d1")
        );
        assert_eq!(
            rewrite("devices.d1.status.battery", sites).as_deref(),
            Some("site.north.status.battery.d1")
        );
    }

    #[test]
    fn unknown_devices_and_other_subjects_are_left_alone() {
        assert_eq!(rewrite("devices.d9.telemetry", sites), None);
        assert_eq!(rewrite("devices.d1", sites), None);
        assert_eq!(rewrite("other.d1.telemetry", sites), None);
    }
}
