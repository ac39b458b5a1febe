"""The town roster of the at-risk register (花名册): a page to read and print."""

from __future__ import annotations

from datetime import datetime
from html import escape

from followup.domain import CHINA

REASONS = {
    "mental_illness": "精神障碍",
    "dementia": "认知症/阿尔茨海默病",
    "disabled": "肢体或智力残疾",
    "repeat_wandering": "反复流浪",
    "other": "其他",
}


def render_roster(jurisdiction_code: str, rows: list[dict], printed_at: datetime) -> str:
    """``rows``: full_name, home_address, reasons, handed_over_at, next_due, station."""
    body = "\n".join(
        "<tr>"
        + "".join(
            f"<td>{escape(str(value))}</td>"
            for value in (
                i,
                row["full_name"] or "（姓名不详）",
                row["home_address"],
                "、".join(REASONS.get(r, r) for r in row["reasons"]),
                row["handed_over_at"].astimezone(CHINA).strftime("%Y-%m-%d"),
                row["next_due"] or "—",
                row["station"],
            )
        )
        + "</tr>"
        for i, row in enumerate(rows, start=1)
    )
    return f"""<!doctype html>
<html lang="zh-CN"><head><meta charset="utf-8">
<title>易流浪走失人员花名册 {escape(jurisdiction_code)}</title>
<style>
 body {{ font-family: serif; margin: 2em; }}
 table {{ border-collapse: collapse; width: 100%; }}
 th, td {{ border: 1px solid #444; padding: .3em .5em; text-align: left; }}
 @media print {{ body {{ margin: 0 }} }}
</style></head>
<body>
<h1>易流浪走失人员花名册</h1>
<p>行政区划代码：{escape(jurisdiction_code)}　　共 {len(rows)} 人　　
打印时间：{escape(printed_at.astimezone(CHINA).strftime("%Y-%m-%d %H:%M"))}</p>
<table>
<tr><th>序号</th><th>姓名</th><th>户籍地址</th><th>列入原因</th><th>返乡交接日期</th>
<th>下次回访</th><th>送返救助站</th></tr>
{body}
</table>
<p>请乡镇（街道）、村（居）委会每两个月至少回访一次，发现再次外出流浪的及时告知救助管理站。</p>
</body></html>
"""
