"""The written notice to the origin's civil-affairs department (流出地书面告知).

A page a person can read and print; every value is escaped.
"""

from __future__ import annotations

from datetime import datetime
from html import escape
from zoneinfo import ZoneInfo

from transfer.tables import Escort, Return, Traveller

CHINA = ZoneInfo("Asia/Shanghai")
# Categories the origin needs to plan revisits; never DV status or trafficking.
_TRANSPORT = {"station_vehicle": "救助站车辆", "train": "火车", "flight": "飞机", "bus": "客车"}
_AT_RISK = {"mental_illness": "精神障碍", "dementia": "认知症/阿尔茨海默病", "disabled": "残疾"}


def addressee(returned: Return) -> str:
    where = returned.home_admin_code or returned.home_address
    return f"{returned.destination_province}（{where}）民政部门"


def render_notice(
    returned: Return,
    traveller: Traveller | None,
    escort: Escort | None,
    station_name: str,
    issued_at: datetime,
) -> str:
    sex = {"male": "男", "female": "女"}.get(traveller.sex, "未知") if traveller else "未知"
    risks = [label for key, label in _AT_RISK.items() if traveller and key in traveller.categories]
    rows = [
        ("姓名 Name", returned.full_name),
        ("性别 Sex", sex),
        ("户籍地址 Home address", returned.home_address),
        ("交接时间 Handed over", _local(returned.handed_over_at)),
        ("交接地点 Place", returned.handover_place or ""),
        ("接收人 Received by", f"{returned.received_by}（{returned.relation or '—'}）"),
        ("护送单位 Escorted by", station_name),
        ("护送方式 Travelled by", _TRANSPORT.get(escort.transport_mode, "") if escort else ""),
        ("需关注情况 At-risk", "、".join(risks) or "无"),
    ]
    body = "\n".join(
        f"<tr><th>{escape(label)}</th><td>{escape(str(value))}</td></tr>" for label, value in rows
    )
    return f"""<!doctype html>
<html lang="zh-CN"><head><meta charset="utf-8">
<title>返乡受助人员告知书 {escape(returned.full_name)}</title>
<style>
 body {{ font-family: serif; max-width: 42em; margin: 2em auto; }}
 th {{ text-align: left; padding-right: 1em; white-space: nowrap; vertical-align: top; }}
 @media print {{ body {{ margin: 0 }} }}
</style></head>
<body>
<h1>返乡受助人员情况告知书</h1>
<p>致：{escape(addressee(returned))}</p>
<p>我站救助的受助人员已于下列时间送返并完成交接。请按照回访要求，每两个月至少回访一次，
回访期不少于一年，防止其再次流浪。</p>
<table>
{body}
</table>
<p>告知单位：{escape(station_name)}　　日期：{escape(_local(issued_at))}</p>
</body></html>
"""


def _local(moment: datetime | None) -> str:
    return moment.astimezone(CHINA).strftime("%Y-%m-%d %H:%M") if moment else ""
