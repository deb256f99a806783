//! From the per-id rows of the funnel query to persons: the identity map, and the rows fed to
//! the accumulator a person at a time.

use std::collections::hash_map::Entry;
use std::collections::HashMap;
use std::hash::{BuildHasher, BuildHasherDefault, Hash, Hasher};

use super::compute::{Accumulator, Hit};
use super::{Funnel, FunnelParams, STEP_BITS};
use crate::{CellRef, Error, Result, Store};

/// An id as the funnel's maps hold it: its seeded 128-bit XXH3 hash, not its text.
///
/// Why: over a million ids, a map keyed by `String` paid a cache miss for the key's heap text on
/// every hit and an allocation for every id it loaded; most of the Rust side of a funnel over 10 M
/// events was those lookups. Two ids collide with a chance of about n²/2¹²⁹ (10⁻²⁷ for a million
/// ids), and the seed is drawn per map, so a client cannot choose ids that collide: far below the
/// chance of a memory error. ClickHouse's `uniqExact` counts strings by their 128-bit hash for the
/// same reason.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct IdKey(u64, u64);

impl Hash for IdKey {
    fn hash<H: Hasher>(&self, state: &mut H) {
        // Already a hash: the table takes half of it as it is.
        state.write_u64(self.0);
    }
}

/// The table hasher for [`IdKey`]s, which are hashes already.
#[derive(Default)]
struct KeyHasher(u64);

impl Hasher for KeyHasher {
    fn write(&mut self, bytes: &[u8]) {
        // Only `IdKey` is hashed with this, and it writes one u64; anything else still spreads.
        for &b in bytes {
            self.0 = (self.0.rotate_left(8) ^ u64::from(b)).wrapping_mul(0x9E37_79B9_7F4A_7C15);
        }
    }

    fn write_u64(&mut self, n: u64) {
        self.0 = n;
    }

    fn finish(&self) -> u64 {
        self.0
    }
}

type IdMap<V> = HashMap<IdKey, V, BuildHasherDefault<KeyHasher>>;

/// Hashes ids to [`IdKey`]s with one seed, drawn per map.
#[derive(Debug, Clone, Copy)]
struct IdHasher {
    seed: u64,
}

impl Default for IdHasher {
    fn default() -> Self {
        Self {
            seed: foldhash::fast::RandomState::default().hash_one(0x466f_6f74_6661_6c6c_u64),
        }
    }
}

impl IdHasher {
    fn key(self, id: &str) -> IdKey {
        let h = xxhash_rust::xxh3::xxh3_128_with_seed(id.as_bytes(), self.seed);
        IdKey(h as u64, (h >> 64) as u64)
    }
}

/// A project's identity map, by id: which user each mapped anonymousId belongs to, and which
/// userIds have anonymousIds mapped to them. Those users are numbered, so the events gathered for
/// them are found by index, not by another lookup.
#[derive(Debug, Default)]
pub(crate) struct IdentityMap {
    ids: IdHasher,
    users: u32,
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
        let next = self.users;
        let number = *self.role_mut(&user).user.get_or_insert(next);
        if number == next {
            self.users += 1;
        }
        self.role_mut(&anonymous.text()).mapped_to = Some(number);
        Ok(())
    }

    fn role_mut(&mut self, id: &str) -> &mut Role {
        self.roles.entry(self.ids.key(id)).or_default()
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
            users: vec![Vec::new(); identities.users as usize],
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
        let id = self.identities.ids.key(&id.text());
        let breakdown = self.funnel.intern(&breakdown.text());
        let role = self.identities.roles.get(&id).copied().unwrap_or_default();
        let mapped = role.mapped_to.is_some();
        for key in PackedKeys::new(&packed.text()) {
            let key = key?;
            let hit = Hit {
                ts_ms: self.params.from_ms + (key >> (STEP_BITS + 1)),
                code: ((key >> 1) & ((1 << STEP_BITS) - 1)) as u8,
                breakdown,
            };
            // An anonymous event of a mapped anonymousId is the user's; any other event is the
            // id's own, whether the id is a userId or an unmapped anonymousId.
            if key & 1 == 1 && mapped {
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
            None if self.params.breakdown.is_some() => match self.others.entry(id) {
                Entry::Occupied(all) => all.into_mut().append(&mut self.own),
                Entry::Vacant(all) => {
                    all.insert(std::mem::take(&mut self.own));
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

/// The packed keys of a row, `k,k,…`, parsed digit by digit: `split(',')` and `str::parse` were
/// a third of the Rust side over a million rows.
struct PackedKeys<'a> {
    text: &'a [u8],
}

impl<'a> PackedKeys<'a> {
    fn new(text: &'a str) -> Self {
        Self {
            text: text.as_bytes(),
        }
    }
}

impl Iterator for PackedKeys<'_> {
    type Item = Result<i64>;

    fn next(&mut self) -> Option<Result<i64>> {
        loop {
            let end = self
                .text
                .iter()
                .position(|b| *b == b',')
                .unwrap_or(self.text.len());
            let (digits, rest) = self.text.split_at(end);
            self.text = rest.get(1..).unwrap_or_default();
            if digits.is_empty() {
                if rest.is_empty() {
                    return None;
                }
                continue;
            }
            let mut key: i64 = 0;
            for &digit in digits {
                let valid = digit.is_ascii_digit();
                match key
                    .checked_mul(10)
                    .and_then(|k| k.checked_add(i64::from(digit.wrapping_sub(b'0'))))
                {
                    Some(k) if valid => key = k,
                    _ => {
                        return Some(Err(Error::Shape(format!(
                            "a funnel step key is not a non-negative integer: {:?}",
                            String::from_utf8_lossy(digits)
                        ))))
                    }
                }
            }
            return Some(Ok(key));
        }
    }
}

#[cfg(test)]
mod packed_keys_tests {
    use super::PackedKeys;

    fn keys(text: &str) -> Result<Vec<i64>, String> {
        PackedKeys::new(text)
            .collect::<crate::Result<Vec<_>>>()
            .map_err(|e| e.to_string())
    }

    #[test]
    fn keys_are_read_between_commas() {
        assert_eq!(keys("17,0,9223372036854775807"), Ok(vec![17, 0, i64::MAX]));
        assert_eq!(keys(""), Ok(vec![]));
        assert_eq!(keys(",5,,6,"), Ok(vec![5, 6]));
    }

    #[test]
    fn a_key_that_is_not_a_non_negative_integer_is_named() {
        for bad in ["1,-2", "1,2x", "9223372036854775808", "1, 2"] {
            let err = keys(bad).unwrap_err();
            assert!(err.contains("funnel step key"), "{bad}: {err}");
        }
    }
}
