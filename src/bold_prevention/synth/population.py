"""Persons, households, demographics, home geography with moves, and latent needs (Gaussian copula).

Everything is vectorised over persons or households; the only loops are over need domains, name pools and move
slots.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from ..geography import lsoa11_path
from .common import NA, age_at, choose, day, mix64, rng_for
from .names import NameBank, name_bank
from .params import NEEDS, SynthParams

#: Person ethnic group index order (matches ``SynthParams.ethnic_shares_*`` and the ETHNIC_GROUP code list).
GROUPS = ("White", "Mixed", "Asian", "Black", "Other")
#: Detailed ethnicity (indices into the ETHNICITY_DESC code list) within each group, with probabilities.
ETHNICITY_DETAIL = {
    0: ((0, 1, 2, 3), (0.85, 0.02, 0.01, 0.12)),
    1: ((4, 5, 6, 7), (0.35, 0.2, 0.3, 0.15)),
    2: ((8, 9, 10, 11, 12), (0.30, 0.30, 0.12, 0.13, 0.15)),
    3: ((13, 14, 15), (0.30, 0.60, 0.10)),
    4: ((16, 17), (0.40, 0.60)),
}
ROLE_HEAD, ROLE_PARTNER, ROLE_CHILD = 0, 1, 2
NO_MOVE = np.int32(np.iinfo(np.int32).max)
_INWARD_LETTERS = np.frombuffer(b"ABDEFGHJLNPQRSTUWXYZ", dtype=np.uint8)


@dataclass(frozen=True)
class Geography:
    """The shipped 2011 LSOAs as arrays (index = position in the table)."""

    lsoa_code: pa.Array
    lad_index: np.ndarray
    lad_code: pa.Array
    lad_name: pa.Array
    imd_decile: np.ndarray
    wales: np.ndarray
    london: np.ndarray
    #: LSOAs sorted by LAD: lad_start[lad], lad_count[lad] index into lsoa_by_lad.
    lsoa_by_lad: np.ndarray
    lad_start: np.ndarray
    lad_count: np.ndarray
    outward: pa.Array


@cache
def geography() -> Geography:
    # ParquetFile avoids importing pyarrow.dataset (slow to import)
    t = pq.ParquetFile(lsoa11_path()).read()
    lad_codes = t["lad_code"].combine_chunks()
    enc = pc.dictionary_encode(lad_codes)
    lad_index = enc.indices.to_numpy().astype(np.int32)
    lad_dict = enc.dictionary
    lad_name_first = pc.take(t["lad_name"].combine_chunks(),
                             pa.array(np.unique(lad_index, return_index=True)[1]))
    order = np.argsort(lad_index, kind="stable").astype(np.int32)
    count = np.bincount(lad_index).astype(np.int32)
    start = (np.cumsum(count) - count).astype(np.int32)
    # Synthetic but well-formed outward codes: two letters from the district name and a district number.
    letters = pc.utf8_upper(pc.utf8_slice_codeunits(
        pc.replace_substring_regex(t["lad_name"].combine_chunks(), r"[^A-Za-z]", ""), 0, 2))
    n = t.num_rows
    district = (mix64(np.arange(n, dtype=np.uint64)) % np.uint64(20) + np.uint64(1)).astype(np.int64)
    outward = pc.binary_join_element_wise(letters, pa.array(district).cast(pa.string()), "")
    code = t["lsoa11_code"].combine_chunks()
    return Geography(
        lsoa_code=code,
        lad_index=lad_index,
        lad_code=lad_dict,
        lad_name=lad_name_first,
        imd_decile=t["imd_decile"].to_numpy().astype(np.int8),
        wales=pc.equal(t["country"], "Wales").to_numpy(zero_copy_only=False),
        london=pc.starts_with(lad_codes, "E09").to_numpy(zero_copy_only=False),
        lsoa_by_lad=order,
        lad_start=start,
        lad_count=count,
        outward=outward,
    )


@dataclass
class Population:
    """The synthetic persons and households (arrays indexed by person or household)."""

    params: SynthParams
    seed: int
    geo: Geography
    names: NameBank
    # persons
    household: np.ndarray
    role: np.ndarray
    male: np.ndarray
    dob: np.ndarray
    group: np.ndarray
    ethnicity: np.ndarray
    forename: np.ndarray
    middle: np.ndarray
    surname: np.ndarray
    maiden: np.ndarray
    marriage_day: np.ndarray
    twin_of: np.ndarray
    score: np.ndarray
    need: np.ndarray
    prior_convictions: np.ndarray
    # households
    hh_first: np.ndarray
    hh_size: np.ndarray
    hh_couple: np.ndarray
    addr_lsoa: np.ndarray
    move_day: np.ndarray

    @property
    def n(self) -> int:
        return len(self.household)

    def s(self, name: str) -> np.ndarray:
        """Latent score of one need for every person."""
        return self.score[:, NEEDS.index(name)]

    def has(self, name: str) -> np.ndarray:
        """Need flag of one need for every person."""
        return self.need[:, NEEDS.index(name)]

    def slot_at(self, person: np.ndarray, when: np.ndarray) -> np.ndarray:
        """The address slot (0 = address at the start) of each person on each day."""
        md = self.move_day[self.household[person]]
        return (md <= np.asarray(when)[:, None]).sum(axis=1).astype(np.int8)

    def lsoa_at(self, person: np.ndarray, when: np.ndarray) -> np.ndarray:
        """LSOA index of each person's home on each day."""
        slot = self.slot_at(person, when)
        return self.addr_lsoa[self.household[person], slot]

    def postcodes(self, person: np.ndarray, slot: np.ndarray) -> tuple[pa.Array, np.ndarray]:
        """Postcode strings of (person's household, slot), and the inward code bytes (for typos)."""
        hh = self.household[person].astype(np.uint64)
        lsoa = self.addr_lsoa[self.household[person], slot]
        h = mix64(hh * np.uint64(64) + slot.astype(np.uint64) + np.uint64(self.seed) * np.uint64(1 << 40))
        inward = np.empty((len(person), 3), dtype=np.uint8)
        inward[:, 0] = (h % np.uint64(10)).astype(np.uint8) + ord("0")
        inward[:, 1] = _INWARD_LETTERS[((h >> np.uint64(8)) % np.uint64(20)).astype(np.intp)]
        inward[:, 2] = _INWARD_LETTERS[((h >> np.uint64(16)) % np.uint64(20)).astype(np.intp)]
        return self.geo.outward.take(pa.array(lsoa)), inward


def _check_pilot(params: SynthParams, geo: Geography) -> np.ndarray:
    from ..errors import InputError

    codes = geo.lad_code.to_pylist()
    idx = []
    for c in params.la_pilot_lads:
        if c not in codes:
            raise InputError(f"synthetic-data parameter la_pilot_lads names {c!r}, which is not a 2011-LSOA "
                             "local authority in the shipped geography",
                             hint="use a local authority code such as E09000002 (Barking and Dagenham)")
        idx.append(codes.index(c))
    return np.array(idx, dtype=np.int32)


def build_population(n: int, seed: int, params: SynthParams) -> Population:
    """Generate ``n`` persons in households, with demographics, addresses, moves and latent needs."""
    P = params
    geo = geography()
    names = name_bank()
    pilot_lads = _check_pilot(P, geo)
    rng = rng_for(seed, "households")
    ref = day(P.reference_date)
    start, end = day(P.start), day(P.end)

    # ------------------------------------------------------------------ households and roles
    guess = int(n / 2.0) + 16
    sizes = choose(rng, P.household_size_probs, guess).astype(np.int64) + 1
    cs = np.cumsum(sizes)
    while cs[-1] < n:  # pragma: no cover - the guess is always enough for the default sizes
        sizes = np.concatenate([sizes, choose(rng, P.household_size_probs, guess).astype(np.int64) + 1])
        cs = np.cumsum(sizes)
    h = int(np.searchsorted(cs, n) + 1)
    sizes = sizes[:h].copy()
    sizes[-1] -= int(cs[h - 1] - n)
    hh_first = (np.cumsum(sizes) - sizes).astype(np.int64)
    household = np.repeat(np.arange(h, dtype=np.int32), sizes)
    pos = np.arange(n) - hh_first[household]
    couple = (sizes >= 2) & (rng.random(h) < P.couple_share)
    role = np.full(n, ROLE_CHILD, dtype=np.int8)
    role[pos == 0] = ROLE_HEAD
    role[(pos == 1) & couple[household]] = ROLE_PARTNER
    n_children = sizes - 1 - couple.astype(np.int64)

    # ------------------------------------------------------------------ sex and age
    head_male = np.where((sizes >= 2) & ~couple, rng.random(h) < 0.15, rng.random(h) < 0.5)
    male = np.empty(n, dtype=bool)
    male[role == ROLE_HEAD] = head_male
    same_sex = rng.random(h) < 0.05
    partner_h = household[role == ROLE_PARTNER]
    male[role == ROLE_PARTNER] = np.where(same_sex[partner_h], head_male[partner_h], ~head_male[partner_h])
    male[role == ROLE_CHILD] = rng.random(int((role == ROLE_CHILD).sum())) < 0.512

    has_kids = n_children > 0
    head_age = np.where(
        has_kids, 22 + 36 * rng.random(h),
        np.where(couple, 20 + 72 * rng.beta(1.4, 1.0, h), 18 + 78 * rng.beta(1.2, 1.0, h)))
    age = np.empty(n, dtype=float)
    age[role == ROLE_HEAD] = head_age
    shift = np.where(head_male[partner_h], -2.0, 2.0)
    age[role == ROLE_PARTNER] = np.clip(head_age[partner_h] + shift + rng.normal(0, 4, len(partner_h)), 18, 99)
    kids = np.flatnonzero(role == ROLE_CHILD)
    parent_age = head_age[household[kids]]
    # children at home: mostly under 18, some adult children (up to 25)
    age[kids] = rng.random(len(kids)) ** 1.25 * np.clip(parent_age - 17, 0.5, 25)
    dob = (ref - np.round(age * 365.25) - rng.integers(0, 365, n)).astype(np.int32)

    # twins: the second child of a household copies the first child's date of birth
    first_child_pos = 1 + couple.astype(np.int64)
    twin_hh = (n_children >= 2) & (rng.random(h) < P.twin_rate)
    twin_of = np.full(n, -1, dtype=np.int64)
    a = hh_first[twin_hh] + first_child_pos[twin_hh]
    b = a + 1
    dob[b] = dob[a]
    twin_of[a] = b
    twin_of[b] = a

    # ------------------------------------------------------------------ ethnicity
    # home LSOA first (London has a different ethnic mix)
    pilot_lsoas = np.concatenate([geo.lsoa_by_lad[geo.lad_start[i]:geo.lad_start[i] + geo.lad_count[i]]
                                  for i in pilot_lads])
    in_pilot = rng.random(h) < P.la_pilot_share
    n_lsoa = len(geo.imd_decile)
    home = np.where(in_pilot, pilot_lsoas[rng.integers(0, len(pilot_lsoas), h)],
                    rng.integers(0, n_lsoa, h)).astype(np.int32)
    lon = geo.london[home]
    grp_h = np.where(lon, choose(rng, P.ethnic_shares_london, h), choose(rng, P.ethnic_shares_elsewhere, h))
    group = grp_h[household].astype(np.int8)
    # some children of White or Black households are of Mixed ethnicity
    mixed_kid = (role == ROLE_CHILD) & np.isin(group, (0, 3)) & (rng.random(n) < 0.05)
    group[mixed_kid] = 1
    ethnicity = np.zeros(n, dtype=np.int16)
    u = rng.random(n)
    for g, (codes, probs) in ETHNICITY_DETAIL.items():
        sel = group == g
        c = np.cumsum(probs)
        ethnicity[sel] = np.asarray(codes)[np.minimum(np.searchsorted(c / c[-1], u[sel], side="right"),
                                                      len(codes) - 1)]
    # twins share their detailed ethnicity
    ethnicity[b] = ethnicity[a]
    group[b] = group[a]

    # ------------------------------------------------------------------ names
    rng = rng_for(seed, "names")
    pool_of_group = np.array([0, 0, 1, 2, 0], dtype=np.int8)
    pool = pool_of_group[group]
    mixed_or_other = np.isin(group, (1, 4))
    alt = np.where(group == 1, 2, rng.integers(0, 3, n))
    pool = np.where(mixed_or_other & (rng.random(n) < 0.5), alt, pool).astype(np.int8)
    forename = names.draw_forenames(rng, male, pool)
    middle = np.where(rng.random(n) < P.middle_name_share, names.draw_forenames(rng, male, pool), -1).astype(np.int32)
    # twins get different forenames (redraw on a clash)
    clash = forename[b] == forename[a]
    forename[b[clash]] = names.draw_forenames(rng, male[b[clash]], pool[b[clash]])
    hh_pool = pool[hh_first]
    hh_surname = names.draw_surnames(rng, hh_pool)
    surname = hh_surname[household].copy()
    own = names.draw_surnames(rng, pool)
    unmarried_partner = (role == ROLE_PARTNER) & (rng.random(n) < 0.25)
    lone_kid_own = (role == ROLE_CHILD) & ~couple[household] & (rng.random(n) < 0.2)
    surname[unmarried_partner] = own[unmarried_partner]
    lone_sib = np.flatnonzero(lone_kid_own)
    surname[lone_sib] = own[hh_first[household[lone_sib]]]  # siblings share the absent father's name
    # juniors: a son takes his father's forename
    father = np.full(h, -1, dtype=np.int64)
    heads = hh_first
    father[head_male] = heads[head_male]
    pidx = np.flatnonzero(role == ROLE_PARTNER)
    father[household[pidx[male[pidx]]]] = pidx[male[pidx]]
    junior = (role == ROLE_CHILD) & male & (father[household] >= 0) & (rng.random(n) < P.junior_rate)
    junior &= twin_of < 0
    forename[junior] = forename[father[household[junior]]]
    # marriage in the period: the woman of an opposite-sex married couple had another surname before
    woman_in_couple = (role <= ROLE_PARTNER) & ~male & couple[household] & ~same_sex[household] & ~unmarried_partner
    married_in_period = woman_in_couple & (rng.random(n) < P.marriage_in_period_rate) & (age < 60)
    maiden = np.full(n, -1, dtype=np.int32)
    maiden[married_in_period] = own[married_in_period]
    clash = married_in_period & (maiden == surname)
    maiden[clash] = names.draw_surnames(rng, pool[clash])
    marriage_day = np.full(n, NA, dtype=np.int32)
    marriage_day[married_in_period] = (start + rng.random(int(married_in_period.sum())) * (end - start)).astype(
        np.int32)

    # ------------------------------------------------------------------ needs (Gaussian copula)
    rng = rng_for(seed, "needs")
    corr = np.asarray(P.need_correlation, dtype=float)
    chol = np.linalg.cholesky(corr)
    k = len(NEEDS)
    zh = (rng.standard_normal((h, k)) @ chol.T).astype(np.float32)
    zi = (rng.standard_normal((n, k)) @ chol.T).astype(np.float32)
    icc = np.array([P.household_icc[d] for d in NEEDS], dtype=np.float32)
    dep_h = (5.5 - geo.imd_decile[home].astype(np.float32)) / 4.5
    dep_eff = np.array([P.deprivation_effect[d] for d in NEEDS], dtype=np.float32)
    score = np.sqrt(icc) * zh[household] + np.sqrt(1 - icc) * zi + dep_eff * dep_h[household][:, None]
    age_ref = age_at(dob, np.full(n, ref, dtype=np.int32)).astype(np.float32)
    ni = {d: i for i, d in enumerate(NEEDS)}
    score[:, ni["physical_health"]] += 0.025 * (age_ref - 40)
    score[:, ni["mental_health"]] += np.where(male, -0.05, 0.05)
    score[:, ni["substance_misuse"]] += np.where(male, 0.25, -0.25) - 0.015 * np.abs(age_ref - 30)
    score[:, ni["domestic_abuse"]] += np.where(male, -0.15, 0.15)
    eligible = np.ones((n, k), dtype=bool)
    eligible[:, ni["employment"]] = (age_ref >= 16) & (age_ref <= 66)
    eligible[:, ni["substance_misuse"]] = age_ref >= 12
    need = np.zeros((n, k), dtype=bool)
    for d, i in ni.items():
        el = eligible[:, i]
        if el.any():
            thr = np.quantile(score[el, i], 1 - P.need_prevalence[d])
            need[:, i] = el & (score[:, i] >= thr)

    # prior convictions before the period (drives sentencing and OASys section 1)
    prior_rate = np.exp(0.6 * score[:, ni["substance_misuse"]] + 0.35 * score[:, ni["accommodation"]]
                        + 0.3 * score[:, ni["employment"]] + np.where(male, 1.2, -0.1))
    age_2011 = age_ref - 7
    years_before = np.clip(age_2011 - 12, 0, P.prior_years)
    prior = rng.poisson(0.04 * prior_rate * years_before * rng.gamma(0.5, 2.0, n)).astype(np.int16)

    # ------------------------------------------------------------------ addresses and moves
    rng = rng_for(seed, "moves")
    m = P.max_moves
    addr = np.empty((h, m + 1), dtype=np.int32)
    addr[:, 0] = home
    head_score = score[hh_first]
    mrate = P.move_rate * np.exp(P.move_need_effect * 0.5 * (head_score[:, ni["accommodation"]]
                                                             + head_score[:, ni["low_income"]]))
    young = age_ref[hh_first] < 35
    mrate = mrate * np.where(young, 1.6, 1.0)
    years = (end - start + 1) / 365.25
    n_moves = np.minimum(rng.poisson(mrate * years), m)
    mdays = np.sort(start + 1 + (rng.random((h, m)) * (end - start)).astype(np.int32), axis=1)
    slot = np.arange(m)[None, :]
    move_day = np.where(slot < n_moves[:, None], mdays, NO_MOVE).astype(np.int32)
    for j in range(1, m + 1):
        prev = addr[:, j - 1]
        lad = geo.lad_index[prev]
        within = rng.random(h) < P.move_within_lad
        local = geo.lsoa_by_lad[geo.lad_start[lad] + (rng.random(h) * geo.lad_count[lad]).astype(np.int32)]
        anywhere = rng.integers(0, n_lsoa, h)
        addr[:, j] = np.where(j <= n_moves, np.where(within, local, anywhere), prev)

    return Population(
        params=P, seed=seed, geo=geo, names=names,
        household=household, role=role, male=male, dob=dob, group=group, ethnicity=ethnicity,
        forename=forename, middle=middle, surname=surname, maiden=maiden, marriage_day=marriage_day,
        twin_of=twin_of, score=score.astype(np.float32), need=need, prior_convictions=prior,
        hh_first=hh_first, hh_size=sizes, hh_couple=couple, addr_lsoa=addr, move_day=move_day,
    )
