"""The demo's release pages in a real browser: open time, height at 1280 px, charts and axe violations.

    .venv/bin/bold demo --out /tmp/demo50k --overwrite          # the 50,000-person demo
    .venv/bin/python bench/release_pages.py /tmp/demo50k

Opens `outputs/releases/index.html` and every release page from disk in Debian's chromium (headless, through
Playwright, as the browser tests do), and records for each: the time from navigation to the load event, the page
height at 1280 px wide, the number of charts (`svg[role=img]`) and axe-core's violations. Targets (issue 23): each
opens in under 1 s, is under 5,000 px tall, and has at least one chart; axe clean.
Results: bench/results/release_pages.json and a table on standard output.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "tests" / "browser"))
sys.path.insert(0, str(HERE))
from browser_support import AXE, CHROMIUM, CHROMIUM_ARGS  # noqa: E402

from measure import machine  # noqa: E402


def main() -> None:
    project = Path(sys.argv[1] if len(sys.argv) > 1 else "bold-project")
    root = project / "outputs" / "releases"
    pages = [root / "index.html", *sorted(root.glob("*/report.html"))]
    from playwright.sync_api import sync_playwright

    rows = []
    with sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        ctx = b.new_context(viewport={"width": 1280, "height": 800})
        page = ctx.new_page()
        page.goto((root / "index.html").as_uri())  # warm the browser once
        for p in pages:
            t0 = time.perf_counter()
            page.goto(p.as_uri(), wait_until="load")
            secs = time.perf_counter() - t0
            height = page.evaluate("document.documentElement.scrollHeight")
            charts = page.locator("svg[role=img]").count()
            violations = []
            if AXE.exists():
                page.add_script_tag(path=str(AXE))
                res = page.evaluate("async () => await axe.run(document, {resultTypes: ['violations']})")
                violations = [v["id"] for v in res["violations"]]
            rows.append({"page": str(p.relative_to(root)), "open_s": round(secs, 3), "height_px": height,
                         "charts": charts, "axe_violations": violations})
        b.close()
    out = {"project": str(project), "machine": machine(), "pages": rows}
    (HERE / "results").mkdir(exist_ok=True)
    (HERE / "results" / "release_pages.json").write_text(json.dumps(out, indent=2))
    print("| page | open (s) | height (px) | charts | axe violations |")
    print("|---|---|---|---|---|")
    for r in rows:
        print(f"| {r['page']} | {r['open_s']} | {r['height_px']:,} | {r['charts']} | "
              f"{', '.join(r['axe_violations']) or 'none'} |")


if __name__ == "__main__":
    main()
