//! Imports started through the admin API run in the background of the replica that took the
//! file; this is where their progress is followed. The file's effect is in the database (one
//! transaction); the job is only what this replica knows of it, kept for an hour. A replica
//! that stops mid-import loses its job and applies nothing of the file.

use std::collections::HashMap;
use std::sync::Mutex;

use chrono::{DateTime, Duration, Utc};
use uuid::Uuid;

use super::import::{ImportRecord, Phase, Progress};
use crate::residents::file::RowError;

/// How long a finished job is kept to be looked at.
const KEEP: Duration = Duration::hours(1);

#[derive(Debug, Clone)]
pub enum JobOutcome {
    Applied(ImportRecord),
    Unchanged(ImportRecord),
    /// Bad rows: nothing applied.
    Rejected {
        errors: Vec<RowError>,
        more: u64,
    },
    /// Something other than the file went wrong: nothing applied.
    Failed(String),
}

#[derive(Debug, Clone)]
pub struct Job {
    pub id: Uuid,
    pub lg_code: String,
    pub kind: String,
    pub file_name: String,
    pub bytes: u64,
    pub created_at: DateTime<Utc>,
    pub progress: Progress,
    pub outcome: Option<JobOutcome>,
    pub finished_at: Option<DateTime<Utc>>,
}

#[derive(Debug, Default)]
pub struct ImportJobs {
    jobs: Mutex<HashMap<Uuid, Job>>,
}

impl ImportJobs {
    fn with<T>(&self, f: impl FnOnce(&mut HashMap<Uuid, Job>) -> T) -> T {
        let mut jobs = match self.jobs.lock() {
            Ok(j) => j,
            Err(poisoned) => poisoned.into_inner(),
        };
        f(&mut jobs)
    }

    pub fn start(&self, job: Job) {
        let now = Utc::now();
        self.with(|jobs| {
            jobs.retain(|_, j| j.finished_at.is_none_or(|f| now - f < KEEP));
            jobs.insert(job.id, job);
        });
    }

    pub fn progress(&self, id: Uuid, progress: Progress) {
        self.with(|jobs| {
            if let Some(j) = jobs.get_mut(&id) {
                j.progress = progress;
            }
        });
    }

    pub fn finish(&self, id: Uuid, outcome: JobOutcome) {
        self.with(|jobs| {
            if let Some(j) = jobs.get_mut(&id) {
                j.progress.phase = Phase::Done;
                j.outcome = Some(outcome);
                j.finished_at = Some(Utc::now());
            }
        });
    }

    pub fn get(&self, id: Uuid) -> Option<Job> {
        self.with(|jobs| jobs.get(&id).cloned())
    }
}
