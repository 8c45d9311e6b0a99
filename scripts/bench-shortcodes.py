#!/usr/bin/env python3
"""Makes the two twins of a gatehouse benchmark corpus that scripts/bench-shortcodes compares.

  bench-shortcodes.py SRC PLAIN TAGS

SRC is a gatehouse site from ../shared/bench/gen_corpus.py (left as it is). PLAIN and TAGS
become copies of it in which 30% of the pages (page index i, from 0, with i % 10 < 3) get the
same added text: in TAGS as three tags -- a `figure` shortcode, a `callout` body shortcode and
a members block with an `else` part -- and in PLAIN as ordinary Markdown with the same words.
Comparing the two builds isolates the cost of the tags, not of more text. The added text
depends only on the page index, so both twins are deterministic.

The figure goes after the body's first block, the callout in its middle, the members block
before its last block (blocks are separated by blank lines; code blocks in the corpus have
none). Levels cycle through silver, gold and platinum (all in the corpus's site.toml).
"""
import os
import re
import shutil
import sys

LEVELS = ("silver", "gold", "platinum")
SLUG = re.compile(r"page-(\d{5})\.md$")


def texts(i):
    """The added words for page index i: the same in both twins."""
    n = i + 1
    return {
        "src": "/img/figure-%d.png" % (n % 50),
        "alt": "Pricing chart for plan %d" % n,
        "caption": "Monthly revenue by tier, *after* the change in plan %d." % n,
        "title": "Tip for plan %d" % n,
        "tip": ("Keep the annual price at ten months of the monthly one. "
                "Members who pay yearly churn far less than those who pay monthly."),
        "members": ("The full worksheet for plan %d follows: list every tier with its price, "
                    "the number of members on it last quarter, and the share that upgraded. "
                    "Then mark the tier that most upgrades come from, and test a price rise "
                    "there first, on new members only, for one full billing cycle." % n),
        "else": "Upgrade to read the worksheet for plan %d." % n,
        "level": LEVELS[(i // 10) % len(LEVELS)],
    }


def tagged(t):
    figure = '{{ figure(src="%s", alt="%s", caption="%s") }}' % (t["src"], t["alt"], t["caption"])
    callout = '{%% callout(kind="tip", title="%s") %%}\n%s\n{%% end %%}' % (t["title"], t["tip"])
    members = '{%% members(level="%s") %%}\n%s\n{%% else %%}\n%s\n{%% end %%}' % (
        t["level"], t["members"], t["else"])
    return figure, callout, members


def plain(t):
    figure = "![%s](%s)\n\n%s" % (t["alt"], t["src"], t["caption"])
    callout = "**%s**\n\n%s" % (t["title"], t["tip"])
    members = "%s\n\n%s" % (t["members"], t["else"])
    return figure, callout, members


def insert(body, parts):
    blocks = body.rstrip("\n").split("\n\n")
    figure, callout, members = parts
    n = len(blocks)
    # positions in the original list, applied from the back so earlier ones stay valid
    at = sorted({(max(1, n - 1), members), (max(1, n // 2), callout), (1, figure)},
                key=lambda p: p[0], reverse=True)
    for pos, text in at:
        blocks.insert(pos, text)
    return "\n\n".join(blocks) + "\n"


def split_front_matter(text):
    assert text.startswith("---\n"), "front matter expected"
    end = text.index("\n---\n", 4) + len("\n---\n")
    return text[:end], text[end:]


def main(src, plain_dir, tags_dir):
    for d in (plain_dir, tags_dir):
        if os.path.isdir(d):
            shutil.rmtree(d)
        shutil.copytree(src, d)
    changed = 0
    for sec in sorted(os.listdir(os.path.join(src, "content"))):
        sec_dir = os.path.join(src, "content", sec)
        if not os.path.isdir(sec_dir):
            continue
        for name in os.listdir(sec_dir):
            m = SLUG.search(name)
            if not m:
                continue
            i = int(m.group(1)) - 1
            if i % 10 >= 3:
                continue
            with open(os.path.join(sec_dir, name), encoding="utf-8") as fh:
                fm, body = split_front_matter(fh.read())
            t = texts(i)
            for d, parts in ((plain_dir, plain(t)), (tags_dir, tagged(t))):
                with open(os.path.join(d, "content", sec, name), "w", encoding="utf-8", newline="\n") as fh:
                    fh.write(fm + insert(body, parts))
            changed += 1
    print("%d pages with added text (tags in %s, plain Markdown in %s)" % (changed, tags_dir, plain_dir))


if __name__ == "__main__":
    if len(sys.argv) != 4:
        sys.exit(__doc__)
    main(*sys.argv[1:])
