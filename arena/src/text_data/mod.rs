//! Text data from language-model matches: exports as SFT chats, preference pairs and arena
//! battles ([`export`]), the quality and safety filter their texts pass ([`text_filter`]), and
//! the report on judges of debates ([`judging`]), and labels for verifiable tasks from a verifier
//! or from the samples' own majority ([`answers`]), and tasks the models propose themselves
//! ([`proposals`]).

pub mod answers;
pub mod export;
pub mod judging;
pub mod proposals;
pub mod text_filter;
