// rdbscope report: sorting and filtering of tables, and the prefix
// drill-down; everything else on the page is drawn without script.
(function () {
  "use strict";
  var data = JSON.parse(document.getElementById("report-data").textContent);
  function fmtBytes(n) {
    var u = ["B", "KiB", "MiB", "GiB", "TiB", "PiB"], i = 0;
    while (n >= 1024 && i < u.length - 1) { n /= 1024; i++; }
    return i === 0 ? n + " B" : n.toFixed(1) + " " + u[i];
  }
  function pct(a, b) { return b > 0 ? (a * 100 / b).toFixed(1) + " %" : "-"; }

  // Sortable tables: click a heading, click again to reverse.
  document.querySelectorAll("table.sortable").forEach(function (table) {
    table.querySelectorAll("th").forEach(function (th, col) {
      th.addEventListener("click", function () {
        var numeric = th.getAttribute("data-type") === "n";
        var desc = !th.classList.contains("desc");
        table.querySelectorAll("th").forEach(function (h) { h.classList.remove("asc", "desc"); });
        th.classList.add(desc ? "desc" : "asc");
        var body = table.tBodies[0];
        var rows = Array.prototype.slice.call(body.rows);
        rows.sort(function (a, b) {
          var x = a.cells[col], y = b.cells[col], r;
          if (numeric) { r = Number(x.getAttribute("data-v")) - Number(y.getAttribute("data-v")); }
          else { r = x.textContent.localeCompare(y.textContent); }
          return desc ? -r : r;
        });
        rows.forEach(function (row) { body.appendChild(row); });
      });
    });
  });

  // Filters: rows whose text holds every word typed stay visible.
  document.querySelectorAll("input.filter").forEach(function (input) {
    var table = document.getElementById(input.getAttribute("data-table"));
    input.addEventListener("input", function () {
      var words = input.value.toLowerCase().split(/\s+/).filter(Boolean);
      Array.prototype.forEach.call(table.tBodies[0].rows, function (row) {
        var text = row.textContent.toLowerCase();
        row.style.display = words.every(function (w) { return text.indexOf(w) >= 0; }) ? "" : "none";
      });
    });
  });

  // The prefix icicle: the current node on top, three levels below it.
  var LEVELS = 3, ROW = 46;
  document.querySelectorAll(".icicle").forEach(function (el) {
    var file = data.files[Number(el.getAttribute("data-file"))];
    if (!file) { return; }
    var nodes = file.nodes, kids = nodes.map(function () { return []; }), roots = [];
    nodes.forEach(function (n, i) { if (n[5] >= 0 && n[5] < nodes.length) { kids[n[5]].push(i); } else { roots.push(i); } });
    function children(i) { return i < 0 ? roots : kids[i]; }
    var path = [];
    // `#drill-<file>=<pattern>` opens the drill-down on that prefix.
    var m = /(?:^#|&)drill-(\d+)=([^&]*)/.exec(location.hash);
    if (m && m[1] === el.getAttribute("data-file")) {
      var want = decodeURIComponent(m[2]);
      for (var k = nodes.findIndex(function (n) { return n[0] === want; }); k >= 0; k = nodes[k][5]) { path.unshift(k); }
    }
    function box(label, title, x, w, depth, cls, onclick, pattern) {
      var d = document.createElement("div");
      d.className = "node " + cls;
      if (pattern !== undefined) { d.setAttribute("data-pattern", pattern); }
      d.style.left = (x * 100) + "%";
      d.style.width = (w * 100) + "%";
      d.style.top = (depth * ROW) + "px";
      d.textContent = label;
      d.title = title;
      if (onclick) { d.addEventListener("click", onclick); }
      el.appendChild(d);
    }
    function describe(n) {
      return n[0] + "\nmemory " + fmtBytes(n[3]) + " (" + pct(n[3], file.memory) + " of all)" +
        "\nkeys " + n[2] + " (" + pct(n[2], file.keys) + ")\nkeys with a TTL " + pct(n[4], n[2]);
    }
    function lay(i, x, w, total, depth) {
      if (depth > LEVELS) { return; }
      var c = children(i).slice().sort(function (a, b) { return nodes[b][3] - nodes[a][3]; });
      c.forEach(function (k) {
        var n = nodes[k], kw = total > 0 ? w * n[3] / total : 0;
        if (kw >= 0.002) {
          var leaf = kids[k].length === 0;
          box(n[0] + "  " + fmtBytes(n[3]) + "  " + pct(n[3], file.memory), describe(n), x, kw, depth,
            leaf ? "leaf" : "", leaf ? null : function () { open(k); }, n[0]);
          lay(k, x, kw, n[3], depth + 1);
        }
        x += kw;
      });
    }
    // Opening a node deep in the view puts its ancestors on the path too,
    // so "go up" walks back one level at a time.
    function open(k) {
      path = [];
      for (var a = k; a >= 0 && a < nodes.length; a = nodes[a][5]) { path.unshift(a); }
      draw();
    }
    function draw() {
      el.innerHTML = "";
      var cur = path.length ? path[path.length - 1] : -1;
      var label = cur < 0 ? "all keys  " + fmtBytes(file.memory) : nodes[cur][0] + "  " + fmtBytes(nodes[cur][3]) + "  " + pct(nodes[cur][3], file.memory);
      box(label + (cur < 0 ? "" : "   (click to go up)"), cur < 0 ? "all keys" : describe(nodes[cur]), 0, 1, 0, "top",
        cur < 0 ? null : function () { path.pop(); draw(); });
      lay(cur, 0, 1, cur < 0 ? file.memory : nodes[cur][3], 1);
      el.setAttribute("data-path", cur < 0 ? "" : nodes[cur][0]);
    }
    el.style.height = ((LEVELS + 1) * ROW) + "px";
    draw();
  });
}());
