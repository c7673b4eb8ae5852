// Small progressive enhancements; every page works without them.
(function () {
  "use strict";

  // <form data-confirm="Question?">: ask before submitting a consequential action.
  document.querySelectorAll("form[data-confirm]").forEach(function (form) {
    form.addEventListener("submit", function (event) {
      if (!window.confirm(form.getAttribute("data-confirm"))) {
        event.preventDefault();
      }
    });
  });

  // <button data-print>: print the page (the report has a print stylesheet).
  document.querySelectorAll("[data-print]").forEach(function (button) {
    button.addEventListener("click", function () {
      window.print();
    });
  });

  // <form data-autosubmit>: filters apply as soon as a select changes.
  document.querySelectorAll("form[data-autosubmit]").forEach(function (form) {
    form.querySelectorAll("select, input[type=checkbox]").forEach(function (input) {
      input.addEventListener("change", function () {
        form.submit();
      });
    });
  });

  // <select data-phase-for="id_protocol">: offer only the chosen protocol's phases.
  document.querySelectorAll("select[data-phase-for]").forEach(function (phaseSelect) {
    var protocolSelect = document.getElementById(phaseSelect.getAttribute("data-phase-for"));
    if (!protocolSelect) {
      return;
    }
    function sync() {
      var protocol = protocolSelect.value;
      Array.prototype.forEach.call(phaseSelect.options, function (option) {
        var owner = option.getAttribute("data-protocol");
        var hidden = owner !== null && owner !== protocol;
        option.hidden = hidden;
        option.disabled = hidden;
        if (hidden && option.selected) {
          phaseSelect.value = "";
        }
      });
    }
    protocolSelect.addEventListener("change", sync);
    sync();
  });
})();
