// "Copy" buttons next to a read-only link or snippet: copies the field's text and says so.
// Without this script (or clipboard access inside Canvas's iframe) the field is still selectable.
document.addEventListener("click", function (event) {
  var button = event.target.closest("[data-copy]");
  if (!button) { return; }
  var field = document.getElementById(button.getAttribute("data-copy"));
  var status = button.closest(".share-box") && button.closest(".share-box").querySelector(".copy-status");
  if (!field) { return; }
  field.select();
  var done = function (ok) {
    if (status) { status.textContent = ok ? button.getAttribute("data-copied") || "Copied." : ""; }
  };
  if (navigator.clipboard && navigator.clipboard.writeText) {
    navigator.clipboard.writeText(field.value).then(function () { done(true); }, function () {
      done(document.execCommand && document.execCommand("copy"));
    });
  } else {
    done(document.execCommand && document.execCommand("copy"));
  }
});
