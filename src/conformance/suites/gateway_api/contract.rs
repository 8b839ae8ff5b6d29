//! Run last: every JSON answer of the run against the shape the contract gives it.

use crate::conformance::contract::{Contract, Verdict};
use crate::conformance::suite::{Abort, Ctx};

/// At most this many differences are listed, each with its exchange.
const SHOWN: usize = 20;

pub async fn responses(ctx: &mut Ctx) -> Result<(), Abort> {
    let mut contract = Contract::built_in().map_err(Abort::Setup)?;
    let answers = ctx.shared.wire.answers();
    let mut checked = 0;
    let mut differing = 0;
    for answer in &answers {
        let reply = &answer.reply;
        let verdict = contract.check(
            answer.method.as_str(),
            &answer.path,
            reply.status.as_u16(),
            &reply.media_type(),
            &reply.body,
        );
        match verdict {
            Verdict::NoOperation => {}
            Verdict::Conforms => checked += 1,
            Verdict::Differs(why) => {
                checked += 1;
                differing += 1;
                if differing <= SHOWN {
                    ctx.check(
                        "CONTRACT-001",
                        false,
                        "the contract's shape for this operation and status",
                        why.join("; "),
                        Some(reply),
                    );
                }
            }
        }
    }
    ctx.check(
        "CONTRACT-001",
        differing == 0,
        format!("all {checked} answers of contract operations as the contract gives them"),
        format!("{differing} differ"),
        None,
    );
    Ok(())
}
