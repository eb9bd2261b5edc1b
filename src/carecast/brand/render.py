"""A ``BrandReport`` as a rich table, and as one self-contained HTML page.

The page needs no other file: the brand's avatar and each account's are inlined as ``data:``
URIs from the avatar cache, side by side, so people can look at them rather than read.
"""

from __future__ import annotations

import html
from collections.abc import Sequence

from rich import box
from rich.table import Table
from rich.text import Text

from carecast.brand.avatar import AvatarCache
from carecast.brand.report import AccountReport, BrandReport, FieldCheck, Status
from carecast.brand.sync import AccountSync

__all__ = ["report_html", "report_table", "sync_table"]

_STYLE = {Status.MATCH: "green", Status.DRIFT: "bold red", Status.MISSING: "yellow"}


def report_table(report: BrandReport) -> Table:
    """One row per account and field; platform text is never read as markup."""
    table = Table(title=f"brand {report.brand}: {report.name}", box=box.SIMPLE_HEAD,
                  show_edge=False)
    for column in ("account", "field", "status", "live", "expected / fix", "note"):
        table.add_column(column, overflow="fold")
    for account in report.accounts:
        where = f" {account.location}" if account.location else ""
        who = Text(f"{account.account}{where} ({account.channel})")
        if account.error is not None:
            table.add_row(who, Text("*"), Text("error", style="bold red"), Text(""), Text(""),
                          Text(account.error))
            continue
        for i, check in enumerate(account.checks):
            table.add_row(who if i == 0 else Text(""), Text(check.field),
                          Text(check.status.value, style=_STYLE[check.status]),
                          Text(_short(check.live)), Text(_short(check.fix or check.expected)),
                          Text(_note(check)))
    return table


def sync_table(syncs: Sequence[AccountSync], *, applied: bool) -> Table:
    """Per account: each change (``-`` live, ``+`` new) and each step left to do by hand."""
    table = Table(box=box.SIMPLE_HEAD, show_edge=False)
    for column in ("account", "field", "change", "result"):
        table.add_column(column, overflow="fold")
    for sync in syncs:
        who = Text(f"{sync.account} ({sync.channel})")
        result = ("failed: " + sync.error if sync.error else "updated" if sync.applied
                  else "would update" if not applied else "")
        for check in sync.fixes:
            diff = Text()
            diff.append(f"- {_short(check.live) or '(empty)'}\n", style="red")
            diff.append(f"+ {_short(check.fix)}", style="green")
            table.add_row(who, Text(check.sets or check.field), diff,
                          Text(result, style="red" if sync.error else "green"))
            who = Text("")
        for step in sync.by_hand:
            table.add_row(who, Text(step.field),
                          Text(f"+ {_short(step.fix)}" if step.fix else ""),
                          Text(f"by hand: {step.reason}", style="yellow"))
            who = Text("")
    return table


def _short(value: str | None, width: int = 120) -> str:
    if not value:
        return ""
    flat = " ".join(value.split())
    return flat if len(flat) <= width else flat[:width - 1] + "…"


def _note(check: FieldCheck) -> str:
    return "; ".join(n for n in (check.note, "majority of the accounts" if check.majority
                                 else "") if n)


# -- HTML ---------------------------------------------------------------------------------------

_CSS = """
body{font:15px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:0;
background:#f4f6f8;color:#1d2733}
header{background:#0b4f6c;color:#fff;padding:20px 32px;display:flex;align-items:center;gap:20px}
header img{width:64px;height:64px;border-radius:12px;background:#fff;object-fit:cover}
header h1{margin:0;font-size:22px} header p{margin:2px 0 0;opacity:.85}
.counts{margin-left:auto;display:flex;gap:10px}
.pill{padding:4px 10px;border-radius:999px;font-weight:600;font-size:13px}
.match{background:#dff3e4;color:#17663a}.drift{background:#fde2e1;color:#a61b1b}
.missing{background:#fff1cc;color:#8a5a00}.error{background:#ece4f7;color:#5b2c91}
main{padding:20px 32px;display:grid;grid-template-columns:repeat(auto-fill,minmax(560px,1fr));
gap:18px}
.card{background:#fff;border-radius:12px;box-shadow:0 1px 3px rgba(0,0,0,.12);padding:16px}
.card.bad{border-left:5px solid #d33}.card.good{border-left:5px solid #2a9d57}
.top{display:flex;align-items:center;gap:14px;margin-bottom:10px}
.faces{display:flex;gap:8px;align-items:center}
.faces figure{margin:0;text-align:center;font-size:11px;color:#5b6673}
.faces img,.faces .none{width:72px;height:72px;border-radius:50%;object-fit:cover;
border:1px solid #d5dbe1;display:block;background:#eef1f4}
.faces .none{display:flex;align-items:center;justify-content:center;font-size:11px}
.top h2{margin:0;font-size:17px}.top .sub{color:#5b6673;font-size:13px}
table{width:100%;border-collapse:collapse;font-size:13px}
td,th{padding:5px 6px;border-top:1px solid #edf0f2;vertical-align:top;text-align:left}
th{color:#5b6673;font-weight:600}
td.v{max-width:220px;overflow-wrap:anywhere}.fix{color:#17663a}.note{color:#5b6673}
"""


def report_html(report: BrandReport, cache: AvatarCache) -> str:
    """The report as one HTML page; every value from a platform is escaped."""
    counts = report.counts()
    brand_img = _img(cache, report.avatar_sha256, f"{report.name} logo")
    pills = "".join(f'<span class="pill {k}">{v} {k}</span>' for k, v in counts.items() if v)
    cards = "".join(_card(a, cache, report.avatar_sha256)  # drifting accounts first
                    for a in sorted(report.accounts, key=lambda a: not a.drift))
    title = html.escape(f"{report.name}: brand audit")
    status = "drift found" if report.drift else "every profile matches"
    return (
        f'<!doctype html><html lang="en"><head><meta charset="utf-8"><title>{title}</title>'
        f'<meta name="viewport" content="width=device-width,initial-scale=1">'
        f"<style>{_CSS}</style></head><body><header>{brand_img}<div><h1>{title}</h1>"
        f"<p>{len(report.accounts)} accounts of brand {html.escape(report.brand)}: {status}"
        f'</p></div><div class="counts">{pills}</div></header><main>{cards}</main>'
        "</body></html>\n")


def _img(cache: AvatarCache, digest: str | None, alt: str) -> str:
    uri = cache.data_uri(digest) if digest else None
    if uri is None:
        return '<div class="none">no image</div>'
    return f'<img src="{uri}" alt="{html.escape(alt)}">'


def _card(account: AccountReport, cache: AvatarCache, brand_avatar: str | None) -> str:
    name = html.escape(account.account)
    sub = html.escape(" · ".join(x for x in (account.channel, account.location or "",
                                             account.handle or "") if x))
    faces = ""
    if brand_avatar or account.avatar_sha256:
        faces = (f'<div class="faces"><figure>{_img(cache, account.avatar_sha256, name)}'
                 f"<figcaption>live</figcaption></figure>"
                 f"<figure>{_img(cache, brand_avatar, 'brand')}"
                 f"<figcaption>brand</figcaption></figure></div>")
    if account.error is not None:
        body = f'<p><span class="pill error">error</span> {html.escape(account.error)}</p>'
    else:
        rows = "".join(
            f'<tr><td>{html.escape(c.field)}</td><td><span class="pill {c.status.value}">'
            f'{c.status.value}</span></td><td class="v">{html.escape(c.live or "")}</td>'
            f'<td class="v">{_expected(c)}</td>'
            f'<td class="note">{html.escape(_note(c))}</td></tr>' for c in account.checks)
        body = ("<table><tr><th>field</th><th>status</th><th>live</th><th>expected / fix</th>"
                f"<th>note</th></tr>{rows}</table>")
    good = "bad" if account.drift else "good"
    return (f'<section class="card {good}"><div class="top">{faces}<div><h2>{name}</h2>'
            f'<div class="sub">{sub}</div></div></div>{body}</section>')


def _expected(check: FieldCheck) -> str:
    if check.status is Status.MATCH:
        return ""  # the live value is the expected one
    expected = html.escape(check.expected or "")
    if check.fix and check.fix != check.expected:
        return f'{expected}<div class="fix">fix: {html.escape(check.fix)}</div>'
    return expected
