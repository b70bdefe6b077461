//! Placeholder: kuhn_poker is being written.
use crate::registry::GameRegistration;
pub const REGISTRATION: GameRegistration = GameRegistration {
    name: "kuhn_poker",
    summary: "not written yet",
    params: &[],
    create: |_| Err(crate::Error::NotSupported("kuhn_poker is not written yet".to_string())),
};
