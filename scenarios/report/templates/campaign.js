/* Draws the time-per-seed chart of the campaign report from the JSON in #report-data. */
(function () {
  'use strict';
  var D = JSON.parse(document.getElementById('report-data').textContent);
  var svg = document.getElementById('time-chart'), hover = document.getElementById('hover');
  var el = raftsimSvg.el;
  function draw() {
    while (svg.firstChild) svg.removeChild(svg.firstChild);
    var pts = D.points, w = Math.max(600, svg.getBoundingClientRect().width || 900), h = 170, L = 60;
    if (!pts.length) { el('text', {x: 10, y: 20}, svg, 'no timed seeds'); return; }
    var lo = pts[0][0], hi = pts[pts.length - 1][0], max = 0;
    pts.forEach(function (p) { if (p[1] > max) max = p[1]; });
    if (hi <= lo) hi = lo + 1;
    if (max <= 0) max = 1;
    var x = function (s) { return L + (s - lo) / (hi - lo) * (w - L - 10); };
    var y = function (v) { return h - 18 - v / max * (h - 30); };
    el('line', {x1: L, x2: w - 10, y1: h - 18, y2: h - 18, 'class': 'axis'}, svg);
    el('text', {x: L - 6, y: 14, 'text-anchor': 'end'}, svg, (+max.toPrecision(3)) + ' s');   // clear of the points
    el('text', {x: L - 6, y: h - 20, 'text-anchor': 'end'}, svg, '0 s');
    el('text', {x: L, y: h - 4}, svg, 'seed ' + lo);
    el('text', {x: w - 90, y: h - 4}, svg, 'seed ' + hi);
    pts.forEach(function (p) {
      el('circle', {cx: x(p[0]), cy: y(p[1]), r: 2.2, 'class': 'pt' + (p[2] === 'pass' ? '' : ' fail'),
                    'data-seed': p[0], 'data-wall': p[1], 'data-outcome': p[2]}, svg);
    });
  }
  svg.addEventListener('mouseover', function (ev) {
    var t = ev.target;
    if (!t.getAttribute || t.getAttribute('data-seed') === null) return;
    hover.textContent = 'seed ' + t.getAttribute('data-seed') + ': ' + t.getAttribute('data-outcome') +
      ', ' + t.getAttribute('data-wall') + ' s';
    hover.style.display = 'block';
  });
  svg.addEventListener('mouseout', function () { hover.style.display = 'none'; });
  window.addEventListener('resize', draw);
  draw();
  document.body.setAttribute('data-ready', '1');
})();
