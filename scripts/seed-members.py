#!/usr/bin/env python3
"""Generate N members for `gatehouse members import`, against the demo site.toml.

Writes, into OUT_DIR:
  members.csv    email,level,since,bundles,status,expires   (the import's own columns)
  followups.txt  one `gatehouse members` command a line (grant/cancel with --at), run after
                 the import to give some members longer histories (upgrade, cancel, win-back,
                 recovery) through the CLI, since one import line is one status
  products.csv   email,product: which demo product each paying member would have bought. The
                 import has no product column, so this is only a side note for MRR checks.

Deterministic: a fixed seed, and dates counted back from ANCHOR (today, UTC midnight, unless
SEED_TODAY=YYYY-MM-DD is given), so the same N on the same day gives the same files.

stdlib only. Usage: seed-members.py N OUT_DIR
"""

import csv
import datetime as dt
import os
import random
import sys

SEED = 17_2026
DAY = dt.timedelta(days=1)

FIRST = """anna anne annie ben benjamin bob carl carla carlos chris christina christopher dan
daniel dana david diana ed eden eric erica eva eve frank frida george gina hannah hans ian
ida jack jacob jan jana jane jo joe john johanna jon jonas julia julian kate katie kim lars
laura lea leo lisa liz luca lucas maria mario mark marta max maya mia mike nina noah olga
oliver pat paul paula peter petra ray rita rob robert sam sara sarah sofia tom tomas una
victor wendy will yara zoe""".split()
LAST = """smith smithson jones johnson johansson brown braun miller muller garcia martin
martinez lee li wilson wong taylor anderson andersen thomas white harris clark lewis walker
young king wright lopez hill scott green adams baker nelson carter mitchell perez roberts
turner phillips campbell parker evans edwards collins stewart morris rogers reed cook morgan
bell murphy bailey rivera cooper richardson cox howard ward torres peterson gray ramirez
james watson brooks kelly sanders price bennett wood barnes ross henderson coleman jenkins
perry powell long patterson hughes flores washington butler simmons foster gonzales bryant""".split()
DOMAINS = (["gmail.com"] * 30 + ["yahoo.com"] * 8 + ["outlook.com"] * 8 + ["hotmail.com"] * 5
           + ["icloud.com"] * 6 + ["proton.me"] * 3 + ["gmx.de"] * 2 + ["example.com"] * 3
           + ["acme.io", "studio-north.com", "brightlabs.co", "fastmail.com", "hey.com",
              "web.de", "mail.ru", "orange.fr", "libero.it", "uni-berlin.de"])


def day(d):
    return d.strftime("%Y-%m-%d")


def main():
    n = int(sys.argv[1])
    out = sys.argv[2]
    rng = random.Random(SEED)
    today = os.environ.get("SEED_TODAY")
    anchor = (dt.date.fromisoformat(today) if today
              else dt.datetime.now(dt.timezone.utc).date())
    # The newest `since` is yesterday, so nothing is in the future whenever the import runs today.
    newest = anchor - DAY
    span = 3 * 365

    def ago(lo, hi):
        """A date between lo and hi days before the anchor (lo <= hi), skewed to recent joins."""
        # More members joined recently: a growing business.
        x = rng.random() ** 1.6
        return anchor - dt.timedelta(days=lo + int(x * (hi - lo)))

    def between(a, b):
        """A date strictly after a and not after b (a < b)."""
        days = (b - a).days
        return a + dt.timedelta(days=rng.randint(1, max(days, 1)))

    seen = set()

    def email():
        while True:
            f, l = rng.choice(FIRST), rng.choice(LAST)
            style = rng.random()
            if style < 0.35:
                local = f"{f}.{l}"
            elif style < 0.55:
                local = f"{f}{l}"
            elif style < 0.7:
                local = f"{f[0]}{l}"
            elif style < 0.85:
                local = f"{f}.{l}{rng.randint(1, 99)}"
            else:
                local = f"{f}{rng.randint(1, 9999)}"
            addr = f"{local}@{rng.choice(DOMAINS)}"
            if addr not in seen:
                seen.add(addr)
                return addr

    rows, followups, products = [], [], []
    for _ in range(n):
        e = email()
        r = rng.random()
        level = "free" if r < 0.45 else ("silver" if r < 0.65 else "gold")
        bundles = []
        expires = ""
        product = None
        s = rng.random()
        if level == "free":
            since = ago(1, span)
            status = "active" if s < 0.93 else ("complimentary" if s < 0.96 else "cancelled")
            if status == "cancelled":
                expires = day(between(since, newest)) if since < newest else ""
        elif level == "silver":
            # A one-year pass (silver-annual-pass, expires_after 365d): held now only if bought
            # within the year; older passes ran out (expired) or were cancelled.
            product = "silver-annual-pass"
            if s < 0.62:
                since, status = ago(1, 360), "active"
            elif s < 0.90:
                since = ago(366, span)
                status, expires = "expired", day(since + 365 * DAY)
            elif s < 0.97:
                since = ago(30, span)
                status = "cancelled"
                expires = day(between(since, min(newest, since + 300 * DAY)))
            else:
                since, status = ago(1, 300), "complimentary"
                product = None
        else:
            # gold: gold-monthly (70%) or gold-yearly (30%) subscriptions.
            product = "gold-monthly" if rng.random() < 0.7 else "gold-yearly"
            since = ago(1, span)
            if s < 0.55:
                status = "active"
            elif s < 0.65:
                status = "pending-cancel"
                # Until the end of the period paid for: the next renewal after the anchor.
                step = 30 if product == "gold-monthly" else 365
                k = (anchor - since).days // step + 1
                expires = day(since + k * step * DAY)
                if expires <= day(anchor):
                    expires = day(anchor + DAY)
            elif s < 0.73:
                status = "overdue"
            elif s < 0.85:
                status = "cancelled"
                expires = day(between(since, newest)) if since < newest else ""
            elif s < 0.97:
                status = "expired"
                expires = day(between(since, newest)) if since < newest else ""
            else:
                status, product = "complimentary", None
        if since >= anchor:
            since = newest
        # Bundles: the lifetime pricing course (single payment), and the launch workshop
        # (payment plan, expires_after 120d: held only if joined within the last 120 days).
        b = rng.random()
        if status != "overdue":
            if b < (0.30 if level != "free" else 0.12):
                bundles.append("pricing-course")
            recent = (anchor - since).days < 110
            ended = status in ("cancelled", "expired")
            if rng.random() < 0.10 and (recent or ended):
                bundles.append("launch-workshop")
                products.append((e, "launch-workshop-3-payments"))
        if "pricing-course" in bundles:
            products.append((e, "pricing-course"))
        if product:
            products.append((e, product))
        rows.append((e, level, day(since), ";".join(bundles), status, expires))

        # Longer histories through the CLI, for about 4% of members.
        f = rng.random()
        if status == "active" and level in ("free", "silver") and f < 0.05 and since < newest - DAY:
            up = between(since, newest - DAY)
            followups.append(f"grant --level gold --at {day(up)} {e}")
            if rng.random() < 0.35 and up < newest:
                followups.append(f"cancel --at {day(between(up, newest))} {e}")
        elif status == "overdue" and f < 0.30:
            followups.append(f"grant --level gold {e}")  # payment collected: renewed now
        elif status == "cancelled" and level == "gold" and expires and f < 0.15:
            back = dt.date.fromisoformat(expires)
            if back < newest:
                followups.append(f"grant --level gold --at {day(between(back, newest))} {e}")

    with open(os.path.join(out, "members.csv"), "w", newline="") as fh:
        w = csv.writer(fh, lineterminator="\n")
        w.writerow(["email", "level", "since", "bundles", "status", "expires"])
        w.writerows(rows)
    with open(os.path.join(out, "followups.txt"), "w") as fh:
        fh.writelines(line + "\n" for line in followups)
    with open(os.path.join(out, "products.csv"), "w", newline="") as fh:
        w = csv.writer(fh, lineterminator="\n")
        w.writerow(["email", "product"])
        w.writerows(products)
    print(f"anchor {anchor}: {len(rows)} members, {len(followups)} follow-up commands",
          file=sys.stderr)


if __name__ == "__main__":
    main()
