/*
 * 常用语 (issue #4): the picker rendered after a form's fields moves next to the form's "opinion" box and inserts
 * the chosen phrase at the cursor. Without script the picker stays hidden: it could not do anything.
 */
(function () {
  "use strict";

  function insertAt(textarea, text, atCaret) {
    var value = textarea.value;
    var start = value.length;
    var end = value.length;
    // The caret survives the focus moving to the picker; before the official has been in the box, add at the end.
    if (atCaret && typeof textarea.selectionStart === "number") {
      start = textarea.selectionStart;
      end = textarea.selectionEnd;
    }
    textarea.value = value.slice(0, start) + text + value.slice(end);
    var caret = start + text.length;
    textarea.focus();
    textarea.setSelectionRange(caret, caret);
    textarea.dispatchEvent(new Event("input", { bubbles: true }));
  }

  Array.prototype.forEach.call(document.querySelectorAll(".phrase-picker[data-phrase-for]"), function (picker) {
    var form = picker.closest("form");
    var name = picker.getAttribute("data-phrase-for");
    var textarea = form && form.querySelector('textarea[name="' + name + '"]');
    var select = picker.querySelector("select");
    if (!textarea || !select) {
      return;
    }
    var touched = false;
    textarea.addEventListener("focus", function () {
      touched = true;
    });
    textarea.parentNode.insertBefore(picker, textarea);
    picker.hidden = false;
    select.addEventListener("change", function () {
      if (select.value) {
        insertAt(textarea, select.value, touched);
      }
      select.value = "";
    });
  });
})();
