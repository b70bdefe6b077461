//! Placeholder: hex is being written.
use crate::registry::GameRegistration;
pub const REGISTRATION: GameRegistration = GameRegistration {
    name: "hex",
    summary: "not written yet",
    params: &[],
    create: |_| Err(crate::Error::NotSupported("hex is not written yet".to_string())),
};
