"""Step an explain page through to the end in headless Chromium and check
what its panel shows against nabla's trace of the same graph.

usage: explain_check.py PAGE TRACE [PAGE TRACE ...]

For every page: it loads with no request but its own file; ArrowRight
goes one step at a time to the end; at each step every number the panel
shows for a node's value or gradient is the trace's (to the 6 significant
digits shown), and a node used several times shows gradients arriving
that add up to its own; ArrowLeft goes back to the same panels; at a
390-pixel-wide viewport nothing is wider than the screen. Exit status 1
with one line per failure."""

import math
import os
import re
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import cdp  # noqa: E402

NUMBER = re.compile(r"-?inf|nan|-?(?:\d+\.?\d*|\.\d+)(?:e[-+]?\d+)?")
REL = 1e-5  # 6 significant digits shown: within 5e-6 of the value

failures = []


def fail(msg):
    failures.append(msg)
    print("FAIL: " + msg)


def numbers(text):
    return [float(t) for t in NUMBER.findall(text)]


def parse_trace(path):
    """{node index: {"value": text, "grad": text}} from nabla's trace."""
    nodes, current = {}, None
    head = re.compile(r"^\[\s*(\d+)\] ")
    with open(path, encoding="utf-8") as f:
        for line in f:
            m = head.match(line)
            if m:
                current = nodes.setdefault(int(m.group(1)), {})
                continue
            s = line.strip()
            if current is not None and s.startswith("value "):
                current["value"] = s[len("value "):]
            elif current is not None and s.startswith("grad "):
                current["grad"] = s[len("grad "):].strip()
    return nodes


def close(a, b):
    if math.isnan(a) or math.isnan(b):
        return math.isnan(a) and math.isnan(b)
    return a == b or math.isclose(a, b, rel_tol=REL, abs_tol=0)


def same_numbers(shown, want):
    a, b = numbers(shown), numbers(want)
    return len(a) == len(b) and all(close(x, y) for x, y in zip(a, b))


# What the page shows now: the step, and each checked tensor's text.
PANEL = """(function () {
  var checks = [];
  document.querySelectorAll('#panel [data-check]').forEach(function (e) {
    checks.push([e.getAttribute('data-check'), e.textContent]);
  });
  return {step: Number(document.body.getAttribute('data-step')),
          where: document.getElementById('where').textContent,
          panel: document.getElementById('panel').textContent,
          title: document.querySelector('#panel h2') ? document.querySelector('#panel h2').textContent : '',
          checks: checks, steps: JSON.parse(document.getElementById('data').textContent).steps.length};
})()"""

OVERFLOW = ("document.documentElement.scrollWidth - window.innerWidth + "
            "Math.max(0, document.body.scrollWidth - window.innerWidth)")


def check_step(name, state, trace):
    step = state["step"]
    arrivals = []
    grad_shown = None
    for check, text in state["checks"]:
        kind, _, rest = check.partition(" ")
        if kind in ("value", "grad"):
            node = int(rest)
            want = trace.get(node, {}).get(kind)
            if want is None:
                fail("%s step %d: the trace has no %s for node %d" % (name, step, kind, node))
            elif not same_numbers(text, want):
                fail("%s step %d: %s of node %d shows %r, the trace says %r"
                     % (name, step, kind, node, text, want))
            if kind == "grad":
                grad_shown = text
        elif kind == "arrive":
            arrivals.append(text)
    # A node used several times: the gradients arriving add up to its own.
    if arrivals:
        if len(arrivals) < 2 or grad_shown is None:
            fail("%s step %d: a sum without its parts" % (name, step))
        else:
            parts = [numbers(t) for t in arrivals]
            total = numbers(grad_shown)
            n = min(len(total), min(len(p) for p in parts))
            for i in range(min(n, 16)):
                s = sum(p[i] for p in parts)
                scale = sum(abs(p[i]) for p in parts)
                if abs(s - total[i]) > 2 * REL * max(scale, abs(total[i])):
                    fail("%s step %d: arrivals add up to %g, the node's gradient is %g"
                         % (name, step, s, total[i]))
                    break
    return state


def check_page(b, page, trace_path):
    name = os.path.basename(page)
    trace = parse_trace(trace_path)
    b.viewport(1200, 800)
    b.events("Network.requestWillBeSent")
    url = "file://" + os.path.abspath(page)
    b.open(url)
    if b.eval("document.body.getAttribute('data-ready')") != "1":
        fail("%s: the script did not finish (no data-ready)" % name)
        return
    state = b.eval(PANEL)
    total = state["steps"]
    if state["step"] != -1:
        fail("%s: starts at step %d, not before the first" % (name, state["step"]))
    seen = {}
    for k in range(total):
        b.key("ArrowRight")
        state = b.eval(PANEL)
        if state["step"] != k:
            fail("%s: ArrowRight went to step %d, expected %d" % (name, state["step"], k))
            return
        check_step(name, state, trace)
        seen[k] = state["panel"]
    b.key("ArrowRight")  # at the end: stays
    if b.eval(PANEL)["step"] != total - 1:
        fail("%s: ArrowRight went past the last step" % name)
    for k in range(total - 2, max(-1, total - 6), -1):
        b.key("ArrowLeft")
        state = b.eval(PANEL)
        if state["step"] != k or state["panel"] != seen[k]:
            fail("%s: ArrowLeft to step %d shows step %d or another panel" % (name, k, state["step"]))
    requests = [e["params"]["request"]["url"] for e in b.events("Network.requestWillBeSent")]
    others = [u for u in requests if u != url and not u.startswith("data:")]
    if others:
        fail("%s: the page asked for %s" % (name, ", ".join(others)))
    # A phone's width: nothing wider than the screen, at any step.
    b.viewport(390, 844, 2, mobile=True)
    b.open(url)
    for k in range(-1, total):
        if k >= 0:
            b.key("ArrowRight")
        over = b.eval(OVERFLOW)
        if over > 0:
            fail("%s: at 390 px, step %d is %d px wider than the screen" % (name, k, over))
            break
    print("ok: %s (%d steps)" % (name, total))


def main(argv):
    if len(argv) < 3 or len(argv) % 2 == 0:
        print(__doc__)
        return 2
    try:
        with cdp.Browser() as b:
            for page, trace in zip(argv[1::2], argv[2::2]):
                check_page(b, page, trace)
    except cdp.BrowserError as e:
        fail(str(e))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
