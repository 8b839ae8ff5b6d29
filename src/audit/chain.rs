//! The hash chain: each record's hash covers its own fields and the previous record's hash,
//! so altering or removing a record breaks every link after it.

use chrono::{DateTime, SecondsFormat, Utc};
use sha2::{Digest, Sha256};
use uuid::Uuid;

/// `prev_hash` of the first record.
pub const GENESIS_HASH: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// A stored audit record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditRecord {
    pub seq: i64,
    pub id: Uuid,
    /// Truncated to microseconds, the precision both databases keep.
    pub occurred_at: DateTime<Utc>,
    pub request_id: Option<String>,
    pub client_id: Option<String>,
    pub actor: Option<String>,
    pub lg_code: Option<String>,
    pub action: String,
    pub target: Option<String>,
    pub outcome: String,
    pub prev_hash: String,
    pub hash: String,
}

impl AuditRecord {
    /// SHA-256 over a JSON array of every field but `hash`, in a fixed order, prefixed with
    /// a version tag so that the format can evolve.
    pub fn compute_hash(&self) -> String {
        let canonical = serde_json::json!([
            "madoguchi-audit-v1",
            self.seq,
            self.id.to_string(),
            self.occurred_at
                .to_rfc3339_opts(SecondsFormat::Micros, true),
            self.request_id,
            self.client_id,
            self.actor,
            self.lg_code,
            self.action,
            self.target,
            self.outcome,
            self.prev_hash,
        ]);
        hex::encode(Sha256::digest(canonical.to_string().as_bytes()))
    }
}

/// The first thing wrong with a chain.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ChainBreak {
    #[error("entry {seq} ({id}) was altered: its hash does not match its contents")]
    Altered { seq: i64, id: Uuid },
    #[error("entries {expected} to {} are missing before entry {found} ({id})", found - 1)]
    Missing { expected: i64, found: i64, id: Uuid },
    #[error(
        "entry {seq} ({id}) does not link to the entry before it: that entry was removed or replaced"
    )]
    Unlinked { seq: i64, id: Uuid },
    #[error(
        "the newest entry is {found_seq} with hash {found_hash}, not the expected head {expected}: newer entries were removed"
    )]
    HeadMismatch {
        expected: String,
        found_seq: i64,
        found_hash: String,
    },
}

/// Checks records fed to it in `seq` order.
#[derive(Debug)]
pub struct ChainVerifier {
    next_seq: i64,
    prev_hash: String,
    checked: u64,
}

impl Default for ChainVerifier {
    fn default() -> Self {
        Self {
            next_seq: 1,
            prev_hash: GENESIS_HASH.to_owned(),
            checked: 0,
        }
    }
}

impl ChainVerifier {
    pub fn check(&mut self, record: &AuditRecord) -> Result<(), ChainBreak> {
        if record.seq != self.next_seq {
            return Err(ChainBreak::Missing {
                expected: self.next_seq,
                found: record.seq,
                id: record.id,
            });
        }
        if record.compute_hash() != record.hash {
            return Err(ChainBreak::Altered {
                seq: record.seq,
                id: record.id,
            });
        }
        if record.prev_hash != self.prev_hash {
            return Err(ChainBreak::Unlinked {
                seq: record.seq,
                id: record.id,
            });
        }
        self.next_seq += 1;
        self.prev_hash.clone_from(&record.hash);
        self.checked += 1;
        Ok(())
    }

    /// Number of records checked so far.
    pub fn checked(&self) -> u64 {
        self.checked
    }

    /// `(seq, hash)` of the last record checked, to be kept elsewhere as an anchor.
    pub fn head(&self) -> (i64, &str) {
        (self.next_seq - 1, &self.prev_hash)
    }

    /// Compares the head with one recorded earlier; catches removal of the newest records,
    /// which the chain alone cannot show.
    pub fn expect_head(&self, expected: &str) -> Result<(), ChainBreak> {
        let (seq, hash) = self.head();
        if hash == expected {
            Ok(())
        } else {
            Err(ChainBreak::HeadMismatch {
                expected: expected.to_owned(),
                found_seq: seq,
                found_hash: hash.to_owned(),
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chain(n: i64) -> Vec<AuditRecord> {
        let mut prev = GENESIS_HASH.to_owned();
        (1..=n)
            .map(|seq| {
                let mut r = AuditRecord {
                    seq,
                    id: Uuid::now_v7(),
                    occurred_at: DateTime::from_timestamp(1_800_000_000 + seq, 123_456_000)
                        .unwrap(),
                    request_id: Some(format!("req-{seq}")),
                    client_id: Some("client".into()),
                    actor: Some("staff-1".into()),
                    lg_code: Some("012084".into()),
                    action: "client.create".into(),
                    target: None,
                    outcome: "success".into(),
                    prev_hash: prev.clone(),
                    hash: String::new(),
                };
                r.hash = r.compute_hash();
                prev.clone_from(&r.hash);
                r
            })
            .collect()
    }

    fn verify(records: &[AuditRecord]) -> Result<(), ChainBreak> {
        let mut v = ChainVerifier::default();
        records.iter().try_for_each(|r| v.check(r))
    }

    #[test]
    fn an_intact_chain_verifies() {
        assert_eq!(verify(&chain(5)), Ok(()));
    }

    #[test]
    fn an_altered_field_is_found() {
        let mut records = chain(5);
        records[2].actor = Some("someone-else".into());
        assert!(matches!(
            verify(&records),
            Err(ChainBreak::Altered { seq: 3, .. })
        ));
    }

    #[test]
    fn a_rehashed_record_breaks_the_next_link() {
        let mut records = chain(5);
        records[2].action = "client.revoke".into();
        records[2].hash = records[2].compute_hash();
        assert!(matches!(
            verify(&records),
            Err(ChainBreak::Unlinked { seq: 4, .. })
        ));
    }

    #[test]
    fn a_removed_record_is_found() {
        let mut records = chain(5);
        records.remove(1);
        assert!(matches!(
            verify(&records),
            Err(ChainBreak::Missing {
                expected: 2,
                found: 3,
                ..
            })
        ));
    }

    #[test]
    fn removing_the_newest_records_shows_against_an_anchor() {
        let records = chain(5);
        let mut v = ChainVerifier::default();
        records[..4].iter().for_each(|r| v.check(r).unwrap());
        assert!(v.expect_head(&records[4].hash).is_err());
        v.check(&records[4]).unwrap();
        assert_eq!(v.expect_head(&records[4].hash), Ok(()));
    }
}
