"""Civil county court cases: possession claims (claim -> order -> warrant -> repossession), money claims and
damages claims, with their parties (landlords and lenders as companies) and events.

Possession claims fall on households whose head has low-income or accommodation needs, and those needs show in what
the court file records: the claim type (tenure) and the arrears claimed, in months of rent or mortgage payment.
Each claim then moves through the process step by step (:func:`stage_probabilities`): no order, or an outright or
suspended order; a warrant; a repossession by county court bailiffs, within 12 months of the claim or later. Every
step depends mostly on the arrears and the claim type, with a modest hidden component. The true probability of a
repossession within 12 months is computed from the step probabilities (summing over outright and suspended
orders), and the events are drawn from the same steps, so the truth is exact by construction.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from ..datafirst import MODEL
from ..datafirst import codes as K
from .common import (
    NA,
    Frame,
    age_at,
    choose_rows,
    coded,
    day,
    explode,
    hex_ids,
    logistic,
    rng_for,
    uniform_days,
    year_start,
)
from .params import SynthParams
from .population import ROLE_PARTNER, Population

CLAIM_TYPES = K.CIVIL_CLAIM_TYPE.values  # PSL PPL PAC PMO MON DAM
EVENTS = K.CIVIL_EVENT.values  # CLAIM ORDER_OUTRIGHT ORDER_SUSPENDED NO_ORDER WARRANT REPOSSESSION JUDGMENT
E_CLAIM, E_OUT, E_SUSP, E_NONE, E_WARRANT, E_REPO, E_JUDG = range(7)
SOCIAL_LANDLORDS = ("Clarion Housing Association", "Peabody Trust", "L&Q Housing Trust", "Sanctuary Housing",
                    "Places for People Homes", "Home Group Ltd", "Notting Hill Genesis", "Riverside Group Ltd",
                    "Guinness Partnership", "Metropolitan Thames Valley Housing")
PRIVATE_LANDLORD_SUFFIX = (" Lettings Ltd", " Properties Ltd", " Estates Ltd", " Residential Ltd")
LENDERS = ("Lloyds Bank plc", "Santander UK plc", "Nationwide Building Society", "Barclays Bank UK plc",
           "NatWest plc", "HSBC UK Bank plc", "Bank of Scotland plc", "Kensington Mortgage Company Ltd",
           "Together Commercial Finance Ltd", "Coventry Building Society")
CREDITORS = ("Lowell Portfolio I Ltd", "Cabot Financial (UK) Ltd", "Intrum UK Finance Ltd", "PRA Group (UK) Ltd",
             "Vanquis Bank Ltd", "British Gas Trading Ltd", "Capital One (Europe) plc", "Arrow Global Ltd")


def stage_probabilities(P: SynthParams, ctype: np.ndarray, z: np.ndarray, hidden: np.ndarray) -> dict[str, np.ndarray]:
    """Probabilities of each step of the possession process for claims of type ``ctype`` (0-3: PSL PPL PAC PMO)
    with arrears severity ``z`` (log of the months of arrears over the claim type's median; 0 for accelerated
    claims, which claim no arrears) and hidden household circumstances ``hidden`` (a log-odds shift).

    ``none``: the claim ends without an order; ``outright``: an order is outright (else suspended);
    ``warrant_outright`` / ``warrant_suspended``: a warrant follows the order; ``eviction``: bailiffs repossess once
    a warrant is issued; ``within_outright`` / ``within_suspended``: a repossession falls within 12 months of the
    claim. ``repo12`` is the probability of a repossession within 12 months of the claim, the truth of the
    possession use case.
    """
    t = np.asarray(ctype, dtype=np.int64)
    none = logistic(np.asarray(P.possession_no_order_logit)[t] + P.possession_no_order_arrears * z)
    outright = logistic(np.asarray(P.possession_outright_logit)[t] + P.possession_outright_arrears * z)
    w_out = logistic(P.possession_warrant_logit[0] + P.possession_warrant_arrears * z + hidden)
    w_susp = logistic(P.possession_warrant_logit[1] + P.possession_warrant_arrears * z + hidden)
    evict = logistic(P.possession_eviction_logit + P.possession_eviction_arrears * z + hidden)
    within = np.asarray(P.possession_within_year, dtype=float)
    repo12 = (1 - none) * evict * (outright * w_out * within[0] + (1 - outright) * w_susp * within[1])
    return {"none": none, "outright": outright, "warrant_outright": w_out, "warrant_suspended": w_susp,
            "eviction": evict, "within_outright": np.full(len(t), within[0]),
            "within_suspended": np.full(len(t), within[1]), "repo12": repo12}


def possession_claims(rng: np.random.Generator, pop: Population, P: SynthParams, defendant: np.ndarray,
                      issue: np.ndarray) -> pd.DataFrame:
    """Claim type, arrears and the events of each possession claim against ``defendant`` issued on ``issue``.

    The household's needs drive what the court file shows: low income makes a social tenancy more likely and a
    mortgage less likely; arrears (in months of rent or mortgage payment) rise with the low-income, accommodation
    and substance-misuse need scores. The arrears, the claim type and a modest hidden component (substance misuse,
    mental health and circumstances no record holds) then drive each step of the process: no order or an order,
    outright (higher arrears, accelerated claims) or suspended, a warrant, a repossession by bailiffs, and its timing.
    Steps are drawn in order, so the funnel narrows at each stage, and the probability of a repossession within 12
    months (the truth) follows from the step probabilities, exact by construction.
    """
    n = len(defendant)
    s_inc = pop.s("low_income")[defendant]
    s_acc = pop.s("accommodation")[defendant]
    s_sub = pop.s("substance_misuse")[defendant]
    s_mh = pop.s("mental_health")[defendant]
    # tenure (claim type) by the head's low-income score
    shares = np.log(np.asarray(P.possession_type_shares, dtype=float))
    w = np.exp(shares[None, :] + np.outer(s_inc, np.asarray(P.possession_type_income_effect, dtype=float)))
    ctype = choose_rows(rng, w)
    # arrears in months of rent (or mortgage payment), driven by needs; the amount claimed is months x payment
    med = np.asarray(P.arrears_months_median, dtype=float)[ctype]
    z = (P.arrears_income_weight * s_inc + P.arrears_accommodation_weight * s_acc
         + P.arrears_substance_weight * s_sub + P.arrears_sigma * rng.standard_normal(n))
    has_arrears = med > 0
    z = np.where(has_arrears, z, 0.0)
    payment = np.asarray(P.possession_monthly_payment, dtype=float)[ctype] * np.exp(
        P.possession_payment_sigma * rng.standard_normal(n))
    arrears = np.where(has_arrears, np.round(np.where(has_arrears, med, 1.0) * np.exp(z) * payment, 2), np.nan)
    hidden = (P.possession_hidden_substance_weight * s_sub + P.possession_hidden_mental_health_weight * s_mh
              + P.possession_hidden_sigma * rng.standard_normal(n))
    sp = stage_probabilities(P, ctype, z, hidden)
    # the process, step by step
    u = rng.random((n, 5))
    ordered = u[:, 0] >= sp["none"]
    outright = ordered & (u[:, 1] < sp["outright"])
    suspended = ordered & ~outright
    warrant = (outright & (u[:, 2] < sp["warrant_outright"])) | (suspended & (u[:, 2] < sp["warrant_suspended"]))
    repo = warrant & (u[:, 3] < sp["eviction"])
    within = repo & (u[:, 4] < np.where(outright, sp["within_outright"], sp["within_suspended"]))
    # dates: first hearing 4-10 weeks after issue; a repossession within the year between 100 and 365 days after
    # issue, a later one up to 8 months (outright) or 2 years (suspended, after a breach) beyond the year;
    # the warrant 2-8 weeks before the bailiffs come, or (no repossession) some months after the order
    od = issue + rng.integers(28, 71, n)
    rd = np.where(within, issue + rng.integers(100, 366, n),
                  issue + 366 + (rng.random(n) * np.where(outright, 240, 730)).astype(np.int32))
    wd = np.where(repo, np.maximum(rd - rng.integers(14, 61, n), od + 14),
                  od + np.where(outright, rng.integers(30, 200, n), rng.integers(60, 721, n)))
    order_t = np.where(outright, E_OUT, np.where(suspended, E_SUSP, E_NONE)).astype(np.int16)
    return pd.DataFrame({
        "issue": issue, "ctype": ctype, "p": sp["repo12"], "repo12": within, "order_t": order_t,
        "order_d": od.astype(np.int32), "warrant_d": np.where(warrant, wd, NA).astype(np.int32),
        "repo_d": np.where(repo, rd, NA).astype(np.int32), "arrears": arrears,
    })


def civil_frames(pop: Population, P: SynthParams, seed: int) -> tuple[dict[str, Frame], pd.DataFrame]:
    rng = rng_for(seed, "civil")
    lo_d, hi_d = MODEL.dataset("civil").coverage
    lo, hi = max(day(lo_d), day(P.start)), min(day(hi_d), day(P.end))
    y0 = max(lo_d.year, P.start.year)
    years = np.arange(y0, min(hi_d.year, P.end.year) + 1)
    ys, ye = year_start(years), year_start(years + 1) - 1

    # ------------------------------------------------------------------ possession claims (household heads)
    head = pop.hh_first
    s_inc, s_acc, s_sub = pop.s("low_income")[head], pop.s("accommodation")[head], pop.s("substance_misuse")[head]
    rate = P.possession_base_rate * np.exp(P.possession_income_weight * s_inc + P.possession_accommodation_weight
                                           * s_acc + P.possession_substance_weight * s_sub)
    counts = rng.poisson(np.broadcast_to(rate[:, None], (len(head), len(years))))
    par, _ = explode(counts.ravel())
    hh = (par // len(years)).astype(np.int64)
    yi = par % len(years)
    issue = uniform_days(rng, ys[yi], ye[yi])
    ok = (issue >= lo) & (issue <= hi) & (age_at(pop.dob[head[hh]], issue) >= 18)
    hh, issue = hh[ok], issue[ok]
    d1 = head[hh]
    poss = possession_claims(rng, pop, P, d1, issue)
    poss.insert(0, "hh", hh)
    ctype = poss["ctype"].to_numpy()

    # ------------------------------------------------------------------ money and damages claims (adults)
    adult_rate = P.money_claim_rate * np.exp(P.money_claim_income_weight * pop.s("low_income"))
    mc = rng.poisson(adult_rate * len(years))
    mpar, _ = explode(mc)
    m_issue = (lo + rng.random(len(mpar)) * (hi - lo)).astype(np.int32)
    dc = rng.poisson(np.full(pop.n, 0.0004 * len(years)))
    dpar, _ = explode(dc)
    d_issue = (lo + rng.random(len(dpar)) * (hi - lo)).astype(np.int32)
    other_person = np.concatenate([mpar, dpar]).astype(np.int64)
    other_issue = np.concatenate([m_issue, d_issue])
    other_type = np.concatenate([np.full(len(mpar), 4), np.full(len(dpar), 5)]).astype(np.int16)
    ok = (other_issue >= lo) & (other_issue <= hi) & (age_at(pop.dob[other_person], other_issue) >= 18)
    other_person, other_issue, other_type = other_person[ok], other_issue[ok], other_type[ok]
    judg = rng.random(len(other_person)) < np.where(other_type == 4, 0.6, 0.4)
    judg_d = np.where(judg, other_issue + rng.integers(30, 120, len(other_person)), NA).astype(np.int32)
    amount = np.where(other_type == 4, rng.lognormal(np.log(1200), 0.9, len(other_person)),
                      rng.lognormal(np.log(5000), 1.0, len(other_person)))

    # ------------------------------------------------------------------ cases
    n_p, n_o = len(poss), len(other_person)
    case_type = np.concatenate([ctype, other_type]).astype(np.int16)
    case_issue = np.concatenate([issue, other_issue]).astype(np.int32)
    defendant = np.concatenate([d1, other_person]).astype(np.int64)
    order = np.lexsort((defendant, case_issue))
    inv = np.empty_like(order)
    inv[order] = np.arange(len(order))
    case_key = inv  # case numbers in issue-date order
    nc = n_p + n_o
    case_lsoa = pop.lsoa_at(defendant, case_issue)
    court = pc.binary_join_element_wise("County Court at ", pop.geo.lad_name.take(
        pa.array(pop.geo.lad_index[case_lsoa])), "")
    online = rng.random(nc) < np.array([0.6, 0.6, 0.3, 0.6, 0.7, 0.2])[case_type]
    amount_all = np.concatenate([poss["arrears"].to_numpy(), amount])
    case_hash = hex_ids(case_key, "civil_case", seed)
    cases = Frame("civil_cases", columns={
        "case_number_hash": case_hash,
        "claim_type": coded(case_type, CLAIM_TYPES),
        "issue_date": case_issue,
        "court": court,
        "online_claim": online,
        "arrears_amount": np.round(amount_all, 2),
    })

    # ------------------------------------------------------------------ events
    ev_case = [np.arange(nc), np.arange(n_p)[poss["order_d"].to_numpy() != NA],
               np.arange(n_p)[poss["warrant_d"].to_numpy() != NA], np.arange(n_p)[poss["repo_d"].to_numpy() != NA],
               n_p + np.flatnonzero(judg_d != NA)]
    ev_type = [np.full(nc, E_CLAIM), poss["order_t"].to_numpy()[ev_case[1]], np.full(len(ev_case[2]), E_WARRANT),
               np.full(len(ev_case[3]), E_REPO), np.full(len(ev_case[4]), E_JUDG)]
    ev_day = [case_issue, poss["order_d"].to_numpy()[ev_case[1]], poss["warrant_d"].to_numpy()[ev_case[2]],
              poss["repo_d"].to_numpy()[ev_case[3]], judg_d[ev_case[4] - n_p]]
    ec = np.concatenate(ev_case)
    et = np.concatenate(ev_type).astype(np.int16)
    ed = np.concatenate(ev_day).astype(np.int32)
    keep = ed <= hi
    ec, et, ed = ec[keep], et[keep], ed[keep]
    eo = np.lexsort((et, ed, case_key[ec]))
    ec, et, ed = ec[eo], et[eo], ed[eo]
    events = Frame("civil_events", columns={
        "event_id_hash": hex_ids(np.arange(len(ec)), "civil_event", seed),
        "case_number_hash": case_hash.take(pa.array(ec)),
        "event_type": coded(et, EVENTS),
        "event_date": ed,
    })

    # ------------------------------------------------------------------ parties
    # defendants: the head (possession) or the adult (money, damages); a partner as joint defendant sometimes
    partner = pop.hh_first[pop.household[d1]] + 1
    has_partner = (pop.hh_size[pop.household[d1]] >= 2) & (pop.role[np.minimum(partner, pop.n - 1)] == ROLE_PARTNER)
    joint = np.flatnonzero(has_partner & (rng.random(n_p) < 0.45))
    joint = joint[age_at(pop.dob[partner[joint]], issue[joint]) >= 18]
    p_case = np.concatenate([np.arange(nc), joint, np.arange(nc)])
    p_person = np.concatenate([defendant, partner[joint], defendant])
    p_company = np.concatenate([np.zeros(nc + len(joint), bool), np.ones(nc, bool)])
    p_role = np.where(p_company, 0, 1)
    # claimant names
    ct = case_type
    lad_name = pop.geo.lad_name.take(pa.array(pop.geo.lad_index[case_lsoa]))
    council = pc.binary_join_element_wise(lad_name, " Council", "")
    social = coded(rng.integers(0, len(SOCIAL_LANDLORDS), nc), SOCIAL_LANDLORDS)
    private = pc.binary_join_element_wise(pop.names.vocab.take(pa.array(pop.names.draw_surnames(
        rng, np.zeros(nc, np.int8)))), coded(rng.integers(0, 4, nc), PRIVATE_LANDLORD_SUFFIX), "")
    lender = coded(rng.integers(0, len(LENDERS), nc), LENDERS)
    creditor = coded(rng.integers(0, len(CREDITORS), nc), CREDITORS)
    claimant = pc.case_when(
        pc.make_struct(pa.array((ct == 0) & (rng.random(nc) < 0.4)), pa.array(ct == 0), pa.array(ct <= 2),
                       pa.array(ct == 3)),
        council, social, private, lender, creditor)
    company_name = pa.concat_arrays([pa.nulls(nc + len(joint), pa.string()), claimant])
    p_when = case_issue[p_case]
    order_p = np.lexsort((p_role, case_key[p_case]))
    p_case, p_person, p_company, p_role, p_when = (a[order_p] for a in (p_case, p_person, p_company, p_role, p_when))
    company_name = company_name.take(pa.array(order_p))
    pid = np.arange(len(p_case))
    parties = Frame("civil_parties", person=p_person.astype(np.int32), when=p_when, group="civil", key=pid,
                    non_person=p_company)
    parties.columns = {
        "row_id_hash": hex_ids(pid, "civil_parties", seed),
        "case_number_hash": case_hash.take(pa.array(p_case)),
        "party_role": coded(p_role, K.CIVIL_PARTY_ROLE.values),
        "is_company": p_company,
        "company_name": company_name,
    }

    # ------------------------------------------------------------------ truth: first possession claim per person
    is_poss = case_type[p_case] <= 3
    dfd = ~p_company & is_poss
    cand = pd.DataFrame({"party": pid[dfd], "person": p_person[dfd], "t0": p_when[dfd], "case": p_case[dfd]})
    cand = cand.sort_values(["person", "t0", "party"], kind="stable").drop_duplicates("person")
    cand = cand[cand["t0"] + 365 <= hi]
    cand["probability"] = poss["p"].to_numpy()[cand["case"].to_numpy()]
    cand["outcome"] = poss["repo12"].to_numpy()[cand["case"].to_numpy()]
    outcomes = cand[["party", "person", "t0", "probability", "outcome"]].reset_index(drop=True)
    return {f.table: f for f in (cases, parties, events)}, outcomes
