/*
 * Case page diagram: draws the BPMN of the case's process version with the bpmn-js viewer (served from
 * /static/vendor/bpmn-js, never a CDN) and marks the current and completed steps.
 *
 * The container's data-diagram-state goes loading -> ready | error, so tests (and people) can tell a diagram
 * that is still loading from one that failed; on error the message is in data-diagram-error and on screen.
 */
(function () {
  "use strict";

  var container = document.getElementById("case-diagram");
  if (!container) {
    return;
  }
  var canvasElement = container.querySelector(".case-diagram-canvas");
  var statusElement = container.querySelector(".case-diagram-status");

  function fail(error) {
    var message = (error && error.message) || String(error);
    container.setAttribute("data-diagram-state", "error");
    container.setAttribute("data-diagram-error", message);
    if (statusElement) {
      statusElement.textContent = (container.getAttribute("data-message-error") || "") + message;
      statusElement.hidden = false;
    }
  }

  function markAll(canvas, registry, ids, marker) {
    (ids || []).forEach(function (id) {
      // The ids come from this very version, so each should be drawn; an unknown one is skipped, not fatal.
      if (registry.get(id)) {
        canvas.addMarker(id, marker);
      }
    });
  }

  function firstElement(registry, ids) {
    for (var i = 0; i < (ids || []).length; i += 1) {
      var element = registry.get(ids[i]);
      if (element) {
        return element;
      }
    }
    return null;
  }

  /*
   * A whole process fitted into the page is often too small to read. Fit it when it stays readable; otherwise
   * show it at READABLE_SCALE centred on the step that matters now (the current one), and let people pan, zoom or
   * press 显示全图.
   */
  var READABLE_SCALE = 0.8;

  function showReadable(canvas, focus) {
    canvas.zoom("fit-viewport");
    if (!focus || canvas.zoom() >= READABLE_SCALE) {
      return;
    }
    var box = canvas.viewbox();
    var inner = box.inner;
    var width = box.outer.width / READABLE_SCALE;
    var height = box.outer.height / READABLE_SCALE;
    var margin = 20;
    var x = focus.x + focus.width / 2 - width / 2;
    x = Math.max(inner.x - margin, Math.min(x, inner.x + inner.width + margin - width));
    var y = height >= inner.height + 2 * margin
      ? inner.y + inner.height / 2 - height / 2
      : Math.max(inner.y - margin, Math.min(focus.y + focus.height / 2 - height / 2, inner.y + inner.height + margin - height));
    canvas.viewbox({ x: x, y: y, width: width, height: height });
  }

  function bindButtons(canvas, focus) {
    var fit = document.querySelector("[data-diagram-action='fit']");
    var current = document.querySelector("[data-diagram-action='focus']");
    if (fit) {
      fit.hidden = false;
      fit.addEventListener("click", function () { canvas.zoom("fit-viewport"); });
    }
    if (current && focus) {
      current.hidden = false;
      current.addEventListener("click", function () { showReadable(canvas, focus); });
    }
  }

  if (typeof window.BpmnJS !== "function") {
    fail(new Error("bpmn-js viewer not loaded"));
    return;
  }

  fetch(container.getAttribute("data-diagram-url"), {
    credentials: "same-origin",
    headers: { Accept: "application/json" }
  })
    .then(function (response) {
      if (!response.ok) {
        throw new Error("HTTP " + response.status);
      }
      return response.json();
    })
    .then(function (data) {
      // A version deployed before its diagram had layout (BPMN DI) cannot be drawn; say so instead of failing.
      if (data.xml.indexOf("BPMNDiagram") === -1) {
        throw new Error(container.getAttribute("data-message-no-layout") || "no BPMN DI");
      }
      var viewer = new window.BpmnJS({ container: canvasElement });
      return viewer.importXML(data.xml).then(function () {
        var canvas = viewer.get("canvas");
        var registry = viewer.get("elementRegistry");
        // Done first, current last: a step that is open again shows as current.
        markAll(canvas, registry, data.completed, "highlight-done");
        markAll(canvas, registry, data.current, "highlight-current");
        var focus = firstElement(registry, data.current) || firstElement(registry, data.completed.slice(-1));
        showReadable(canvas, focus);
        bindButtons(canvas, focus);
        if (statusElement) {
          statusElement.hidden = true;
        }
        container.setAttribute("data-diagram-state", "ready");
      });
    })
    .catch(fail);
})();
