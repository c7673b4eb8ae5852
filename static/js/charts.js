// Draws every Plotly figure the page embeds as JSON (<script type="application/json">) into
// its container. Loaded after our static plotly.min.js; no inline script, no CDN.
(function () {
  "use strict";

  var config = {
    responsive: true,
    displaylogo: false,
    modeBarButtonsToRemove: ["lasso2d", "select2d", "autoScale2d"],
    toImageButtonOptions: { format: "png", scale: 2 }
  };

  function draw(container) {
    var source = document.getElementById(container.getAttribute("data-figure"));
    if (!source || !window.Plotly) {
      return;
    }
    var figure = JSON.parse(source.textContent);
    // Give the container the figure's height: responsive resizes (window, print) keep it.
    if (figure.layout && figure.layout.height) {
      container.style.height = figure.layout.height + "px";
    }
    window.Plotly.newPlot(container, figure.data, figure.layout, config).then(function () {
      container.setAttribute("data-rendered", "true");
    });
  }

  function resizeAll() {
    document.querySelectorAll(".plotly-chart[data-rendered]").forEach(function (container) {
      window.Plotly.Plots.resize(container);
    });
  }

  document.querySelectorAll(".plotly-chart[data-figure]").forEach(draw);
  // Charts are sized for the screen; fit them to the paper when printing.
  window.addEventListener("beforeprint", resizeAll);
  window.addEventListener("afterprint", resizeAll);
})();
