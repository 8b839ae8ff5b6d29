//! Checkpoints of the chain head: now and then the gateway records which entry was newest and
//! its hash, signed (HMAC-SHA-256) with the server key, which the database does not hold.
//!
//! Someone with write access to the database can alter an entry and recompute every later
//! hash: the chain alone then verifies. A signed checkpoint of a later entry does not, and
//! cannot be re-signed without the server key. Each signed checkpoint names the one before it,
//! so that removing one in the middle shows too. Removing the newest checkpoints together with
//! the newest entries does not show: keep a head elsewhere as well (`--expect-head`).

use std::collections::VecDeque;

use chrono::{DateTime, SecondsFormat, Utc};

use super::chain::{AuditRecord, ChainBreak};
use crate::secrets::{self, KEY_LEN, Purpose, ServerKey};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Checkpoint {
    pub seq: i64,
    pub hash: String,
    pub created_at: DateTime<Utc>,
    /// `seq` of the checkpoint before it (of the signed one before it, for a signed
    /// checkpoint); 0 for the first.
    pub prev_seq: i64,
    pub signature: Option<String>,
}

impl Checkpoint {
    fn message(&self) -> Vec<u8> {
        serde_json::json!([
            "madoguchi-audit-checkpoint-v1",
            self.seq,
            self.hash,
            self.created_at.to_rfc3339_opts(SecondsFormat::Micros, true),
            self.prev_seq,
        ])
        .to_string()
        .into_bytes()
    }

    /// A checkpoint of `seq` / `hash`, signed when there is a server key.
    pub fn new(
        seq: i64,
        hash: String,
        created_at: DateTime<Utc>,
        prev_seq: i64,
        key: Option<&ServerKey>,
    ) -> Self {
        let mut checkpoint = Self {
            seq,
            hash,
            created_at,
            prev_seq,
            signature: None,
        };
        if let Some(key) = key {
            checkpoint.signature = Some(secrets::mac(
                &key.subkey(Purpose::AuditCheckpoint),
                &checkpoint.message(),
            ));
        }
        checkpoint
    }

    pub fn at(&self) -> String {
        self.created_at.to_rfc3339_opts(SecondsFormat::Secs, true)
    }
}

/// Compares the chain, as it is walked, with the stored checkpoints.
#[derive(Debug, Default)]
pub struct CheckpointCheck {
    pending: VecDeque<Checkpoint>,
    /// Whether signatures were checked (a server key was given).
    pub signed: bool,
    /// Checkpoints compared with the chain.
    pub total: u64,
    /// Checkpoints ignored because they are unsigned while a server key is given.
    pub unsigned_ignored: u64,
    /// Checkpoints whose entry was met and matched.
    pub matched: u64,
    /// The newest checkpoint compared.
    pub newest: Option<Checkpoint>,
    /// `seq` of the last checkpoint that matched.
    last_good: Option<i64>,
    /// The checkpoint the receipt outside the database names, found among the stored ones.
    pub receipt_seq: Option<i64>,
}

impl CheckpointCheck {
    /// Takes the checkpoints in `seq` order. With a server key, only signed checkpoints count
    /// (an unsigned one proves nothing), and each must carry a valid signature and follow the
    /// signed checkpoint before it.
    ///
    /// `receipt` is the newest signed checkpoint as kept outside the database (see
    /// `receipt.rs`): it must be among `checkpoints`, or checkpoints were deleted.
    pub fn new(
        checkpoints: Vec<Checkpoint>,
        key: Option<&ServerKey>,
        receipt: Option<&Checkpoint>,
    ) -> Result<Self, ChainBreak> {
        let mut check = Self {
            signed: key.is_some(),
            ..Self::default()
        };
        let subkey: Option<[u8; KEY_LEN]> = key.map(|k| k.subkey(Purpose::AuditCheckpoint));
        if let Some(receipt) = receipt {
            let signature = receipt.signature.as_deref().unwrap_or_default();
            if let Some(subkey) = &subkey
                && !secrets::mac_matches(subkey, &receipt.message(), signature)
            {
                return Err(ChainBreak::ForgedReceipt { seq: receipt.seq });
            }
        }
        let mut prev_signed = 0;
        for checkpoint in checkpoints {
            if let Some(subkey) = &subkey {
                let Some(signature) = &checkpoint.signature else {
                    check.unsigned_ignored += 1;
                    continue;
                };
                if !secrets::mac_matches(subkey, &checkpoint.message(), signature) {
                    return Err(ChainBreak::ForgedCheckpoint {
                        seq: checkpoint.seq,
                    });
                }
                if checkpoint.prev_seq != prev_signed {
                    return Err(ChainBreak::CheckpointRemoved {
                        seq: checkpoint.seq,
                        prev_seq: checkpoint.prev_seq,
                    });
                }
                prev_signed = checkpoint.seq;
            }
            check.total += 1;
            check.newest = Some(checkpoint.clone());
            check.pending.push_back(checkpoint);
        }
        if let Some(receipt) = receipt {
            match check.pending.iter().find(|c| c.seq == receipt.seq) {
                None => {
                    return Err(ChainBreak::CheckpointsDeleted {
                        seq: receipt.seq,
                        checkpoint_at: receipt.at(),
                    });
                }
                Some(stored) if stored != receipt => {
                    return Err(ChainBreak::ForgedCheckpoint { seq: receipt.seq });
                }
                Some(_) => check.receipt_seq = Some(receipt.seq),
            }
        }
        Ok(check)
    }

    /// Compares one record (fed in `seq` order) with a checkpoint of it, if there is one.
    pub fn check(&mut self, record: &AuditRecord) -> Result<(), ChainBreak> {
        while let Some(checkpoint) = self.pending.front() {
            if checkpoint.seq > record.seq {
                break;
            }
            if checkpoint.seq == record.seq {
                if checkpoint.hash != record.hash {
                    return Err(ChainBreak::Rewritten {
                        seq: record.seq,
                        id: record.id,
                        checkpoint_at: checkpoint.at(),
                        last_good: self.last_good,
                    });
                }
                self.matched += 1;
                self.last_good = Some(record.seq);
            }
            self.pending.pop_front();
        }
        Ok(())
    }

    /// After the last record: a checkpoint beyond the head means entries were removed.
    pub fn finish(&mut self, head_seq: i64) -> Result<(), ChainBreak> {
        match self.pending.iter().find(|c| c.seq > head_seq) {
            Some(checkpoint) => Err(ChainBreak::Truncated {
                checkpoint_seq: checkpoint.seq,
                checkpoint_at: checkpoint.at(),
                head_seq,
            }),
            None => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::audit::chain::{ChainVerifier, test_chain as chain};

    fn rewrite_from(records: &mut [AuditRecord], index: usize) {
        records[index].action = "client.revoke".into();
        for i in index..records.len() {
            if i > 0 {
                records[i].prev_hash = records[i - 1].hash.clone();
            }
            records[i].hash = records[i].compute_hash();
        }
    }

    fn checkpoints(
        records: &[AuditRecord],
        at: &[i64],
        key: Option<&ServerKey>,
    ) -> Vec<Checkpoint> {
        let mut prev = 0;
        at.iter()
            .map(|&seq| {
                let record = &records[(seq - 1) as usize];
                let c = Checkpoint::new(seq, record.hash.clone(), Utc::now(), prev, key);
                prev = seq;
                c
            })
            .collect()
    }

    fn walk(
        records: &[AuditRecord],
        checkpoints: Vec<Checkpoint>,
        key: Option<&ServerKey>,
    ) -> Result<ChainVerifier, ChainBreak> {
        let mut v = ChainVerifier::new(None, CheckpointCheck::new(checkpoints, key, None)?);
        for r in records {
            v.check(r)?;
        }
        v.finish()?;
        Ok(v)
    }

    #[test]
    fn a_rewrite_that_recomputed_every_hash_shows_against_a_signed_checkpoint() {
        let key = ServerKey::from_bytes([1; KEY_LEN]);
        let original = chain(10);
        let cps = checkpoints(&original, &[3, 8], Some(&key));
        let verified = walk(&original, cps.clone(), Some(&key)).unwrap();
        assert_eq!(verified.checkpoint_summary().matched, 2);

        let mut rewritten = original.clone();
        rewrite_from(&mut rewritten, 5);
        assert!(
            walk(&rewritten, Vec::new(), Some(&key)).is_ok(),
            "the chain alone passes"
        );
        let err = walk(&rewritten, cps, Some(&key)).unwrap_err();
        assert!(matches!(
            err,
            ChainBreak::Rewritten {
                seq: 8,
                last_good: Some(3),
                ..
            }
        ));
        let message = err.to_string();
        assert!(
            message.contains("rewritten at or before entry 8"),
            "{message}"
        );
        assert!(message.contains("after entry 3"), "{message}");
    }

    #[test]
    fn deleting_every_checkpoint_shows_against_the_receipt() {
        let key = ServerKey::from_bytes([1; KEY_LEN]);
        let records = chain(10);
        let cps = checkpoints(&records, &[3, 8], Some(&key));
        let receipt = cps[1].clone();
        let check = |cps: Vec<Checkpoint>, receipt: &Checkpoint| {
            CheckpointCheck::new(cps, Some(&key), Some(receipt))
        };
        assert_eq!(check(cps.clone(), &receipt).unwrap().receipt_seq, Some(8));
        assert!(matches!(
            check(Vec::new(), &receipt).unwrap_err(),
            ChainBreak::CheckpointsDeleted { seq: 8, .. }
        ));
        assert!(matches!(
            check(cps[..1].to_vec(), &receipt).unwrap_err(),
            ChainBreak::CheckpointsDeleted { seq: 8, .. }
        ));
        // A receipt made up without the key proves nothing and says so.
        let mut forged = receipt.clone();
        forged.hash = records[4].hash.clone();
        assert!(matches!(
            check(cps, &forged).unwrap_err(),
            ChainBreak::ForgedReceipt { seq: 8 }
        ));
    }

    #[test]
    fn forged_removed_and_unsigned_checkpoints() {
        let key = ServerKey::from_bytes([1; KEY_LEN]);
        let records = chain(10);
        let mut cps = checkpoints(&records, &[2, 5, 9], Some(&key));

        let mut forged = cps.clone();
        forged[1].hash = records[5].hash.clone();
        assert!(matches!(
            walk(&records, forged, Some(&key)).unwrap_err(),
            ChainBreak::ForgedCheckpoint { seq: 5 }
        ));
        let other_key = ServerKey::from_bytes([2; KEY_LEN]);
        assert!(walk(&records, cps.clone(), Some(&other_key)).is_err());

        let mut removed = cps.clone();
        removed.remove(1);
        assert!(matches!(
            walk(&records, removed, Some(&key)).unwrap_err(),
            ChainBreak::CheckpointRemoved {
                seq: 9,
                prev_seq: 5
            }
        ));

        assert!(matches!(
            walk(&records[..7], cps.clone(), Some(&key)).unwrap_err(),
            ChainBreak::Truncated {
                checkpoint_seq: 9,
                head_seq: 7,
                ..
            }
        ));

        // Unsigned checkpoints (written without a key) are ignored when a key is given…
        cps.push(Checkpoint::new(10, "0".repeat(64), Utc::now(), 9, None));
        let v = walk(&records, cps.clone(), Some(&key)).unwrap();
        assert_eq!(v.checkpoint_summary().unsigned_ignored, 1);
        // …and compared, for what they are worth, when none is.
        assert!(matches!(
            walk(&records, cps, None).unwrap_err(),
            ChainBreak::Rewritten { seq: 10, .. }
        ));
    }
}
