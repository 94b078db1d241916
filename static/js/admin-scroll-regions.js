// Django's admin lets a tabular inline scroll sideways on a narrow screen: each such block
// becomes a labelled region in the Tab order, so a keyboard user can reach and scroll it
// (WCAG 2.1.1; axe-core rule scrollable-region-focusable).
document.addEventListener("DOMContentLoaded", function () {
  document.querySelectorAll(".inline-group").forEach(function (group) {
    var heading = group.querySelector("h2");
    group.setAttribute("tabindex", "0");
    group.setAttribute("role", "region");
    if (heading) {
      if (!heading.id) { heading.id = group.id + "-heading"; }
      group.setAttribute("aria-labelledby", heading.id);
    }
  });
});
