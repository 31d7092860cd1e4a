//! Host bindings generated from `wit/` (the same files the plugin SDK uses):
//! one module per world. The shared interfaces (`types`, `host`) are
//! generated once, in [`transform`], and reused by the other two.

/// The `subject-transform` world, and the shared `types` and `host`
/// interfaces.
pub mod transform {
    wasmtime::component::bindgen!({
        path: "../wit",
        world: "subject-transform",
        imports: { default: trappable },
        with: {
            "tern:plugin/types.message": crate::plugin::host::MessageRef,
        },
    });
}

/// The `authorizer` world.
pub mod authorizer {
    wasmtime::component::bindgen!({
        path: "../wit",
        world: "authorizer",
        imports: { default: trappable },
        with: {
            "tern:plugin/types": crate::plugin::bindings::transform::tern::plugin::types,
            "tern:plugin/host": crate::plugin::bindings::transform::tern::plugin::host,
        },
    });
}

/// The `stream-filter` world.
pub mod filter {
    wasmtime::component::bindgen!({
        path: "../wit",
        world: "stream-filter",
        imports: { default: trappable },
        with: {
            "tern:plugin/types": crate::plugin::bindings::transform::tern::plugin::types,
            "tern:plugin/host": crate::plugin::bindings::transform::tern::plugin::host,
        },
    });
}

pub use transform::tern::plugin::host::Level;
pub use transform::tern::plugin::types;

/// The package version this broker implements: components built against
/// another one are refused at load time.
pub const WIT_VERSION: &str = "0.1.0";
