//! From the funnel query's rows to persons: the identity map, and each person's step events
//! gathered and fed to the accumulator a person at a time.

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
/// userIds have anonymousIds mapped to them. Those users are numbered as persons, and so is every
/// other id once [`PersonRows`] meets it, so the events gathered for a person are found by index,
/// not by another lookup.
#[derive(Debug)]
pub(crate) struct IdentityMap {
    ids: IdHasher,
    /// Persons numbered so far.
    persons: u32,
    roles: IdMap<Role>,
}

/// What an id is in the identity map. An id can be both: a userId may be spelled like an
/// anonymousId.
///
/// Two numbers, with `u32::MAX` for none: with `Option`s an entry of the map was a third bigger,
/// and the map of two million ids is looked up once per run of a person's events, each lookup a
/// wait on memory.
#[derive(Debug, Clone, Copy)]
struct Role {
    /// As an anonymousId: the number of the user it is mapped to.
    mapped_to: u32,
    /// The number of the person the id's own events (those sent with it as userId, or as an
    /// anonymousId mapped to nobody) belong to: its own. A userId with anonymousIds mapped to it
    /// is numbered when the map is loaded, any other id when it is first met.
    person: u32,
}

impl Default for Role {
    fn default() -> Self {
        Self {
            mapped_to: Role::NONE,
            person: Role::NONE,
        }
    }
}

impl Role {
    const NONE: u32 = u32::MAX;

    fn mapped_to(self) -> Option<u32> {
        (self.mapped_to != Self::NONE).then_some(self.mapped_to)
    }
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

    /// The role of `id`, which is added if the map does not have it. An id that is not a mapped
    /// anonymousId is numbered as a person if it is not yet.
    fn role(&mut self, id: IdKey) -> Role {
        let role = self.roles.entry(id).or_default();
        if role.mapped_to == Role::NONE {
            give_number(&mut role.person, &mut self.persons);
        }
        *role
    }

    /// The person number of `id`'s own events, given now if it has none yet: for a mapped
    /// anonymousId that also sent events as a userId.
    fn number(&mut self, id: IdKey) -> u32 {
        give_number(
            &mut self.roles.entry(id).or_default().person,
            &mut self.persons,
        )
    }
}

/// `person`, numbered next (counting in `persons`) if it has no number yet.
fn give_number(person: &mut u32, persons: &mut u32) -> u32 {
    if *person == Role::NONE {
        *person = *persons;
        *persons += 1;
    }
    *person
}

/// The identity map's rows as they are read, hashed but not yet in a table.
///
/// Why: the map is loaded while the engine starts on the step events, on the same two cores, so
/// its cost is the funnel's. A table sized for every row at once is filled without the rehashes
/// (and the fresh pages of each bigger table) of one that grows row by row, which were half of
/// the loading.
#[derive(Debug, Default)]
pub(crate) struct IdentityRows {
    ids: IdHasher,
    /// `(anonymousId, userId or none, version)`, every stored version: the latest wins.
    mappings: Vec<(IdKey, Option<IdKey>, i64)>,
}

impl IdentityRows {
    /// Adds one `(anonymousId, userId, version)` row.
    pub(crate) fn row(&mut self, row: &[CellRef<'_>]) -> Result<()> {
        let [anonymous, user, version] = row else {
            return Err(Error::Shape(format!(
                "an identity map row has {} columns, not 3",
                row.len()
            )));
        };
        let version = match version {
            CellRef::Int(v) => *v,
            CellRef::Str(text) => text.parse().map_err(|_| {
                Error::Shape(format!(
                    "an identity map version is not an integer: {text:?}"
                ))
            })?,
        };
        let user = user.text();
        // An empty userId maps the anonymousId to nobody: it stays its own person.
        let user = (!user.is_empty()).then(|| self.ids.key(&user));
        self.mappings
            .push((self.ids.key(&anonymous.text()), user, version));
        Ok(())
    }

    pub(crate) fn finish(mut self) -> IdentityMap {
        let mut map = IdentityMap {
            ids: self.ids,
            persons: 0,
            // An id a row: nearly all anonymousIds and userIds are distinct.
            roles: IdMap::with_capacity_and_hasher(self.mappings.len() * 2, Default::default()),
        };
        // In version order, so the latest row of an anonymousId is applied last.
        self.mappings.sort_by_key(|m| m.2);
        for (anonymous, user, _) in self.mappings {
            let number = match user {
                Some(user) => map.number(user),
                None => Role::NONE,
            };
            map.roles.entry(anonymous).or_default().mapped_to = number;
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

    /// Takes one `(distinct id, breakdown, packed steps)` row: the steps as one integer, or as
    /// text `k,k,…`. A malformed row is an error here, in the thread that reads it.
    pub(crate) fn push(&mut self, row: &[CellRef<'_>]) -> Result<()> {
        let [id, breakdown, packed] = row else {
            return Err(Error::Shape(format!(
                "a funnel row has {} columns, not 3",
                row.len()
            )));
        };
        let start = self.keys.len();
        match packed {
            // ClickHouse's row of one step event.
            CellRef::Int(key) if *key >= 0 => self.keys.push(*key),
            CellRef::Int(key) => {
                return Err(Error::Shape(format!(
                    "a funnel step key is not a non-negative integer: {key}"
                )))
            }
            CellRef::Str(packed) => {
                for key in PackedKeys::new(packed) {
                    match key {
                        Ok(key) => self.keys.push(key),
                        Err(e) => {
                            self.keys.truncate(start);
                            return Err(e);
                        }
                    }
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
        let id = self.ids.key(&id.text());
        match self.rows.last_mut() {
            // ClickHouse sends a row per step event, and a part's rows are sorted by event and
            // id: a row of the same id as the last one (without a breakdown value) extends it,
            // which saves its person's lookup.
            Some(last) if last.id == id && breakdown == 0 && last.breakdown == 0 => {
                last.end = self.keys.len();
            }
            _ => self.rows.push(PendingRow {
                id,
                breakdown,
                end: self.keys.len(),
            }),
        }
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

/// Resolves the funnel query's rows to persons, gathers each person's step events, and feeds
/// them to the accumulator a person at a time once every row is in.
///
/// Why gather everything: on ClickHouse the query sends a row per step event, not per id (see
/// [`super::build`]), so no person is complete before the last row. Every id is numbered as a
/// person the first time it is seen (the identity map's users when it is loaded). Its events are
/// gathered flat in the order read, 16 bytes each, into one of [`BUCKETS`] buckets by the low
/// bits of the person's number, and each bucket is sorted by person at the end with a counting
/// sort. A `Vec` per person cost an allocation each for a million persons, and most of the time
/// went to growing them. One counting sort over all 4.4 M events of a 10 M-event funnel wrote
/// them to a second 70 MB array at random; a bucket's counts and its sorted events stay in cache,
/// and the one scratch array is reused from bucket to bucket.
pub(crate) struct PersonRows<'p> {
    params: &'p FunnelParams,
    identities: IdentityMap,
    funnel: Accumulator<'p>,
    /// Every step event read so far, with the number of its person, by bucket, in chunks of
    /// [`CHUNK`] events: a `Vec` that doubles copied up to 140 MB more over 10 M events, and the
    /// fresh pages it took cost more than the copying.
    gathered: Vec<Vec<Vec<Gathered>>>,
    /// Scratch, kept between batches: the roles of a batch's ids and its values interned.
    roles: Vec<Role>,
    values: Vec<u32>,
}

/// Bits of a person's number that choose its bucket.
const BUCKET_BITS: u32 = 6;
const BUCKETS: usize = 1 << BUCKET_BITS;
/// Events per chunk of a bucket.
const CHUNK: usize = 1 << 13;

/// A step event as [`PersonRows`] gathers it.
#[derive(Debug, Clone, Copy)]
struct Gathered {
    /// The packed key without its anonymous bit: `(ts_ms - from_ms) << STEP_BITS | code`.
    key: i64,
    person: u32,
    breakdown: u32,
}

impl<'p> PersonRows<'p> {
    pub(crate) fn new(params: &'p FunnelParams, identities: IdentityMap) -> Self {
        Self {
            params,
            identities,
            funnel: Accumulator::new(params),
            gathered: vec![Vec::new(); BUCKETS],
            roles: Vec::with_capacity(RowBatch::ROWS),
            values: Vec::new(),
        }
    }

    /// The hasher the batches' ids must be hashed with.
    #[cfg(test)]
    pub(crate) fn ids(&self) -> IdHasher {
        self.identities.ids
    }

    /// Resolves a batch of rows (and empties it for reuse): its ids looked up all first, then
    /// their events gathered under their persons.
    pub(crate) fn resolve(&mut self, batch: &mut RowBatch) {
        assert_eq!(
            batch.ids.seed, self.identities.ids.seed,
            "a funnel batch's ids are hashed with the identity map's hasher"
        );
        self.roles.clear();
        let identities = &mut self.identities;
        self.roles
            .extend(batch.rows.iter().map(|row| identities.role(row.id)));
        self.values.clear();
        self.values.push(0);
        for value in &batch.values {
            let interned = self.funnel.intern(value);
            self.values.push(interned);
        }
        let mut start = 0;
        for (row, role) in batch.rows.iter().zip(&mut self.roles) {
            let breakdown = self.values[row.breakdown as usize];
            for &key in &batch.keys[start..row.end] {
                // An anonymous event of a mapped anonymousId is the user's; any other event is
                // the id's own, whether the id is a userId or an unmapped anonymousId.
                let person = match role.mapped_to() {
                    Some(user) if key & 1 == 1 => user,
                    _ if role.person != Role::NONE => role.person,
                    _ => {
                        role.person = self.identities.number(row.id);
                        role.person
                    }
                };
                let bucket = &mut self.gathered[person as usize % BUCKETS];
                let chunk = match bucket.last_mut() {
                    Some(chunk) if chunk.len() < CHUNK => chunk,
                    _ => {
                        bucket.push(Vec::with_capacity(CHUNK));
                        bucket.last_mut().unwrap_or_else(|| unreachable!())
                    }
                };
                chunk.push(Gathered {
                    key: key >> 1,
                    person,
                    breakdown,
                });
            }
            start = row.end;
        }
        batch.clear();
    }

    pub(crate) fn finish(mut self) -> Funnel {
        // A bucket's persons, by the rest of their numbers.
        let persons = (self.identities.persons as usize >> BUCKET_BITS) + 1;
        let mask = (1 << STEP_BITS) - 1;
        let mut starts = Vec::with_capacity(persons + 1);
        let mut next = Vec::with_capacity(persons + 1);
        let mut sorted = Vec::new();
        let mut hits = Vec::new();
        for bucket in std::mem::take(&mut self.gathered) {
            // A counting sort by person: where each person's events start, then each event put
            // in its place.
            starts.clear();
            starts.resize(persons + 1, 0u32);
            for g in bucket.iter().flatten() {
                starts[(g.person >> BUCKET_BITS) as usize + 1] += 1;
            }
            for i in 1..starts.len() {
                starts[i] += starts[i - 1];
            }
            next.clear();
            next.extend_from_slice(&starts);
            sorted.clear();
            sorted.resize(
                bucket.iter().map(Vec::len).sum(),
                Hit {
                    ts_ms: 0,
                    code: 0,
                    breakdown: 0,
                },
            );
            for g in bucket.iter().flatten() {
                let at = &mut next[(g.person >> BUCKET_BITS) as usize];
                sorted[*at as usize] = Hit {
                    ts_ms: self.params.from_ms + (g.key >> STEP_BITS),
                    code: (g.key & mask) as u8,
                    breakdown: g.breakdown,
                };
                *at += 1;
            }
            // The bucket's chunks go back to the allocator for the next bucket's scratch.
            drop(bucket);
            for person in starts.windows(2) {
                let events = &sorted[person[0] as usize..person[1] as usize];
                if !events.is_empty() {
                    hits.extend_from_slice(events);
                    self.funnel.add_person(&mut hits);
                    hits.clear();
                }
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
