//! Many members at once, for `gatehouse members import`: one transaction, so an import is
//! stored whole or not at all.

use jiff::Timestamp;

use super::members::insert_member;
use super::{NewMember, Store, StoreError};

impl Store {
    /// Creates every member with their first events in one transaction: if any of them cannot
    /// be stored (say, an email added meanwhile by someone else), none is. `progress` is told
    /// how many are written so far. Returns how many members were created.
    pub async fn import_members(
        &self,
        members: &[NewMember],
        now: Timestamp,
        mut progress: impl FnMut(usize),
    ) -> Result<usize, StoreError> {
        let mut tx = self.write_tx().await?;
        for (done, new) in members.iter().enumerate() {
            insert_member(&mut tx, new, now).await?;
            progress(done + 1);
        }
        tx.commit().await?;
        Ok(members.len())
    }
}
