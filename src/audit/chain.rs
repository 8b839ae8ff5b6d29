//! The hash chain: each record's hash covers its own fields and the previous record's hash,
//! so altering or removing a record breaks every link after it.

use chrono::{DateTime, SecondsFormat, Utc};
use sha2::{Digest, Sha256};
use uuid::Uuid;

use super::checkpoint::CheckpointCheck;

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
    /// For a record of repeated refusals: how many (see [`super::record_denial`]).
    pub repeat_count: Option<i64>,
}

impl AuditRecord {
    /// SHA-256 over a JSON array of every field but `hash`, in a fixed order, prefixed with
    /// a version tag so that the format can evolve: v1 for records without a repeat count
    /// (every record written before counts existed), v2 with it.
    pub fn compute_hash(&self) -> String {
        let mut canonical = serde_json::json!([
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
        if let (Some(count), Some(fields)) = (self.repeat_count, canonical.as_array_mut()) {
            fields[0] = "madoguchi-audit-v2".into();
            fields.push(count.into());
        }
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
        "no entry has the expected hash {expected} (the log ends at entry {head_seq}): entries were removed, or the log was rewritten"
    )]
    AnchorNotFound { expected: String, head_seq: i64 },
    #[error(
        "the log ends at entry {head_seq}, before the expected entry {anchor_seq}: newer entries were removed"
    )]
    AnchorBeyondHead { anchor_seq: i64, head_seq: i64 },
    #[error(
        "entry {seq} ({id}) is not the expected one (hash {expected}): the log was rewritten at or before entry {seq}, and every hash after it recomputed"
    )]
    AnchorMismatch {
        seq: i64,
        id: Uuid,
        expected: String,
    },
    #[error(
        "entry {seq} ({id}) differs from the checkpoint recorded at {checkpoint_at}: the log was rewritten at or before entry {seq}{after}, and every hash after it recomputed",
        after = match last_good { Some(good) => format!(" and after entry {good}, whose checkpoint still matches"), None => String::new() }
    )]
    Rewritten {
        seq: i64,
        id: Uuid,
        checkpoint_at: String,
        last_good: Option<i64>,
    },
    #[error(
        "the log ends at entry {head_seq}, but a checkpoint recorded at {checkpoint_at} saw entry {checkpoint_seq}: newer entries were removed"
    )]
    Truncated {
        checkpoint_seq: i64,
        checkpoint_at: String,
        head_seq: i64,
    },
    #[error(
        "the checkpoint of entry {seq} has a signature that the server key does not make: checkpoints were forged, or the key is not the one that signed them"
    )]
    ForgedCheckpoint { seq: i64 },
    #[error(
        "the signed checkpoint of entry {seq} follows entry {prev_seq}'s, which is missing: signed checkpoints were removed"
    )]
    CheckpointRemoved { seq: i64, prev_seq: i64 },
    #[error(
        "the signed checkpoint of entry {seq} recorded at {checkpoint_at}, which the receipt outside the database names, is not in the database: checkpoints were deleted, and the log may have been rewritten"
    )]
    CheckpointsDeleted { seq: i64, checkpoint_at: String },
    #[error(
        "the checkpoint receipt (entry {seq}) has a signature that the server key does not make: the receipt was forged, or the key is not the one that signed it"
    )]
    ForgedReceipt { seq: i64 },
}

/// An entry recorded earlier somewhere else (`--expect-head`): `SEQ:HASH`, or a hash alone.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Anchor {
    pub seq: Option<i64>,
    pub hash: String,
}

impl Anchor {
    pub fn parse(text: &str) -> Option<Self> {
        let text = text.trim();
        let (seq, hash) = match text.split_once(':') {
            Some((seq, hash)) => (Some(seq.parse().ok()?), hash),
            None => (None, text),
        };
        let hash = hash.to_ascii_lowercase();
        (hash.len() == 64 && hash.bytes().all(|b| b.is_ascii_hexdigit()))
            .then_some(Self { seq, hash })
    }
}

/// Checks records fed to it in `seq` order: each record's hash and link, and — when given —
/// an anchor recorded elsewhere and the stored checkpoints of the head.
#[derive(Debug)]
pub struct ChainVerifier {
    next_seq: i64,
    prev_hash: String,
    checked: u64,
    anchor: Option<Anchor>,
    /// `(seq, id, hash)` of the record the anchor picks, once met.
    anchor_record: Option<(i64, Uuid, String)>,
    checkpoints: CheckpointCheck,
}

impl Default for ChainVerifier {
    fn default() -> Self {
        Self::new(None, CheckpointCheck::default())
    }
}

impl ChainVerifier {
    pub fn new(anchor: Option<Anchor>, checkpoints: CheckpointCheck) -> Self {
        Self {
            next_seq: 1,
            prev_hash: GENESIS_HASH.to_owned(),
            checked: 0,
            anchor,
            anchor_record: None,
            checkpoints,
        }
    }

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
        self.checkpoints.check(record)?;
        if self.anchor.as_ref().is_some_and(|a| a.picks(record)) {
            self.anchor_record = Some((record.seq, record.id, record.hash.clone()));
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

    /// What the checkpoints showed (after [`ChainVerifier::finish`]).
    pub fn checkpoint_summary(&self) -> &CheckpointCheck {
        &self.checkpoints
    }

    /// After the last record: the checks that need the whole walk. The anchor must be in the
    /// chain (entries added after it was taken are fine); no checkpoint may lie beyond the
    /// head. Removal of the newest entries and a rewrite that recomputed every later hash
    /// both show here.
    pub fn finish(&mut self) -> Result<(), ChainBreak> {
        let (head_seq, _) = self.head();
        self.checkpoints.finish(head_seq)?;
        let Some(anchor) = &self.anchor else {
            return Ok(());
        };
        match (anchor.seq, &self.anchor_record) {
            (_, Some((_, _, hash))) if *hash == anchor.hash => Ok(()),
            (Some(seq), _) if seq > head_seq => Err(ChainBreak::AnchorBeyondHead {
                anchor_seq: seq,
                head_seq,
            }),
            (Some(seq), Some((_, id, _))) => Err(ChainBreak::AnchorMismatch {
                seq,
                id: *id,
                expected: anchor.hash.clone(),
            }),
            _ => Err(ChainBreak::AnchorNotFound {
                expected: anchor.hash.clone(),
                head_seq,
            }),
        }
    }
}

impl Anchor {
    /// Whether `record` is the one to compare with the anchor: the entry at its `seq`, or
    /// without a `seq` the entry with its hash.
    pub fn picks(&self, record: &AuditRecord) -> bool {
        match self.seq {
            Some(seq) => record.seq == seq,
            None => record.hash == self.hash,
        }
    }
}

/// A valid chain of `n` records, for tests.
#[cfg(test)]
pub(crate) fn test_chain(n: i64) -> Vec<AuditRecord> {
    let mut prev = GENESIS_HASH.to_owned();
    (1..=n)
        .map(|seq| {
            let mut r = AuditRecord {
                seq,
                id: Uuid::now_v7(),
                occurred_at: DateTime::from_timestamp(1_800_000_000 + seq, 123_456_000)
                    .unwrap_or_default(),
                request_id: Some(format!("req-{seq}")),
                client_id: Some("client".into()),
                actor: Some("staff-1".into()),
                lg_code: Some("012084".into()),
                action: "client.create".into(),
                target: None,
                outcome: "success".into(),
                prev_hash: prev.clone(),
                hash: String::new(),
                repeat_count: None,
            };
            r.hash = r.compute_hash();
            prev.clone_from(&r.hash);
            r
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chain(n: i64) -> Vec<AuditRecord> {
        test_chain(n)
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
    fn a_repeat_count_is_covered_by_the_hash() {
        let mut records = chain(3);
        assert_eq!(verify(&records), Ok(()));
        records[1].repeat_count = Some(12);
        assert!(matches!(
            verify(&records),
            Err(ChainBreak::Altered { seq: 2, .. })
        ));
        records[1].hash = records[1].compute_hash();
        let mut again = records.clone();
        again[1].repeat_count = Some(13);
        assert_ne!(again[1].compute_hash(), records[1].hash);
    }

    fn walk_with_anchor(records: &[AuditRecord], anchor: &Anchor) -> Result<(), ChainBreak> {
        let mut v = ChainVerifier::new(Some(anchor.clone()), CheckpointCheck::default());
        records.iter().try_for_each(|r| v.check(r))?;
        v.finish()
    }

    #[test]
    fn an_anchor_catches_removal_and_rewrite_but_not_growth() {
        let records = chain(5);
        let anchor = Anchor::parse(&format!("4:{}", records[3].hash)).unwrap();
        assert_eq!(
            walk_with_anchor(&records, &anchor),
            Ok(()),
            "entry 5 is new"
        );
        assert!(matches!(
            walk_with_anchor(&records[..3], &anchor),
            Err(ChainBreak::AnchorBeyondHead {
                anchor_seq: 4,
                head_seq: 3
            })
        ));
        // Rewrite entry 2 and recompute every later hash: the chain itself stays valid.
        let mut rewritten = records.clone();
        rewritten[1].actor = Some("someone-else".into());
        for i in 1..rewritten.len() {
            rewritten[i].prev_hash = rewritten[i - 1].hash.clone();
            rewritten[i].hash = rewritten[i].compute_hash();
        }
        assert_eq!(verify(&rewritten), Ok(()));
        let err = walk_with_anchor(&rewritten, &anchor).unwrap_err();
        assert!(matches!(err, ChainBreak::AnchorMismatch { seq: 4, .. }));
        assert!(err.to_string().contains("rewritten"), "{err}");
        let bare = Anchor::parse(&records[3].hash).unwrap();
        let err = walk_with_anchor(&rewritten, &bare).unwrap_err();
        assert!(
            err.to_string()
                .contains("removed, or the log was rewritten"),
            "{err}"
        );
        assert_eq!(walk_with_anchor(&records, &bare), Ok(()));
    }

    #[test]
    fn anchors_parse_with_or_without_a_seq() {
        let hash = "a".repeat(64);
        assert_eq!(Anchor::parse(&hash).unwrap().seq, None);
        assert_eq!(Anchor::parse(&format!("12:{hash}")).unwrap().seq, Some(12));
        assert!(Anchor::parse("12:abc").is_none());
        assert!(Anchor::parse("x:".to_owned().as_str()).is_none());
    }
}
