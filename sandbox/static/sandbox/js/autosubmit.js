// Submits the LTI form on load, as Canvas does (kept out of the page: the CSP forbids inline scripts).
document.addEventListener("DOMContentLoaded", function () {
  var form = document.querySelector("form[data-autosubmit]");
  if (form) {
    form.submit();
  }
});
