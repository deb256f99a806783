//! From the per-id rows of the funnel query to persons: the identity map, and the rows fed to
//! the accumulator a person at a time.

use std::collections::HashMap;

use super::compute::{Accumulator, Hit};
use super::{Funnel, FunnelParams, STEP_BITS};
use crate::{CellRef, Error, Result, Store};

type IdMap<V> = HashMap<String, V, foldhash::fast::RandomState>;

/// A project's identity map, by id: which user each mapped anonymousId belongs to, and which
/// userIds have anonymousIds mapped to them. Those users are numbered, so the events gathered for
/// them are found by index, not by another lookup of a string.
#[derive(Debug, Default)]
pub(crate) struct IdentityMap {
    users: Vec<String>,
    roles: IdMap<Role>,
}

/// What an id is in the identity map. An id can be both: a userId may be spelled like an
/// anonymousId.
#[derive(Debug, Default, Clone, Copy)]
struct Role {
    /// As an anonymousId: the number of the user it is mapped to.
    mapped_to: Option<u32>,
    /// As a userId with anonymousIds mapped to it: its number.
    user: Option<u32>,
}

impl IdentityMap {
    /// Reads the project's map with [`super::identity_map`]'s query.
    pub(crate) fn load(store: &dyn Store, project: &str) -> Result<Self> {
        let mut map = Self::default();
        store.select_each(&super::identity_map(project, store.dialect()), &mut |row| {
            map.row(row)
        })?;
        Ok(map)
    }

    /// Adds one `(anonymousId, userId)` row.
    pub(crate) fn row(&mut self, row: &[CellRef<'_>]) -> Result<()> {
        let [anonymous, user] = row else {
            return Err(Error::Shape(format!(
                "an identity map row has {} columns, not 2",
                row.len()
            )));
        };
        let user = user.text();
        if user.is_empty() {
            // Not a mapping: the anonymousId stays its own person.
            return Ok(());
        }
        let next = self.users.len() as u32;
        let number = *self.role_mut(&user).user.get_or_insert(next);
        if number == next {
            self.users.push(user.into_owned());
        }
        self.role_mut(&anonymous.text()).mapped_to = Some(number);
        Ok(())
    }

    fn role_mut(&mut self, id: &str) -> &mut Role {
        if !self.roles.contains_key(id) {
            self.roles.insert(id.to_owned(), Role::default());
        }
        self.roles.get_mut(id).expect("just inserted")
    }
}

/// Feeds the funnel query's rows to the accumulator, one person at a time.
pub(crate) struct PersonRows<'p> {
    params: &'p FunnelParams,
    identities: IdentityMap,
    funnel: Accumulator<'p>,
    /// The step events of each numbered user (see [`IdentityMap`]): their own rows and the rows
    /// of the anonymousIds mapped to them.
    users: Vec<Vec<Hit>>,
    /// With a breakdown, the step events of every other person: a person has a row per value.
    others: IdMap<Vec<Hit>>,
    /// One row's events of its own id, and of the user its anonymous events are mapped to.
    own: Vec<Hit>,
    mapped: Vec<Hit>,
}

impl<'p> PersonRows<'p> {
    pub(crate) fn new(params: &'p FunnelParams, identities: IdentityMap) -> Self {
        Self {
            params,
            users: vec![Vec::new(); identities.users.len()],
            identities,
            funnel: Accumulator::new(params),
            others: IdMap::default(),
            own: Vec::new(),
            mapped: Vec::new(),
        }
    }

    /// Takes one `(distinct id, breakdown, packed steps)` row.
    pub(crate) fn row(&mut self, row: &[CellRef<'_>]) -> Result<()> {
        let [id, breakdown, packed] = row else {
            return Err(Error::Shape(format!(
                "a funnel row has {} columns, not 3",
                row.len()
            )));
        };
        let id = id.text();
        let breakdown = self.funnel.intern(&breakdown.text());
        let role = self
            .identities
            .roles
            .get(id.as_ref())
            .copied()
            .unwrap_or_default();
        for key in packed.text().split(',').filter(|k| !k.is_empty()) {
            let key: i64 = key.parse().map_err(|_| {
                Error::Shape(format!("a funnel step key is not an integer: {key:?}"))
            })?;
            let hit = Hit {
                ts_ms: self.params.from_ms + (key >> (STEP_BITS + 1)),
                code: ((key >> 1) & ((1 << STEP_BITS) - 1)) as u8,
                breakdown,
            };
            // An anonymous event of a mapped anonymousId is the user's; any other event is the
            // id's own, whether the id is a userId or an unmapped anonymousId.
            if key & 1 == 1 && role.mapped_to.is_some() {
                self.mapped.push(hit);
            } else {
                self.own.push(hit);
            }
        }
        if let Some(user) = role.mapped_to {
            self.users[user as usize].append(&mut self.mapped);
        }
        match role.user {
            Some(user) => self.users[user as usize].append(&mut self.own),
            None if self.params.breakdown.is_some() => match self.others.get_mut(id.as_ref()) {
                Some(all) => all.append(&mut self.own),
                None => {
                    self.others
                        .insert(id.into_owned(), std::mem::take(&mut self.own));
                }
            },
            // The id's only row, and nobody else's events are its person's.
            None => self.funnel.add_person(&mut self.own),
        }
        Ok(())
    }

    pub(crate) fn finish(mut self) -> Funnel {
        for mut hits in self.users.into_iter().chain(self.others.into_values()) {
            if !hits.is_empty() {
                self.funnel.add_person(&mut hits);
            }
        }
        self.funnel.finish()
    }
}
