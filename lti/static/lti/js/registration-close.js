// LTI Dynamic Registration 1.0: tell the platform (Canvas) that registration is finished so it
// closes its dialog. Canvas opens the tool in an iframe; other platforms may use a popup.
(function () {
  "use strict";
  var target = window.opener || (window.parent !== window ? window.parent : null);
  if (target) {
    target.postMessage({ subject: "org.imsglobal.lti.close" }, "*");
  }
})();
