//! The authorizer the broker's tests load: its config `mode` decides.
//! Not an example to copy — two modes misbehave on purpose.
//!
//! - `allow`: allow everyone without restrictions;
//! - `trap`: panic (a trap in the guest);
//! - `loop`: spin forever (the CPU deadline must stop it);
//! - `account`: allow into account `other` (which Tern must refuse).

use tern_plugin_sdk::authorizer::{config_value, Authorizer, ConnectInfo, Decision, Grant};

struct ProbeAuthorizer;

impl Authorizer for ProbeAuthorizer {
    fn authorize(_info: ConnectInfo) -> Decision {
        match config_value("mode").unwrap_or("allow") {
            "trap" => panic!("probe authorizer asked to trap"),
            "loop" => {
                let mut n: u64 = 0;
                loop {
                    n = std::hint::black_box(n.wrapping_add(1));
                }
            }
            "account" => Decision::Allow(Grant {
                permissions: None,
                account: Some("other".into()),
            }),
            _ => Decision::allow_all(),
        }
    }
}

tern_plugin_sdk::export_authorizer!(ProbeAuthorizer);
