/* The explain page's script (nabla explain): steps through the passes the
 * library recorded. Every number it shows is text the library wrote (the
 * graph's own forward and backward); this script only picks and formats
 * it: 6 significant digits, the full text in a tooltip. */
(function () {
  "use strict";
  var data = JSON.parse(document.getElementById("data").textContent);
  var nodes = data.nodes, edges = data.edges, steps = data.steps;
  var panel = document.getElementById("panel");
  var where = document.getElementById("where");
  var tip = document.getElementById("tip");
  var buttons = {
    reset: document.getElementById("reset"), back: document.getElementById("back"),
    play: document.getElementById("play"), next: document.getElementById("next")
  };
  var at = -1, timer = null;
  var PLAY_MS = 1100;

  /* Which step runs each node's backward: an edge's gradient shows once
   * its consumer's backward step has been reached. */
  var backStep = {};
  steps.forEach(function (s, i) { if (s.pass === "backward") backStep[s.node] = i; });

  function el(tag, cls, text) {
    var e = document.createElement(tag);
    if (cls) e.className = cls;
    if (text !== undefined) e.textContent = text;
    return e;
  }

  /* A number as 6 significant digits ("0.100000001" shows as 0.1). */
  function short(s) {
    var v = Number(s);
    if (!isFinite(v)) return s;
    return String(Number(v.toPrecision(6)));
  }

  /* A tensor as the trace writes one: nested brackets in row-major order,
   * or its first values and a summary. */
  function tensorText(t) {
    if (!t) return "-";
    var sh = t.shape, v = t.v.map(short);
    if (sh.length === 0) return v[0];
    if (t.n > v.length)
      return "[" + v.join(", ") + ", ...] (" + t.n + " values; min " + short(t.min) +
             ", max " + short(t.max) + ", mean " + short(t.mean) + ")";
    var block = [], b = 1, out = "";
    for (var k = sh.length - 1; k >= 0; k--) { b *= sh[k]; block[k] = b; }
    for (var i = 0; i < v.length; i++) {
      if (i) out += ", ";
      for (k = 0; k < sh.length; k++) if (i % block[k] === 0) out += "[";
      out += v[i];
      for (k = 0; k < sh.length; k++) if ((i + 1) % block[k] === 0) out += "]";
    }
    return out;
  }

  function fullText(t) {
    if (!t) return "";
    var s = t.v.join(", ");
    if (t.n > t.v.length) s += ", ... (min " + t.min + ", max " + t.max + ", mean " + t.mean + ")";
    return s;
  }

  function heatMap(t) {
    var h = t.heat, c = el("canvas", "heat");
    c.width = h.cols; c.height = h.rows;
    var px = Math.max(1, Math.floor(Math.min(224 / h.cols, 224 / h.rows)));
    c.style.width = h.cols * px + "px";
    c.style.height = h.rows * px + "px";
    c.setAttribute("role", "img");
    c.setAttribute("aria-label", "heat map of " + t.n + " values (" +
                   (h.scale === "div" ? "blue negative, red positive" : "dark low, light high") + ")");
    var ctx = c.getContext && c.getContext("2d");
    if (!ctx) return c;
    var img = ctx.createImageData(h.cols, h.rows);
    for (var i = 0; i < h.rows * h.cols; i++) {
      var b = parseInt(h.cells.substr(2 * i, 2), 16), r, g, bl;
      if (h.scale === "div") {
        var d = (b - 127.5) / 127.5;
        if (d < 0) { r = g = Math.round(255 * (1 + d)); bl = 255; }
        else { r = 255; g = bl = Math.round(255 * (1 - d)); }
      } else { r = g = bl = b; }
      img.data[4 * i] = r; img.data[4 * i + 1] = g; img.data[4 * i + 2] = bl; img.data[4 * i + 3] = 255;
    }
    ctx.putImageData(img, 0, 0);
    return c;
  }

  function shapeText(t) { return t ? "[" + t.shape.join(", ") + "]" : ""; }

  /* One labelled tensor: <dt>label</dt><dd>values</dd>; check names what
   * the values are for a test: "value 3", "grad 3" (node 3's), "arrive 5"
   * (edge 5's gradient arriving at a node used several times), "edge 5"
   * (edge 5's gradient sent back by its consumer). */
  function item(dl, label, t, check, cls) {
    var dt = el("dt", cls, label);
    if (t && t.shape.length) dt.appendChild(el("span", "shape", " " + shapeText(t)));
    var dd = el("dd", cls);
    var span = el("span", "tensor", tensorText(t));
    span.title = fullText(t);
    if (check) span.setAttribute("data-check", check);
    dd.appendChild(span);
    if (t && t.heat) dd.appendChild(heatMap(t));
    dl.appendChild(dt);
    dl.appendChild(dd);
  }

  function call(n) {
    var node = nodes[n];
    if (node.kind !== "op") return node.name + " (" + node.kind + ")";
    return node.name + " = " + node.op + "(" + node.in.map(function (i) { return nodes[i].name; }).join(", ") + ")";
  }

  function edgeIndex(from, to, slot) {
    for (var i = 0; i < edges.length; i++)
      if (edges[i].to === to && edges[i].slot === slot) return i;
    return -1;
  }

  function showForward(n) {
    var node = nodes[n];
    panel.appendChild(el("h2", null, "Forward: " + call(n)));
    var dl = el("dl");
    if (node.kind === "op") {
      panel.appendChild(el("h3", null, "inputs"));
      node.in.forEach(function (i) { item(dl, nodes[i].name, nodes[i].value, "value " + i); });
      panel.appendChild(dl);
      panel.appendChild(el("h3", null, "output"));
      dl = el("dl");
    }
    item(dl, node.name, node.value, "value " + n);
    panel.appendChild(dl);
  }

  function showBackward(n) {
    var node = nodes[n], dl = el("dl");
    var name = "\u2202L/\u2202" + node.name;
    panel.appendChild(el("h2", null, "Backward: " + name));
    var arriving = [];
    edges.forEach(function (e, i) { if (e.from === n && e.grad) arriving.push(i); });
    if (n === data.loss) {
      panel.appendChild(el("p", null, "The backward pass starts here: \u2202L/\u2202L = 1."));
      item(dl, name, node.grad, "grad " + n);
    } else if (arriving.length > 1) {
      panel.appendChild(el("h3", null, node.name + " is used " + arriving.length +
                                        " times: the gradients arriving add up"));
      arriving.forEach(function (i) {
        item(dl, "from " + nodes[edges[i].to].name, edges[i].grad, "arrive " + i);
      });
      item(dl, "sum: " + name, node.grad, "grad " + n, "sum");
    } else {
      panel.appendChild(el("h3", null, "upstream gradient"));
      item(dl, name + (arriving.length ? " (from " + nodes[edges[arriving[0]].to].name + ")" : ""),
           node.grad, "grad " + n);
    }
    panel.appendChild(dl);
    if (node.kind !== "op") {
      panel.appendChild(el("p", null, node.kind === "param"
        ? "A parameter: this is the gradient an optimizer step uses."
        : "An input: how much the loss moves per unit change of it."));
      return;
    }
    if (node.rule) panel.appendChild(el("p", "rule", node.rule));
    panel.appendChild(el("h3", null, "values from the forward pass"));
    dl = el("dl");
    node.in.forEach(function (i) { item(dl, nodes[i].name, nodes[i].value, "value " + i); });
    item(dl, node.name, node.value, "value " + n);
    panel.appendChild(dl);
    panel.appendChild(el("h3", null, "sent back to the inputs"));
    dl = el("dl");
    node.in.forEach(function (i, k) {
      var e = edgeIndex(i, n, k);
      if (edges[e].grad) item(dl, "\u2202L/\u2202" + nodes[i].name + " from " + node.name, edges[e].grad, "edge " + e);
      else {
        dl.appendChild(el("dt", null, nodes[i].name));
        dl.appendChild(el("dd", null, node.in.indexOf(i) < k ? "(counted with its first use above)"
                                                             : "no gradient (" + nodes[i].kind + ")"));
      }
    });
    panel.appendChild(dl);
  }

  function showIntro() {
    var f = 0, b = 0;
    steps.forEach(function (s) { if (s.pass === "forward") f++; else b++; });
    panel.appendChild(el("h2", null, "Ready"));
    panel.appendChild(el("p", null, nodes.length + " nodes; " + f + " forward steps, then " + b +
      " backward steps" + (data.loss >= 0 ? " from " + nodes[data.loss].name : " (no loss: forward only)") +
      ". Press Next or the right arrow key."));
    panel.appendChild(el("p", "shape", "Numbers: " + data.real + ", shown to 6 significant digits (hover for all)."));
  }

  function svgNode(n) { return document.getElementById("node-" + n); }
  function svgEdge(i) { return document.getElementById("edge-" + i); }

  function render() {
    var i, s = at >= 0 ? steps[at] : null;
    for (i = 0; i < nodes.length; i++) {
      var g = svgNode(i);
      if (g) g.classList.remove("active", "done-forward", "done-backward");
    }
    for (i = 0; i < edges.length; i++) { var e = svgEdge(i); if (e) e.classList.remove("flow"); }
    for (i = 0; i <= at; i++) {
      var gi = svgNode(steps[i].node);
      if (gi) gi.classList.add("done-" + steps[i].pass);
    }
    if (s) {
      var ga = svgNode(s.node);
      if (ga) ga.classList.add("active");
      edges.forEach(function (e, k) {
        var on = s.pass === "forward" ? e.to === s.node : (e.to === s.node || (e.from === s.node && e.grad));
        if (on && svgEdge(k)) svgEdge(k).classList.add("flow");
      });
    }
    panel.textContent = "";
    document.body.classList.remove("forward", "backward");
    if (s) {
      document.body.classList.add(s.pass);
      where.textContent = "Step " + (at + 1) + " of " + steps.length + ": " + s.pass + " pass";
      if (s.pass === "forward") showForward(s.node); else showBackward(s.node);
    } else {
      where.textContent = "Step 0 of " + steps.length;
      showIntro();
    }
    buttons.back.disabled = at < 0;
    buttons.reset.disabled = at < 0;
    buttons.next.disabled = at >= steps.length - 1;
    document.body.setAttribute("data-step", String(at));
  }

  function go(to) {
    at = Math.max(-1, Math.min(steps.length - 1, to));
    if (at >= steps.length - 1) pause();
    render();
  }
  function pause() {
    if (timer) clearInterval(timer);
    timer = null;
    buttons.play.textContent = "\u25B6 Play";
  }
  function play() {
    if (timer) { pause(); return; }
    if (at >= steps.length - 1) go(-1);
    buttons.play.textContent = "\u275A\u275A Pause";
    timer = setInterval(function () { go(at + 1); }, PLAY_MS);
  }

  buttons.next.addEventListener("click", function () { pause(); go(at + 1); });
  buttons.back.addEventListener("click", function () { pause(); go(at - 1); });
  buttons.reset.addEventListener("click", function () { pause(); go(-1); });
  buttons.play.addEventListener("click", play);
  document.addEventListener("keydown", function (ev) {
    if (ev.altKey || ev.ctrlKey || ev.metaKey) return;
    var key = ev.key;
    if (key === "ArrowRight" || key === "ArrowDown") { pause(); go(at + 1); }
    else if (key === "ArrowLeft" || key === "ArrowUp") { pause(); go(at - 1); }
    else if (key === "Home") { pause(); go(-1); }
    else if (key === "End") { pause(); go(steps.length - 1); }
    else if (key === " " && !(ev.target && ev.target.tagName === "BUTTON")) play();
    else return;
    ev.preventDefault();
  });

  /* Edges: a wide invisible stroke to hover or tap, and a tooltip with
   * the tensor it carries (and, once its consumer's backward has run, the
   * gradient sent back along it). */
  function showTip(k, x, y) {
    var e = edges[k], from = nodes[e.from], to = nodes[e.to];
    tip.textContent = "";
    tip.appendChild(el("div", null, from.name + " \u2192 " + to.name +
                                    (to.in.length > 1 ? " (input " + (e.slot + 1) + ")" : "")));
    tip.appendChild(el("div", "tensor", "value " + shapeText(from.value) + ": " + tensorText(from.value)));
    var b = backStep[e.to];
    if (e.grad && b !== undefined && at >= b)
      tip.appendChild(el("div", "tensor", "gradient back: " + tensorText(e.grad)));
    tip.hidden = false;
    var w = tip.offsetWidth, h = tip.offsetHeight;
    tip.style.left = Math.max(4, Math.min(window.innerWidth - w - 4, x + 12)) + "px";
    tip.style.top = Math.max(4, Math.min(window.innerHeight - h - 4, y + 12)) + "px";
  }
  edges.forEach(function (e, k) {
    var g = svgEdge(k);
    if (!g) return;
    var title = g.querySelector("title");
    if (title) title.parentNode.removeChild(title);
    var path = g.querySelector("path");
    if (path) {
      var hit = path.cloneNode(false);
      hit.setAttribute("class", "hit");
      g.appendChild(hit);
    }
    g.addEventListener("mousemove", function (ev) { showTip(k, ev.clientX, ev.clientY); });
    g.addEventListener("mouseleave", function () { tip.hidden = true; });
    g.addEventListener("click", function (ev) { showTip(k, ev.clientX, ev.clientY); ev.stopPropagation(); });
  });
  document.addEventListener("click", function () { tip.hidden = true; });

  for (var n = 0; n < nodes.length; n++) {
    var t = svgNode(n) && svgNode(n).querySelector("title");
    if (t) t.parentNode.removeChild(t);
  }
  /* The picture fits the box's width; a large graph keeps a readable size
   * and scrolls inside its box instead. */
  var svg = document.querySelector("#graph svg");
  if (svg) {
    var vb = svg.viewBox && svg.viewBox.baseVal;
    svg.removeAttribute("width");
    svg.removeAttribute("height");
    svg.setAttribute("role", "img");
    if (vb && vb.width > 1600) { svg.style.width = Math.round(vb.width * 0.5) + "px"; svg.style.maxWidth = "none"; }
  }
  render();
  document.body.setAttribute("data-ready", "1");
})();
