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
/// ids), far below the chance of a memory error; ClickHouse's `uniqExact` counts strings by their
/// 128-bit hash for the same reason. XXH3 is not a cryptographic hash: the seed, drawn per map,
/// makes ids crafted to collide much harder to find, and such ids would at worst count two
/// persons as one in a funnel.
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
pub(crate) struct IdHasher {
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
#[derive(Debug)]
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
    /// Reads the project's map with [`super::identity_map`]'s query, its ids hashed with `ids`.
    pub(crate) fn load(store: &dyn Store, project: &str, ids: IdHasher) -> Result<Self> {
        let mut map = IdentityRows {
            ids,
            mappings: Vec::new(),
        };
        store.select_each(&super::identity_map(project, store.dialect()), &mut |row| {
            map.row(row)
        })?;
        Ok(map.finish())
    }

    fn role_mut(&mut self, id: IdKey) -> &mut Role {
        self.roles.entry(id).or_default()
    }
}

/// The identity map's rows as they are read, hashed but not yet in a table.
///
/// Why: the map is loaded while the engine groups the step events, on the same two cores, so
/// its cost is the funnel's. A table sized for every row at once is filled without the rehashes
/// (and the fresh pages of each bigger table) of one that grows row by row, which were half of
/// the loading.
#[derive(Debug, Default)]
pub(crate) struct IdentityRows {
    ids: IdHasher,
    /// `(anonymousId, userId)`, in the order read: a later row for an anonymousId wins.
    mappings: Vec<(IdKey, IdKey)>,
}

impl IdentityRows {
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
        self.mappings
            .push((self.ids.key(&anonymous.text()), self.ids.key(&user)));
        Ok(())
    }

    pub(crate) fn finish(self) -> IdentityMap {
        let mut map = IdentityMap {
            ids: self.ids,
            users: 0,
            // An id a row: nearly all anonymousIds and userIds are distinct.
            roles: IdMap::with_capacity_and_hasher(self.mappings.len() * 2, Default::default()),
        };
        for (anonymous, user) in self.mappings {
            let next = map.users;
            let number = *map.role_mut(user).user.get_or_insert(next);
            if number == next {
                map.users += 1;
            }
            map.role_mut(anonymous).mapped_to = Some(number);
        }
        map
    }
}

/// Rows read from the funnel query, parsed and hashed but not yet resolved to persons: the unit
/// handed from the thread that reads the answer to the one that resolves it (see [`super::run`]).
///
/// Resolving a whole batch at once also looks its ids up together: one row at a time, each
/// lookup was a wait on memory (the map of a million ids is far bigger than a core's cache),
/// while a tight loop of independent lookups has many of those waits in flight at once.
#[derive(Debug)]
pub(crate) struct RowBatch {
    /// The identity map's hasher, which the ids must be hashed with to be found in it.
    ids: IdHasher,
    rows: Vec<PendingRow>,
    /// The packed keys of all rows, in order.
    keys: Vec<i64>,
    /// The non-empty breakdown values of the batch, numbered from 1 in [`PendingRow::breakdown`].
    values: Vec<String>,
}

/// A row of a [`RowBatch`]: its keys are `keys[previous row's end..end]`.
#[derive(Debug)]
struct PendingRow {
    id: IdKey,
    /// 0 for `''`, else the batch's value `breakdown - 1`.
    breakdown: u32,
    end: usize,
}

impl RowBatch {
    /// Rows a batch takes before it is handed on: large enough that handing over is rare, small
    /// enough to stay in cache on its way between the threads.
    pub(crate) const ROWS: usize = 2048;

    pub(crate) fn new(ids: IdHasher) -> Self {
        Self {
            ids,
            rows: Vec::with_capacity(Self::ROWS),
            keys: Vec::new(),
            values: Vec::new(),
        }
    }

    /// Takes one `(distinct id, breakdown, packed steps)` row. A malformed row is an error here,
    /// in the thread that reads it.
    pub(crate) fn push(&mut self, row: &[CellRef<'_>]) -> Result<()> {
        let [id, breakdown, packed] = row else {
            return Err(Error::Shape(format!(
                "a funnel row has {} columns, not 3",
                row.len()
            )));
        };
        let start = self.keys.len();
        for key in PackedKeys::new(&packed.text()) {
            match key {
                Ok(key) => self.keys.push(key),
                Err(e) => {
                    self.keys.truncate(start);
                    return Err(e);
                }
            }
        }
        let breakdown = breakdown.text();
        let breakdown = if breakdown.is_empty() {
            // Every row without a breakdown, and every row of steps after the first.
            0
        } else {
            self.values.push(breakdown.into_owned());
            self.values.len() as u32
        };
        self.rows.push(PendingRow {
            id: self.ids.key(&id.text()),
            breakdown,
            end: self.keys.len(),
        });
        Ok(())
    }

    pub(crate) fn len(&self) -> usize {
        self.rows.len()
    }

    fn clear(&mut self) {
        self.rows.clear();
        self.keys.clear();
        self.values.clear();
    }
}

/// Resolves the funnel query's rows to persons and feeds the accumulator a person at a time.
pub(crate) struct PersonRows<'p> {
    params: &'p FunnelParams,
    identities: IdentityMap,
    funnel: Accumulator<'p>,
    /// The step events of each numbered user (see [`IdentityMap`]): their own rows and the rows
    /// of the anonymousIds mapped to them.
    users: Vec<Vec<Hit>>,
    /// With a breakdown, the step events of every other person: a person has a row per value.
    others: IdMap<Vec<Hit>>,
    /// Scratch, kept between batches: the roles of a batch's ids, its values interned, and one
    /// row's events of its own id and of the user its anonymous events are mapped to.
    roles: Vec<Role>,
    values: Vec<u32>,
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
            roles: Vec::with_capacity(RowBatch::ROWS),
            values: Vec::new(),
            own: Vec::new(),
            mapped: Vec::new(),
        }
    }

    /// The hasher the batches' ids must be hashed with.
    #[cfg(test)]
    pub(crate) fn ids(&self) -> IdHasher {
        self.identities.ids
    }

    /// Resolves a batch of rows (and empties it for reuse): its ids looked up all first, then
    /// their events handed on.
    pub(crate) fn resolve(&mut self, batch: &mut RowBatch) {
        assert_eq!(
            batch.ids.seed, self.identities.ids.seed,
            "a funnel batch's ids are hashed with the identity map's hasher"
        );
        let roles = &self.identities.roles;
        self.roles.clear();
        self.roles.extend(
            batch
                .rows
                .iter()
                .map(|row| roles.get(&row.id).copied().unwrap_or_default()),
        );
        self.values.clear();
        self.values.push(0);
        for value in &batch.values {
            let interned = self.funnel.intern(value);
            self.values.push(interned);
        }
        let mut start = 0;
        for (row, role) in batch.rows.iter().zip(&self.roles) {
            let breakdown = self.values[row.breakdown as usize];
            let mapped = role.mapped_to.is_some();
            for &key in &batch.keys[start..row.end] {
                let hit = Hit {
                    ts_ms: self.params.from_ms + (key >> (STEP_BITS + 1)),
                    code: ((key >> 1) & ((1 << STEP_BITS) - 1)) as u8,
                    breakdown,
                };
                // An anonymous event of a mapped anonymousId is the user's; any other event is
                // the id's own, whether the id is a userId or an unmapped anonymousId.
                if key & 1 == 1 && mapped {
                    self.mapped.push(hit);
                } else {
                    self.own.push(hit);
                }
            }
            start = row.end;
            if let Some(user) = role.mapped_to {
                self.users[user as usize].append(&mut self.mapped);
            }
            match role.user {
                Some(user) => self.users[user as usize].append(&mut self.own),
                None if self.params.breakdown.is_some() => match self.others.entry(row.id) {
                    Entry::Occupied(all) => all.into_mut().append(&mut self.own),
                    Entry::Vacant(all) => {
                        all.insert(std::mem::take(&mut self.own));
                    }
                },
                // The id's only row, and nobody else's events are its person's.
                None => self.funnel.add_person(&mut self.own),
            }
        }
        batch.clear();
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
    /// `text` is `k,k,…`, or `[k,k,…]` as ClickHouse writes an array.
    fn new(text: &'a str) -> Self {
        let text = text.as_bytes();
        let text = match text {
            [b'[', inner @ .., b']'] => inner,
            _ => text,
        };
        Self { text }
    }
}

impl Iterator for PackedKeys<'_> {
    type Item = Result<i64>;

    fn next(&mut self) -> Option<Result<i64>> {
        // One pass: each byte is either a digit of the key or the comma that ends it.
        let mut key: i64 = 0;
        let mut digits = 0;
        for (at, &byte) in self.text.iter().enumerate() {
            if byte == b',' {
                if digits > 0 {
                    self.text = &self.text[at + 1..];
                    return Some(Ok(key));
                }
                continue;
            }
            let digit = byte.wrapping_sub(b'0');
            match key
                .checked_mul(10)
                .and_then(|k| k.checked_add(i64::from(digit)))
            {
                Some(k) if digit <= 9 => {
                    key = k;
                    digits += 1;
                }
                _ => {
                    let start = at - digits;
                    let end = self.text[at..]
                        .iter()
                        .position(|b| *b == b',')
                        .map_or(self.text.len(), |n| at + n);
                    let bad = String::from_utf8_lossy(&self.text[start..end]).into_owned();
                    self.text = &[];
                    return Some(Err(Error::Shape(format!(
                        "a funnel step key is not a non-negative integer: {bad:?}"
                    ))));
                }
            }
        }
        self.text = &[];
        (digits > 0).then_some(Ok(key))
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
        assert_eq!(keys("[3,4]"), Ok(vec![3, 4]));
        assert_eq!(keys("[]"), Ok(vec![]));
    }

    #[test]
    fn a_key_that_is_not_a_non_negative_integer_is_named() {
        for bad in ["1,-2", "1,2x", "9223372036854775808", "1, 2", "[1,2", "1]"] {
            let err = keys(bad).unwrap_err();
            assert!(err.contains("funnel step key"), "{bad}: {err}");
        }
    }
}
