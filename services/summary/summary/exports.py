"""The table as a download: csv (UTF-8 with a byte-order mark, for Excel) and xlsx.

One row per figure, one column per station and the network's total last: the
figures' keys in the second column, so a program reads the file back exactly."""

from __future__ import annotations

import csv
import io

from openpyxl import Workbook

from summary.figures import BY_KEY, FIGURES
from summary.views import TableView

TITLE = "情况汇总表"
NETWORK = "全网合计"
HEADER = ("指标", "代码")


def rows(table: TableView) -> list[list]:
    header = [*HEADER, *(s.name for s in table.stations), NETWORK]
    lines: list[list] = [header]
    for figure in FIGURES:
        lines.append(
            [
                figure.label,
                figure.key,
                *(s.figures.get(figure.key) for s in table.stations),
                table.network.figures.get(figure.key),
            ]
        )
    return lines


def csv_bytes(table: TableView) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow([f"{TITLE} {table.month}"])
    for line in rows(table):
        writer.writerow(["" if value is None else value for value in line])
    return ("\ufeff" + out.getvalue()).encode("utf-8")


def xlsx_bytes(table: TableView) -> bytes:
    book = Workbook()
    sheet = book.active
    sheet.title = TITLE
    sheet.append([f"{TITLE} {table.month}"])
    for line in rows(table):
        sheet.append(line)
        kind = BY_KEY[line[1]].kind if line[1] in BY_KEY else "count"
        if kind != "count":
            for cell in sheet[sheet.max_row][2:]:
                cell.number_format = "0.0%" if kind == "rate" else "0.0"
    sheet.column_dimensions["A"].width = 28
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()
