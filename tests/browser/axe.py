"""axe-core in the browser tests: wait until a page has finished loading its panels, then fail on serious problems."""

from __future__ import annotations

from axe_playwright_python.async_playwright import Axe
from playwright.async_api import Page

# WCAG 2.0, 2.1 and 2.2 at levels A and AA, plus axe's own best practices.
RULES = {"runOnly": {"type": "tag", "values": ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa", "best-practice"]}}
BLOCKING = ("serious", "critical")
_axe = Axe()

# Runs before any page script: counts htmx requests in flight, so a test knows when every panel has arrived.
INFLIGHT = """
window.__inflight = 0;
document.addEventListener('htmx:beforeRequest', () => { window.__inflight += 1; });
document.addEventListener('htmx:afterRequest', () => { window.__inflight -= 1; });
"""


async def settled(page: Page) -> None:
    """Wait until the page has loaded and no htmx request (a panel, a list) is still on its way."""
    await page.wait_for_load_state("load")
    await page.wait_for_function(
        "() => (window.__inflight || 0) <= 0 && !document.querySelector('.htmx-request')"
    )


async def assert_accessible(page: Page, what: str) -> None:
    """Run axe-core on the page as it is now; fail on any serious or critical violation, with a readable report."""
    report = await serious_problems(page, what)
    assert not report, report


async def serious_problems(page: Page, what: str) -> str:
    """Run axe-core on the page as it is now; describe each serious or critical violation ('' when none)."""
    await settled(page)
    results = await _axe.run(page, options={**RULES, "resultTypes": ["violations"]})
    blocking = [v for v in results.response["violations"] if v["impact"] in BLOCKING]
    report = "\n".join(
        f"- {v['id']} ({v['impact']}): {v['help']}\n"
        + "\n".join(f"    {', '.join(map(str, n['target']))}: {n['html'][:160]}" for n in v["nodes"][:5])
        for v in blocking
    )
    return f"{what} ({page.url}) has serious accessibility problems:\n{report}" if blocking else ""


FOCUSABLE = """
() => {
  const all = document.querySelectorAll(
    'a[href], button, input:not([type=hidden]), select, textarea, summary, [tabindex]:not([tabindex="-1"])');
  let n = 0;
  for (const el of all) {
    if (el.disabled || !el.checkVisibility({visibilityProperty: true}) || el.closest('[inert]')) continue;
    if (el.tagName !== 'SUMMARY' && el.closest('details:not([open])') && !el.closest('summary')) continue;
    el.dataset.kwFocus = String(n++);
  }
  return n;
}
"""
FOCUSED = """
() => {
  const el = document.activeElement;
  if (!el || !el.dataset || el.dataset.kwFocus === undefined) return null;
  const s = getComputedStyle(el);
  // Date and time boxes take focus in their day, month and hour parts: the box itself has only :focus-within.
  const parts = el.tagName === 'INPUT' && ['date', 'time', 'datetime-local', 'month', 'week'].includes(el.type);
  const shown = (el.matches(':focus-visible') || (parts && el.matches(':focus-within')))
    && s.outlineStyle !== 'none' && parseFloat(s.outlineWidth) >= 2;
  return [el.dataset.kwFocus, shown, el.outerHTML.slice(0, 120)];
}
"""


async def keyboard_problems(page: Page, what: str) -> str:
    """Tab through the whole page: every visible control must be reached, each showing where focus is ('' when so)."""
    await settled(page)
    total = await page.evaluate(FOCUSABLE)
    await page.evaluate("() => { document.activeElement && document.activeElement.blur(); window.scrollTo(0, 0); }")
    reached: set[str] = set()
    unseen: list[str] = []
    # Date and time boxes have a stop per part (day, month, year): allow for them, stop once all are reached.
    for _ in range(total * 3 + 5):
        if len(reached) == total:
            break
        await page.keyboard.press("Tab")
        found = await page.evaluate(FOCUSED)
        if found is None:
            continue
        index, shown, markup = found
        reached.add(index)
        if not shown:
            unseen.append(markup)
    missing = await page.evaluate(
        "(reached) => [...document.querySelectorAll('[data-kw-focus]')]"
        ".filter(el => !reached.includes(el.dataset.kwFocus)).map(el => el.outerHTML.slice(0, 120))",
        sorted(reached),
    )
    problems = [f"  not reached by Tab: {m}" for m in missing] + [f"  focus not visible: {m}" for m in unseen]
    return f"{what} ({page.url}) by keyboard:\n" + "\n".join(problems) if problems else ""
