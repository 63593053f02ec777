/* Draws the run report from the data in #report-data (JSON, compressed with zlib and written
   in base64: a big run's page stays small): the overview strip, the message-sequence diagram,
   the client operations, latency and throughput (SVG). Everything it shows comes from that
   data; the window (from/to, zoom, drag on the overview) only chooses what is drawn. */
(function () {
  'use strict';
  var packed = document.getElementById('report-data').textContent.replace(/\s+/g, '');
  if (typeof DecompressionStream === 'undefined') {
    document.getElementById('win-note').textContent =
      'This browser cannot read the report data (it has no DecompressionStream): use a recent one.';
    return;
  }
  var binary = atob(packed), bytes = new Uint8Array(binary.length);
  for (var b = 0; b < binary.length; b++) bytes[b] = binary.charCodeAt(b);
  var stream = new Blob([bytes]).stream().pipeThrough(new DecompressionStream('deflate'));
  new Response(stream).text().then(function (text) { draw(JSON.parse(text)); });
})();

function draw(D) {
  'use strict';
  window.reportData = D;     // the page's data, for a look from the browser's console
  var NS = raftsimSvg.NS;
  var MAX_ARROWS = 2500, FIRST_ARROWS = 150, MAX_OPS = 3000, MAX_BANDS = 200, LABEL = 70, LANE = 30;
  var M = D.messages, sends = M.send, nmsg = sends.length;
  var deliveries = [], drops = [], last = new Array(nmsg), i;
  for (i = 0; i < nmsg; i++) { deliveries.push([]); drops.push(null); last[i] = sends[i][0]; }
  D.messages.deliver.forEach(function (d) {
    deliveries[d[0]].push(d); if (d[1] > last[d[0]]) last[d[0]] = d[1];
  });
  var duplicated = {};       // messages the network duplicated (marked where they were sent)
  D.messages.dup.forEach(function (m) { duplicated[m] = true; });
  D.messages.drop.forEach(function (d) {
    drops[d[0]] = d; if (d[1] > last[d[0]]) last[d[0]] = d[1];
  });
  var opById = {};          // operation ids are the run's; a window embeds some of them
  D.operations.forEach(function (op) { opById[op.id] = op; });
  var full = [D.window[0], D.window[1]];
  if (full[1] <= full[0]) full[1] = full[0] + 1;
  var win = initialWindow();
  var hover = document.getElementById('hover');
  var highlight = null;   // {client, call, return}: the operation the linearizability view links to

  var el = raftsimSvg.el;
  function clear(svg) { while (svg.firstChild) svg.removeChild(svg.firstChild); }
  function width(svg) { return Math.max(600, svg.getBoundingClientRect().width || 900); }
  function scale(lo, hi, x0, x1) {
    var k = (x1 - x0) / ((hi - lo) || 1);
    return function (t) { return x0 + (t - lo) * k; };
  }
  function sec(ms) { return (ms / 1000).toFixed(3) + ' s'; }
  function fmt(ms) { return ms.toFixed(3) + ' ms'; }

  function focusWindow(f) {    // the failing operation's interval, padded
    var end = f['return'] === null ? Math.min(D.end, f.call + 1000) : f['return'];
    var pad = Math.max(20, (end - f.call) * 0.5);
    return [f.call - pad, end + pad];
  }

  function initialWindow() {
    if (nmsg <= FIRST_ARROWS) return full.slice();
    if (D.focus) {             // a big failing run opens on the operation it failed on
      var w = focusWindow(D.focus);
      return [Math.max(full[0], w[0]), Math.min(full[1], w[1])];
    }
    var n = D.density.length, step = (full[1] - full[0]) / n, total = 0, k;
    for (k = 0; k < n; k++) {   // the slices of the overview whose messages stay readable
      total += D.density[k];
      if (total > FIRST_ARROWS) break;
    }
    return [full[0], full[0] + Math.max(1, k) * step];
  }

  function setWindow(lo, hi) {
    var span = hi - lo;
    if (!(span > 0)) return;
    if (span > full[1] - full[0]) { lo = full[0]; hi = full[1]; }
    if (lo < full[0]) { hi += full[0] - lo; lo = full[0]; }
    if (hi > full[1]) { lo -= hi - full[1]; hi = full[1]; }
    win = [Math.max(full[0], lo), hi];
    drawAll();
  }

  // ------------------------------------------------------------ the shaded fault periods
  // On the diagram (laneY given): each fault period in view with what it was on hover,
  // crashes on their lanes (network periods merged when there are too many to tell apart).
  // On the charts of the whole run: the merged shading bands.
  function bands(svg, x, lo, hi, top, bottom, laneY) {
    var inView = function (a, b) { return !(b < lo || a > hi); };
    var rect = function (a, b, y, height, cls, title) {
      var x0 = x(Math.max(a, lo)), x1 = x(Math.min(b, hi));
      var r = el('rect', {x: x0, y: y, width: Math.max(1, x1 - x0), height: height, 'class': cls}, svg);
      if (title) el('title', {}, r, title + ' (' + sec(a) + ' to ' + sec(b) + ')');
    };
    var net = D.faults.filter(function (p) { return p.kind === 'network' && inView(p.start, p.end); });
    var merged = !laneY || net.length > MAX_BANDS;
    D.shading.forEach(function (b) {
      if (inView(b[0], b[1]) && (!laneY ? true : merged && b[2] === 'network')) {
        rect(b[0], b[1], top, bottom - top, b[2] === 'crash' ? 'band-down' : 'band-net',
             laneY ? 'network faults' : null);
      }
    });
    if (!laneY) return;
    if (!merged) net.forEach(function (p) { rect(p.start, p.end, top, bottom - top, 'band-net', p.label); });
    D.faults.forEach(function (p) {
      if (p.kind !== 'crash' || !inView(p.start, p.end)) return;
      var y = laneY(p.node);
      if (y !== null) rect(p.start, p.end, y - LANE / 2 + 2, LANE - 4, 'band-crash', p.label);
    });
  }

  // ------------------------------------------------------------ overview strip
  function drawOverview() {
    var svg = document.getElementById('overview');
    clear(svg);
    var w = width(svg), h = 34, x = scale(full[0], full[1], LABEL, w - 8);
    var n = D.density.length, max = Math.max.apply(null, D.density.concat([1]));
    var step = (full[1] - full[0]) / n;
    bands(svg, x, full[0], full[1], 0, h, null);
    D.density.forEach(function (c, k) {
      if (!c) return;
      var bh = (h - 6) * c / max;
      el('rect', {x: x(full[0] + k * step), y: h - 2 - bh, width: Math.max(1, x(full[0] + step) - x(full[0]) - 1),
                  height: bh, 'class': 'bar'}, svg);
    });
    el('text', {x: 4, y: 14}, svg, 'messages');
    el('text', {x: 4, y: 28, 'class': 'meta'}, svg, sec(full[1] - full[0]));
    brush(svg, x, h);
    dragToZoom(svg, x, full[0], full[1]);
  }

  function brush(svg, x, h) {   // the window shown above, on a chart of the whole range
    if (win[0] <= full[0] && win[1] >= full[1]) return;
    el('rect', {x: x(win[0]), y: 0, width: Math.max(2, x(win[1]) - x(win[0])), height: h, 'class': 'brush'}, svg);
  }

  function dragToZoom(svg, x, lo, hi) {
    svg.onmousedown = function (ev) {
      var box = svg.getBoundingClientRect(), x0 = x(lo), x1 = x(hi);
      var toT = function (px) { return lo + (Math.min(x1, Math.max(x0, px - box.left)) - x0) / (x1 - x0) * (hi - lo); };
      var start = toT(ev.clientX), end = start;
      var sel = el('rect', {x: x(start), y: 0, width: 1, height: svg.getBoundingClientRect().height, 'class': 'brush'}, svg);
      ev.preventDefault();
      document.onmousemove = function (e) {
        end = toT(e.clientX);
        sel.setAttribute('x', x(Math.min(start, end)));
        sel.setAttribute('width', Math.max(1, Math.abs(x(end) - x(start))));
      };
      document.onmouseup = function () {
        document.onmousemove = document.onmouseup = null;
        var a = Math.min(start, end), b = Math.max(start, end);
        if (b - a < (hi - lo) / 500) {          // a click: centre the window there
          var half = (win[1] - win[0]) / 2;
          setWindow(start - half, start + half);
        } else {
          setWindow(a, b);
        }
      };
    };
  }

  // ------------------------------------------------------------ message sequence diagram
  function drawMsc() {
    var svg = document.getElementById('msc');
    clear(svg);
    var lanes = D.lanes, top = 18, h = top + lanes.length * LANE + 8;
    svg.setAttribute('height', h);
    var w = width(svg), lo = win[0], hi = win[1], x = scale(lo, hi, LABEL, w - 10);
    var laneIndex = {};
    lanes.forEach(function (n, k) { laneIndex[n] = k; });
    var y = function (k) { return top + k * LANE + LANE / 2; };
    var laneY = function (name) { return name in laneIndex ? y(laneIndex[name]) : null; };
    var defs = el('defs', {}, svg);
    var pat = el('pattern', {id: 'hatch', width: 6, height: 6, patternUnits: 'userSpaceOnUse', patternTransform: 'rotate(45)'}, defs);
    el('rect', {width: 6, height: 6, fill: '#e4e4e4'}, pat);
    el('line', {x1: 0, y1: 0, x2: 0, y2: 6, stroke: '#aaa', 'stroke-width': 2}, pat);
    [['arrow', '#3b6ea8'], ['arrow-dup', '#e08a00']].forEach(function (a) {
      var mk = el('marker', {id: a[0], viewBox: '0 0 8 8', refX: 8, refY: 4, markerWidth: 6, markerHeight: 6, orient: 'auto'}, defs);
      el('path', {d: 'M0,0 L8,4 L0,8 z', fill: a[1]}, mk);
    });
    leaderShading(svg, x, lo, hi, y);
    bands(svg, x, lo, hi, top - 4, h - 4, laneY);
    lanes.forEach(function (n, k) {
      el('line', {x1: LABEL, x2: w - 10, y1: y(k), y2: y(k), 'class': 'axis'}, svg);
      el('text', {x: 4, y: y(k) + 4, 'class': 'lane-label'}, svg, n);
    });
    ticks(svg, x, lo, hi, 12, h);
    if (highlight && highlight.client in laneIndex) {
      var hx0 = x(Math.max(lo, highlight.call)), hx1 = x(Math.min(hi, highlight['return'] === null ? hi : highlight['return']));
      el('rect', {x: hx0, y: y(laneIndex[highlight.client]) - LANE / 2, width: Math.max(3, hx1 - hx0), height: LANE, 'class': 'focus', id: 'msc-focus'}, svg);
    }
    var clip = el('clipPath', {id: 'plot-area'}, defs);  // arrows from before the window stop at its edge
    el('rect', {x: LABEL, y: 0, width: w - 10 - LABEL, height: h}, clip);
    var drawn = 0, skipped = 0, across = 0, g = el('g', {id: 'arrows', 'clip-path': 'url(#plot-area)'}, svg);
    for (var m = 0; m < nmsg; m++) {
      var s = sends[m];
      if (last[m] < lo || s[0] > hi || hidden[s[3]]) continue;
      if (drawn >= MAX_ARROWS) { skipped++; continue; }
      if (arrows(g, m, x, y, lo, hi)) drawn++; else across++;
    }
    roleMarks(svg, x, lo, hi, y);
    var note = document.getElementById('win-note');
    note.textContent = sec(lo) + ' to ' + sec(hi) + ': ' + drawn + ' messages drawn' +
      (across ? ', ' + across + ' in flight across the whole window not drawn' : '') +
      (skipped ? ', ' + skipped + ' more not drawn: zoom in to see them' : '');
  }

  // Draws message m's deliveries, drop or loss; a segment that spans the whole window (sent
  // before it, arriving after it) shows nothing but a flat line and is left out. Returns
  // whether anything was drawn.
  function arrows(g, m, x, y, lo, hi) {
    var s = sends[m], x0 = x(s[0]), y0 = y(s[1]), y1 = y(s[2]), any = false;
    var shown = function (end) { return !(s[0] < lo && end > hi); };
    var ds = deliveries[m], d, k;
    for (k = 0; k < ds.length; k++) {
      d = ds[k];
      if (!shown(d[1])) continue;
      any = true;
      el('line', {x1: x0, y1: y0, x2: x(d[1]), y2: y1, 'class': d[2] ? 'msg dup' : 'msg',
                  'marker-end': d[2] ? 'url(#arrow-dup)' : 'url(#arrow)', 'data-m': m}, g);
    }
    var dr = drops[m];
    if (dr && shown(dr[1])) {
      var xd = x(dr[1]), yd = (y0 + y1) / 2;
      any = true;
      el('line', {x1: x0, y1: y0, x2: xd, y2: yd, 'class': 'msg drop', 'data-m': m}, g);
      el('path', {d: 'M' + (xd - 3) + ',' + (yd - 3) + 'l6,6m0,-6l-6,6', 'class': 'x', 'data-m': m}, g);
    } else if (!dr && !ds.length && s[0] >= lo) {
      any = true;
      el('line', {x1: x0, y1: y0, x2: x(D.end), y2: (y0 + y1) / 2, 'class': 'msg lost', 'data-m': m}, g);
    }
    if (duplicated[m] && s[0] >= lo) el('circle', {cx: x0, cy: y0, r: 3.5, 'class': 'dupmark', 'data-m': m}, g);
    return any;
  }

  function leaderShading(svg, x, lo, hi, y) {
    var since = {};
    var close = function (lane, t) {
      if (since[lane] === undefined) return;
      var a = Math.max(lo, since[lane]), b = Math.min(hi, t);
      if (b > a) el('rect', {x: x(a), y: y(lane) - LANE / 2 + 3, width: x(b) - x(a), height: LANE - 6, 'class': 'leader'}, svg);
      delete since[lane];
    };
    D.roles.forEach(function (r) {
      close(r[1], r[0]);
      if (r[2] === 'leader') since[r[1]] = r[0];
    });
    for (var lane in since) if (Object.prototype.hasOwnProperty.call(since, lane)) close(+lane, D.end);
  }

  function roleMarks(svg, x, lo, hi, y) {
    D.roles.forEach(function (r) {
      if (r[0] < lo || r[0] > hi) return;
      var label = r[2] === 'down' ? '✕' : r[2].charAt(0).toUpperCase() + r[3];
      var t = el('text', {x: x(r[0]) + 2, y: y(r[1]) - 5, 'class': 'role ' + r[2]}, svg, label);
      el('title', {}, t, D.lanes[r[1]] + (r[2] === 'down' ? ' crashed' : ' became ' + r[2] + ' in term ' + r[3]) + ' at ' + fmt(r[0]));
    });
  }

  function ticks(svg, x, lo, hi, yText, h) {
    var span = hi - lo, step = Math.pow(10, Math.floor(Math.log(span / 6) / Math.LN10));
    if (span / step > 12) step *= 5; else if (span / step > 6) step *= 2;
    var right = x(hi) + 10;
    for (var t = Math.ceil(lo / step) * step; t <= hi; t += step) {
      el('line', {x1: x(t), x2: x(t), y1: yText + 2, y2: h, 'class': 'grid'}, svg);
      var label = el('text', {x: x(t) + 2, y: yText, 'class': 'meta'}, svg, step >= 1000 ? (t / 1000) + ' s' : (+t.toFixed(3)) + ' ms');
      if (x(t) + 2 + label.getComputedTextLength() > right) {   // the last one: left of its line
        label.setAttribute('x', x(t) - 2);
        label.setAttribute('text-anchor', 'end');
      }
    }
  }

  // ------------------------------------------------------------ client operations
  function drawOps() {
    var svg = document.getElementById('ops');
    if (!svg) return;
    clear(svg);
    var clients = [], row = {};
    D.operations.forEach(function (op) {
      if (!(op.client in row)) { row[op.client] = clients.length; clients.push(op.client); }
    });
    var top = 18, h = top + clients.length * 20 + 6, lo = win[0], hi = win[1];
    svg.setAttribute('height', h);
    var w = width(svg), x = scale(lo, hi, LABEL, w - 10);
    bands(svg, x, lo, hi, top - 4, h - 2, null);
    ticks(svg, x, lo, hi, 12, h);
    clients.forEach(function (c, k) { el('text', {x: 4, y: top + k * 20 + 14, 'class': 'lane-label'}, svg, c); });
    var drawn = 0;
    D.operations.forEach(function (op) {
      var end = op.end === null ? D.end : op.end;
      if (end < lo || op.start > hi || drawn >= MAX_OPS) return;
      drawn++;
      var x0 = x(Math.max(lo, op.start)), x1 = x(Math.min(hi, end));
      var blocked = highlight && highlight.client === op.client && highlight.call === op.start;
      el('rect', {x: x0, y: top + row[op.client] * 20 + 3, width: Math.max(2, x1 - x0), height: 14,
                  'class': 'op ' + op.type + (blocked ? ' blocked' : ''), 'data-op': op.id}, svg);
    });
  }

  function drawLatency() {
    var svg = document.getElementById('latency');
    if (!svg) return;
    clear(svg);
    var w = width(svg), h = 160, pts = D.latency;
    var max = 1;
    pts.forEach(function (p) { if (p[1] > max) max = p[1]; });
    var x = scale(full[0], full[1], LABEL, w - 10), y = scale(0, max, h - 16, 8);
    bands(svg, x, full[0], full[1], 0, h, null);
    ticks(svg, x, full[0], full[1], h - 3, h - 14);
    el('text', {x: LABEL - 6, y: 14, 'text-anchor': 'end'}, svg,   // short, clear of the points
       max >= 1000 ? (max / 1000).toFixed(2) + ' s' : (+max.toPrecision(3)) + ' ms');
    el('text', {x: LABEL - 6, y: h - 18, 'text-anchor': 'end'}, svg, '0 ms');
    pts.forEach(function (p) {
      var op = opById[p[2]];
      el('circle', {cx: x(p[0]), cy: y(p[1]), r: 2, 'class': 'pt' + (op && op.type !== 'ok' ? ' fail' : ''), 'data-op': p[2]}, svg);
    });
    brush(svg, x, h);
    dragToZoom(svg, x, full[0], full[1]);
  }

  function drawThroughput() {
    var svg = document.getElementById('throughput');
    if (!svg) return;
    clear(svg);
    var w = width(svg), h = 110, tp = D.throughput, n = tp.counts.length;
    var max = Math.max.apply(null, tp.counts.concat([1]));
    var x = scale(full[0], full[1], LABEL, w - 10), step = tp.bucket_ms;
    bands(svg, x, full[0], full[1], 0, h, null);
    ticks(svg, x, full[0], full[1], h - 3, h - 14);
    el('text', {x: LABEL - 6, y: 14, 'text-anchor': 'end'}, svg, String(max));
    tp.counts.forEach(function (c, k) {
      if (!c) return;
      var bh = (h - 26) * c / max;
      var a = x(full[0] + k * step), b = x(Math.min(full[1], full[0] + (k + 1) * step));
      el('rect', {x: a, y: h - 16 - bh, width: Math.max(1, b - a - 1), height: bh, 'class': 'bar'}, svg);
    });
    brush(svg, x, h);
    dragToZoom(svg, x, full[0], full[1]);
  }

  // ------------------------------------------------------------ hover
  function describeMessage(m) {
    var s = sends[m], lines = ['#' + M.ids[m] + ' ' + D.lanes[s[1]] + ' → ' + D.lanes[s[2]] + '  sent ' + fmt(s[0])];
    deliveries[m].forEach(function (d) { lines.push((d[2] ? 'delivered again (duplicate) ' : 'delivered ') + fmt(d[1])); });
    if (drops[m]) lines.push('dropped ' + fmt(drops[m][1]) + ' (' + M.reasons[drops[m][2]] + ')');
    if (!deliveries[m].length && !drops[m]) lines.push('never arrived');
    lines.push(M.texts[s[4]]);
    return lines.join('\n');
  }
  function describeOp(k) {
    var op = opById[k];
    if (!op) return null;
    var what = op.f + (op.key !== null ? ' ' + op.key : '') + (op.value !== null ? ' ' + JSON.stringify(op.value) : '');
    return op.client + ': ' + what + '\n' + op.type + (op.output !== null ? ' → ' + JSON.stringify(op.output) : '') +
      '\ninvoked ' + fmt(op.start) + (op.end === null ? ', never completed' : ', completed ' + fmt(op.end) + ' (' + fmt(op.end - op.start) + ')');
  }
  document.addEventListener('mouseover', function (ev) {
    var t = ev.target, text = null;
    if (t.getAttribute && t.getAttribute('data-m') !== null) text = describeMessage(+t.getAttribute('data-m'));
    else if (t.getAttribute && t.getAttribute('data-op') !== null && t.namespaceURI === NS) text = describeOp(+t.getAttribute('data-op'));
    if (text === null) return;
    hover.textContent = text;
    hover.style.display = 'block';
  });
  document.addEventListener('mouseout', function (ev) {
    var t = ev.target;
    if (t.getAttribute && (t.getAttribute('data-m') !== null || (t.getAttribute('data-op') !== null && t.namespaceURI === NS))) hover.style.display = 'none';
  });
  // the linearizability view: a step of a partial linearization outlines its bar
  document.querySelectorAll('tr[data-op]').forEach(function (tr) {
    var bar = document.getElementById(tr.getAttribute('data-op'));
    if (!bar) return;
    tr.addEventListener('mouseenter', function () { bar.style.outline = '2px solid #222'; });
    tr.addEventListener('mouseleave', function () { bar.style.outline = ''; });
  });

  // ------------------------------------------------------------ message types shown
  var hidden = {};
  (function typeFilter() {
    var box = document.getElementById('type-filter');
    M.types.forEach(function (name, k) {
      var label = document.createElement('label'), check = document.createElement('input');
      check.type = 'checkbox';
      check.checked = true;
      check.id = 'type-' + k;
      check.addEventListener('change', function () { hidden[k] = !check.checked; drawMsc(); });
      label.appendChild(check);
      label.appendChild(document.createTextNode(name + ' '));
      box.appendChild(label);
    });
  })();

  // ------------------------------------------------------------ controls
  function drawAll() {
    document.getElementById('win-from').value = +(win[0] / 1000).toFixed(4);
    document.getElementById('win-to').value = +(win[1] / 1000).toFixed(4);
    drawOverview(); drawMsc(); drawOps(); drawLatency(); drawThroughput();
  }
  function on(id, f) { var e = document.getElementById(id); if (e) e.addEventListener('click', f); }
  on('win-apply', function () {
    setWindow(1000 * parseFloat(document.getElementById('win-from').value),
              1000 * parseFloat(document.getElementById('win-to').value));
  });
  on('zoom-in', function () { var c = (win[0] + win[1]) / 2, q = (win[1] - win[0]) / 4; setWindow(c - q, c + q); });
  on('zoom-out', function () { var c = (win[0] + win[1]) / 2, q = win[1] - win[0]; setWindow(c - q, c + q); });
  on('pan-left', function () { var s = (win[1] - win[0]) / 2; setWindow(win[0] - s, win[1] - s); });
  on('pan-right', function () { var s = (win[1] - win[0]) / 2; setWindow(win[0] + s, win[1] + s); });
  on('zoom-all', function () { setWindow(full[0], full[1]); });
  document.querySelectorAll('#fault-table tr[data-from]').forEach(function (tr) {
    tr.addEventListener('click', function () {
      var a = +tr.getAttribute('data-from'), b = +tr.getAttribute('data-to'), pad = (b - a) * 0.1 + 1;
      setWindow(a - pad, b + pad);
      document.getElementById('sequence').scrollIntoView();
    });
  });
  function showFocus() {     // the failing operation (or explorer step), in the diagram
    var f = D.focus;
    if (!f) return;
    highlight = f;
    var w = focusWindow(f);
    setWindow(w[0], w[1]);
    document.getElementById('sequence').scrollIntoView();
  }
  on('focus-link', showFocus);
  on('step-link', showFocus);
  if (D.focus) highlight = D.focus;
  var resizeTimer = null;
  window.addEventListener('resize', function () { clearTimeout(resizeTimer); resizeTimer = setTimeout(drawAll, 150); });
  drawAll();
  document.body.setAttribute('data-ready-ms', String(Math.round(performance.now())));
  document.body.setAttribute('data-ready', '1');
}
