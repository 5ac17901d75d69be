//! Access codes: four words from the EFF large wordlist, shown to people
//! with dashes or spaces and matched ignoring case and separators. A code
//! is stored only as a keyed hash; the plain code exists in the issuing
//! response, the email and the handout, and nowhere else.

mod key;
mod service;
mod store;
mod words;

pub use key::{CodeKey, CodeKeyError};
pub use service::IssuedCode;
pub(crate) use service::revoke_active_codes_of;
pub use store::{CodeKind, CodeRecord, CodeStatus, PendingCode};
pub(crate) use store::{NewCode, by_hash as find_by_hash, insert as insert_code, mark_redeemed};
pub use words::{
    CodeInputError, PlainCode, PresentedCode, WORDS_PER_CODE, looks_like_a_code, wordlist_len,
};
