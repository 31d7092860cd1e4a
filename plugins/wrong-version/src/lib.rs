//! Built against `tern:plugin@0.2.0`: the broker (0.1.0) must refuse to
//! load it and say which versions differ. Used by the plugin tests only.

wit_bindgen::generate!({ path: "wit", world: "subject-transform" });

struct Future;

impl exports::tern::plugin::transform::Guest for Future {
    fn transform(subject: String) -> Option<String> {
        Some(subject)
    }
}

export!(Future);
