//! Accounts: isolated subject spaces. Every client belongs to one account
//! (the global `$G` unless its user is listed under `accounts { NAME {
//! users } }`); its subscriptions live in that account's sublist, and its
//! messages reach only subscribers of the same account — except what the
//! accounts share on purpose:
//!
//! - a **stream import** lets an account receive messages published in
//!   another on subjects that account exports;
//! - a **service import** lets an account's clients send requests to a
//!   service in another account, and get the replies back.
//!
//! Both are subscriptions whose receiver is a [`Crossing`]: delivery into
//! it maps the subject and delivers again in the other account, so the hot
//! path of an account without imports is unchanged.
//!
//! The system account (`$SYS`, or `system_account`) is where the
//! `$SYS.REQ.SERVER...` requests are answered; only its users can send
//! them, as with nats-server.
//!
//! | file          | owns                                                   |
//! |---------------|--------------------------------------------------------|
//! | `mod`         | [`Account`] and the registry [`Accounts`]              |
//! | `crossing`    | [`Crossing`]: a message moving into another account    |
//! | `subject_map` | [`SubjectMap`]: an import's `prefix`/`to` mapping      |
//! | `responses`   | [`Responses`]: routing service replies back            |

mod crossing;
mod responses;
mod subject_map;

use std::sync::Arc;

use rustc_hash::FxHashMap;

use crate::config::{AccountConfig, Config, MappingConfig, ShareKind};
use crate::server::subscription::Subscription;
use crate::subject::{Mapping, Mappings, Sublist};

pub use crossing::Crossing;
pub use responses::Responses;
pub use subject_map::{MapError, SubjectMap};

pub use crate::config::GLOBAL_ACCOUNT;

/// One account.
pub struct Account {
    pub name: String,
    /// The subscriptions of this account's clients and services, and the
    /// crossings other accounts' imports put here.
    pub sublist: Sublist<Subscription>,
    /// Only the global account's interest is told to leaf links (Tern's
    /// links are bound to `$G`).
    pub is_global: bool,
    /// Whether the account asked for JetStream (`jetstream: enabled`).
    pub jetstream: bool,
    /// Subject mappings applied to what this account's clients publish;
    /// `None` when there are none (the one check a publish pays).
    pub mappings: Option<Arc<Mappings>>,
}

impl Account {
    fn new(name: &str) -> Account {
        Account {
            name: name.to_string(),
            sublist: Sublist::new(),
            is_global: name == GLOBAL_ACCOUNT,
            jetstream: false,
            mappings: None,
        }
    }

    /// An account with the mappings of `configs` (checked when the
    /// configuration was loaded; one that still fails is logged and left
    /// out).
    fn with_mappings(name: &str, configs: &[MappingConfig]) -> Account {
        let mut account = Account::new(name);
        let list: Vec<Mapping> = configs
            .iter()
            .filter_map(|m| match Mapping::new(&m.subject, &m.dests) {
                Ok(m) => Some(m),
                Err(e) => {
                    tracing::error!("account {name}: mapping for {:?} left out: {e}", m.subject);
                    None
                }
            })
            .collect();
        if !list.is_empty() {
            account.mappings = Some(Arc::new(Mappings::new(list)));
        }
        account
    }
}

/// Every account of the server, built once at start from the
/// configuration (a reload keeps them: changing accounts needs a restart).
pub struct Accounts {
    global: Arc<Account>,
    system: Option<Arc<Account>>,
    by_name: FxHashMap<String, Arc<Account>>,
    /// The configuration the accounts were built from.
    built_from: Vec<AccountConfig>,
    /// The top-level mappings `$G` was built with.
    global_mappings: Vec<MappingConfig>,
}

impl Accounts {
    /// Build the accounts and wire their imports. The configuration was
    /// checked when loaded (every import is exported to its importer and
    /// maps validly); an import that still does not fit is logged and left
    /// out rather than stopping the server.
    pub fn from_config(config: &Config) -> Accounts {
        let mut by_name = FxHashMap::default();
        let global = Arc::new(Account::with_mappings(GLOBAL_ACCOUNT, &config.mappings));
        by_name.insert(GLOBAL_ACCOUNT.to_string(), global.clone());
        let system_name = config.system_account_name().to_string();
        for acc in &config.accounts {
            let mut account = Account::with_mappings(&acc.name, &acc.mappings);
            account.jetstream = acc.jetstream;
            by_name.insert(acc.name.clone(), Arc::new(account));
        }
        let system = if config.no_system_account {
            None
        } else {
            Some(
                by_name
                    .entry(system_name.clone())
                    .or_insert_with(|| Arc::new(Account::new(&system_name)))
                    .clone(),
            )
        };
        // The crossings' subscriptions live in the accounts' sublists,
        // which keep them as long as the accounts.
        for acc in &config.accounts {
            let Some(importer) = by_name.get(&acc.name) else {
                continue;
            };
            for imp in &acc.imports {
                let Some(exporter) = by_name.get(&imp.account) else {
                    tracing::error!(
                        "account {}: import from unknown account {}",
                        acc.name,
                        imp.account
                    );
                    continue;
                };
                let export = config
                    .accounts
                    .iter()
                    .find(|a| a.name == imp.account)
                    .and_then(|a| a.export_for(imp, &acc.name));
                let wired = match imp.kind {
                    ShareKind::Stream => Crossing::stream(imp, exporter, importer),
                    ShareKind::Service => Crossing::service(imp, export, exporter, importer),
                };
                if let Err(e) = wired {
                    tracing::error!(
                        "account {}: import of {:?} from {} left out: {e}",
                        acc.name,
                        imp.subject,
                        imp.account
                    );
                }
            }
        }
        Accounts {
            global,
            system,
            by_name,
            built_from: config.accounts.clone(),
            global_mappings: config.mappings.clone(),
        }
    }

    /// `$G`, where clients without an account are.
    pub fn global(&self) -> &Arc<Account> {
        &self.global
    }

    /// The system account, unless `no_system_account`.
    pub fn system(&self) -> Option<&Arc<Account>> {
        self.system.as_ref()
    }

    pub fn get(&self, name: &str) -> Option<&Arc<Account>> {
        self.by_name.get(name)
    }

    /// Every account, `$G` first, then by name.
    pub fn all(&self) -> Vec<Arc<Account>> {
        let mut all: Vec<Arc<Account>> = self.by_name.values().cloned().collect();
        all.sort_by(|a, b| (!a.is_global, &a.name).cmp(&(!b.is_global, &b.name)));
        all
    }

    /// Subscriptions in every account, crossings included.
    pub fn subscription_count(&self) -> usize {
        self.by_name.values().map(|a| a.sublist.count()).sum()
    }

    /// Whether `config` describes the same accounts, exports and imports
    /// as these were built from (users may differ: they are reloaded).
    pub fn same_as(&self, config: &Config) -> bool {
        let shapes = |accs: &[AccountConfig]| accs.iter().map(shape).collect::<Vec<_>>();
        shapes(&self.built_from) == shapes(&config.accounts)
            && without_origins(&self.global_mappings) == without_origins(&config.mappings)
    }

    /// The configuration of account `name` (none for `$G` and an implicit
    /// `$SYS`).
    pub fn config_of(&self, name: &str) -> Option<&AccountConfig> {
        self.built_from.iter().find(|a| a.name == name)
    }

    /// The account JetStream serves: `$G` when no accounts besides the
    /// system one are configured (as nats-server), otherwise the one
    /// account with `jetstream: enabled`. `Err` names the accounts when
    /// several ask for it (Tern runs one JetStream account).
    pub fn jetstream_account(&self) -> Result<Option<Arc<Account>>, Vec<String>> {
        let others: Vec<&Arc<Account>> = self
            .by_name
            .values()
            .filter(|a| !a.is_global && !self.system.as_ref().is_some_and(|s| Arc::ptr_eq(s, a)))
            .collect();
        if others.is_empty() {
            return Ok(Some(self.global.clone()));
        }
        let mut enabled: Vec<&Arc<Account>> = others.into_iter().filter(|a| a.jetstream).collect();
        match enabled.len() {
            0 => Ok(None),
            1 => Ok(enabled.pop().cloned()),
            _ => {
                let mut names: Vec<String> = enabled.iter().map(|a| a.name.clone()).collect();
                names.sort();
                Err(names)
            }
        }
    }
}

/// An account's configuration without its users and without where it was
/// written: what a reload cannot change.
fn shape(a: &AccountConfig) -> AccountConfig {
    AccountConfig {
        users: Vec::new(),
        origin: Default::default(),
        exports: a
            .exports
            .iter()
            .map(|e| crate::config::ExportConfig {
                origin: Default::default(),
                ..e.clone()
            })
            .collect(),
        imports: a
            .imports
            .iter()
            .map(|i| crate::config::ImportConfig {
                origin: Default::default(),
                ..i.clone()
            })
            .collect(),
        mappings: without_origins(&a.mappings),
        ..a.clone()
    }
}

fn without_origins(mappings: &[MappingConfig]) -> Vec<MappingConfig> {
    mappings
        .iter()
        .map(|m| MappingConfig {
            origin: Default::default(),
            ..m.clone()
        })
        .collect()
}
