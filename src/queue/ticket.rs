//! A 番号札 and what may happen to it: issued → called (to a counter) → serving → done, with
//! held, transferred (one visit, many queues: the original issue time is kept), no-show (and
//! back again when the resident returns) and cancelled. A ticket is its events: every change
//! is one, nothing is overwritten, and the state is what the events leave.

use chrono::{DateTime, Utc};

use crate::i18n::Text;

/// Where a ticket is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum State {
    /// Waiting in its category's queue.
    Issued,
    /// Called to a counter; the resident is on the way.
    Called,
    /// At the counter.
    Serving,
    /// Put aside at the counter (a document to fetch, a back-office check).
    Held,
    /// Did not come when called.
    NoShow,
    Done,
    Cancelled,
}

impl State {
    pub fn as_str(self) -> &'static str {
        match self {
            State::Issued => "issued",
            State::Called => "called",
            State::Serving => "serving",
            State::Held => "held",
            State::NoShow => "noShow",
            State::Done => "done",
            State::Cancelled => "cancelled",
        }
    }
}

/// One change of a ticket.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// Called to `counter` (again, if it is the same counter: a recall).
    Called {
        counter: String,
    },
    /// Service starts at the counter it was called to.
    Started,
    Held,
    /// Back from held at the same counter.
    Resumed,
    /// Sent to the queue of `category`, keeping its original issue time.
    Transferred {
        category: String,
    },
    NoShow,
    /// The resident came back after a no-show: waiting again.
    Returned,
    Done,
    Cancelled,
}

/// A ticket: its number for the day, its queue, and where it is.
#[derive(Debug, Clone, PartialEq)]
pub struct Ticket {
    /// `A-012`: the category's prefix and the day's sequence; never reused that day.
    pub number: String,
    pub category: String,
    /// When it was first issued; a transfer keeps it.
    pub issued_at: DateTime<Utc>,
    /// Since when it waits in its current queue (issue, transfer or return).
    pub queued_at: DateTime<Utc>,
    pub state: State,
    /// The counter it was last called to.
    pub counter: Option<String>,
    /// Times called since it last joined a queue.
    pub calls: u32,
    pub called_at: Option<DateTime<Utc>>,
    pub started_at: Option<DateTime<Utc>>,
    pub ended_at: Option<DateTime<Utc>>,
}

/// The number printed on a ticket: the category's prefix and the day's sequence, three digits
/// at least (`A-007`, `A-1234`).
pub fn number(prefix: &str, sequence: u32) -> String {
    format!("{prefix}-{sequence:03}")
}

/// Why an event cannot happen to a ticket now, for the clerk.
#[derive(Debug, Clone, PartialEq)]
pub struct Refusal {
    pub code: &'static str,
    pub message: Text,
}

impl Ticket {
    pub fn issued(number: String, category: String, at: DateTime<Utc>) -> Self {
        Ticket {
            number,
            category,
            issued_at: at,
            queued_at: at,
            state: State::Issued,
            counter: None,
            calls: 0,
            called_at: None,
            started_at: None,
            ended_at: None,
        }
    }

    /// The ticket after `event` at `at`, or why not (the ticket unchanged).
    pub fn apply(&mut self, event: &Event, at: DateTime<Utc>) -> Result<(), Refusal> {
        use State::*;
        let number = self.number.clone();
        let refuse = |code: &'static str, ja: String, en: String| Refusal {
            code,
            message: Text::new(ja, en),
        };
        match (self.state, event) {
            (Issued, Event::Called { counter }) => {
                self.state = Called;
                self.counter = Some(counter.clone());
                self.calls = 1;
                self.called_at = Some(at);
            }
            (Called, Event::Called { counter }) if self.counter.as_ref() == Some(counter) => {
                self.calls += 1;
                self.called_at = Some(at);
            }
            (Called | Serving | Held, Event::Called { .. }) => {
                let to = self.counter.clone().unwrap_or_default();
                return Err(refuse(
                    "ticket_already_called",
                    format!(
                        "番号札 {number} はすでに{to}に呼び出されています。次の番号札を呼んでください。"
                    ),
                    format!("Ticket {number} has already been called to {to}: call the next one."),
                ));
            }
            (Called, Event::Started) => {
                self.state = Serving;
                self.started_at = Some(at);
            }
            (Serving, Event::Held) => self.state = Held,
            (Held, Event::Resumed) => self.state = Serving,
            (Issued | Called | Serving | Held, Event::Transferred { category }) => {
                self.category = category.clone();
                self.state = Issued;
                self.queued_at = at;
                self.counter = None;
                self.calls = 0;
                self.called_at = None;
                self.started_at = None;
            }
            (Called, Event::NoShow) => {
                self.state = NoShow;
                self.ended_at = Some(at);
            }
            (NoShow, Event::Returned) => {
                self.state = Issued;
                self.queued_at = at;
                self.counter = None;
                self.calls = 0;
                self.called_at = None;
                self.ended_at = None;
            }
            (Serving | Held, Event::Done) => {
                self.state = Done;
                self.ended_at = Some(at);
            }
            (Issued | Called, Event::Cancelled) => {
                self.state = Cancelled;
                self.ended_at = Some(at);
            }
            (state, event) => {
                return Err(refuse(
                    "ticket_state",
                    format!(
                        "番号札 {number} は今「{}」のため、この操作({})はできません。",
                        state_ja(state),
                        event_ja(event)
                    ),
                    format!(
                        "Ticket {number} is {}: {} cannot happen now.",
                        state.as_str(),
                        event_en(event)
                    ),
                ));
            }
        }
        Ok(())
    }

    /// Minutes it waited in its current queue before it was called (none while waiting).
    pub fn waited_minutes(&self) -> Option<f64> {
        self.called_at
            .map(|c| (c - self.queued_at).num_seconds().max(0) as f64 / 60.0)
    }

    /// Minutes at the counter, once done.
    pub fn service_minutes(&self) -> Option<f64> {
        match (self.state, self.started_at, self.ended_at) {
            (State::Done, Some(s), Some(e)) => Some((e - s).num_seconds().max(0) as f64 / 60.0),
            _ => None,
        }
    }
}

fn state_ja(s: State) -> &'static str {
    match s {
        State::Issued => "待ち",
        State::Called => "呼出中",
        State::Serving => "応対中",
        State::Held => "保留",
        State::NoShow => "不在",
        State::Done => "完了",
        State::Cancelled => "取消",
    }
}

fn event_ja(e: &Event) -> &'static str {
    match e {
        Event::Called { .. } => "呼出",
        Event::Started => "応対開始",
        Event::Held => "保留",
        Event::Resumed => "再開",
        Event::Transferred { .. } => "転送",
        Event::NoShow => "不在",
        Event::Returned => "再受付",
        Event::Done => "完了",
        Event::Cancelled => "取消",
    }
}

fn event_en(e: &Event) -> &'static str {
    match e {
        Event::Called { .. } => "a call",
        Event::Started => "starting service",
        Event::Held => "holding",
        Event::Resumed => "resuming",
        Event::Transferred { .. } => "a transfer",
        Event::NoShow => "a no-show",
        Event::Returned => "returning",
        Event::Done => "finishing",
        Event::Cancelled => "cancelling",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn at(minute: i64) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 12, 7, 0, 0, 0).unwrap() + chrono::Duration::minutes(minute)
    }

    #[test]
    fn a_ticket_goes_from_issue_to_done_and_its_times_are_kept() {
        let mut t = Ticket::issued(number("A", 7), "oneStop".into(), at(0));
        assert_eq!(t.number, "A-007");
        t.apply(
            &Event::Called {
                counter: "3番".into(),
            },
            at(12),
        )
        .unwrap();
        t.apply(
            &Event::Called {
                counter: "3番".into(),
            },
            at(13),
        )
        .unwrap();
        assert_eq!(t.calls, 2, "a recall to the same counter");
        t.apply(&Event::Started, at(14)).unwrap();
        t.apply(&Event::Held, at(20)).unwrap();
        t.apply(&Event::Resumed, at(25)).unwrap();
        t.apply(&Event::Done, at(30)).unwrap();
        assert_eq!(t.state, State::Done);
        assert_eq!(t.waited_minutes(), Some(13.0));
        assert_eq!(t.service_minutes(), Some(16.0));
    }

    #[test]
    fn a_ticket_called_to_another_counter_is_refused_and_unchanged() {
        let mut t = Ticket::issued(number("B", 1), "certificates".into(), at(0));
        t.apply(
            &Event::Called {
                counter: "1番".into(),
            },
            at(5),
        )
        .unwrap();
        let before = t.clone();
        let r = t
            .apply(
                &Event::Called {
                    counter: "2番".into(),
                },
                at(5),
            )
            .unwrap_err();
        assert_eq!(r.code, "ticket_already_called");
        assert!(r.message.ja.contains("1番"), "{}", r.message.ja);
        assert_eq!(t, before);
        let r = t.apply(&Event::Done, at(6)).unwrap_err();
        assert_eq!(r.code, "ticket_state");
        assert!(r.message.ja.contains("呼出中"), "{}", r.message.ja);
    }

    #[test]
    fn a_transfer_keeps_the_issue_time_and_a_no_show_can_come_back() {
        let mut t = Ticket::issued(number("A", 2), "oneStop".into(), at(0));
        t.apply(
            &Event::Called {
                counter: "1番".into(),
            },
            at(10),
        )
        .unwrap();
        t.apply(&Event::Started, at(11)).unwrap();
        t.apply(
            &Event::Transferred {
                category: "certificates".into(),
            },
            at(20),
        )
        .unwrap();
        assert_eq!(
            (t.state, t.category.as_str()),
            (State::Issued, "certificates")
        );
        assert_eq!(t.issued_at, at(0));
        assert_eq!(t.queued_at, at(20));
        t.apply(
            &Event::Called {
                counter: "2番".into(),
            },
            at(25),
        )
        .unwrap();
        t.apply(&Event::NoShow, at(30)).unwrap();
        assert!(t.apply(&Event::Started, at(31)).is_err());
        t.apply(&Event::Returned, at(40)).unwrap();
        assert_eq!(t.state, State::Issued);
        assert_eq!(t.calls, 0);
    }
}
