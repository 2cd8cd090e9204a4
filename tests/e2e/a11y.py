"""The accessibility check of the pages: axe-core (vendored from the npm registry, see
tests/fixtures/axe/SOURCES.md) run inside the page; serious and critical violations fail.

The browser context needs `bypass_csp=True`: the pages' CSP rightly refuses injected script.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

AXE = Path(__file__).parents[1] / "fixtures" / "axe" / "axe-4.14.1.min.js"
FAILING = ("serious", "critical")


def axe_violations(page: Any) -> list[dict[str, Any]]:
    """Serious and critical axe-core violations of the page as it is now."""
    if not page.evaluate("typeof window.axe !== 'undefined'"):
        page.add_script_tag(path=str(AXE))
    result = page.evaluate("""async () => {
        const r = await axe.run(document, {resultTypes: ['violations']});
        return r.violations.map(v => ({id: v.id, impact: v.impact, help: v.help,
            nodes: v.nodes.map(n => n.target.join(' ')).slice(0, 5)}));
    }""")
    return [v for v in result if v["impact"] in FAILING]


def describe(found: dict[str, list[dict[str, Any]]]) -> str:
    """One line per page and rule, for the assertion message."""
    return "\n".join(f"{page}: {v['impact']} {v['id']} ({v['help']}) at {v['nodes']}"
                     for page, violations in found.items() for v in violations)
