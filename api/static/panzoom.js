// Pan and zoom for the inline process diagram: drag, arrow keys to move; wheel, buttons, + and - to
// zoom; 0 back to the start. Works on the SVG's viewBox, so the drawing stays sharp at every scale.
// No dependencies.
(function () {
  "use strict";
  function attach(box) {
    var svg = box.querySelector("svg");
    if (!svg) { return; }
    svg.removeAttribute("width");
    svg.removeAttribute("height");
    var base = svg.viewBox.baseVal;
    var view = { x: base.x, y: base.y, w: base.width, h: base.height };
    // A phase view is read at its own size (1 unit a pixel, text 11 px and up): when the whole
    // picture would be smaller than that, it opens on its top middle at 1:1 and the reader pans.
    if (box.getAttribute("data-readable") && box.clientWidth > 0) {
      var scale = Math.min(box.clientWidth / view.w, box.clientHeight / view.h);
      if (scale < 1) {
        view = { x: view.x + (view.w - box.clientWidth) / 2, y: view.y, w: box.clientWidth, h: box.clientHeight };
        svg.setAttribute("viewBox", [view.x, view.y, view.w, view.h].join(" "));
      }
    }
    var home = { x: view.x, y: view.y, w: view.w, h: view.h };
    function apply() { svg.setAttribute("viewBox", [view.x, view.y, view.w, view.h].join(" ")); }
    // A case's path opens on where the case stands (its done, open and overdue steps), not on
    // the whole city-wide process, whose labels are too small to read at that scale.
    var focus = box.getAttribute("data-focus");
    if (focus) {
      var nodes = svg.querySelectorAll(focus);
      if (nodes.length) {
        var x0 = Infinity, y0 = Infinity, x1 = -Infinity, y1 = -Infinity;
        var toView = svg.getScreenCTM().inverse();
        nodes.forEach(function (node) {
          // getBBox is in the node's own coordinates; Graphviz translates its drawing, so map
          // the corners through the node's transform into the viewBox's coordinates.
          var b = node.getBBox(), m = toView.multiply(node.getScreenCTM());
          [[b.x, b.y], [b.x + b.width, b.y + b.height]].forEach(function (corner) {
            var p = new DOMPoint(corner[0], corner[1]).matrixTransform(m);
            x0 = Math.min(x0, p.x); y0 = Math.min(y0, p.y);
            x1 = Math.max(x1, p.x); y1 = Math.max(y1, p.y);
          });
        });
        var aspect = box.clientHeight / Math.max(box.clientWidth, 1);
        var w = Math.max(x1 - x0 + 400, 900), h = Math.max(y1 - y0 + 200, w * aspect);
        w = Math.max(w, h / aspect);
        view = { x: (x0 + x1 - w) / 2, y: (y0 + y1 - h) / 2, w: w, h: h };
        apply();
      }
    }
    function zoom(factor, cx, cy) {
      var rect = svg.getBoundingClientRect();
      var px = view.x + view.w * ((cx - rect.left) / rect.width);
      var py = view.y + view.h * ((cy - rect.top) / rect.height);
      view.w *= factor; view.h *= factor;
      view.x = px - (px - view.x) * factor; view.y = py - (py - view.y) * factor;
      apply();
    }
    box.addEventListener("wheel", function (e) {
      e.preventDefault();
      zoom(e.deltaY > 0 ? 1.15 : 1 / 1.15, e.clientX, e.clientY);
    }, { passive: false });
    var drag = null;
    box.addEventListener("mousedown", function (e) { drag = { x: e.clientX, y: e.clientY }; box.style.cursor = "grabbing"; });
    window.addEventListener("mouseup", function () { drag = null; box.style.cursor = "grab"; });
    window.addEventListener("mousemove", function (e) {
      if (!drag) { return; }
      var rect = svg.getBoundingClientRect();
      view.x -= (e.clientX - drag.x) * view.w / rect.width;
      view.y -= (e.clientY - drag.y) * view.h / rect.height;
      drag = { x: e.clientX, y: e.clientY };
      apply();
    });
    function pan(dx, dy) {
      view.x += dx * view.w; view.y += dy * view.h;
      apply();
    }
    function reset() { view = { x: home.x, y: home.y, w: home.w, h: home.h }; apply(); }
    box.addEventListener("keydown", function (e) {
      if (e.altKey || e.ctrlKey || e.metaKey) { return; }
      var rect = svg.getBoundingClientRect(), cx = rect.left + rect.width / 2, cy = rect.top + rect.height / 2;
      var keys = {
        ArrowLeft: function () { pan(-0.1, 0); }, ArrowRight: function () { pan(0.1, 0); },
        ArrowUp: function () { pan(0, -0.1); }, ArrowDown: function () { pan(0, 0.1); },
        "+": function () { zoom(1 / 1.3, cx, cy); }, "=": function () { zoom(1 / 1.3, cx, cy); },
        "-": function () { zoom(1.3, cx, cy); }, "0": reset
      };
      var act = keys[e.key];
      if (!act) { return; }
      e.preventDefault();  // the arrows move the picture, not the page
      act();
    });
    document.querySelectorAll("[data-zoom]").forEach(function (button) {
      button.addEventListener("click", function () {
        var rect = svg.getBoundingClientRect();
        var how = button.getAttribute("data-zoom");
        if (how === "reset") { reset(); return; }
        zoom(how === "in" ? 1 / 1.3 : 1.3, rect.left + rect.width / 2, rect.top + rect.height / 2);
      });
    });
    box.setAttribute("data-ready", "true");
  }
  document.querySelectorAll(".diagram").forEach(attach);
})();
