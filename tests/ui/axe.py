"""An accessibility check of a page in Chromium with axe-core (Deque, MPL-2.0), run from the copy
in tests/ui/vendor/axe-core/ (axe-core 4.14.1 from the npm registry: axe.min.js and its licences),
so that no test fetches anything at run time.  The source is evaluated through the browser's
debugging protocol, which the page's Content-Security-Policy does not govern; a script tag would be
refused by it, as it should be."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from playwright.sync_api import Page

AXE = Path(__file__).parent / "vendor" / "axe-core" / "axe.min.js"


def violations(page: Page, selector: str = "body") -> list[dict[str, Any]]:
    """axe's violations on the page as it is now (WCAG 2.x A and AA and axe's best practices), each
    with its rule id, what it found and the nodes, for an assertion message people can act on."""
    if not page.evaluate("typeof window.axe !== 'undefined'"):
        page.evaluate(AXE.read_text(encoding="utf-8"))
    found: list[dict[str, Any]] = page.evaluate(
        """async (selector) => {
            const result = await axe.run(document.querySelector(selector), {resultTypes: ["violations"]});
            return result.violations.map(v => ({id: v.id, impact: v.impact, help: v.help,
                nodes: v.nodes.map(n => n.target.join(" ") + ": " + n.failureSummary)}));
        }""",
        selector,
    )
    return found
