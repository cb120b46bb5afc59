//! `GET /api/v1/changes?wait=N`: readers that wait for the next change, without holding a
//! database connection meanwhile.
//!
//! One poller per instance reads the feed's head and tells the waiting readers when it moved:
//! at once when this instance committed a write, otherwise every [`POLL`] while anyone waits
//! (so a change made by another instance on the same database reaches them within a second).
//! Nobody waiting, it reads nothing. No `LISTEN/NOTIFY`: it works the same on SQLite and
//! through connection poolers.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{Notify, watch};

use crate::db::Db;

/// How often the head is read while readers wait.
pub const POLL: Duration = Duration::from_millis(500);

/// The feed's head as this instance last saw it, for readers to wait on.
#[derive(Debug)]
pub struct Heads {
    head: watch::Sender<i64>,
}

impl Default for Heads {
    fn default() -> Self {
        Self { head: watch::Sender::new(0) }
    }
}

impl Heads {
    /// A receiver that is told whenever the head moves.
    pub fn subscribe(&self) -> watch::Receiver<i64> {
        self.head.subscribe()
    }

    /// Tells the waiting readers about a head of `head`; whether it moved.
    fn saw(&self, head: i64) -> bool {
        self.head.send_if_modified(|seen| {
            let moved = head > *seen;
            if moved {
                *seen = head;
            }
            moved
        })
    }

    /// The poller: runs for as long as the service does.
    pub async fn run(self: Arc<Self>, db: Db, commits: Arc<Notify>) {
        loop {
            tokio::select! {
                () = commits.notified() => {}
                () = tokio::time::sleep(POLL) => {}
            }
            if self.head.receiver_count() == 0 {
                continue;
            }
            match db.read(|conn| Ok(super::head(conn)?)).await {
                Ok(head) => {
                    self.saw(head);
                }
                Err(err) => log::warn!("reading the change feed's head failed: {err}"),
            }
        }
    }
}

/// Waits until `receiver` reports a head after `position` (true) or `deadline` passes (false).
pub async fn moved_past(receiver: &mut watch::Receiver<i64>, position: i64, deadline: tokio::time::Instant) -> bool {
    loop {
        if *receiver.borrow_and_update() > position {
            return true;
        }
        match tokio::time::timeout_at(deadline, receiver.changed()).await {
            Ok(Ok(())) => continue,
            // Timed out, or the poller is gone (the service is stopping).
            _ => return false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_waiter_wakes_when_the_head_moves_past_its_position_only() {
        let heads = Heads::default();
        let mut receiver = heads.subscribe();
        assert!(heads.saw(5));
        assert!(!heads.saw(5), "the same head again is no news");
        assert!(!heads.saw(3), "an older reading never moves the head back");
        let soon = tokio::time::Instant::now() + Duration::from_millis(50);
        assert!(moved_past(&mut receiver, 4, soon).await);
        assert!(!moved_past(&mut receiver, 5, soon).await, "nothing after 5 yet: times out");
        let later = tokio::time::Instant::now() + Duration::from_secs(5);
        let waiter = tokio::spawn(async move { moved_past(&mut receiver, 5, later).await });
        tokio::time::sleep(Duration::from_millis(20)).await;
        heads.saw(6);
        assert!(waiter.await.unwrap());
    }
}
