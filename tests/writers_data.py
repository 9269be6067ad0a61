"""A small log that exercises every part of the human-readable reports.

Against tests/data/design-example.yaml: a refined-petroleum cap crossed by `b` (notices
at 75/90/95% on the way), a crude-oil cap with activity but no finding, a ship-to-ship
prohibition, a late and a missing notification, text that must be escaped, and one
rejected record.
"""

from __future__ import annotations

from pathlib import Path

DATA = Path(__file__).parent / "data"
RULES = DATA / "design-example.yaml"

LOG = (
    "id,date,hs_code,commodity,destination,quantity,unit,transfer,vessel_flag,"
    "reported_on,source\n"
    'a,2019-01-10,2710,"diesel, <b>bold</b> & co",KP,300000,bbl,,,2019-01-20,notification\n'
    "b|1,2019-06-10,2710,gasoline,KP,250000,bbl,,,2019-08-30,notification\n"
    "c,2019-07-01,2710,<script>alert(1)</script>,KP,10000,bbl,ship_to_ship,KP,,\n"
    "crude-1,2019-03-01,2709,crude oil,KP,100000,bbl,,,,\n"
    "bad,2019-13-01,2710,oops,KP,-5,bbl,,,,\n"
)


def write_log(tmp_path: Path) -> Path:
    path = tmp_path / "log.csv"
    path.write_text(LOG, encoding="utf-8")
    return path
