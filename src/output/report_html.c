/*
 * `rpcsentry report --html FILE`: one self-contained HTML page of the calls
 * read (a host graph, a timeline per target, a table with filters). The page
 * fetches nothing: its style and script are written here, inline, and the
 * records ride in a <script type="application/json"> element. Strings from
 * records (attacker-chosen service names, commands, paths) never reach the
 * page as markup: in the data block "<", ">" and "&" are \u escapes, so no
 * "</script>" or "<!--" can end it, and the script puts them in the page
 * with textContent and setAttribute only, never as HTML.
 */
#include <cjson/cJSON.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "report_internal.h"

static const char PAGE_HEAD[] =
    "<!DOCTYPE html>\n"
    "<html lang=\"en\">\n"
    "<head>\n"
    "<meta charset=\"utf-8\">\n"
    "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; "
    "style-src 'unsafe-inline'; script-src 'unsafe-inline'; img-src data:\">\n"
    "<title>rpcsentry report</title>\n"
    "<style>\n"
    "body { font: 14px/1.4 system-ui, -apple-system, \"Segoe UI\", sans-serif; margin: 16px 24px; "
    "color: #222; background: #fff; }\n"
    "h1 { font-size: 20px; margin: 0 0 4px; }\n"
    "h2 { font-size: 16px; margin: 22px 0 6px; border-bottom: 1px solid #ddd; }\n"
    ".note, .legend { color: #555; font-size: 12px; }\n"
    ".swatch { display: inline-block; width: 10px; height: 10px; margin: 0 4px 0 0; "
    "vertical-align: middle; }\n"
    "svg text { font: 11px system-ui, sans-serif; fill: #222; }\n"
    "svg text.head { font-weight: bold; }\n"
    "svg text.elabel { font-size: 10px; paint-order: stroke; stroke: #fff; stroke-width: 3px; }\n"
    "svg .edge { opacity: 0.75; }\n"
    "svg .edge:hover { opacity: 1; }\n"
    "svg .node circle { fill: #333; }\n"
    "svg .node { cursor: pointer; }\n"
    "svg .band0 { fill: #fafafa; }\n"
    "svg .band1 { fill: #f0f0f0; }\n"
    "svg .alert, .m-alert { fill: #b00020; color: #b00020; }\n"
    "svg .sealed { fill: none; stroke: #000; stroke-width: 1.2; }\n"
    "svg .story, .m-story { fill: #6a1b9a; color: #6a1b9a; }\n"
    "svg .axis { stroke: #888; }\n"
    ".filters { margin: 6px 0; }\n"
    ".filters label { margin-right: 12px; font-size: 13px; }\n"
    ".filters input { width: 150px; }\n"
    "input.bad { background: #fdd; }\n"
    "table { border-collapse: collapse; font-size: 12px; }\n"
    "th, td { border: 1px solid #ddd; padding: 2px 5px; text-align: left; vertical-align: top; }\n"
    "td { white-space: nowrap; }\n"
    "td.wrap { white-space: normal; overflow-wrap: anywhere; min-width: 120px; max-width: 240px; "
    "}\n"
    "th { background: #f3f3f3; position: sticky; top: 0; }\n"
    "td.cmd { white-space: normal; min-width: 220px; max-width: 380px; overflow-wrap: anywhere; "
    "font-family: ui-monospace, monospace; }\n"
    "tr.k-create td:nth-child(5) { color: #c62828; }\n"
    "tr.k-modify td:nth-child(5) { color: #ef8f00; }\n"
    "tr.k-execute td:nth-child(5) { color: #1565c0; }\n"
    ".pager { margin: 6px 0; }\n"
    "svg .cut { stroke: #555; fill: none; stroke-width: 1.2; }\n";

static const char PAGE_BODY[] =
    "</style>\n"
    "</head>\n"
    "<body>\n"
    "<h1>rpcsentry report</h1>\n"
    "<p id=\"summary\"></p>\n"
    "<noscript><p>This page draws its graph, timeline and table with JavaScript, which is turned "
    "off.</p></noscript>\n"
    "<h2>Hosts: who created, changed, ran or deleted tasks and services where</h2>\n"
    "<div id=\"graph\"></div>\n"
    "<h2>Timeline per target</h2>\n"
    "<div id=\"timeline\"></div>\n"
    "<h2>Events</h2>\n"
    "<div class=\"filters\">\n"
    "<label>host <input id=\"f-host\" placeholder=\"client or target\"></label>\n"
    "<label>account <input id=\"f-account\" placeholder=\"DOMAIN\\user\"></label>\n"
    "<label>class <select id=\"f-class\"><option "
    "value=\"\">any</option><option>create</option><option>modify</option><option>execute</"
    "option><option>delete</option></select></label>\n"
    "<label>since <input id=\"f-since\" placeholder=\"2023-11-15T00:00\"></label>\n"
    "<label>until <input id=\"f-until\" placeholder=\"2023-11-15T23:59\"></label>\n"
    "</div>\n"
    "<div class=\"pager\"><button id=\"prev\">&larr; previous</button> <button id=\"next\">next "
    "&rarr;</button> <span id=\"pageinfo\"></span></div>\n"
    "<table id=\"events\"><thead><tr><th>time "
    "(UTC)</th><th>client</th><th>target</th><th>account</th><th>class</th><th>operation</"
    "th><th>task or service</th><th>command or "
    "binary</th><th>alerts</th><th>tool</th><th>sealed</th><th>capture</th><th>packet</"
    "th><th>flow_id</th><th>community_id</th></tr></thead>\n"
    "<tbody id=\"rows\"></tbody></table>\n";

static const char PAGE_SCRIPT[] =
    "(function () {\n"
    "  \"use strict\";\n"
    "  var D = JSON.parse(document.getElementById(\"rs-data\").textContent);\n"
    "  var SVGNS = \"http://www.w3.org/2000/svg\";\n"
    "  var CLASSES = [\"create\", \"modify\", \"execute\", \"delete\"];\n"
    "  var COLOR = { create: \"#c62828\", modify: \"#ef8f00\", execute: \"#1565c0\", delete: "
    "\"#616161\" };\n"
    "  var MAX_SIDE = 40, MAX_EDGES = 150, MAX_ROWS = 40, PAGE = 200, BUCKET = 6;\n"
    "  var ev = D.events, stories = D.stories;\n"
    "\n"
    "  function mk(ns, tag, attrs, text) {\n"
    "    var e = ns ? document.createElementNS(ns, tag) : document.createElement(tag);\n"
    "    for (var k in attrs || {}) e.setAttribute(k, attrs[k]);\n"
    "    if (text !== undefined && text !== null) e.textContent = String(text);\n"
    "    return e;\n"
    "  }\n"
    "  function el(tag, attrs, text) { return mk(null, tag, attrs, text); }\n"
    "  function sv(tag, attrs, text) { return mk(SVGNS, tag, attrs, text); }\n"
    "  function add(p, c) { p.appendChild(c); return c; }\n"
    "  function byId(id) { return document.getElementById(id); }\n"
    "  function cmpStr(a, b) { return a < b ? -1 : a > b ? 1 : 0; }\n"
    "  function iso(ms) { return new Date(ms).toISOString().slice(0, 19).replace(\"T\", \" \"); }\n"
    "  function host(h) { return h === null || h === undefined ? \"?\" : h; }\n"
    "  function span(ms) {\n"
    "    var s = ms / 1000;\n"
    "    if (s < 120) return Math.round(s) + \" s\";\n"
    "    if (s < 7200) return Math.round(s / 60) + \" min\";\n"
    "    if (s < 172800) return Math.round(s / 3600) + \" h\";\n"
    "    return Math.round(s / 86400) + \" days\";\n"
    "  }\n"
    "  function count(m, k, n) { m.set(k, (m.get(k) || 0) + (n || 1)); }\n"
    "  function legend(parent, extra) {\n"
    "    var p = add(parent, el(\"p\", { \"class\": \"legend\" }));\n"
    "    CLASSES.forEach(function (c) {\n"
    "      add(p, el(\"span\", { \"class\": \"swatch\", style: \"background:\" + COLOR[c] }));\n"
    "      add(p, document.createTextNode(c + \"  \"));\n"
    "    });\n"
    "    (extra || []).forEach(function (x) { add(p, el(\"span\", { \"class\": x[0] }, x[1])); "
    "});\n"
    "  }\n"
    "\n"
    "  /* summary */\n"
    "  (function () {\n"
    "    var per = new Map(), clients = new Set(), targets = new Set(), alerted = 0, sealed = 0;\n"
    "    ev.forEach(function (e) {\n"
    "      count(per, e.k);\n"
    "      clients.add(host(e.c));\n"
    "      targets.add(host(e.s));\n"
    "      if (e.n) alerted++;\n"
    "      if (e.sealed) sealed++;\n"
    "    });\n"
    "    var parts = CLASSES.map(function (c) { return c + \" \" + (per.get(c) || 0); });\n"
    "    byId(\"summary\").textContent = ev.length + \" task/service events (\" + parts.join(\", "
    "\") +\n"
    "      \") from \" + clients.size + \" client\" + (clients.size === 1 ? \"\" : \"s\") + \" to "
    "\" +\n"
    "      targets.size + \" target\" + (targets.size === 1 ? \"\" : \"s\") + \"; \" + alerted +\n"
    "      \" with alerts, \" + sealed + \" sealed, \" + stories.length + \" stor\" +\n"
    "      (stories.length === 1 ? \"y\" : \"ies\") + \". Read from \" + D.inputs.join(\", \") + "
    "\".\";\n"
    "  })();\n"
    "\n"
    "  /* host graph: one edge per (client, target, class), with its count */\n"
    "  (function () {\n"
    "    var box = byId(\"graph\");\n"
    "    if (!ev.length) { add(box, el(\"p\", null, \"No task or service events.\")); return; }\n"
    "    var cTot = new Map(), sTot = new Map();\n"
    "    ev.forEach(function (e) { count(cTot, host(e.c)); count(sTot, host(e.s)); });\n"
    "    function ranked(tot) {\n"
    "      return Array.from(tot.keys()).sort(function (x, y) {\n"
    "        return tot.get(y) - tot.get(x) || cmpStr(x, y);\n"
    "      });\n"
    "    }\n"
    "    function keeper(order) {\n"
    "      if (order.length <= MAX_SIDE) return { keep: new Set(order), other: null, n: 0 };\n"
    "      var n = order.length - (MAX_SIDE - 1);\n"
    "      return { keep: new Set(order.slice(0, MAX_SIDE - 1)), other: \"(\" + n + \" other "
    "hosts)\", n: n };\n"
    "    }\n"
    "    var kc = keeper(ranked(cTot)), ks = keeper(ranked(sTot));\n"
    "    var agg = new Map();\n"
    "    ev.forEach(function (e) {\n"
    "      var c = host(e.c), s = host(e.s);\n"
    "      if (!kc.keep.has(c)) c = kc.other;\n"
    "      if (!ks.keep.has(s)) s = ks.other;\n"
    "      var key = c + \"\\u0000\" + s + \"\\u0000\" + e.k, g = agg.get(key);\n"
    "      if (!g) agg.set(key, g = { c: c, s: s, k: e.k, n: 0, tools: new Map() });\n"
    "      g.n++;\n"
    "      if (e.tool) count(g.tools, e.tool);\n"
    "    });\n"
    "    var edges = Array.from(agg.values()).sort(function (x, y) {\n"
    "      return y.n - x.n || cmpStr(x.c, y.c) || cmpStr(x.s, y.s) ||\n"
    "        CLASSES.indexOf(x.k) - CLASSES.indexOf(y.k);\n"
    "    });\n"
    "    var drawn = edges.slice(0, MAX_EDGES);\n"
    "    var left = [], lpos = new Map(), lt = new Map(), rt = new Map();\n"
    "    drawn.forEach(function (g) { count(lt, g.c, g.n); count(rt, g.s, g.n); });\n"
    "    ranked(lt).forEach(function (c) { lpos.set(c, left.length); left.push(c); });\n"
    "    /* targets in the order of their clients' mean row: fewer crossings */\n"
    "    var bary = new Map();\n"
    "    drawn.forEach(function (g) {\n"
    "      var b = bary.get(g.s) || [0, 0];\n"
    "      b[0] += lpos.get(g.c) * g.n;\n"
    "      b[1] += g.n;\n"
    "      bary.set(g.s, b);\n"
    "    });\n"
    "    var right = Array.from(rt.keys()).sort(function (x, y) {\n"
    "      var bx = bary.get(x), by = bary.get(y);\n"
    "      return bx[0] / bx[1] - by[0] / by[1] || rt.get(y) - rt.get(x) || cmpStr(x, y);\n"
    "    });\n"
    "    var rpos = new Map();\n"
    "    right.forEach(function (s, i) { rpos.set(s, i); });\n"
    "    var W = 1100, LX = 230, RX = 870, ROW = 28, TOP = 30;\n"
    "    var rows = Math.max(left.length, right.length);\n"
    "    var H = TOP + rows * ROW + 20;\n"
    "    function ly(i) { return TOP + (i + 0.5) * ROW * rows / left.length; }\n"
    "    function ry(i) { return TOP + (i + 0.5) * ROW * rows / right.length; }\n"
    "    var svg = add(box, sv(\"svg\", { width: W, height: H, viewBox: \"0 0 \" + W + \" \" + H,\n"
    "      \"class\": \"graph\", role: \"img\" }));\n"
    "    add(svg, sv(\"text\", { x: LX, y: 16, \"text-anchor\": \"end\", \"class\": \"head\" }, "
    "\"clients\"));\n"
    "    add(svg, sv(\"text\", { x: RX, y: 16, \"class\": \"head\" }, \"targets\"));\n"
    "    var labels = sv(\"g\"), placed = [], unlabelled = 0;\n"
    "    drawn.forEach(function (g) {\n"
    "      var ci = CLASSES.indexOf(g.k), off = (ci - 1.5) * 7;\n"
    "      var x0 = LX + 6, y0 = ly(lpos.get(g.c)), x3 = RX - 6, y3 = ry(rpos.get(g.s));\n"
    "      var x1 = x0 + 240, y1 = y0 + off, x2 = x3 - 240, y2 = y3 + off;\n"
    "      var w = Math.min(9, 1.5 + 1.6 * Math.log(g.n) / Math.LN2);\n"
    "      var p = add(svg, sv(\"path\", {\n"
    "        d: \"M\" + x0 + \",\" + y0 + \" C\" + x1 + \",\" + y1 + \" \" + x2 + \",\" + y2 + \" "
    "\" + x3 + \",\" + y3,\n"
    "        stroke: COLOR[g.k] || \"#000\", \"stroke-width\": w.toFixed(1), fill: \"none\",\n"
    "        \"class\": \"edge\", \"data-class\": g.k, \"data-count\": g.n }));\n"
    "      p.setAttribute(\"data-client\", g.c);\n"
    "      p.setAttribute(\"data-target\", g.s);\n"
    "      var tools = Array.from(g.tools.keys()).sort();\n"
    "      add(p, sv(\"title\", null, g.c + \" \\u2192 \" + g.s + \": \" + g.n + \" \" + g.k +\n"
    "        (tools.length ? \" (\" + tools.join(\", \") + \")\" : \"\")));\n"
    "      /* the label goes where the curve has room: the first place along it that no\n"
    "         label placed before covers (its box guessed from the text's length), or none */\n"
    "      var named = 0;\n"
    "      g.tools.forEach(function (n) { named += n; });\n"
    "      var text = !tools.length ? \"\\u00d7\" + g.n : named === g.n ? tools.join(\", \") + \" "
    "\\u00d7\" + g.n :\n"
    "        \"\\u00d7\" + g.n + \" (\" + tools.join(\", \") + \" \" + named + \")\";\n"
    "      var lw = text.length * 6 + 4, best = null;\n"
    "      [0.5, 0.35, 0.65, 0.25, 0.75, 0.42, 0.58, 0.18, 0.82].some(function (t) {\n"
    "        var u = 1 - t;\n"
    "        var px = u * u * u * x0 + 3 * u * u * t * x1 + 3 * u * t * t * x2 + t * t * t * x3;\n"
    "        var py = u * u * u * y0 + 3 * u * u * t * y1 + 3 * u * t * t * y2 + t * t * t * y3 - "
    "3;\n"
    "        var box = { x: px - lw / 2, y: py - 10, w: lw, h: 12 };\n"
    "        var free = !placed.some(function (b) {\n"
    "          return box.x < b.x + b.w && b.x < box.x + box.w && box.y < b.y + b.h && b.y < box.y "
    "+ box.h;\n"
    "        });\n"
    "        if (free) best = box;\n"
    "        return free;\n"
    "      });\n"
    "      if (!best) { unlabelled++; return; } /* no room: the edge's tooltip says it */\n"
    "      placed.push(best);\n"
    "      add(labels, sv(\"text\", { x: (best.x + lw / 2).toFixed(1), y: (best.y + "
    "10).toFixed(1),\n"
    "        \"text-anchor\": \"middle\", \"class\": \"elabel\", fill: COLOR[g.k] || \"#000\" }, "
    "text));\n"
    "    });\n"
    "    add(svg, labels);\n"
    "    function node(name, x, y, anchor, total) {\n"
    "      var g = add(svg, sv(\"g\", { \"class\": \"node\" }));\n"
    "      add(g, sv(\"circle\", { cx: x, cy: y, r: 5 }));\n"
    "      add(g, sv(\"text\", { x: anchor === \"end\" ? x - 9 : x + 9, y: y + 4, \"text-anchor\": "
    "anchor }, name));\n"
    "      add(g, sv(\"title\", null, name + \": \" + total + \" events (click: filter the "
    "table)\"));\n"
    "      g.addEventListener(\"click\", function () {\n"
    "        if (name.charAt(0) === \"(\") return;\n"
    "        byId(\"f-host\").value = name;\n"
    "        applyFilters();\n"
    "        byId(\"events\").scrollIntoView();\n"
    "      });\n"
    "    }\n"
    "    left.forEach(function (c, i) { node(c, LX, ly(i), \"end\", lt.get(c)); });\n"
    "    right.forEach(function (s, i) { node(s, RX, ry(i), \"start\", rt.get(s)); });\n"
    "    legend(box);\n"
    "    var notes = [];\n"
    "    if (edges.length > drawn.length)\n"
    "      notes.push((edges.length - drawn.length) + \" smaller edges of \" + edges.length +\n"
    "        \" are not drawn (the table holds every event).\");\n"
    "    if (unlabelled) notes.push(unlabelled + \" edges had no room for a label: hover over "
    "them.\");\n"
    "    if (kc.n) notes.push(kc.n + \" clients with fewer events are drawn as one node.\");\n"
    "    if (ks.n) notes.push(ks.n + \" targets with fewer events are drawn as one node.\");\n"
    "    if (notes.length) add(box, el(\"p\", { \"class\": \"note\" }, notes.join(\" \")));\n"
    "  })();\n"
    "\n"
    "  /* timeline: a row per target, time across */\n"
    "  (function () {\n"
    "    var box = byId(\"timeline\");\n"
    "    var timed = ev.filter(function (e) { return typeof e.ms === \"number\"; });\n"
    "    var st = stories.filter(function (s) { return typeof s.ms === \"number\"; });\n"
    "    if (!timed.length) { add(box, el(\"p\", null, \"No timed events.\")); return; }\n"
    "    var first = new Map();\n"
    "    timed.forEach(function (e) {\n"
    "      var s = host(e.s);\n"
    "      if (!first.has(s) || e.ms < first.get(s)) first.set(s, e.ms);\n"
    "    });\n"
    "    var targets = Array.from(first.keys()).sort(function (x, y) {\n"
    "      return first.get(x) - first.get(y) || cmpStr(x, y);\n"
    "    });\n"
    "    var shown = targets.slice(0, MAX_ROWS), row = new Map();\n"
    "    shown.forEach(function (s, i) { row.set(s, i); });\n"
    "    var W = 1100, L = 170, R = 20, ROW = 24, TOP = 10, PW = W - L - R, BREAK = 14;\n"
    "    var H = TOP + shown.length * ROW + 36;\n"
    "    /* long quiet gaps (the largest, up to 15, longer than a 50th of the span and than 5\n"
    "       minutes) are cut out of the axis: each stretch of activity gets the same width */\n"
    "    var times = timed.concat(st).map(function (v) { return v.ms; }).sort(function (a, b) { "
    "return a - b; });\n"
    "    var t0 = times[0], t1 = times[times.length - 1];\n"
    "    var gaps = [];\n"
    "    for (var gi = 1; gi < times.length; gi++)\n"
    "      if (times[gi] - times[gi - 1] > Math.max(300000, (t1 - t0) / 50)) gaps.push(gi);\n"
    "    gaps.sort(function (a, b) { return (times[b] - times[b - 1]) - (times[a] - times[a - 1]) "
    "|| a - b; });\n"
    "    gaps = gaps.slice(0, 15).sort(function (a, b) { return a - b; });\n"
    "    var segs = [], from = 0;\n"
    "    gaps.concat([times.length]).forEach(function (g) {\n"
    "      segs.push({ lo: times[from], hi: times[g - 1] });\n"
    "      from = g;\n"
    "    });\n"
    "    var each = (PW - BREAK * (segs.length - 1)) / segs.length;\n"
    "    segs.forEach(function (g, k) {\n"
    "      g.x0 = L + k * (each + BREAK);\n"
    "      g.w = each;\n"
    "    });\n"
    "    function x(ms) {\n"
    "      var k = 0;\n"
    "      while (k + 1 < segs.length && ms > segs[k].hi) k++;\n"
    "      var g = segs[k];\n"
    "      if (g.hi === g.lo) return g.x0 + g.w / 2;\n"
    "      return g.x0 + Math.max(0, Math.min(1, (ms - g.lo) / (g.hi - g.lo))) * g.w;\n"
    "    }\n"
    "    var svg = add(box, sv(\"svg\", { width: W, height: H, viewBox: \"0 0 \" + W + \" \" + H,\n"
    "      \"class\": \"timeline\", role: \"img\" }));\n"
    "    shown.forEach(function (s, i) {\n"
    "      var y = TOP + i * ROW;\n"
    "      add(svg, sv(\"rect\", { x: L, y: y, width: PW, height: ROW - 2, \"class\": i % 2 ? "
    "\"band1\" : \"band0\" }));\n"
    "      add(svg, sv(\"text\", { x: L - 6, y: y + ROW / 2 + 3, \"text-anchor\": \"end\" }, s));\n"
    "    });\n"
    "    /* events are binned per row and BUCKET pixels: the marks stay few at any size */\n"
    "    var bins = new Map();\n"
    "    timed.forEach(function (e) {\n"
    "      var r = row.get(host(e.s));\n"
    "      if (r === undefined) return;\n"
    "      var b = Math.min(Math.floor(PW / BUCKET) - 1, Math.floor((x(e.ms) - L) / BUCKET));\n"
    "      var key = r + \":\" + b, g = bins.get(key);\n"
    "      if (!g) bins.set(key, g = { r: r, b: b, per: new Map(), n: 0, alerts: 0, sealed: 0,\n"
    "        lo: e.ms, hi: e.ms, what: new Set() });\n"
    "      count(g.per, e.k);\n"
    "      g.n++;\n"
    "      if (e.n) g.alerts++;\n"
    "      if (e.sealed) g.sealed++;\n"
    "      g.lo = Math.min(g.lo, e.ms);\n"
    "      g.hi = Math.max(g.hi, e.ms);\n"
    "      if (e.w && g.what.size < 3) g.what.add(e.w);\n"
    "    });\n"
    "    bins.forEach(function (g) {\n"
    "      var top = null;\n"
    "      g.per.forEach(function (n, k) { if (top === null || n > g.per.get(top)) top = k; });\n"
    "      var bx = L + g.b * BUCKET, y = TOP + g.r * ROW;\n"
    "      var m = add(svg, sv(\"rect\", { x: bx, y: y + 6, width: BUCKET - 1, height: ROW - 14,\n"
    "        fill: COLOR[top] || \"#000\", \"class\": \"ev\" }));\n"
    "      var per = [];\n"
    "      g.per.forEach(function (n, k) { per.push(n + \" \" + k); });\n"
    "      add(m, sv(\"title\", null, iso(g.lo) + (g.hi > g.lo ? \" to \" + iso(g.hi) : \"\") + \" "
    "UTC: \" +\n"
    "        per.join(\", \") + (g.alerts ? \"; \" + g.alerts + \" with alerts\" : \"\") +\n"
    "        (g.sealed ? \"; \" + g.sealed + \" sealed\" : \"\") +\n"
    "        (g.what.size ? \"; \" + Array.from(g.what).join(\", \") : \"\")));\n"
    "      if (g.alerts)\n"
    "        add(svg, sv(\"path\", { d: \"M\" + (bx + BUCKET / 2 - 3) + \",\" + (y + 1) + \" l6,0 "
    "l-3,5 z\",\n"
    "          \"class\": \"alert\" }));\n"
    "      if (g.sealed)\n"
    "        add(svg, sv(\"circle\", { cx: bx + BUCKET / 2, cy: y + ROW - 5, r: 2.5, \"class\": "
    "\"sealed\" }));\n"
    "    });\n"
    "    st.forEach(function (s) {\n"
    "      var r = row.get(host(s.s));\n"
    "      if (r === undefined) return;\n"
    "      var sx = x(s.ms), y = TOP + r * ROW;\n"
    "      var m = add(svg, sv(\"path\", { d: \"M\" + sx + \",\" + (y + 2) + \" l4,9 l-4,9 l-4,-9 "
    "z\", \"class\": \"story\" }));\n"
    "      add(m, sv(\"title\", null, iso(s.ms) + \" UTC story: \" + (s.sum || \"\")));\n"
    "    });\n"
    "    var ay = TOP + shown.length * ROW + 4, lastLabel = -Infinity;\n"
    "    segs.forEach(function (g, k) {\n"
    "      add(svg, sv(\"line\", { x1: g.x0, y1: ay, x2: g.x0 + g.w, y2: ay, \"class\": \"axis\" "
    "}));\n"
    "      add(svg, sv(\"line\", { x1: g.x0, y1: ay, x2: g.x0, y2: ay + 5, \"class\": \"axis\" "
    "}));\n"
    "      if (g.x0 - lastLabel >= 125) {\n"
    "        var end = g.x0 + 125 > L + PW;\n"
    "        add(svg, sv(\"text\", { x: end ? L + PW : g.x0, y: ay + 18, \"class\": \"tick\",\n"
    "          \"text-anchor\": end ? \"end\" : \"start\" }, iso(g.lo)));\n"
    "        lastLabel = g.x0;\n"
    "      }\n"
    "      if (k + 1 < segs.length) {\n"
    "        var gx = g.x0 + g.w + BREAK / 2, n = segs[k + 1].lo - g.hi;\n"
    "        var cut = add(svg, sv(\"path\", { d: \"M\" + (gx - 3) + \",\" + (ay + 4) + \" l3,-8 "
    "M\" + (gx + 1) +\n"
    "          \",\" + (ay + 4) + \" l3,-8\", \"class\": \"cut\" }));\n"
    "        add(cut, sv(\"title\", null, \"no event for \" + span(n) + \" (\" + iso(g.hi) + \" to "
    "\" +\n"
    "          iso(segs[k + 1].lo) + \" UTC): cut out of the axis\"));\n"
    "      }\n"
    "    });\n"
    "    if (segs.length === 1 && t1 > t0)\n"
    "      add(svg, sv(\"text\", { x: L + PW, y: ay + 18, \"text-anchor\": \"end\", \"class\": "
    "\"tick\" }, iso(t1)));\n"
    "    if (segs.length > 1)\n"
    "      add(box, el(\"p\", { \"class\": \"note\" }, \"The axis is cut at the \" + (segs.length "
    "- 1) +\n"
    "        \" longest quiet gaps (marked //): each stretch of activity between them has the same "
    "width.\"));\n"
    "    legend(box, [[\"m-alert\", \"\\u25bc alert  \"], [\"m-sealed\", \"\\u25cb sealed  \"], "
    "[\"m-story\", \"\\u25c6 story\"]]);\n"
    "    if (targets.length > shown.length)\n"
    "      add(box, el(\"p\", { \"class\": \"note\" }, (targets.length - shown.length) +\n"
    "        \" more targets (those first seen last) have no row here; the table has their "
    "events.\"));\n"
    "  })();\n"
    "\n"
    "  /* the table: filters, and a page of rows at a time */\n"
    "  var matching = ev, page = 0;\n"
    "  function parseT(s, end) {\n"
    "    s = s.trim();\n"
    "    if (!s) return null;\n"
    "    var m = /^(\\d{4})-(\\d\\d)-(\\d\\d)(?:[T "
    "](\\d\\d):(\\d\\d)(?::(\\d\\d)(?:[.,](\\d+))?)?)?(Z|[+-]\\d\\d:?\\d\\d)?$/.exec(s);\n"
    "    if (!m) return NaN;\n"
    "    var ms = Date.UTC(+m[1], +m[2] - 1, +m[3], +(m[4] || 0), +(m[5] || 0), +(m[6] || 0));\n"
    "    var frac = m[7] ? Number(\"0.\" + m[7]) * 1000 : 0, fill = 86400000;\n"
    "    if (m[4]) fill = 60000;\n"
    "    if (m[6]) fill = 1000;\n"
    "    if (m[7]) fill = Math.max(0.001, Math.pow(10, 3 - m[7].length));\n"
    "    if (m[8] && m[8] !== \"Z\") {\n"
    "      var sign = m[8][0] === \"-\" ? -1 : 1, z = m[8].replace(\":\", \"\");\n"
    "      ms -= sign * (+z.slice(1, 3) * 60 + +z.slice(3, 5)) * 60000;\n"
    "    }\n"
    "    return ms + frac + (end ? fill - 0.001 : 0);\n"
    "  }\n"
    "  function applyFilters() {\n"
    "    var h = byId(\"f-host\").value.trim(), a = "
    "byId(\"f-account\").value.trim().toLowerCase();\n"
    "    var k = byId(\"f-class\").value, sinceIn = byId(\"f-since\"), untilIn = "
    "byId(\"f-until\");\n"
    "    var since = parseT(sinceIn.value, false), until = parseT(untilIn.value, true);\n"
    "    sinceIn.classList.toggle(\"bad\", Number.isNaN(since));\n"
    "    untilIn.classList.toggle(\"bad\", Number.isNaN(until));\n"
    "    matching = ev.filter(function (e) {\n"
    "      if (h && e.c !== h && e.s !== h) return false;\n"
    "      if (a && (e.u || \"\").toLowerCase().indexOf(a) < 0) return false;\n"
    "      if (k && e.k !== k) return false;\n"
    "      if (typeof since === \"number\" && !Number.isNaN(since) && !(e.ms >= since)) return "
    "false;\n"
    "      if (typeof until === \"number\" && !Number.isNaN(until) && !(e.ms <= until)) return "
    "false;\n"
    "      return true;\n"
    "    });\n"
    "    page = 0;\n"
    "    drawPage();\n"
    "  }\n"
    "  function drawPage() {\n"
    "    var tb = byId(\"rows\");\n"
    "    while (tb.firstChild) tb.removeChild(tb.firstChild);\n"
    "    var pages = Math.max(1, Math.ceil(matching.length / PAGE));\n"
    "    page = Math.max(0, Math.min(page, pages - 1));\n"
    "    var lo = page * PAGE, hi = Math.min(matching.length, lo + PAGE);\n"
    "    var frag = document.createDocumentFragment();\n"
    "    for (var i = lo; i < hi; i++) {\n"
    "      var e = matching[i], tr = add(frag, el(\"tr\", { \"class\": \"k-\" + e.k }));\n"
    "      var base = e.f ? e.f.replace(/^.*\\//, \"\") : \"\";\n"
    "      var when = e.t ? e.t.replace(\"T\", \" \").replace(/(\\.\\d{3})\\d*/, "
    "\"$1\").replace(/\\+0000$/, \"\") : \"\";\n"
    "      [when, e.c, e.s, e.u, e.k, e.o, e.w, e.d,\n"
    "        e.n ? e.n + \" (severity \" + e.sev + \")\" : \"\", e.tool, e.sealed ? \"sealed\" : "
    "\"\",\n"
    "        base, e.p, e.fid, e.cid].forEach(function (v, j) {\n"
    "        var td = add(tr, el(\"td\", null, v === null || v === undefined ? \"\" : v));\n"
    "        if (j === 0 && e.t) td.title = e.t;\n"
    "        if (j === 7) td.className = \"cmd\";\n"
    "        else if (j === 3 || j === 6 || j === 11 || j === 14) td.className = \"wrap\";\n"
    "        if (j === 11 && e.f) td.title = e.f;\n"
    "        if (j === 8 && e.sig) td.title = e.sig;\n"
    "      });\n"
    "    }\n"
    "    tb.appendChild(frag);\n"
    "    byId(\"pageinfo\").textContent = matching.length ?\n"
    "      \"rows \" + (lo + 1) + \"\\u2013\" + hi + \" of \" + matching.length + \" matching "
    "events (\" +\n"
    "      ev.length + \" in all); page \" + (page + 1) + \" of \" + pages +\n"
    "      (pages > 1 ? \", \" + PAGE + \" rows a page\" : \"\") :\n"
    "      \"no event matches (\" + ev.length + \" in all)\";\n"
    "    byId(\"prev\").disabled = page === 0;\n"
    "    byId(\"next\").disabled = page >= pages - 1;\n"
    "  }\n"
    "  [\"f-host\", \"f-account\", \"f-since\", \"f-until\"].forEach(function (id) {\n"
    "    byId(id).addEventListener(\"input\", applyFilters);\n"
    "  });\n"
    "  byId(\"f-class\").addEventListener(\"change\", applyFilters);\n"
    "  /* filters may come in the address: report.html#host=10.0.0.5&class=create&since=2023-11-15 "
    "*/\n"
    "  var preset = new URLSearchParams(location.hash.slice(1));\n"
    "  [\"host\", \"account\", \"class\", \"since\", \"until\"].forEach(function (k) {\n"
    "    if (preset.has(k)) byId(\"f-\" + k).value = preset.get(k);\n"
    "  });\n"
    "  byId(\"prev\").addEventListener(\"click\", function () { page--; drawPage(); });\n"
    "  byId(\"next\").addEventListener(\"click\", function () { page++; drawPage(); });\n"
    "  applyFilters();\n"
    "  document.documentElement.setAttribute(\"data-rendered\", \"1\");\n"
    "})();\n";

/* s, or JSON null */
static cJSON *str_or_null(const char *s)
{
    return s ? cJSON_CreateString(s) : cJSON_CreateNull();
}

static bool add_str(cJSON *o, const char *k, const char *s)
{
    cJSON *v = str_or_null(s);
    return v && cJSON_AddItemToObject(o, k, v);
}

static bool add_time(cJSON *o, bool has_time, int64_t us)
{
    cJSON *v = has_time ? cJSON_CreateNumber((double)us / 1000.0) : cJSON_CreateNull();
    return v && cJSON_AddItemToObject(o, "ms", v);
}

static cJSON *event_json(const struct report_action *a)
{
    cJSON *o = cJSON_CreateObject();
    char fid[24];
    snprintf(fid, sizeof fid, "%.0f", a->flow_id);
    bool ok = o && add_str(o, "t", a->ts) && add_time(o, a->has_time, a->us) &&
              add_str(o, "c", a->client) && add_str(o, "s", a->server) &&
              add_str(o, "u", a->user) && add_str(o, "i", a->iface) && add_str(o, "o", a->op) &&
              add_str(o, "k", a->cls) && add_str(o, "w", a->what) && add_str(o, "d", a->detail) &&
              cJSON_AddNumberToObject(o, "n", a->alerts) &&
              cJSON_AddNumberToObject(o, "sev", a->worst) && add_str(o, "tool", a->tool) &&
              add_str(o, "sig", a->signature) && cJSON_AddBoolToObject(o, "sealed", a->sealed) &&
              cJSON_AddBoolToObject(o, "failed", a->failed) && add_str(o, "f", a->file) &&
              (a->pcap_cnt >= 0 ? cJSON_AddNumberToObject(o, "p", (double)a->pcap_cnt) != NULL
                                : cJSON_AddNullToObject(o, "p") != NULL) &&
              add_str(o, "fid", a->flow_id >= 0 ? fid : NULL) && add_str(o, "cid", a->community_id);
    if (!ok) {
        cJSON_Delete(o);
        return NULL;
    }
    return o;
}

static cJSON *story_json(const struct report_story *s)
{
    cJSON *o = cJSON_CreateObject();
    bool ok = o && add_str(o, "t", s->ts) && add_time(o, s->has_time, s->us) &&
              add_str(o, "c", s->client) && add_str(o, "s", s->server) &&
              add_str(o, "u", s->user) && add_str(o, "sum", s->summary) &&
              add_str(o, "f", s->file) &&
              (s->pcap_cnt >= 0 ? cJSON_AddNumberToObject(o, "p", (double)s->pcap_cnt) != NULL
                                : cJSON_AddNullToObject(o, "p") != NULL);
    if (!ok) {
        cJSON_Delete(o);
        return NULL;
    }
    return o;
}

static cJSON *page_data(const struct report_data *d)
{
    cJSON *root = cJSON_CreateObject();
    cJSON *inputs = cJSON_AddArrayToObject(root, "inputs");
    cJSON *events = cJSON_AddArrayToObject(root, "events");
    cJSON *stories = cJSON_AddArrayToObject(root, "stories");
    if (!root || !inputs || !events || !stories) {
        cJSON_Delete(root);
        return NULL;
    }
    for (size_t i = 0; i < d->ninputs; i++) {
        cJSON *v = cJSON_CreateString(d->inputs[i]);
        if (!v || !cJSON_AddItemToArray(inputs, v))
            goto fail;
    }
    for (size_t i = 0; i < d->n; i++) {
        cJSON *v = event_json(&d->a[i]);
        if (!v || !cJSON_AddItemToArray(events, v))
            goto fail;
    }
    for (size_t i = 0; i < d->ns; i++) {
        cJSON *v = story_json(&d->s[i]);
        if (!v || !cJSON_AddItemToArray(stories, v))
            goto fail;
    }
    return root;
fail:
    cJSON_Delete(root);
    return NULL;
}

/*
 * JSON text inside <script>: "<", ">" and "&" occur only in strings there
 * and become \u escapes, which JSON.parse turns back into the characters.
 */
static void put_script_json(FILE *out, const char *json)
{
    for (const char *p = json; *p; p++) {
        switch (*p) {
        case '<': fputs("\\u003c", out); break;
        case '>': fputs("\\u003e", out); break;
        case '&': fputs("\\u0026", out); break;
        default: fputc(*p, out);
        }
    }
}

bool report_write_html(FILE *out, const struct report_data *d)
{
    cJSON *root = page_data(d);
    char *json = root ? cJSON_PrintUnformatted(root) : NULL;
    cJSON_Delete(root);
    if (!json)
        return false;
    fputs(PAGE_HEAD, out);
    fputs(PAGE_BODY, out);
    fputs("<script type=\"application/json\" id=\"rs-data\">", out);
    put_script_json(out, json);
    fputs("</script>\n<script>\n", out);
    fputs(PAGE_SCRIPT, out);
    fputs("</script>\n</body>\n</html>\n", out);
    free(json);
    return !ferror(out);
}
