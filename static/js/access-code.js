// The four access-code fields: pasting (or typing) the whole code into one field spreads the
// words over the four, and a space or hyphen moves on to the next field. Without JavaScript the
// server reads a whole code typed into the first field just as well.
(function () {
  "use strict";
  document.querySelectorAll("[data-code-fields]").forEach(function (group) {
    var fields = Array.prototype.slice.call(group.querySelectorAll("input[data-code-word]"));
    function spread(start, text) {
      var words = text.toLowerCase().split(/[^a-z]+/).filter(Boolean);
      // "yo-yo" is one word of the list.
      for (var i = 0; i < words.length - 1; i++) {
        if (words[i].length < 3) { words.splice(i, 2, words[i] + "-" + words[i + 1]); }
      }
      if (words.length < 2) { return false; }
      for (var j = 0; j < words.length && start + j < fields.length; j++) {
        fields[start + j].value = words[j];
      }
      var next = Math.min(start + words.length, fields.length - 1);
      fields[next].focus();
      return true;
    }
    fields.forEach(function (field, index) {
      field.addEventListener("paste", function (event) {
        var text = (event.clipboardData || window.clipboardData).getData("text");
        if (spread(index, text)) { event.preventDefault(); }
      });
      field.addEventListener("input", function () {
        var value = field.value;
        if (/[\s,.]$/.test(value) && value.trim() && index < fields.length - 1) {
          field.value = value.trim().replace(/[,.]$/, "");
          fields[index + 1].focus();
        } else if (/\s/.test(value.trim())) {
          spread(index, value);
        }
      });
    });
  });
})();
