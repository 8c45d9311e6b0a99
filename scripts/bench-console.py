#!/usr/bin/env python3
"""The operator console's pages on a seeded member database, for scripts/bench-console.

  bench-console.py seen DB_FILE        give ~60% of members a last-seen day (bench data; only
                                       when no member has one yet)
  bench-console.py wait DB_FILE        wait until the edge has checked every member (the
                                       projection the list reads is filled by those checks)
  bench-console.py measure URL OUTBOX EMAIL DB_FILE REQUESTS
                                       log EMAIL in by the mailed link, then time REQUESTS
                                       sequential requests of each page; print a table

Times are wall-clock per request on one keep-alive loopback connection, so nearly all of it is
the server's. stdlib only.
"""

import http.client
import os
import random
import re
import sqlite3
import statistics
import sys
import time
import urllib.parse


def seen(db_file):
    db = sqlite3.connect(db_file)
    if db.execute("SELECT COUNT(*) FROM member_ips").fetchone()[0]:
        print("last-seen days: already there")
        return
    rng = random.Random(17)
    today = int(time.time()) // 86400
    rows = []
    for (member,) in db.execute("SELECT id FROM members ORDER BY id"):
        if rng.random() < 0.6:
            # Recent days more often: most active members come back weekly.
            day = today - int(rng.random() ** 2 * 120)
            rows.append((member, day, f"bench{member % 97}"))
    db.executemany("INSERT INTO member_ips (member_id, day, ip_hash) VALUES (?, ?, ?)", rows)
    columns = [row[1] for row in db.execute("PRAGMA table_info(member_state)")]
    if "last_seen" in columns:  # a database the edge already moved to schema 5
        db.execute(
            "UPDATE member_state SET last_seen = (SELECT MAX(day) * 86400 FROM member_ips "
            "WHERE member_ips.member_id = member_state.member_id)"
        )
    db.commit()
    print(f"last-seen days: {len(rows)} members seen in the last 120 days")


def wait(db_file):
    db = sqlite3.connect(f"file:{db_file}?mode=ro", uri=True)
    started = time.time()
    while True:
        try:
            due = db.execute(
                "SELECT COUNT(*) FROM member_state WHERE next_check <= ?", (int(time.time()),)
            ).fetchone()[0]
            filled = db.execute(
                "SELECT COUNT(*) FROM member_state WHERE level IS NOT NULL"
            ).fetchone()[0]
        except sqlite3.OperationalError as error:  # the edge is still migrating
            due, filled = -1, str(error)
        if due == 0:
            print(f"projection filled: {filled} members with a level "
                  f"({time.time() - started:.0f} s waited)")
            return
        print(f"  {due} members still to check…", flush=True)
        time.sleep(5)


class Client:
    def __init__(self, url):
        parts = urllib.parse.urlsplit(url)
        self.base = parts.path.rstrip("/")
        self.conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=60)
        self.cookie = None

    def request(self, method, path, body=None):
        headers = {"Connection": "keep-alive"}
        if self.cookie:
            headers["Cookie"] = self.cookie
        if body is not None:
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        self.conn.request(method, self.base + path, body=body, headers=headers)
        answer = self.conn.getresponse()
        data = answer.read()
        return answer.status, answer.getheaders(), data


def log_in(client, outbox, email):
    before = set(os.listdir(outbox)) if os.path.isdir(outbox) else set()
    status, _, body = client.request("POST", "/admin/login", urllib.parse.urlencode({"email": email}))
    assert status == 200, (status, body[:300])
    for _ in range(200):
        new = (set(os.listdir(outbox)) if os.path.isdir(outbox) else set()) - before
        if new:
            break
        time.sleep(0.05)
    else:
        sys.exit("no login mail came to the outbox")
    mail = open(os.path.join(outbox, sorted(new)[-1]), encoding="utf-8").read()
    mail = mail.replace("=\r\n", "").replace("=\n", "").replace("=3D", "=")
    token = re.search(r"token=([A-Za-z0-9_-]+)", mail).group(1)
    status, headers, body = client.request("POST", "/admin/auth", urllib.parse.urlencode({"token": token}))
    assert status == 303, (status, body[:300])
    for name, value in headers:
        if name.lower() == "set-cookie" and "gh_admin=" in value:
            client.cookie = value.split(";")[0]
    assert client.cookie, "no console cookie"


def percentile(values, p):
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1))))]


def measure(url, outbox, email, db_file, requests):
    client = Client(url)
    log_in(client, outbox, email)
    db = sqlite3.connect(f"file:{db_file}?mode=ro", uri=True)
    members = db.execute("SELECT COUNT(*) FROM members").fetchone()[0]
    # A member with a long history (the seed's follow-ups), for their page.
    member = db.execute(
        "SELECT member_id FROM events GROUP BY member_id ORDER BY COUNT(*) DESC, member_id LIMIT 1"
    ).fetchone()[0]
    middle = db.execute("SELECT id FROM members ORDER BY email LIMIT 1 OFFSET ?",
                        (members // 2,)).fetchone()[0]
    pages = [
        ("first list page", "/admin/people"),
        ("filtered: level+status", "/admin/people?level=gold&status=active"),
        ("filtered: rare (few matches)", "/admin/people?level=silver&status=overdue&sort=email"),
        ("filtered: bundle+status", "/admin/people?bundle=launch-workshop&status=active"),
        ("email-prefix search", "/admin/people?q=jo"),
        ("email-prefix, 1 letter", "/admin/people?q=m&sort=seen"),
        ("sorted by last seen", "/admin/people?sort=seen&dir=desc"),
        ("a page mid-list (keyset)", f"/admin/people?sort=email&after={middle}"),
        ("a member's page", f"/admin/people/{member}"),
        ("dashboard", "/admin/"),
    ]
    print(f"\n{members} members; {requests} sequential requests each, after 20 unmeasured\n")
    print(f"{'page':32} {'status':>6} {'p50 ms':>8} {'p99 ms':>8} {'max ms':>8}")
    results = []
    for name, path in pages:
        status, _, body = client.request("GET", path)
        if status == 404 and "/people/" in path:
            print(f"{name:32} {'404':>6}  skipped: no member page in this build")
            continue
        if status != 200:
            print(f"{name:32} {status:>6}  {body[:200]!r}")
            results.append((name, None))
            continue
        for _ in range(20):
            client.request("GET", path)
        times = []
        for _ in range(requests):
            started = time.perf_counter()
            status, _, _ = client.request("GET", path)
            times.append((time.perf_counter() - started) * 1000)
            assert status == 200, (path, status)
        p50, p99 = percentile(times, 50), percentile(times, 99)
        results.append((name, p99))
        print(f"{name:32} {status:>6} {p50:8.1f} {p99:8.1f} {max(times):8.1f}")
    started = time.perf_counter()
    status, headers, body = client.request("GET", "/admin/people.csv")
    took = time.perf_counter() - started
    rows = body.count(b"\n") - 1
    print(f"\nCSV export of every member: {status}, {rows} rows, "
          f"{len(body) / 1e6:.1f} MB in {took * 1000:.0f} ms")
    slow = [name for name, p99 in results if p99 is None or p99 > 100]
    print("goal (p99 <= 100 ms each): " + ("met" if not slow else "NOT met: " + ", ".join(slow)))
    return 1 if slow else 0


def main():
    command = sys.argv[1]
    if command == "seen":
        seen(sys.argv[2])
    elif command == "wait":
        wait(sys.argv[2])
    elif command == "measure":
        url, outbox, email, db_file, requests = sys.argv[2:7]
        sys.exit(measure(url, outbox, email, db_file, int(requests)))
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main()
