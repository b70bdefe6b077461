//! Placeholder: othello is being written.
use crate::registry::GameRegistration;
pub const REGISTRATION: GameRegistration = GameRegistration {
    name: "othello",
    summary: "not written yet",
    params: &[],
    create: |_| Err(crate::Error::NotSupported("othello is not written yet".to_string())),
};
