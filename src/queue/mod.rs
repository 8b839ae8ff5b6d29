//! The queue of a counter's day (issue 27, first step): 番号札 and their lifecycle, and the
//! waiting estimate with its measured error. Pure domain: what a ticket may do next and how
//! long a waiting one is likely to wait; the store (numbering per office and day, an atomic
//! "next" across replicas), the API and the waiting-room display come next.
//!
//! `../shared/reference/counter-day.md` §1 is the source of the states and of the estimator.

pub mod estimate;
pub mod ticket;
