//! `/subsz` (alias `/subscriptionsz`): the subscription index's statistics
//! and, with `subs=1`, the subscriptions themselves (paged with
//! `offset`/`limit`, filtered by a literal `test` subject).

use std::time::SystemTime;

use serde::Serialize;

use crate::account::Account;
use crate::server::state::Shared;
use crate::subject::match_stats::MatchTotals;
use crate::subject::{is_valid_publish_subject, subject_matches};

use super::connz::{sorted_subs, SubDetail, DEFAULT_LIMIT};
use super::error::RequestError;
use super::format::rfc3339;
use super::query::Query;

/// nats-server's `SublistStats`. The match figures come from the
/// connections' match caches (see [`crate::subject::match_stats`]):
/// `num_matches` counts lookups by client and leaf publishes,
/// `cache_hit_rate` the share the caches answered, `num_cache` the results
/// they hold, `avg_fanout` those results' mean fan-out and `max_fanout`
/// the largest fan-out cached since start.
#[derive(Debug, Default, Serialize)]
pub struct SublistStats {
    pub num_subscriptions: u64,
    pub num_cache: u64,
    pub num_inserts: u64,
    pub num_removes: u64,
    pub num_matches: u64,
    pub cache_hit_rate: f64,
    pub max_fanout: u64,
    pub avg_fanout: f64,
}

impl SublistStats {
    /// Every account's index together, as nats-server sums them.
    pub fn of(shared: &Shared) -> SublistStats {
        let accounts = shared.accounts.all();
        SublistStats::over(accounts.iter().map(|a| &**a))
    }

    /// One account's index.
    pub fn of_account(account: &Account) -> SublistStats {
        SublistStats::over(std::iter::once(account))
    }

    fn over<'a>(accounts: impl Iterator<Item = &'a Account>) -> SublistStats {
        let (mut count, mut inserts, mut m) = (0u64, 0u64, MatchTotals::default());
        for account in accounts {
            count += account.sublist.count() as u64;
            inserts += account.sublist.inserts();
            m.add(&account.sublist.match_stats().totals());
        }
        SublistStats {
            num_subscriptions: count,
            num_cache: m.cached,
            num_inserts: inserts,
            num_removes: inserts.saturating_sub(count),
            num_matches: m.lookups,
            cache_hit_rate: m.hit_rate(),
            max_fanout: m.max_fanout,
            avg_fanout: m.avg_fanout(),
        }
    }
}

#[derive(Debug, Serialize)]
pub struct Subsz {
    pub server_id: String,
    pub now: String,
    #[serde(flatten)]
    pub stats: SublistStats,
    pub total: usize,
    pub offset: usize,
    pub limit: usize,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub subscriptions_list: Vec<SubDetail>,
}

pub fn subsz(shared: &Shared, q: &Query) -> Result<Subsz, RequestError> {
    let subs = q.bool("subs")?;
    let offset = q.int("offset")?.max(0);
    let limit = q.int("limit")?;
    let test = q.get("test");
    let account = q.get("acc");
    let offset = usize::try_from(offset).unwrap_or(usize::MAX);
    let limit = if limit <= 0 {
        DEFAULT_LIMIT
    } else {
        usize::try_from(limit).unwrap_or(usize::MAX)
    };
    if !test.is_empty() && !is_valid_publish_subject(test.as_bytes()) {
        return Err(RequestError::BadQuery(format!(
            "invalid test subject, must be valid publish subject: {test}"
        )));
    }
    let known_account = account.is_empty() || shared.accounts.get(account).is_some();
    let stats = match shared.accounts.get(account) {
        _ if account.is_empty() => SublistStats::of(shared),
        Some(acc) => SublistStats::of_account(acc),
        None => SublistStats::default(),
    };
    let mut list = Vec::new();
    let mut total = 0;
    if subs && known_account {
        let mut clients = shared.clients();
        clients.retain(|c| account.is_empty() || c.account_name() == account);
        clients.sort_by_key(|c| c.id);
        let mut details: Vec<SubDetail> = clients
            .iter()
            .flat_map(|c| {
                sorted_subs(c.sub_snapshots())
                    .into_iter()
                    .map(move |s| SubDetail::new(&s, c.id, Some(&c.account_name())))
            })
            .filter(|d| test.is_empty() || subject_matches(d.subject.as_bytes(), test.as_bytes()))
            .collect();
        total = details.len();
        let from = offset.min(total);
        let to = from + limit.min(total - from);
        list = details.drain(from..to).collect();
    }
    Ok(Subsz {
        server_id: shared.server_id.clone(),
        now: rfc3339(SystemTime::now()),
        stats,
        total,
        offset,
        limit,
        subscriptions_list: list,
    })
}
