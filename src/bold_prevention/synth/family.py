"""Family court cases (FamilyMan): private law (child arrangements), public law (care), Family Law Act
(domestic abuse injunctions) and divorce, with parties (applicants, respondents, children) and events.

Rates rise with the family, domestic abuse, substance misuse and mental health needs of the adults concerned.
Children involved are the household's children under 18 on the day the case is received, so family records link
to education records of the same children.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from ..datafirst import MODEL
from ..datafirst import codes as K
from .common import NA, Frame, age_at, choose, coded, day, explode, hex_ids, rng_for, uniform_days, year_start
from .params import SynthParams
from .population import ROLE_CHILD, ROLE_PARTNER, Population

CASE_TYPES = K.FAMILY_CASE_TYPE.values  # C P A FLA D FR
T_C, T_P, T_A, T_FLA, T_D, T_FR = range(6)
ROLES = K.FAMILY_ROLE.values  # APLZ APLC APLA RSPZ RSPC RSPA CHLDZ CHLDC
EVENTS = K.FAMILY_EVENT.values
_E = {c: i for i, c in enumerate(EVENTS)}


def family_frames(pop: Population, P: SynthParams, seed: int) -> dict[str, Frame]:
    rng = rng_for(seed, "family")
    lo_d, hi_d = MODEL.dataset("family").coverage
    lo, hi = max(day(lo_d), day(P.start)), min(day(hi_d), day(P.end))
    years = np.arange(max(lo_d.year, P.start.year), min(hi_d.year, P.end.year) + 1)
    ys, ye = year_start(years), year_start(years + 1) - 1
    H = len(pop.hh_first)
    head = pop.hh_first
    partner = np.where(pop.hh_couple, head + 1, -1)
    n_kids = pop.hh_size - 1 - pop.hh_couple.astype(np.int64)

    def hh_score(name: str) -> np.ndarray:
        s = pop.s(name)
        return np.where(partner >= 0, np.maximum(s[head], s[np.maximum(partner, 0)]), s[head])

    fam, da, sub, mh = hh_score("family"), hh_score("domestic_abuse"), hh_score("substance_misuse"), hh_score(
        "mental_health")
    lin = P.family_need_weight * fam + 0.5 * P.family_da_weight * da
    lin_pub = P.family_need_weight * fam + P.family_da_weight * da + P.family_substance_weight * sub + \
        P.family_mental_weight * mh
    with_kids = n_kids > 0
    rates = {
        T_P: np.where(with_kids, P.private_law_rate * np.exp(lin), 0.0),
        T_C: np.where(with_kids, P.public_law_rate * np.exp(lin_pub), 0.0),
        T_D: np.where(pop.hh_couple, P.divorce_rate * np.exp(0.3 * fam), 0.0),
    }
    hh_l, type_l, day_l = [], [], []
    for t, r in rates.items():
        cnt = rng.poisson(np.broadcast_to(r[:, None], (H, len(years))))
        par, _ = explode(cnt.ravel())
        hh_l.append(par // len(years))
        type_l.append(np.full(len(par), t))
        yi = par % len(years)
        day_l.append(uniform_days(rng, ys[yi], ye[yi]))
    hh_c = np.concatenate(hh_l).astype(np.int64)
    t_c = np.concatenate(type_l).astype(np.int16)
    d_c = np.concatenate(day_l).astype(np.int32)
    # Family Law Act applications by adults with domestic abuse needs
    adults = np.flatnonzero(pop.role <= ROLE_PARTNER)
    fr = P.fla_rate * np.exp(1.5 * P.family_da_weight * pop.s("domestic_abuse")[adults]) * np.where(
        pop.male[adults], 0.3, 1.0)
    cnt = rng.poisson(fr * len(years))
    par, _ = explode(cnt)
    fla_app = adults[par]
    fla_day = (lo + rng.random(len(par)) * (hi - lo)).astype(np.int32)
    hh_c = np.concatenate([hh_c, pop.household[fla_app].astype(np.int64)])
    t_c = np.concatenate([t_c, np.full(len(par), T_FLA, dtype=np.int16)])
    d_c = np.concatenate([d_c, fla_day])
    applicant_fla = np.concatenate([np.full(len(hh_c) - len(par), -1), fla_app])
    keep = (d_c >= lo) & (d_c <= hi)
    hh_c, t_c, d_c, applicant_fla = hh_c[keep], t_c[keep], d_c[keep], applicant_fla[keep]
    order = np.lexsort((t_c, hh_c, d_c))
    hh_c, t_c, d_c, applicant_fla = hh_c[order], t_c[order], d_c[order], applicant_fla[order]
    nc = len(hh_c)
    cid = np.arange(nc)

    # ------------------------------------------------------------------ parties
    h_head = head[hh_c]
    h_partner = partner[hh_c]
    mother = np.where(~pop.male[h_head], h_head, np.where(h_partner >= 0, h_partner, -1))
    father = np.where(pop.male[h_head], h_head, np.where((h_partner >= 0) & pop.male[np.maximum(h_partner, 0)],
                                                         h_partner, -1))
    men = np.flatnonzero((pop.role <= ROLE_PARTNER) & pop.male)
    women = np.flatnonzero((pop.role <= ROLE_PARTNER) & ~pop.male)
    absent_man = men[rng.integers(0, len(men), nc)] if len(men) else np.full(nc, -1)
    absent_woman = women[rng.integers(0, len(women), nc)] if len(women) else np.full(nc, -1)
    other_parent = lambda p: np.where(pop.male[p], np.where(mother >= 0, mother, absent_woman),  # noqa: E731
                                      np.where(father >= 0, father, absent_man))
    # applicant and respondent by case type
    mum_applies = rng.random(nc) < 0.65
    first_p = np.where(mother >= 0, mother, h_head)
    app = np.where(t_c == T_P, np.where(mum_applies | (father < 0), first_p, father), -1)
    app = np.where(t_c == T_D, np.where(rng.random(nc) < 0.6, first_p, np.where(h_partner >= 0, h_partner, h_head)),
                   app)
    app = np.where(t_c == T_FLA, applicant_fla, app)
    resp = np.where(app >= 0, other_parent(np.maximum(app, 0)), -1)
    resp = np.where((t_c == T_D) & (h_partner >= 0), np.where(app == h_head, h_partner, h_head), resp)
    # public law: both parents respond (the local authority applies)
    pub = t_c == T_C
    resp = np.where(pub, h_head, resp)
    resp2 = np.where(pub & (h_partner >= 0), h_partner, -1)
    same = resp == app
    resp = np.where(same, other_parent(np.maximum(app, 0)), resp)
    # children under 18 on the receipt day
    kid_case, k_ord = explode(np.where(np.isin(t_c, (T_C, T_P, T_FLA)), n_kids[hh_c], 0))
    kid = pop.hh_first[hh_c[kid_case]] + 1 + pop.hh_couple[hh_c[kid_case]].astype(np.int64) + k_ord
    ok = (pop.role[kid] == ROLE_CHILD) & (pop.dob[kid] <= d_c[kid_case]) & (age_at(pop.dob[kid], d_c[kid_case]) < 18)
    kid_case, kid = kid_case[ok], kid[ok]
    n_children = np.bincount(kid_case, minlength=nc)
    # FLA applications do not list children as parties
    list_kids = t_c[kid_case] != T_FLA
    kid_case_p, kid_p = kid_case[list_kids], kid[list_kids]

    children_act = np.isin(t_c, (T_C, T_P))
    app_role = np.where(children_act, 1, 0)
    resp_role = np.where(children_act, 4, 3)
    pc_l = [cid[app >= 0], cid[resp >= 0], cid[resp2 >= 0], kid_case_p]
    pp_l = [app[app >= 0], resp[resp >= 0], resp2[resp2 >= 0], kid_p]
    pr_l = [app_role[app >= 0], resp_role[resp >= 0], resp_role[resp2 >= 0], np.full(len(kid_p), 7)]
    p_case = np.concatenate(pc_l).astype(np.int64)
    p_person = np.concatenate(pp_l).astype(np.int64)
    p_role = np.concatenate(pr_l).astype(np.int16)
    o = np.lexsort((p_role, p_case))
    p_case, p_person, p_role = p_case[o], p_person[o], p_role[o]
    pid = np.arange(len(p_case))
    represented = rng.random(len(pid)) < np.where(p_role <= 2, 0.6, np.where(p_role <= 5, 0.4, np.where(
        t_c[p_case] == T_C, 0.9, 0.1)))

    # ------------------------------------------------------------------ events and disposal
    dur = np.where(t_c == T_C, rng.integers(120, 420, nc), np.where(
        t_c == T_P, rng.integers(60, 400, nc), np.where(t_c == T_FLA, rng.integers(1, 60, nc),
                                                      rng.integers(180, 420, nc))))
    disposal = (d_c + dur).astype(np.int32)
    first_ev = np.array([_E["C1"], _E["C100"], _E["C1"], _E["FL401"], _E["D36"], _E["D36"]])[t_c]
    n_hear = np.where(t_c == T_C, rng.integers(2, 5, nc), np.where(t_c == T_P, rng.integers(1, 4, nc),
                                                                   np.where(t_c == T_FLA, 1, 0)))
    hp, hk = explode(n_hear)
    h_day = (d_c[hp] + (dur[hp] * (hk + 1) / (n_hear[hp] + 1))).astype(np.int32)
    u = rng.random(nc)
    final = np.select(
        [t_c == T_C, t_c == T_P, t_c == T_FLA],
        [np.where(u < 0.6, _E["C32"], np.where(u < 0.8, _E["C35"], _E["ORDREF"])),
         np.where(u < 0.7, _E["C43"], _E["ORDREF"]),
         np.where(u < 0.7, _E["ORDNOM"], np.where(u < 0.85, _E["FL404"], _E["ORDREF"]))],
        _E["D37"])
    arrest = np.flatnonzero((t_c == T_FLA) & (final != _E["ORDREF"]) & (rng.random(nc) < 0.2))
    e_case = np.concatenate([cid, hp, cid, arrest])
    e_type = np.concatenate([first_ev, np.full(len(hp), _E["G63"]), final, np.full(len(arrest), _E["FL406"])])
    e_day = np.concatenate([d_c, h_day, disposal, disposal[arrest]]).astype(np.int32)
    keep = e_day <= hi
    e_case, e_type, e_day = e_case[keep], e_type[keep], e_day[keep]
    eo = np.lexsort((e_type, e_day, e_case))
    e_case, e_type, e_day = e_case[eo], e_type[eo], e_day[eo]

    # ------------------------------------------------------------------ frames
    case_hash = hex_ids(cid, "family_case", seed)
    lsoa = pop.lsoa_at(h_head, d_c)
    court = pc.binary_join_element_wise("Family Court at ", pop.geo.lad_name.take(pa.array(
        pop.geo.lad_index[lsoa])), "")
    da_any = pop.has("domestic_abuse")[np.maximum(app, 0)] | pop.has("domestic_abuse")[np.maximum(resp, 0)]
    harm = np.where(t_c == T_FLA, True, rng.random(nc) < np.where(da_any, np.where(t_c == T_C, 0.8, 0.7),
                                                                 np.where(t_c == T_D, 0.03, 0.15)))
    fee = np.where(t_c == T_C, False, rng.random(nc) < np.where(pop.has("low_income")[np.maximum(app, 0)], 0.8, 0.1))
    cases = Frame("family_cases", columns={
        "case_number_hash": case_hash,
        "case_type": coded(t_c, CASE_TYPES),
        "receipt_date": d_c,
        "disposal_date": np.where(disposal > hi, NA, disposal).astype(np.int32),
        "creating_court": court,
        "number_of_children": n_children.astype(np.int64),
        "harm_alleged": harm,
        "fee_exempt": fee,
    })
    events = Frame("family_events", columns={
        "event_id_hash": hex_ids(np.arange(len(e_case)), "family_event", seed),
        "case_number_hash": case_hash.take(pa.array(e_case)),
        "event_model": coded(e_type, EVENTS),
        "event_date": e_day,
    })
    parties = Frame("family_parties", person=p_person.astype(np.int32), when=d_c[p_case], group="family", key=pid)
    parties.columns = {
        "row_id_hash": hex_ids(pid, "family_parties", seed),
        "case_number_hash": case_hash.take(pa.array(p_case)),
        "party_id_hash": hex_ids(pid, "family_party_id", seed),
        "role_model": coded(p_role, ROLES),
        "legally_represented": represented,
    }
    return {f.table: f for f in (cases, events, parties)}


__all__ = ["family_frames", "choose"]
