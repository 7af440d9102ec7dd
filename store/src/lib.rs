//! What the harness writes and the reports read: the campaign database's schema, its version,
//! its column and metadata-key names, the node statuses and failure classes as stored, the run
//! folder's layout, and a read-only opener.
//!
//! Both sides depend on this crate and on nothing of each other, so the harness never learns
//! about reports and the reports never re-declare what the harness stores.

pub mod layout;
pub mod meta;
mod read_only;
pub mod schema;
mod status;

pub use read_only::{
    OpenError, READER_BUSY_TIMEOUT, check_campaign, is_hot_journal, open_campaign_read_only, open_read_only, read_meta,
    roll_back_hot_journal,
};
pub use status::{FailureClass, Status};
