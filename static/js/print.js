// "Print" buttons (data-print): shown only when scripts run, since printing needs one.
// Kept out of the page so a Content-Security-Policy without 'unsafe-inline' allows it.
document.querySelectorAll("[data-print]").forEach(function (button) {
  button.hidden = false;
  button.addEventListener("click", function () {
    window.print();
  });
});
