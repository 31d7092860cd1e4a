//! Client authentication and authorization: users with plain or bcrypt
//! passwords, tokens, and per-user publish/subscribe permissions enforced
//! natively on every PUB and SUB.

pub mod authenticator;
pub mod permissions;

pub use authenticator::{AuthError, Authenticator};
pub use permissions::{CompiledPermissions, PublishCache};
