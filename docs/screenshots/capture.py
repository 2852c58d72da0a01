"""Full-page screenshots of every main page at desktop (1440x900) and phone (390x844) widths.

Run against a server that holds the demo data (`manage.py migrate && manage.py seed_demo`, then a
worker has triaged the five demo tickets), e.g.:

    python docs/screenshots/capture.py --base-url http://127.0.0.1:8000 --out docs/screenshots/after

It logs in as the demo agent, manager and admin (the README's demo logins; --agent/--manager/--admin
USER:PASSWORD to change them), opens each page as the least-privileged role that may see it (the
pages and roles of tests/browser/test_pages_a11y.py), and writes <page>-<desktop|phone>.png into
--out, size-optimized with Pillow, plus manifest.json (status, URL, title, file size per shot). A page
that answers 404 (it did not exist in that version) gets no image and is listed as missing.

The same script takes the "before" and the "after" sets (docs/screenshots/README.md), so both are
taken the same way. Chromium is Debian's (/usr/bin/chromium; --chromium to change it): Playwright's
own browser download cannot work on these machines.
"""

from __future__ import annotations

import argparse
import io
import json
import re
import sys
from pathlib import Path

from PIL import Image
from playwright.sync_api import Browser, BrowserContext, Page, sync_playwright
from playwright.sync_api import TimeoutError as PlaywrightTimeout

WIDTHS = {"desktop": {"width": 1440, "height": 900}, "phone": {"width": 390, "height": 844}}

# (name, role, path); "{ticket}" is the id of the demo ticket with a screenshot and a recording.
# Same names and roles as tests/browser/test_pages_a11y.py; the filtered queue searches a word the
# demo tickets contain, so it shows a result and not an empty list.
PAGES = [
    ("login", None, "/accounts/login/"),
    ("queue", "agent", "/"),
    ("queue-filtered", "agent", "/?q=payment&priority=urgent"),
    ("ticket", "agent", "/tickets/{ticket}/"),
    ("new-ticket", "agent", "/tickets/new/"),
    ("mentions", "agent", "/mentions/"),
    ("macros", "agent", "/macros/"),
    ("account", "agent", "/account/"),
    ("reports", "manager", "/reports/"),
    ("taxonomy", "manager", "/taxonomy/"),
    ("health", "manager", "/health/"),
    ("model-health", "manager", "/health/model/"),
    ("sla", "manager", "/sla/"),
    ("integrations", "manager", "/integrations/"),
    ("email-quarantine", "manager", "/intake/email/quarantine/"),
    ("privacy", "manager", "/privacy/"),
    ("users", "admin", "/users/"),
]

DEMO_LOGINS = {
    "agent": "agent:agent-demo-pass",
    "manager": "manager:manager-demo-pass",
    "admin": "admin:admin-demo-pass",
}
DEMO_TICKET_SUBJECT = "Checkout fails with error 500"  # seed_demo's ticket with a screenshot and a recording
ROLES = ("agent", "manager", "admin")  # least to most privileged
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--no-first-run"]


def log_in(context: BrowserContext, base: str, credentials: str) -> None:
    username, _, password = credentials.partition(":")
    page = context.new_page()
    page.goto(f"{base}/accounts/login/")
    page.locator("input[name=username]").fill(username)
    page.locator("input[name=password]").fill(password)
    with page.expect_navigation():
        page.locator("input[name=password]").press("Enter")
    if "/accounts/login/" in page.url:
        sys.exit(f"log in as {username!r} failed at {base}")
    page.close()


def find_ticket(context: BrowserContext, base: str) -> int:
    page = context.new_page()
    page.goto(f"{base}/")
    link = page.get_by_role("link", name=re.compile(re.escape(DEMO_TICKET_SUBJECT))).first
    href = link.get_attribute("href") if link.count() else None
    if not href:  # no demo ticket: the first ticket of the queue
        href = (
            page.locator("a[href^='/tickets/']")
            .filter(has_text=re.compile(r"\w"))
            .first.get_attribute("href")
        )
    page.close()
    match = re.search(r"/tickets/(\d+)/", href or "")
    if not match:
        sys.exit("no ticket in the queue: run seed_demo and a worker first")
    return int(match.group(1))


def settle(page: Page) -> None:
    """Wait for htmx fragments, fonts and images; live polls may keep the network busy, so bounded."""
    try:
        page.wait_for_load_state("networkidle", timeout=10_000)
    except PlaywrightTimeout:  # a page polling more often than every 500 ms: take it as it is
        print(f"  {page.url}: network not idle after 10 s, taken as it is")
    page.evaluate("document.fonts.ready.then(() => true)")
    page.wait_for_timeout(300)


def optimize(png: bytes, *, fmt: str, quality: int) -> tuple[bytes, str]:
    """PNG bytes -> the smallest faithful file: a 256-colour palette PNG (UI screenshots are flat
    colours and anti-aliased text; dithering off keeps text crisp), or JPEG at `quality`."""
    image = Image.open(io.BytesIO(png)).convert("RGB")
    out = io.BytesIO()
    if fmt == "jpeg":
        image.save(out, "JPEG", quality=quality, optimize=True, progressive=True)
        return out.getvalue(), "jpg"
    if fmt == "png-lossless":
        image.save(out, "PNG", optimize=True)
        return out.getvalue(), "png"
    palette = image.quantize(colors=256, method=Image.Quantize.FASTOCTREE, dither=Image.Dither.NONE)
    palette.save(out, "PNG", optimize=True)
    return out.getvalue(), "png"


def capture(args: argparse.Namespace) -> list[dict]:
    base = args.base_url.rstrip("/")
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    logins = {role: getattr(args, role) for role in DEMO_LOGINS}
    wanted = set(args.pages.split(",")) if args.pages else None
    records: list[dict] = []
    with sync_playwright() as p:
        browser: Browser = p.chromium.launch(executable_path=args.chromium, args=CHROMIUM_ARGS)
        ticket = args.ticket
        for width, viewport in WIDTHS.items():
            contexts: dict[str | None, BrowserContext] = {}
            for name, role, path in PAGES:
                if wanted and name not in wanted:
                    continue
                if role not in contexts:
                    contexts[role] = browser.new_context(
                        viewport=viewport, locale="en-US", device_scale_factor=1
                    )
                    if role:
                        log_in(contexts[role], base, logins[role])
                if "{ticket}" in path and ticket is None:
                    ticket = find_ticket(contexts[role], base)
                url = base + path.format(ticket=ticket)
                record: dict = {
                    "page": name,
                    "width": width,
                    "role": role,
                    "path": path.format(ticket=ticket),
                }
                while True:
                    page = contexts[role].new_page()
                    response = page.goto(url)
                    status = response.status if response else 0
                    if status != 403 or role not in ROLES[:-1]:
                        break
                    # this role may not open the page in that version: the next role that may
                    record.setdefault("refused", []).append(role)
                    page.close()
                    role = ROLES[ROLES.index(role) + 1]
                    if role not in contexts:
                        contexts[role] = browser.new_context(
                            viewport=viewport, locale="en-US", device_scale_factor=1
                        )
                        log_in(contexts[role], base, logins[role])
                record.update(role=role, status=status, title=page.title())
                if status == 404:
                    record["file"] = None
                    print(f"{name:18} {width:8} 404: no such page in this version")
                else:
                    settle(page)
                    data, ext = optimize(
                        page.screenshot(full_page=True), fmt=args.format, quality=args.quality
                    )
                    file = out / f"{name}-{width}.{ext}"
                    file.write_bytes(data)
                    doc = page.evaluate(
                        "[document.documentElement.scrollWidth, document.documentElement.scrollHeight]"
                    )
                    record.update(
                        file=file.name, bytes=len(data), document_width=doc[0], document_height=doc[1]
                    )
                    as_role = (
                        f" as {role} ({'/'.join(record['refused'])}: 403)" if "refused" in record else ""
                    )
                    print(
                        f"{name:18} {width:8} {status}{as_role} {file.name} {len(data) // 1024} KiB, page {doc[0]}x{doc[1]}"
                    )
                records.append(record)
                page.close()
            for context in contexts.values():
                context.close()
        browser.close()
    manifest = out / "manifest.json"
    if wanted and manifest.exists():  # --pages retakes some: the other pages' records stay
        kept = [r for r in json.loads(manifest.read_text(encoding="utf-8")) if r["page"] not in wanted]
        order = [(name, width) for width in WIDTHS for name, _, _ in PAGES]  # the order they are taken in
        records = sorted(kept + records, key=lambda r: order.index((r["page"], r["width"])))
    manifest.write_text(json.dumps(records, indent=1) + "\n", encoding="utf-8")
    return records


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--base-url", default="http://127.0.0.1:8000")
    parser.add_argument(
        "--out", required=True, help="folder for <page>-<desktop|phone>.png and manifest.json"
    )
    for role, default in DEMO_LOGINS.items():
        parser.add_argument(f"--{role}", default=default, metavar="USER:PASSWORD", help=f"default {default}")
    parser.add_argument(
        "--ticket", type=int, help=f"ticket id for the ticket page (default: '{DEMO_TICKET_SUBJECT}')"
    )
    parser.add_argument("--pages", help="comma-separated page names (default: all)")
    parser.add_argument("--format", choices=["png", "png-lossless", "jpeg"], default="png")
    parser.add_argument("--quality", type=int, default=80, help="JPEG quality")
    parser.add_argument("--chromium", default="/usr/bin/chromium")
    args = parser.parse_args(argv)
    records = capture(args)
    total = sum(r.get("bytes", 0) for r in records)
    print(f"{sum(1 for r in records if r['file'])} images, {total / 1e6:.2f} MB in {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
