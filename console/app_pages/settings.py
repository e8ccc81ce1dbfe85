"""Settings (admins): sources and their health, brands, templates, voice rules, SLA policies, users."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pandas as pd
import streamlit as st

from console.config import TOPIC_VOCABULARY
from console.services import settings as svc
from console.services.permissions import Actor, Permission
from console.ui.actions import run_action
from console.ui.auth_gate import require_actor
from console.ui.resources import get_config, get_store
from storage.enums import Role

store, cfg = get_store(), get_config()
actor: Actor = require_actor()
st.title("Settings")
if not actor.can(Permission.ADMIN):
    st.info("Only admins manage settings.")
    st.stop()


def save(label: str, fn: Callable[..., object], *args: Any, **kwargs: Any) -> None:
    """One audited change in its own transaction; a refusal is shown with its field, a success as a toast."""
    if run_action(label, store, fn, actor, *args, rerun=False, **kwargs):
        st.toast(f"{label}: saved")


tabs = st.tabs(["Sources", "Brands", "Templates", "Voice rules", "SLA policies", "Users"])
with store.read() as session:
    overview = svc.settings_overview(session, actor, cfg)
brands = {b.name: b for b in overview.brands}
sources = {s.name: s for s in overview.sources}
health, templates, users, voice, sla = overview.health, overview.templates, overview.users, overview.voice, overview.sla

with tabs[0]:
    st.dataframe(
        pd.DataFrame(
            [
                {
                    "Source": h.name,
                    "Platform": h.platform,
                    "Health": h.health,
                    "Enabled": h.enabled,
                    "Last error": h.last_error or "",
                }
                for h in health
            ]
        ),
        hide_index=True,
    )
    if sources:
        name = st.selectbox("Source", list(sources), key="s_src")
        source = sources[name]
        on = st.toggle("Enabled", value=source.enabled, key=f"s_on_{source.id}")
        every = st.number_input(
            "Interval (s)",
            min_value=15,
            max_value=86_400,
            value=min(source.interval_s, 86_400),
            key=f"s_int_{source.id}",
        )
        if st.button("Save source", key="s_save"):
            save("Source", svc.update_source, source.id, enabled=on, interval_s=int(every))

with tabs[1]:
    if brands:
        brand = brands[st.selectbox("Brand", list(brands), key="b_pick")]
        words = st.text_area("Keywords (one per line)", "\n".join(brand.keywords), key=f"b_kw_{brand.name}")
        if st.button("Save keywords", key="b_save"):
            save("Keywords", svc.update_brand_keywords, brand.id, words.splitlines())
    st.caption("Handles and queries come from mentiondesk.toml (`mentiondesk config check` validates it).")

with tabs[2]:
    options = {"(new template)": None} | {f"{t.name} (#{t.id})": t for t in templates}
    picked = options[st.selectbox("Template", list(options), key="t_pick")]
    t_name = st.text_input("Name", picked.name if picked else "", key=f"t_name_{picked.id if picked else 0}")
    t_body = st.text_area("Body", picked.body if picked else "", key=f"t_body_{picked.id if picked else 0}")
    t_topics = st.multiselect(
        "Topics (the classifier's)",
        list(TOPIC_VOCABULARY),
        [t for t in picked.topics if t in TOPIC_VOCABULARY] if picked else [],
        key=f"t_topics_{picked.id if picked else 0}",
    )
    t_moods = st.multiselect(
        "Fits sentiment (empty: any)",
        ["negative", "neutral", "positive"],
        list(picked.sentiments) if picked else [],
        key=f"t_moods_{picked.id if picked else 0}",
    )
    t_active = st.toggle("Active", picked.active if picked else True, key=f"t_active_{picked.id if picked else 0}")
    if st.button("Save template", key="t_save"):
        save(
            "Template",
            svc.save_template,
            template_id=picked.id if picked else None,
            name=t_name,
            body=t_body,
            brand_id=picked.brand_id if picked else None,
            topics=t_topics,
            sentiments=t_moods,
            active=t_active,
        )

with tabs[3]:
    by_brand = {r.brand or "(default)": r for r in voice}
    which = st.selectbox("Brand", list(by_brand) or ["(default)"], key="v_pick")
    rules = by_brand.get(which)
    data: dict[str, Any] = rules.model_dump(mode="json") if rules else {"brand": None}
    banned = st.text_area(
        "Banned phrases (one per line)", "\n".join(data.get("banned_phrases", [])), key=f"v_b_{which}"
    )
    sign_off = st.text_input("Sign-off (regular expression)", data.get("sign_off") or "", key=f"v_s_{which}")
    max_len = st.number_input(
        "Max length (0 = platform limit only)", 0, 10_000, data.get("max_length") or 0, key=f"v_l_{which}"
    )
    if st.button("Save voice rules", key="v_save"):
        update = {
            **data,
            "banned_phrases": [p.strip() for p in banned.splitlines() if p.strip()],
            "sign_off": sign_off or None,
            "max_length": int(max_len) or None,
        }
        save("Voice rules", svc.save_voice_rules, cfg, update)

with tabs[4]:
    st.caption(
        "Targets count each brand's business hours unless 'business hours' is off for a level. "
        "Next response applies to follow-ups after the brand answered and to reopened mentions."
    )
    edited = st.data_editor(
        pd.DataFrame(
            [
                {
                    "Urgency": p.urgency,
                    "First response (min)": p.first_response.total_seconds() / 60,
                    "Next response (min)": p.next_response.total_seconds() / 60 if p.next_response else None,
                    "Resolution (h)": p.resolution.total_seconds() / 3600 if p.resolution else None,
                    "Business hours": p.business_hours,
                }
                for p in sla
            ]
        ),
        hide_index=True,
        disabled=["Urgency"],
        key="sla_editor",
    )
    if st.button("Save SLA policies", key="sla_save"):

        def _seconds(value: object, unit: int) -> dict[str, float]:
            return {} if value is None or pd.isna(value) else {"s": float(value) * unit}  # type: ignore[arg-type]

        policies = [
            {
                "urgency": r["Urgency"],
                "business_hours": bool(r["Business hours"]),
                "first_response": float(r["First response (min)"]) * 60,
                **{
                    k: v["s"]
                    for k, v in (
                        ("next_response", _seconds(r["Next response (min)"], 60)),
                        ("resolution", _seconds(r["Resolution (h)"], 3600)),
                    )
                    if v
                },
            }
            for r in edited.to_dict("records")
        ]
        save("SLA policies", svc.save_sla_policies, policies)

with tabs[5]:
    st.dataframe(
        pd.DataFrame(
            [{"User": u.username, "Name": u.display_name, "Role": u.role.value, "Active": u.is_active} for u in users]
        ),
        hide_index=True,
    )
    with st.form("add_user"):
        n, dn = st.text_input("Username"), st.text_input("Full name")
        role = st.selectbox("Role", [r.value for r in Role])
        pw = st.text_input("Initial password", type="password")
        if st.form_submit_button("Add user"):
            save("User", svc.add_user, n, pw, role, dn)
    people = {u.username: u for u in users}
    if people:
        who = people[st.selectbox("Change user", list(people), key="u_pick")]
        roles = [r.value for r in Role]
        new_role = st.selectbox("New role", roles, index=roles.index(who.role.value), key=f"u_role_{who.id}")
        active = st.toggle("Active", who.is_active, key=f"u_active_{who.id}")
        if st.button("Save user", key="u_save"):
            save("User", svc.update_user, who.id, role=new_role, active=active)
